"""Duplicates: exact ones agree with pandas, fuzzy ones with a brute-force comparison of
every pair, and planted duplicates are found."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from nexus_lab import examine
from nexus_lab.errors import SchemaError
from nexus_lab.examine import duplicates
from tests.examine._dupdata import invoices, typo, vendor_names

# ----------------------------------------------------------------------------- references


def _groups(res) -> set[frozenset[int]]:
    rows = res["rows"]
    return {frozenset(g["row"].tolist()) for _, g in rows.groupby("group")}


def _components(n: int, a: np.ndarray, b: np.ndarray) -> set[frozenset[int]]:
    """The groups of rows that the pairs ``(a, b)`` link, singletons left out."""
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    out = pd.Series(np.arange(n)).groupby(comp).agg(frozenset)
    return {s for s in out if len(s) > 1}


def _norm(values) -> list[str]:
    """Case, accents aside (none here), dots and apostrophes dropped, punctuation as space."""
    out = []
    for v in values:
        t = re.sub(r"[.'’`]", "", str(v).upper())
        out.append(" ".join(re.sub(r"[^A-Z0-9]+", " ", t).split()))
    return out


def _similar_pairs(text: list[str], t: float) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of texts (i < j) with Damerau-Levenshtein similarity >= t."""
    sim = process.cdist(text, text, scorer=DamerauLevenshtein.normalized_similarity,
                        score_cutoff=t, workers=-1)
    a, b = np.nonzero(np.triu(sim >= t, 1))
    return a, b


def _all_pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.triu_indices(n, 1)
    return a, b


# ----------------------------------------------------------------------------- exact


@st.composite
def _frames(draw):
    n = draw(st.integers(0, 60))
    cols = {}
    for name in draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=1, max_size=4,
                              unique=True)):
        kind = draw(st.sampled_from(["int", "text", "float", "mixed", "wide", "huge",
                                     "category", "arrow", "date"]))
        if kind == "int":
            vals = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
        elif kind == "wide":  # a span too wide to count, or to pack with the row
            vals = draw(st.lists(st.sampled_from([-7, 0, 2**40, 2**45 + 3]), min_size=n,
                                 max_size=n))
        elif kind == "huge":  # a span too wide for codes of its own: numbered
            vals = draw(st.lists(st.sampled_from([-(2**62), 0, 2**62]), min_size=n, max_size=n))
        elif kind == "category":
            vals = pd.Categorical(draw(st.lists(st.sampled_from(["x", "y", None]), min_size=n,
                                                max_size=n)), categories=["z", "y", "x"])
        elif kind == "arrow":  # of one width (read as numbers) or not, nulls or not
            vals = pd.array(draw(st.lists(st.sampled_from(
                draw(st.sampled_from([["ab", "ba", "bb"], ["ab", "b", "", None]]))),
                min_size=n, max_size=n)), dtype="string[pyarrow]")
        elif kind == "date":
            vals = pd.to_datetime(draw(st.lists(st.sampled_from(
                ["2025-01-01", "2025-01-02 06:00", "1969-12-31", None]), min_size=n,
                max_size=n)), format="ISO8601")
        elif kind == "text":
            vals = draw(st.lists(st.sampled_from(["x", "y", "X", "", None]), min_size=n,
                                 max_size=n))
        elif kind == "float":
            vals = draw(st.lists(st.sampled_from([0.5, 1.0, -2.0, np.nan]), min_size=n,
                                 max_size=n))
        else:
            vals = draw(st.lists(st.sampled_from([1, "1", None, 2.5, "b"]), min_size=n,
                                 max_size=n))
        cols[name] = pd.Series(vals, dtype=object if kind in ("text", "mixed") else None)
    return pd.DataFrame(cols)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_frames(), st.data())
