"""Bounded subset-sum groups and the settling of competing claims."""

from __future__ import annotations

import numpy as np
import torch

from nexus_lab.reconcile._splits import _settle, find_splits


def test_finds_the_exact_subset():
    cents_one = np.array([100_00, 55_55])
    cents_many = np.array([30_00, 25_00, 70_00, 11_11, 44_44, 99_99])
    key_one = [np.array([0, 1])]
    key_many = [np.array([0, 0, 0, 1, 1, 1])]
    s = find_splits(
        np.arange(2), np.arange(6), cents_one=cents_one, cents_many=cents_many,
        key_one=key_one, key_many=key_many, day_one=np.array([10, 10]),
        day_many=np.array([8, 9, 9, 7, 8, 9]), before=7, after=2, device=torch.device("cpu"),
    )
    groups = {int(o): sorted(m[m >= 0].tolist()) for o, m in zip(s.one, s.many)}
    assert groups == {0: [0, 2], 1: [3, 4]}
    assert (s.confidence > 0).all() and (s.confidence <= 1).all()


def test_other_counterparty_and_window_are_ignored():
    s = find_splits(
        np.arange(1), np.arange(3), cents_one=np.array([300]), cents_many=np.array([100, 200,
                                                                                     200]),
        key_one=[np.array([0])], key_many=[np.array([1, 0, 0])], day_one=np.array([20]),
        day_many=np.array([19, 19, 1]), before=7, after=2, device=torch.device("cpu"),
    )
    assert len(s.one) == 0


def test_settle_gives_each_row_to_the_best_claim():
    members = np.array([[1, 2, -1], [2, 3, -1], [4, 5, -1]])
    accepted = _settle(members, np.array([0.5, 0.9, 0.7]))
    assert accepted.tolist() == [False, True, True]
