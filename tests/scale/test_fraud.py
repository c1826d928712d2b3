"""Fraud scores on a two-worker cluster equal the detector's own, row for row."""

from __future__ import annotations

import dask.dataframe as dd
import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab import NotFittedError, SchemaError, scale


def _data(seed: int, *, midnight: bool = False):
    tx = nx.datasets.synth_transactions(2_400, seed=seed, days=60).drop(
        columns=["pattern", "is_fraud"])
    if midnight:  # dates without a time of day: the off-hours rule reads the whole batch
        tx["date"] = tx["date"].dt.normalize()
    history, new = tx.iloc[:1_600], tx.iloc[1_200:]  # a third of the scored rows are known
    return history, new.reset_index(drop=True)


@pytest.mark.parametrize("seed", [1, 2])
def test_scores_equal_the_detectors_own_for_two_seeds(client, seed):
    history, new = _data(seed)
    det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(history)
    want = det.score(new)
    got = scale.score_fraud(new, det, client)
    assert type(got) is type(want)
    pd.testing.assert_frame_equal(got, want)
    # where it ran, shown in the notebook view with the dashboard's link
    assert got.attrs["dask"]["workers"] == 2 and got.attrs["dask"]["partitions"] >= 2
    assert got.attrs["dask"]["dashboard"] in got._repr_html_()
    # the vendors' signals read every account: new vendors are paid across partitions
    assert want["flags"].map(lambda f: "new vendor" in f).any()


def test_a_dask_frame_a_parquet_folder_and_a_supervised_detector(client, tmp_path):
    history, new = _data(3, midnight=True)
    labels = nx.datasets.synth_transactions(2_400, seed=3, days=60)["is_fraud"][:1_600]
    det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(
        history, labels.to_numpy())
    want = det.score(new)
    shuffled = new.sample(frac=1.0, random_state=0).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        scale.score_fraud(dd.from_pandas(shuffled, npartitions=3), det, client),
        det.score(shuffled))
    new.to_parquet(tmp_path / "tx.parquet")
    pd.testing.assert_frame_equal(scale.score_fraud(tmp_path / "tx.parquet", det, client),
                                  want)


def test_bad_input_is_refused(client):
    history, new = _data(1)
    with pytest.raises(NotFittedError):
        scale.score_fraud(new, nx.fraud.FraudDetector(device="cpu"), client)
    det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(history)
    with pytest.raises(SchemaError, match="FraudDetector"):
        scale.score_fraud(new, object(), client)
    with pytest.raises(SchemaError, match="Parquet"):
        scale.score_fraud("transactions.xlsx", det, client)
    with pytest.raises(SchemaError, match="TX"):
        scale.score_fraud(pd.concat([new, new.tail(2)], ignore_index=True), det, client)


def test_text_amounts_need_their_decimal_mark_and_then_score_as_numbers(client):
    history, new = _data(4)
    det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(history)
    text = new.assign(amount=new["amount"].map("{:.2f}".format).str.replace(".", ","))
    with pytest.raises(SchemaError, match=r"written as text.*decimal"):
        scale.score_fraud(text, det, client)
    det.set_params(decimal=",")
    pd.testing.assert_frame_equal(scale.score_fraud(text, det, client), det.score(new))
    with pytest.raises(SchemaError, match="no rows"):
        scale.score_fraud(new.head(0), det, client)