def test_exact_duplicates_equal_pandas(df, data):
    subset = data.draw(st.none() | st.lists(st.sampled_from(list(df.columns)), min_size=1,
                                            unique=True))
    res = duplicates(df, same=subset)
    want = df.duplicated(subset=subset, keep=False).to_numpy()
    assert sorted(res["rows"]["row"]) == np.flatnonzero(want).tolist()
    # the groups are pandas' groups of equal keys
    keys = df.loc[want, subset or list(df.columns)]
    ngroup = keys.groupby(list(keys.columns), dropna=False, sort=False,
                          observed=True).ngroup()
    truth = {frozenset(ix) for ix in pd.Series(keys.index).groupby(ngroup.to_numpy()).agg(list)}
    assert _groups(res) == truth
    assert res.summary()["duplicate_rows"] == int(want.sum())


def _truth(df: pd.DataFrame, subset: list[str]) -> set[frozenset[int]]:
    """pandas' groups of rows equal on ``subset`` (twice or more)."""
    want = df.duplicated(subset=subset, keep=False).to_numpy()
    keys = df.loc[want, subset]
    ngroup = keys.groupby(subset, dropna=False, sort=False, observed=True).ngroup()
    return {frozenset(ix) for ix in pd.Series(keys.index).groupby(ngroup.to_numpy()).agg(list)}


def test_keys_of_every_type_group_as_their_text_does():
    """Categoricals, Arrow text, dates, wide integers and money are read as numbers
    (codes, bytes, days, cents), never hashed: the groups are those of the same values
    written as text, and pandas'."""
    rng = np.random.default_rng(11)
    n = 3000
    ids = np.array([f"JE{i:05d}" for i in rng.integers(0, 1800, n)], dtype=object)
    words = np.array(["rent", "rent ", "Rent", "tax", "", "møbler", "møbel"], dtype=object)[
        rng.integers(0, 7, n)]
    day = rng.integers(0, 40, n)
    stamps = pd.Timestamp("2024-12-20") + pd.to_timedelta(day, "D") + pd.to_timedelta(
        rng.integers(0, 2, n) * 3600, "s")
    cents = rng.integers(-500, 500, n)
    df = pd.DataFrame({
        "id_text": ids,
        "id_arrow": pd.array(ids, dtype="string[pyarrow]"),  # one width: read as numbers
        "id_arrow_view": pd.Series(ids, dtype=pd.ArrowDtype(pa.string())),
        "word_text": pd.Series(words, dtype=object),
        "day_text": pd.Series(day.astype(str), dtype=object),
        "day": pd.Timestamp("2025-01-01") + pd.to_timedelta(day, "D"),
        "day_tz": (pd.Timestamp("2025-01-01") + pd.to_timedelta(day, "D")).tz_localize("UTC"),
        "stamp": stamps, "stamp_text": stamps.astype(str).astype(object),
        "never": pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]"),
        "wide": day.astype(np.int64) * 2**35 + 5,  # codes of its own, too wide to pack
        "huge": day.astype(np.int64) * 2**58 - 2**62, "huge_uint": day.astype(np.uint64) << 58,
        "amount": cents / 100, "cents_text": pd.Series(cents.astype(str), dtype=object),
    })
    df.loc[::97, "word_text"] = None
    df["word_cat"] = df["word_text"].astype("category")
    df["word_arrow"] = df["word_text"].astype("string[pyarrow]")
    df["word_python"] = df["word_text"].astype("string[python]")
    pairs = [(["id_arrow"], ["id_text"]), (["id_arrow_view", "day"], ["id_text", "day_text"]),
             (["word_cat", "day", "never"], ["word_text", "day_text"]),
             (["word_arrow", "day_tz"], ["word_text", "day_text"]),
             (["word_python", "huge"], ["word_text", "day_text"]),
             (["huge_uint", "amount"], ["day_text", "cents_text"]),
             (["wide", "word_cat", "stamp"], ["day_text", "word_text", "stamp_text"]),
             (["stamp", "word_cat", "amount"], ["stamp_text", "word_text", "cents_text"])]
    for typed, text in pairs:
        res = duplicates(df, same=typed)
        assert _groups(res) == _groups(duplicates(df, same=text)) == _truth(df, typed), typed
        assert res["rows"]["reason"].eq("same " + ", ".join(typed)).all()


