import warnings

import numpy as np
import pandas as pd
import pytest

import nexus_lab.examine as ex
from nexus_lab.errors import SchemaError
from nexus_lab.examine import ExamineWarning, age, stratify, summarize


def _quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **kw)


def _ledger(n=5_000, seed=0):
    rng = np.random.default_rng(seed)
    cents = np.rint(10 ** rng.uniform(0, 7, n)).astype(np.int64)
    cents[rng.random(n) < 0.1] *= -1
    return pd.DataFrame({"transaction_id": [f"T{i}" for i in range(n)],
                         "vendor": rng.choice(["acme", "bolt", "crane", None], n),
                         "date": pd.Timestamp("2025-12-31")
                         - pd.to_timedelta(rng.integers(-10, 400, n), unit="D"),
                         "amount": cents / 100}), cents


def test_stratify_default_bands_are_decades_and_add_up():
    df, cents = _ledger()
    r = stratify(df)
    bands = r["bands"]
    assert bands["band"].iloc[0] == "negative"
    assert bands["count"].sum() == len(df)
    assert bands["total_cents"].sum() == cents.sum() == r.facts["total_cents"]
    assert bands["count_share"].sum() == pytest.approx(1)
    assert bands["value_share"].sum() == pytest.approx(1)
    pos = bands.iloc[1:]
    assert pos["lower"].tolist() == [0.0, 1.0, 10.0, 100.0, 1_000.0, 10_000.0]
    assert pos["upper"].iloc[-1] * 100 > cents.max()
    for _, b in pos.iterrows():
        inside = cents[(cents >= round(b["lower"] * 100)) & (cents < round(b["upper"] * 100))]
        assert b["count"] == len(inside) and b["total_cents"] == inside.sum()
        if len(inside):
            assert (b["min"], b["max"]) == (inside.min() / 100, inside.max() / 100)
    neg = bands.iloc[0]
    assert neg["count"] == (cents < 0).sum() and neg["total_cents"] == cents[cents < 0].sum()


def test_stratify_exact_cents_at_band_edges():
    df = pd.DataFrame({"amount": ["999.99", "1000.00", "1,000.01", "0.10", "0.00"]})
    r = stratify(df, bands=[0, 1000])
    assert r["bands"][["band", "count", "total_cents"]].values.tolist() == [
        ["0.00 – 999.99", 3, 100009], ["≥ 1,000.00", 2, 200001]]


def test_stratify_equal_width_and_explicit_edges():
    df, cents = _ledger(seed=1)
    r = stratify(df, bands=4)
    plus = cents[cents >= 0]
    assert r["bands"]["count"].sum() == len(df)
    assert r["bands"].iloc[1]["lower"] == plus.min() / 100
    assert len(r["bands"]) == 5  # negative + 4 intervals
    r = stratify(df, bands=[-1000, 0, 1000])
    assert "negative" not in r["bands"]["band"].tolist()  # edges below 0 band them
    assert r["bands"]["count"].sum() == len(df)
    with pytest.raises(SchemaError, match="increasing"):
        stratify(df, bands=[10, 5])
    with pytest.raises(SchemaError, match="1 or more"):
        stratify(df, bands=0)


def test_stratify_extremes_are_the_largest_and_smallest_rows():
    df, cents = _ledger(seed=2)
    r = stratify(df, top=3)
    ext = r["extremes"]
    largest = ext[ext.which == "largest"]
    assert largest["amount"].tolist() == (np.sort(cents)[::-1][:3] / 100).tolist()
    smallest = ext[ext.which == "smallest"]
    assert smallest["amount"].tolist() == (np.sort(cents)[:3] / 100).tolist()
    assert (df["amount"].to_numpy()[largest["row"]] == largest["amount"]).all()
    assert largest["transaction_id"].tolist() == [f"T{i}" for i in largest["row"]]


def test_text_amounts_with_decimal_commas():
    df = pd.DataFrame({"Betrag": ["1.234,50 €", "12,00 €", "-3,10 €"]})
    r = stratify(df, "Betrag")
    assert r.facts["total_cents"] == 123450 + 1200 - 310


