"""The general-ledger and ERP-event generators: contract, balance, planted truth, seeds."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest

from nexus_lab.datasets import (
    GL_MISSTATEMENTS,
    GL_PROFILES,
    synth_erp_events,
    synth_general_ledger,
)

N = 6_000
COLUMNS = ["entry_id", "line", "date", "account", "amount", "posted_by", "posted_at", "source",
           "description", "approved_by", "entity"]


@functools.cache
def _ledger(profile: str, seed: int = 0, misstate: float | None = None, n: int = N):
    return synth_general_ledger(n, profile, seed, misstate=misstate)


def ledger(profile: str, seed: int = 0, misstate: float | None = None, n: int = N):
    gl, chart, truth = _ledger(profile, seed, misstate, n)
    return gl.copy(), chart.copy(), truth.copy()


def cents(x) -> np.ndarray:
    return np.rint(np.asarray(x, float) * 100).astype(np.int64)


def entry_sums(gl: pd.DataFrame) -> pd.Series:
    return pd.Series(cents(gl["amount"])).groupby(gl["entry_id"].to_numpy()).sum()


@pytest.mark.parametrize("profile", GL_PROFILES)
def test_contract_and_types(profile):
    gl, chart, truth = ledger(profile)
    assert gl.columns.tolist()[:len(COLUMNS)] == COLUMNS
    assert ("currency" in gl) == (profile == "group")
    assert len(gl) == pytest.approx(N, rel=0.1)
    assert pd.api.types.is_datetime64_any_dtype(gl["date"])
    assert pd.api.types.is_datetime64_any_dtype(gl["posted_at"])
    assert (gl["date"] == gl["date"].dt.normalize()).all()
    # posted on or after the entry's date
    assert (gl["posted_at"].dt.normalize() >= gl["date"]).all()
    # lines numbered 1..k within each entry, entries contiguous
    first = ~gl["entry_id"].duplicated()
    assert (gl.loc[first, "line"] == 1).all()
    assert set(gl["account"].astype(str)) <= set(chart["account"])
    assert chart["account"].is_unique
    assert set(chart["type"]) == {"asset", "liability", "equity", "revenue", "expense"}
    attrs = gl.attrs
    assert attrs["profile"] == profile
    start, end = pd.Timestamp(attrs["period_start"]), pd.Timestamp(attrs["period_end"])
    assert gl["date"].between(start, end).all()
    assert (end - start).days in (364, 365)
    assert all(pd.Timestamp(h) >= start for h in attrs["holidays"])
    # approval: manual entries are approved; the subledgers' are not
    manual = gl["source"].astype(str).isin(attrs["manual_sources"])
    assert gl.loc[manual, "approved_by"].notna().mean() > 0.95
    receivables = gl["source"].astype(str).isin(["AR", "CR"]) & ~gl["entry_id"].isin(
        truth["entry_id"])
    assert gl.loc[receivables, "approved_by"].isna().all()


@pytest.mark.parametrize("profile", ["small", "group", "services"])
def test_clean_profiles_balance_and_plant_nothing(profile):
    gl, _, truth = ledger(profile)
    assert len(truth) == 0 and truth.columns.tolist() == ["entry_id", "kind", "primary"]
    assert (entry_sums(gl) == 0).all()


def test_profiles_are_unlike_each_other():
    books = {p: ledger(p) for p in GL_PROFILES}
    charts = {p: len(b[1]) for p, b in books.items()}
    assert charts["small"] < charts["misstated"] < charts["group"]
    users = {p: b[0]["posted_by"].nunique() for p, b in books.items()}
    assert users["small"] <= 8 and users["group"] >= 40
    assert books["group"][0]["entity"].nunique() == 8
    assert set(books["group"][0]["currency"]) == {"EUR", "GBP", "USD", "JPY", "CHF"}
    jpy = books["group"][0].query("currency == 'JPY'")["amount"]
    assert (cents(jpy) % 100 == 0).all()  # yen have no cents
    assert books["services"][0].attrs["weekend"] == [4, 5]
    assert set(books["services"][0]["source"].astype(str)) >= {"GJ", "BIL", "EXP", "SYS"}
    assert pd.api.types.is_integer_dtype(books["small"][0]["entry_id"])
    assert books["group"][0]["entry_id"].str.match(r"^[A-Z0-9]{4}-[A-Z]{2}-\d{7}$").all()
    assert books["services"][0]["entry_id"].str.match(r"^[A-Z]{2,3}-\d{6}$").all()
    ends = {b[0].attrs["period_end"] for b in books.values()}
    assert len(ends) == 4
    # the small shop posts on Saturdays, the group hardly ever on weekends
    def weekend_share(gl):
        e = gl.drop_duplicates("entry_id")
        human = ~e["source"].astype(str).isin(["system", "SYS"])
        return e.loc[human, "posted_at"].dt.weekday.isin(gl.attrs["weekend"]).mean()
    assert weekend_share(books["small"][0]) > 2 * weekend_share(books["group"][0])


def test_clean_books_have_natural_noise():
    gl, _, _ = ledger("small")
    entries = gl.drop_duplicates("entry_id")
    end = pd.Timestamp(gl.attrs["period_end"])
    # closing entries posted after the period end, dated inside it
    late = (entries["posted_at"] > end + pd.Timedelta(days=1)) & (entries["date"] <= end)
    assert late.sum() > 5
    # round amounts that are not misstatements
    assert (cents(gl["amount"]) % 100_000 == 0).sum() > 5
    # and a few self-approved entries
    assert (entries["posted_by"].astype(str) == entries["approved_by"].astype(str)).sum() >= 1


def test_seed_reproduces_and_changes():
    a = synth_general_ledger(2_000, "services", 3)
    b = synth_general_ledger(2_000, "services", 3)
    for x, y in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(x, y)
    c = synth_general_ledger(2_000, "services", 4)[0]
    assert not a[0]["amount"].equals(c["amount"])


def test_misstated_truth_is_consistent():
    gl, _, truth = ledger("misstated")
    assert set(truth["kind"]) == set(GL_MISSTATEMENTS)
    per = truth.query("primary").groupby("kind").size()
    assert per.min() == per.max() >= 3  # evenly over the kinds
    assert not truth.duplicated(["entry_id", "kind"]).any()
    ids = set(gl["entry_id"])
    kinds = truth.groupby("kind")["entry_id"].apply(set)
    assert kinds["gap"].isdisjoint(ids)
    assert (truth.query("kind != 'gap'")["entry_id"].isin(ids)).all()
    # unbalanced: exactly the planted entries
    sums = entry_sums(gl)
    assert set(sums.index[sums != 0]) == kinds["unbalanced"]
    # duplicate numbers: the id is used for two entries (line numbers repeat)
    dup = gl[gl["entry_id"].isin(kinds["duplicate_number"])]
    assert dup.duplicated(["entry_id", "line"]).groupby(dup["entry_id"]).any().all()
    entries = gl.drop_duplicates("entry_id").set_index("entry_id")
    attrs = gl.attrs
    end = pd.Timestamp(attrs["period_end"])

    def rows(kind):
        return entries.loc[sorted(kinds[kind])]

    assert rows("weekend")["posted_at"].dt.weekday.isin(attrs["weekend"]).all()
    holidays = pd.to_datetime(attrs["holidays"])
    assert rows("holiday")["posted_at"].dt.normalize().isin(holidays).all()
    back = rows("backdated")
    assert (back["date"] <= end).all() and (back["posted_at"] > end + pd.Timedelta(days=14)).all()
    assert (rows("period_end")["date"] > end - pd.Timedelta(days=3)).all()
    hour = rows("unusual_hour")["posted_at"].dt.hour
    assert ((hour >= 22) | (hour < 5)).all()
    self_ok = rows("self_approved")
    assert (self_ok["posted_by"].astype(str) == self_ok["approved_by"].astype(str)).all()
    assert rows("keyword")["description"].str.contains(
        "CFO|plug|override|topside|no support|do not reverse|target|CEO").all()
    limits = attrs["approval_limits"]
    amount = gl.assign(c=cents(gl["amount"])).query("c > 0").groupby("entry_id")["c"].sum()
    below = amount[sorted(kinds["below_limit"])] / 100
    near = [any(0.95 * lim <= a < lim for lim in limits) for a in below]
    assert all(near)
    round_lines = gl[gl["entry_id"].isin(kinds["round_amount"])]
    assert (cents(round_lines["amount"]) % 100_000 == 0).all()
    # unusual users post nothing else
    users = rows("unusual_user")["posted_by"].astype(str)
    assert (gl.drop_duplicates("entry_id")["posted_by"].astype(str).isin(users).sum()
            == len(users))


def test_misstate_plants_on_any_profile():
    gl, _, truth = ledger("group", misstate=0.03)
    assert set(truth["kind"]) == set(GL_MISSTATEMENTS)
    sums = entry_sums(gl)
    assert set(sums.index[sums != 0]) == set(truth.query("kind == 'unbalanced'")["entry_id"])
    # limits per currency in a group
    assert set(gl.attrs["approval_limits"]) == set(gl["currency"])
    none = synth_general_ledger(1_000, "misstated", misstate=0)[2]
    assert len(none) == 0


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"no profile 'retail'.*'small'"):
        synth_general_ledger(1_000, "retail")
    with pytest.raises(ValueError, match="at least 100"):
        synth_general_ledger(10)
    with pytest.raises(ValueError, match=r"misstate=0.9"):
        synth_general_ledger(1_000, misstate=0.9)


def test_larger_ledger_keeps_its_shape():
    gl, _, truth = synth_general_ledger(200_000, "misstated", 1)
    assert len(gl) == pytest.approx(200_000, rel=0.05)
    sums = entry_sums(gl)
    assert set(sums.index[sums != 0]) == set(truth.query("kind == 'unbalanced'")["entry_id"])
    assert truth.query("primary").groupby("kind").size().min() >= 80


# ------------------------------------------------------------------------------ ERP events


def test_erp_events_contract_and_truth():
    events, truth = synth_erp_events(8_000, seed=2)
    assert events.columns.tolist() == ["event_id", "user", "action", "object_type", "object_id",
                                       "at"]
    assert events["at"].is_monotonic_increasing
    assert len(events) == pytest.approx(8_000, rel=0.4)
    # rows of one event share who, what and when
    per = events.groupby("event_id")[["user", "action", "at"]].nunique()
    assert (per == 1).all().all()
    assert truth["rule"].nunique() == 18
    assert set(truth["event_id"]) <= set(events["event_id"])
    planted = events.merge(truth[["event_id", "user"]], on=["event_id", "user"])
    assert planted["event_id"].nunique() == truth["event_id"].nunique()
    # payments name the invoice and the vendor
    pay = events.query("action == 'pay'").groupby("event_id")["object_type"].apply(set)
    assert all(kinds >= {"invoice", "vendor"} for kinds in pay)


def test_erp_events_seeded_and_clean_without_plants():
    a = synth_erp_events(3_000, seed=5)
    b = synth_erp_events(3_000, seed=5)
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])
    clean, none = synth_erp_events(3_000, seed=5, plant=False)
    assert len(none) == 0 and len(clean) < len(a[0])
    with pytest.raises(ValueError, match="at least 500"):
        synth_erp_events(10)