def test_arrow_text_sliced_chunked_and_of_mixed_widths():
    """Arrow text cut from a longer array, in several chunks, of two widths or with
    nulls: equal texts group, whatever their layout."""
    words = pd.Series(["ab", "cd", "ab", "éa", "cd", "éa", "zz"] * 3, dtype="string[pyarrow]")
    both = pd.concat([words.iloc[3:], words.iloc[:9]], ignore_index=True)  # two chunks
    rng = np.random.default_rng(2)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    long = ["".join(w) for w in letters[rng.integers(0, 26, (40, 16))]]  # 26**16 ids
    for col in (words.iloc[5:].reset_index(drop=True), both,
                pd.concat([both, pd.Series(["abc", None, None], dtype="string[pyarrow]")],
                          ignore_index=True),
                pd.Series(long + long[:7], dtype="string[pyarrow]"),
                pd.Series(["", "", ""], dtype="string[pyarrow]")):
        df = pd.DataFrame({"k": col})
        assert _groups(duplicates(df, same="k")) == _truth(df, ["k"])
        text = pd.DataFrame({"k": col.astype(object)})
        assert _groups(duplicates(df, same="k")) == _groups(duplicates(text, same="k"))


def test_exact_groups_tables_and_value_at_risk():
    df = pd.DataFrame({"transaction_id": [f"T{i}" for i in range(7)],
                       "invoice_no": ["A", "B", "A", "C", "A", "B", "D"],
                       "Amount": ["1,000.00", "20.00", "1000", "5.00", "1000.0", "20", "7"]})
    res = duplicates(df, same=["invoice_no", "amount"])
    groups, rows = res["groups"], res["rows"]
    assert groups[["group", "size", "first_row"]].values.tolist() == [[1, 3, 0], [2, 2, 1]]
    assert groups["invoice_no"].tolist() == ["A", "B"]
    assert groups["total_amount"].tolist() == [3000.0, 40.0]
    assert res.summary()["value_at_risk"] == 2020.0
    assert rows["id"].tolist() == ["T0", "T2", "T4", "T1", "T5"]
    assert rows["matched_to"].tolist() == [2, 0, 0, 5, 1]
    assert set(rows["reason"]) == {"same invoice_no, Amount"}
    assert res.verdict == "findings"
    assert res.summary()["groups_by_kind"] == {"exact": 2}


# ----------------------------------------------------------------------------- similar


@pytest.mark.parametrize("style,seed", [("words", 0), ("coined", 1)])
def test_similar_agrees_with_every_pair_compared(style, seed):
    df, planted = invoices(1500, 120, style, seed)
    res = duplicates(df, similar={"vendor": 0.9})
    text = _norm(df["vendor"])
    a, b = _similar_pairs(text, 0.9)
    truth = _components(len(df), a, b)
    found = _groups(res)
    # every group is one the brute force finds (precision 1), and it misses none
    assert found == truth
    group_of = res["rows"].set_index("row")["group"]
    hit = np.array([i in group_of and j in group_of and group_of[i] == group_of[j]
                    for i, j in planted])
    score = np.array([DamerauLevenshtein.normalized_similarity(text[i], text[j])
                      for i, j in planted])
    assert hit[score >= 0.9].all()
    # one slip in a name of fewer than ten letters is below 0.9: the coined names are short
    assert hit.mean() >= (0.95 if style == "words" else 0.75)
    assert set(res["rows"]["kind"]) <= {"similar", "exact"}


def test_similar_blocks_keep_pairs_of_two_edits():
    """Long names two edits apart share no deletion key: sorted neighbours find most."""
    rng = np.random.default_rng(7)
    names = list(vendor_names(3000, "words", 7))
    long = [v for v in names if len(v) >= 26][:150]
    copies = [typo(typo(v, rng), rng) for v in long]
    df = pd.DataFrame({"vendor": names + copies})
    res = duplicates(df, similar={"vendor": 0.9})
    a, b = _similar_pairs(_norm(df["vendor"]), 0.9)
    group_of = res["rows"].set_index("row")["group"].reindex(range(len(df))).to_numpy()
    together = group_of[a] == group_of[b]
    assert together.mean() >= 0.95, together.mean()
    # precision: each group lies within one group of the brute force
    truth = _components(len(df), a, b)
    assert all(any(s <= t for t in truth) for s in _groups(res))