def test_age_bands_follow_days_before_cutoff():
    df, cents = _ledger(seed=3)
    with pytest.warns(ExamineWarning, match="dated after the cutoff 2025-12-31"):
        r = age(df, "date", "2025-12-31")
    bands = r["bands"]
    assert bands["band"].tolist() == ["after cutoff", "0-29", "30-59", "60-89", "90-119",
                                      "120+"]
    days = (pd.Timestamp("2025-12-31") - df["date"]).dt.days.to_numpy()
    for lo, hi, label in ((0, 30, "0-29"), (30, 60, "30-59"), (120, 10**6, "120+"),
                          (-10**6, 0, "after cutoff")):
        inside = (days >= lo) & (days < hi)
        row = bands.set_index("band").loc[label]
        assert row["count"] == inside.sum() and row["total_cents"] == cents[inside].sum()
    assert bands["total_cents"].sum() == cents.sum()
    assert r.facts["oldest_days"] == days.max()


def test_age_acl_bands_counts_only_and_text_dates():
    df = pd.DataFrame({"due": ["31/12/2025", "15/10/2025", "01/01/1990"]})
    r = age(df, "due", pd.Timestamp("2025-12-31"), bands=(0, 30, 60, 90, 120, 10000),
            amount=None)
    assert r["bands"]["band"].tolist() == ["0-29", "30-59", "60-89", "90-119", "120-9999",
                                           "10000+"]
    assert r["bands"]["count"].tolist() == [1, 0, 1, 0, 0, 1]
    assert "total" not in r["bands"]


def test_age_bad_input():
    df = pd.DataFrame({"date": ["2025-01-01", "2025-02-30"], "amount": [1, 2]})
    with pytest.raises(SchemaError, match=r"data\.date: dates that do not exist"):
        age(df, "date", "2025-12-31")
    ok = pd.DataFrame({"date": ["2025-01-01"], "amount": [1.0]})
    with pytest.raises(SchemaError, match="cutoff='soon' is not a date"):
        age(ok, "date", "soon")
    with pytest.raises(SchemaError, match="increasing"):
        age(ok, "date", "2025-12-31", bands=(30, 0))
    with pytest.raises(SchemaError, match=r"no column 'due'") as err:
        age(ok, "due", "2025-12-31")
    assert err.value.column == "due"
    with pytest.raises(SchemaError, match=r"data\.amount: text that is not an amount"):
        age(pd.DataFrame({"date": ["2025-01-01"], "amount": ["n/a"]}), "date", "2025-12-31")


def test_summarize_equals_pandas_groupby():
    df, cents = _ledger(seed=4)
    r = summarize(df, "vendor", top=2)
    g = df.assign(c=cents).groupby("vendor", dropna=False)["c"]
    groups = r["groups"].set_index("vendor")
    for name, part in g:
        key = name if isinstance(name, str) else np.nan
        row = groups.loc[key] if isinstance(key, str) else groups[groups.index.isna()].iloc[0]
        assert row["count"] == len(part) and row["total_cents"] == part.sum()
        assert row["max"] == part.max() / 100 and row["std"] == pytest.approx(
            (part / 100).std())
    assert r["groups"]["total_cents"].is_monotonic_decreasing
    ext = r["extremes"]
    acme = ext[(ext.vendor == "acme") & (ext.which == "largest")]
    expected = np.sort(cents[df.vendor.to_numpy() == "acme"])[::-1][:2] / 100
    assert acme["amount"].tolist() == expected.tolist() and acme["rank"].tolist() == [1, 2]
    assert len(ext) == 2 * 2 * 4


def test_summarize_two_keys_and_bad_input():
    df, _ = _ledger(seed=5)
    df["account"] = np.where(df.index % 2, "6000", "6100")
    r = summarize(df, ["vendor", "account"], top=1)
    assert list(r["groups"].columns[:2]) == ["vendor", "account"]
    assert r["groups"]["count"].sum() == len(df)
    with pytest.raises(SchemaError, match=r"no column 'supplier'"):
        summarize(df, "supplier")
    with pytest.raises(SchemaError, match="at least one column"):
        summarize(df, [])


def test_replay_and_plots():
    df, _ = _ledger(400, seed=6)
    for r in (stratify(df), _quiet(age, df, "date", "2025-12-31"), summarize(df, "vendor")):
        again = _quiet(getattr(ex, r.test), df, **r.params)
        assert again.facts == r.facts
        assert "<svg" in r.svg()
