"""The standardize service: duplicates through nx.link, outputs written all at once."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab.errors import NexusError, SchemaError
from nexus_lab.workflows import link_duplicates, standardize_table


def _planted(n: int, seed: int, k: int) -> tuple[pd.DataFrame, set[tuple[int, int]]]:
    """A generated bank table with ``k`` near-duplicates appended: half with a changed
    description (case, a suffix), half posted 1-2 days later."""
    bank, _, _ = nx.datasets.synth_reconciliation(n, seed=seed)
    # the generator plants look-alike payments of its own (the same amount a day or two
    # apart): they are left out, so that every true pair is a planted one
    s = bank.sort_values(["amount", "date"])
    near = (s["amount"].diff().eq(0) & s["date"].diff().dt.days.le(5))
    bank = bank.drop(index=s.index[near | near.shift(-1, fill_value=False)])
    bank = bank.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    src = np.sort(rng.choice(len(bank), k, replace=False))
    dup = bank.iloc[src].copy()
    half = np.arange(k) < k // 2
    dup.loc[half, "description"] = dup.loc[half, "description"].str.lower() + " ref"
    dup.loc[~half, "date"] = dup.loc[~half, "date"] + pd.to_timedelta(
        rng.integers(1, 3, int((~half).sum())), "D")
    dup["transaction_id"] = [f"DUP{i}" for i in range(k)]
    both = pd.concat([bank, dup], ignore_index=True)
    return both, {(int(s), len(bank) + i) for i, s in enumerate(src)}


@pytest.mark.parametrize("seed", [4, 11])
def test_planted_duplicates_found_through_link(seed):
    table, truth = _planted(400, seed, 30)
    run = standardize_table(table, currency="USD", device="cpu")
    found = set(zip(run.result.duplicates["left_row"], run.result.duplicates["right_row"],
                    strict=True))
    recall = len(found & truth) / len(truth)
    precision = len(found & truth) / len(found)
    assert recall >= 0.95, recall
    assert precision >= 0.9, precision
    assert run.result.duplicates["explanation"].str.contains("bits").all()
    exact = nx.standardize.standardize(table, currency="USD")
    assert exact.duplicates.empty  # none of the planted pairs is an exact copy


def test_outputs_written_at_once(tmp_path):
    table, _ = _planted(200, 2, 6)
    table.loc[3, "description"] = "  " + table.loc[3, "description"].lower() + "  "
    out = tmp_path / "std"
    run = standardize_table(table, currency="USD", device="cpu", out=out)
    names = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert names == ["changes.csv", "duplicates.csv", "quality.html", "rules.json",
                     "standardized.csv"]
    back = pd.read_csv(out / "standardized.csv")
    assert back["amount_cents"].tolist() == run.result.frame["amount_cents"].tolist()
    changes = pd.read_csv(out / "changes.csv")
    assert {"whitespace", "case", "currency"} <= set(changes["rule"])
    spaced = changes[changes["rule"] == "whitespace"].set_index("row")
    assert spaced.loc[3, "after"] == table.loc[3, "description"].strip().lower()
    assert len(pd.read_csv(out / "duplicates.csv")) == len(run.result.duplicates)
    record = json.loads((out / "rules.json").read_text())
    assert record["quality"]["overall"] == round(run.quality.overall, 2)
    assert [r["rule"] for r in record["rules"]][:2] == ["whitespace", "case"]
    assert "Data quality" in (out / "quality.html").read_text()


def test_a_file_and_bad_input_leave_nothing(tmp_path):
    table, _ = _planted(100, 3, 2)
    path = tmp_path / "bank.csv"
    table.assign(amount=table["amount"].astype(str)).to_csv(path, index=False)
    run = standardize_table(path, currency="USD", device="cpu")
    assert len(run.result.frame) == len(table)
    bad = tmp_path / "bad.csv"
    broken = table.astype({"amount": str})
    broken.loc[5, "amount"] = "twelve"
    broken.to_csv(bad, index=False)
    out = tmp_path / "out"
    with pytest.raises(SchemaError, match=r"bad\.csv: .*twelve"):
        standardize_table(bad, device="cpu", out=out)
    rules = tmp_path / "rules.yaml"
    rules.write_text("- {column: amount, check: positive}\n")
    with pytest.raises(SchemaError, match=r"rules\.yaml rule 1 \(line 1\): unknown check"):
        standardize_table(path, device="cpu", rules=rules, out=out)
    assert not out.exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")
    with pytest.raises(NexusError, match="did not write"):
        standardize_table(path, device="cpu", out=tmp_path / "mine")


def test_link_duplicates_is_a_finder():
    frame = nx.standardize.standardize(_planted(100, 5, 4)[0], currency="USD").frame
    pairs = link_duplicates(threshold=95, device="cpu")(frame)
    assert list(pairs.columns[:3]) == ["left_row", "right_row", "score"]
    assert (pairs["score"] >= 95).all()


def test_a_monthly_payment_is_no_duplicate():
    rent = pd.DataFrame({
        "transaction_id": [f"R{i}" for i in range(6)],
        "date": ["2025-01-01", "2025-02-01", "2025-03-01", "2025-04-01", "2025-04-02",
                 "2025-05-01"],
        "amount": [1500.0] * 6,
        "description": ["RENT HOLLIS PROPERTY"] * 3 + ["RENT HOLLIS PROPERTY",
                                                       "rent hollis property ref",
                                                       "RENT HOLLIS PROPERTY"],
    })
    filler = nx.datasets.synth_reconciliation(100, seed=8)[0]
    table = pd.concat([rent, filler], ignore_index=True)
    close = link_duplicates(device="cpu")(nx.standardize(table, currency="USD").frame)
    assert set(zip(close["left_row"], close["right_row"], strict=True)) >= {(3, 4)}
    assert not ((close["left_row"] < 6) & (close["right_row"] < 6)
                & ~((close["left_row"] == 3) & (close["right_row"] == 4))).any()
    anydate = link_duplicates(device="cpu", max_days=None)(
        nx.standardize(table, currency="USD").frame)
    assert len(anydate) > len(close)