@pytest.mark.parametrize("kw", [
    {"near": {"date": "400D"}},  # windows too wide: the similar texts give the candidates
    {"near": {"date": "3D"}},  # narrow windows give them
    {"different": ["amount"]},
])
def test_similar_with_other_criteria_agrees_with_every_pair_compared(kw):
    df, _ = invoices(700, 90, "words", 8)
    df.loc[::7, "vendor"] = df["vendor"].iloc[1::7].to_numpy()  # some vendors twice
    res = duplicates(df, similar={"vendor": 0.9}, **kw)
    a, b = _similar_pairs(_norm(df["vendor"]), 0.9)
    ia, ib = np.r_[a, b], np.r_[b, a]
    day = df["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    amount = df["amount"].to_numpy()
    if "near" in kw:
        span = int(kw["near"]["date"][:-1])
        ok = np.abs(day[ia] - day[ib]) <= span
    else:
        ok = amount[ia] != amount[ib]
    assert _groups(res) == _components(len(df), ia[ok], ib[ok])


def test_near_and_similar_find_planted_invoices():
    for style, seed in (("words", 3), ("coined", 4)):
        df, planted = invoices(4000, 300, style, seed)
        res = duplicates(df, same=["invoice_no"], near={"amount": 0.01, "date": "3D"},
                         similar={"vendor": 0.85})
        found = _groups(res)
        want = {frozenset(p) for p in planted.tolist()}
        text = _norm(df["vendor"])
        score = np.array([DamerauLevenshtein.normalized_similarity(text[i], text[j])
                          for i, j in planted])
        reachable = {frozenset(p) for p, s in zip(planted.tolist(), score) if s >= 0.85}
        assert found <= want  # precision 1: only planted pairs
        assert found == reachable  # recall 1 of the pairs the threshold allows
        assert len(found) >= (0.95 if style == "words" else 0.8) * len(want)
        reason = res["rows"]["reason"].iloc[0]
        assert reason.startswith("same invoice_no")


def test_no_false_groups_on_clean_data():
    df, _ = invoices(3000, 0, "words", 5)
    assert duplicates(df, same=["invoice_no"], near={"amount": 0.01},
                      similar={"vendor": 0.9})["groups"].empty
    assert duplicates(df).verdict == "clean"
    assert duplicates(df, same=["vendor", "amount"]).verdict == "clean"
    names = vendor_names(1200, "coined", 6)
    a, b = _similar_pairs(_norm(names), 0.9)
    clean = np.setdiff1d(np.arange(len(names)), np.r_[a, b])
    res = duplicates(pd.DataFrame({"vendor": names[clean]}), similar={"vendor": 0.9})
    assert res.verdict == "clean" and res.summary()["duplicate_rows"] == 0


# ----------------------------------------------------------------------------- near, different


def _random_ledger(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "vendor_id": rng.integers(0, 6, n),
        "amount": rng.integers(-300, 3000, n) / 100,
        "date": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 40, n), "D"),
        "code": rng.choice(["a", "b", "c"], n),
        "region": rng.choice(["n", "s"], n),
    })


def _brute(df: pd.DataFrame, same, test) -> set[frozenset[int]]:
    a, b = _all_pairs(len(df))
    ok = np.ones(len(a), dtype=bool)
    for c in same:
        ok &= df[c].to_numpy()[a] == df[c].to_numpy()[b]
    ok &= test(a, b)
    return _components(len(df), a[ok], b[ok])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_near_agrees_with_every_pair_compared(seed):
    df = _random_ledger(300, seed)
    cents = np.rint(df["amount"].to_numpy() * 100).astype(np.int64)
    day = df["date"].to_numpy().astype("datetime64[D]").astype(np.int64)

    res = duplicates(df, same=["vendor_id"], near={"amount": 0.05})
    assert _groups(res) == _brute(df, ["vendor_id"],
                                  lambda a, b: np.abs(cents[a] - cents[b]) <= 5)
    res = duplicates(df, same=["vendor_id"], near={"amount": "2%"})
    big = np.maximum(np.abs(cents[:, None]), np.abs(cents[None, :]))
    rel = np.abs(cents[:, None] - cents[None, :]) <= 0.02 * big
    assert _groups(res) == _brute(df, ["vendor_id"], lambda a, b: rel[a, b])
    res = duplicates(df, same=["vendor_id", "code"], near={"amount": 1, "date": "2D"})
    assert _groups(res) == _brute(df, ["vendor_id", "code"], lambda a, b: (
        np.abs(cents[a] - cents[b]) <= 100) & (np.abs(day[a] - day[b]) <= 2))
    res = duplicates(df, same="code", near={"date": "1D"}, different=["region"])
    region = df["region"].to_numpy()
    assert _groups(res) == _brute(df, ["code"], lambda a, b: (
        np.abs(day[a] - day[b]) <= 1) & (region[a] != region[b]))
    assert set(res["rows"]["kind"]) <= {"different", "different+near", "exact"}


