"""The fraud detector's bad-input messages speak of scoring transactions."""

from __future__ import annotations

import numpy as np
import pytest

import nexus_lab as nx
from nexus_lab.errors import SchemaError


@pytest.fixture(scope="module")
def tx():
    return nx.data.synth_transactions(1_000, seed=5).drop(columns=["pattern", "is_fraud"])


def test_missing_amounts_are_named_for_scoring(tx):
    det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1)
    bad = tx.assign(amount=tx["amount"].where(tx.index != 4, np.nan))
    for call in (det.fit, nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1)
                 .fit(tx).score):
        with pytest.raises(SchemaError, match=r"amounts \(NaN\) at row 4.*fill or drop") as err:
            call(bad)
        assert "reconcil" not in str(err.value) and err.value.rows == [4]
        assert err.value.column == "amount"


def test_mixed_currencies_are_named_for_scoring(tx):
    text = tx.assign(amount=["$" + f"{a:.2f}" for a in tx["amount"]])
    text.iloc[9, text.columns.get_loc("amount")] = "€12.00"
    with pytest.raises(SchemaError, match=r"mixed currencies.*split the table") as err:
        nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(text)
    assert "reconcil" not in str(err.value) and err.value.rows == [9]


def test_the_detector_reads_money_and_dates_as_every_kernel_does(tx):
    # decimal commas and day-first dates are read, not misread: the same scores
    text = tx.assign(
        amount=[f"{a:.2f}".replace(".", ",") for a in tx["amount"]],
        date=tx["date"].dt.strftime("%d/%m/%Y %H:%M:%S"))
    det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1)
    plain = det.fit(tx).score(tx)
    assert np.allclose(det.fit(text).score(text)["risk_score"], plain["risk_score"])
    early = text[tx["date"].dt.day <= 12]
    with pytest.raises(SchemaError, match=r"read two ways.*dayfirst="):
        nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(early)
    fitted = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1, dayfirst=True).fit(early)
    assert fitted.get_params()["dayfirst"] is True


def test_notebook_views_show_direction_controls(tx):
    # "TX\u202eevil" would render as "TXlive": views show the control instead
    bidi = tx.assign(transaction_id=tx["transaction_id"].astype(str) + "\u202eevil")
    scored = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(bidi).score(bidi)
    page = scored._repr_html_()
    assert "\u202e" not in page and "U+202E" in page


def test_dates_without_a_time_flag_no_one_off_hours(tx):
    daily = tx.assign(date=tx["date"].dt.strftime("%Y-%m-%d"))
    scored = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(daily).score(daily)
    flagged = scored["flags"].map(lambda f: "off hours" in f).to_numpy()
    weekend = tx["date"].dt.dayofweek.ge(5).to_numpy()
    assert not (flagged & ~weekend).any()  # only weekend days, which a date does tell
    assert not scored["reasons"].map(lambda r: any("00:00" in x for x in r)).any()
    timed = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(tx).score(tx)
    assert timed["flags"].map(lambda f: "off hours" in f).any()  # the rule still works