@pytest.mark.parametrize("seed", [0, 1])
def test_different_agrees_with_every_pair_compared(seed):
    df = _random_ledger(200, seed)
    code, region = df["code"].to_numpy(), df["region"].to_numpy()
    res = duplicates(df, same=["vendor_id", "date"], different="code")
    assert _groups(res) == _brute(df, ["vendor_id", "date"], lambda a, b: code[a] != code[b])
    assert set(res["rows"]["kind"]) <= {"different", "exact"}
    res = duplicates(df, same=["vendor_id"], different=["code", "region"])
    assert _groups(res) == _brute(df, ["vendor_id"], lambda a, b: (code[a] != code[b]) & (
        region[a] != region[b]))


def test_reasons_name_what_differs():
    df = pd.DataFrame({"transaction_id": ["a", "b", "c"], "invoice_no": [5, 5, 5],
                       "vendor": ["ACME Ltd", "Acme Ltd.", "Bolt"],
                       "amount": [100.0, 100.5, 100.0]})
    res = duplicates(df, same="invoice_no", near={"amount": 1}, similar={"vendor": 0.9})
    rows = res["rows"].set_index("id")
    assert rows.loc["a", "reason"] == ("same invoice_no; amount 100.00 vs 100.50 (0.50 apart); "
                                       "vendor 'ACME Ltd' vs 'Acme Ltd.' (1.00)")
    res = duplicates(df, same="invoice_no", different="vendor")
    assert res["rows"]["reason"].iloc[0] == "same invoice_no; vendor 'ACME Ltd' vs 'Acme Ltd.'"
    assert res["groups"]["size"].tolist() == [3]


# ----------------------------------------------------------------------------- invariants


@pytest.mark.parametrize("kw", [
    {"same": ["invoice_no"]},
    {"similar": {"vendor": 0.9}},
    {"same": ["invoice_no"], "near": {"amount": 0.01, "date": "3D"}},
    {"near": {"amount": "0.5%"}},
])
def test_shuffled_input_gives_the_same_groups(kw):
    df, _ = invoices(800, 80, "words", 9)
    res = duplicates(df, **kw)
    shuffled = df.sample(frac=1, random_state=3).reset_index(drop=True)
    again = duplicates(shuffled, **kw)
    ids = df["transaction_id"].to_numpy()
    ids2 = shuffled["transaction_id"].to_numpy()
    assert {frozenset(ids[list(s)]) for s in _groups(res)} == {
        frozenset(ids2[list(s)]) for s in _groups(again)}
    assert res.summary()["value_at_risk"] == again.summary()["value_at_risk"]


def test_result_replays_plots_and_serializes():
    df, _ = invoices(300, 30, "coined", 2)
    res = duplicates(df, same=["invoice_no"], similar={"vendor": 0.9}, near={"date": "2D"})
    again = getattr(examine, res.test)(df, **res.params)
    pd.testing.assert_frame_equal(res["rows"], again["rows"])
    json.dumps(res.summary())
    assert "<svg" in res.svg() and "duplicates" in res._repr_html_()
    assert sum(res.summary()["groups_by_kind"].values()) == res.summary()["groups"]
    assert sum(res.summary()["rows_by_kind"].values()) == len(res["rows"])


def test_empty_input_and_columns_mapping():
    empty = pd.DataFrame({"inv": pd.Series([], dtype=object), "amt": pd.Series([], dtype=float)})
    res = duplicates(empty, same=["invoice_no"], near={"amount": 0.01},
                     columns={"invoice_no": "inv", "amount": "amt"})
    assert res.verdict == "clean" and res["rows"].empty and res["groups"].empty
    assert {"group", "size", "kind", "total_amount"} <= set(res["groups"].columns)
    df = pd.DataFrame({"Invoice No": ["1", "1"], "amt": [2.0, 2.0]})
    res = duplicates(df, same=["invoice_no", "amount"], columns={"amount": "amt"})
    assert res.summary()["groups"] == 1 and res.summary()["value_at_risk"] == 2.0


# ----------------------------------------------------------------------------- bad input


def test_an_absent_column_is_named_with_the_ones_there():
    df = pd.DataFrame({"invoice": [1], "vendor": ["a"]})
    with pytest.raises(SchemaError, match=r"'invoice_no'.*it has \['invoice', 'vendor'\]"):
        duplicates(df, same=["invoice_no"])
    with pytest.raises(SchemaError, match="columns="):
        duplicates(df, same=["invoice"], columns={"amount": "Amt"})


@pytest.mark.parametrize("threshold", [0, 1.5, -0.2, "0.9", True, None])
def test_a_threshold_outside_0_1_is_refused(threshold):
    df = pd.DataFrame({"vendor": ["a", "b"]})
    with pytest.raises(SchemaError, match=r"similar\['vendor'\].*\(0, 1\]"):
        duplicates(df, similar={"vendor": threshold})


@pytest.mark.parametrize("tol,match", [
    ("abc", "not a tolerance"), ("3 parsecs", "no span"), (-1, ">= 0"), ("150%", "between"),
    ("3D", "span of time"), (None, "not a tolerance"),
])
def test_a_bad_tolerance_is_refused(tol, match):
    df = pd.DataFrame({"amount": [1.0, 2.0], "date": ["2025-01-01", "2025-01-02"]})
    with pytest.raises(SchemaError, match=match):
        duplicates(df, near={"amount": tol})


def test_other_bad_calls_are_refused():
    df = pd.DataFrame({"amount": [1.0, 2.0], "date": pd.to_datetime(["2025-01-01"] * 2),
                       "vendor": ["a", "b"]})
    with pytest.raises(SchemaError, match="holds dates"):
        duplicates(df, near={"date": 2})
    with pytest.raises(SchemaError, match="both same= and near="):
        duplicates(df, same=["amount"], near={"amount": 1})
    with pytest.raises(SchemaError, match="mapping"):
        duplicates(df, similar=["vendor"])
    with pytest.raises(SchemaError, match=r"table\.amount"):
        duplicates(pd.DataFrame({"amount": ["1.00", "x"]}), near={"amount": 1})


def test_texts_of_one_hash_are_told_apart(monkeypatch):
    """Exact keys of text are hashed; equal hashes of unequal texts fall back to numbering."""
    df = pd.DataFrame({"k": ["a", "b", "a", None, None, "c"], "n": [1, 1, 1, 2, 2, 3]})
    monkeypatch.setattr(pd.util, "hash_array", lambda values, **kw: np.zeros(len(values),
                                                                             np.uint64))
    res = duplicates(df, same=["k", "n"])
    assert _groups(res) == {frozenset({0, 2}), frozenset({3, 4})}


def test_blank_amounts_count_as_zero_with_a_warning():
    df = pd.DataFrame({"invoice_no": [1, 1, 2, 2], "amount": [5.0, 5.0, None, None]})
    with pytest.warns(examine.ExamineWarning, match="2 rows have no amount"):
        res = duplicates(df, same=["invoice_no", "amount"])
    assert res["groups"]["total_amount"].tolist() == [10.0, 0.0]
    assert res.summary()["warnings"] and res.summary()["value_at_risk"] == 5.0
    with pytest.raises(SchemaError, match="blanks at rows 2, 3"):
        duplicates(df, same=["invoice_no"], near={"amount": 1})
