import warnings

import benford as bp
import numpy as np
import pandas as pd
import pytest

import nexus_lab.examine as ex
from nexus_lab.errors import SchemaError
from nexus_lab.examine import BENFORD_TESTS, ExamineWarning, benford

DIGS = {"first": 1, "first_two": 2, "first_three": 3}


def _cents(n, seed=0, decades=6):
    rng = np.random.default_rng(seed)
    return np.rint(10 ** rng.uniform(0, decades, n)).astype(np.int64) + 1


def _invented(n, seed=1):
    """Amounts a person made up: just under approval limits, round numbers, few decades."""
    rng = np.random.default_rng(seed)
    base = _cents(n, seed)
    made = rng.random(n) < 0.3
    base[made] = rng.choice([480_000, 490_000, 499_000, 2_450_000, 4_800_000, 500_00],
                            made.sum()) + rng.integers(0, 100, made.sum())
    return base


def _frame(cents):
    return pd.DataFrame({"transaction_id": [f"T{i}" for i in range(len(cents))],
                         "amount": cents / 100})


def _quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **kw)


def _benford_py(cents, test):
    """benford_py's frame and statistics on the same positive amounts (as int cents,
    decimals=0: the same digits without its float truncation)."""
    data = pd.Series(cents[cents > 0])
    src = bp.Source(data, decimals=0, sign="pos", sec_order=test == "second_order",
                    verbose=False)
    kw = dict(confidence=95, MAD=True, chi_square=True, KS=True, show_plot=False,
              ret_df=True)
    if test in DIGS:
        df = _quiet(src.first_digits, digs=DIGS[test], **kw)
    elif test == "second_order":
        df = _quiet(src.first_digits, digs=2, **kw)
    elif test == "second":
        df = _quiet(src.second_digit, **kw)
    else:
        df = _quiet(src.last_two_digits, **kw)
    return df.sort_index(), src


def _check_against(cents, test):
    r = _quiet(benford, _frame(cents), test=test)
    ref, src = _benford_py(cents, test)
    d = r["digits"].set_index("digit")
    n = int(ref.Counts.sum())
    assert r.facts["tested"] == n
    assert d["count"].tolist() == ref.Counts.astype(int).tolist()
    np.testing.assert_allclose(d["observed"], ref.Found, rtol=1e-12, atol=0)
    if test == "last_two":
        # benford_py expects 1/99 for each of the 100 pairs (which sum to 1.01): we use
        # 1/100 and check its formulas on the corrected expectation
        np.testing.assert_allclose(ref.Expected, 1 / 99)
        ref = ref.assign(Expected=0.01)
        ref = ref.assign(Dif=ref.Found - ref.Expected, AbsDif=(ref.Found - ref.Expected).abs())
        z, chi2 = bp.stats.Z_score(ref, n), bp.stats.chi_sq_2(ref)
        ks, mad = bp.stats.kolmogorov_smirnov_2(ref), ref.AbsDif.mean()
    else:
        z, chi2, ks, mad = ref.Z_score, src.chi_square[0], src.KS[0], src.MAD
        np.testing.assert_allclose(r.facts["ks_critical"], src.KS[1], rtol=1e-12)
    np.testing.assert_allclose(d["expected"], ref.Expected, rtol=1e-12)
    np.testing.assert_allclose(d["z"], z, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(r.facts["chi2"], chi2, rtol=1e-9)
    np.testing.assert_allclose(r.facts["ks"], ks, rtol=1e-9)
    np.testing.assert_allclose(r.facts["mad"], mad, rtol=1e-9)
    return r


@pytest.mark.parametrize("test", ["first", "first_two", "first_three", "second", "last_two",
                                  "second_order"])
@pytest.mark.parametrize("data", ["benford", "invented"])
def test_equals_benford_py(test, data):
    cents = _cents(30_000) if data == "benford" else _invented(30_000)
    cents[:7] = [100_000, 99_999, 10, 1, 9, 1_000, 100]  # 1000.00, 999.99, 0.10, ...
    r = _check_against(cents, test)
    if data == "invented" and test in ("first", "first_two", "first_three"):
        assert r.verdict == "nonconformity"


def test_verdicts_follow_nigrini_cutoffs_as_benford_py_reports_them(capsys):
    for cents in (_cents(30_000), _invented(30_000)):
        for test, digs in (("first", 1), ("first_two", 2), ("first_three", 3),
                           ("second", 22)):
            r = _quiet(benford, _frame(cents), test=test)
            bp.reports._report_mad_(digs, r.facts["mad"])
            said = capsys.readouterr().out.lower()
            word = {"close": "close", "acceptable": ": acceptable",
                    "marginal": "marginally", "nonconformity": "nonconformity"}[r.verdict]
            assert word in said


def test_summation_equals_benford_py():
    cents = _cents(50_000, seed=3)
    cents = cents[cents >= 10]
    r = _quiet(benford, _frame(cents), test="summation")
    d = r["digits"].set_index("digit")
    ref = _quiet(bp.Source(pd.Series(cents), decimals=0, sign="pos", verbose=False).summation,
                 digs=2, show_plot=False, ret_df=True).sort_index()
    assert len(ref) == 90  # every group present: benford_py then averages over all 90
    assert d["total_cents"].tolist() == ref.Summ.astype(np.int64).tolist()
    np.testing.assert_allclose(d["observed"], ref.Percent, rtol=1e-12)
    np.testing.assert_allclose(r.facts["mad"], ref.AbsDif.mean(), rtol=1e-12)
    assert r.facts["chi2"] is None and r["digits"]["z"].isna().all()


def test_summation_finds_a_spike_of_money():
    cents = _cents(20_000, seed=4)
    cents[:5] = 48_000_000_00  # five payments of 48 million
    r = _quiet(benford, _frame(cents), test="summation")
    assert r.verdict == "findings"
    assert r["drivers"]["digit"].iloc[0] == 48
    assert r["rows"]["transaction_id"].head(5).tolist() == [f"T{i}" for i in range(5)]


def test_digits_are_exact_near_powers_of_ten():
    values = np.array([100_000, 99_999, 10, 1, 999_999_999_999_999, 10**15, 12_345])
    df = pd.DataFrame({"amount": values / 100})  # 1000.00, 999.99, 0.10, 0.01...
    rows = {}
    for test in ("first", "first_two", "first_three", "second", "last_two"):
        r = _quiet(benford, df, test=test, limit=100)
        d = r["digits"]
        rows[test] = sorted(np.repeat(d["digit"], d["count"]).tolist())
    assert rows["first"] == sorted([1, 9, 1, 1, 9, 1, 1])
    assert rows["first_two"] == sorted([10, 99, 10, 99, 10, 12])
    assert rows["first_three"] == sorted([100, 999, 999, 100, 123])
    assert rows["second"] == sorted([0, 9, 0, 9, 0, 2])
    assert rows["last_two"] == sorted([0, 99, 99, 0, 45])


def test_text_amounts_with_currency_and_decimal_comma():
    cents = _cents(3_000, seed=5)
    text = pd.Series([f"{c // 100:,}.{c % 100:02d}".replace(",", " ").replace(".", ",") + " €"
                      for c in cents])
    a = _quiet(benford, pd.DataFrame({"Betrag": text}), "Betrag", test="first_two")
    b = _quiet(benford, _frame(cents), test="first_two")
    assert a["digits"]["count"].tolist() == b["digits"]["count"].tolist()
    assert a.facts["currency"] == "€"
    c = _quiet(benford, pd.DataFrame({"Amt": [f"${x / 100:,.2f}" for x in cents]}),
               test="first_two", columns={"amount": "Amt"})
    assert c["digits"]["count"].tolist() == b["digits"]["count"].tolist()


def test_negative_and_zero_amounts_are_left_out_and_counted():
    cents = _cents(2_000, seed=6)
    signed = cents.copy()
    signed[:300] *= -1
    signed[300:310] = 0
    df = _frame(signed)
    with pytest.warns(ExamineWarning, match=r"300 negative.*10 zero") as rec:
        r = benford(df, test="first_two")
    small = int((cents[310:] < 10).sum())
    assert r.facts["negative"] == 300 and r.facts["zero"] == 10
    assert r.facts["below_minimum"] == small
    assert r.facts["tested"] == 2_000 - 310 - small
    assert any("sign='negative'" in str(w.message) for w in rec)
    neg = _quiet(benford, df, test="first_two", sign="negative")
    assert neg.facts["tested"] == int((cents[:300] >= 10).sum())
    assert neg["rows"]["amount"].lt(0).all()
    same = _quiet(benford, _frame(cents[:300]), test="first_two")
    assert neg["digits"]["count"].tolist() == same["digits"]["count"].tolist()


def test_too_few_rows_warns_with_the_minimum():
    with pytest.warns(ExamineWarning, match=r"200 amounts tested, fewer than the 1,146"):
        r = benford(_frame(_cents(200, seed=7) + 1000), test="first_two")
    assert any("1,146" in n for n in r.notes)
    assert r.verdict == "too_few_rows"  # no conformity verdict on so few amounts


def test_no_amount_to_read_is_a_clear_error():
    df = pd.DataFrame({"amount": [-5.0, 0.0, -12.5]})
    with pytest.raises(SchemaError, match=r"data\.amount: no positive amounts.*sign='negative'"):
        _quiet(benford, df)
    with pytest.raises(SchemaError, match=r"no positive amounts of at least 10\.00"):
        _quiet(benford, pd.DataFrame({"amount": [1.5, 2.25]}), test="last_two")


def test_bad_input_names_the_column():
    df = _frame(_cents(100))
    with pytest.raises(SchemaError, match=r"no column 'amt'") as err:
        benford(df, "amt")
    assert err.value.column == "amt"
    with pytest.raises(SchemaError, match=r"data\.amount: text that is not an amount"):
        benford(pd.DataFrame({"amount": ["12.50", "abc", "3.00"]}))
    with pytest.raises(SchemaError, match="test='third'"):
        benford(df, test="third")
    with pytest.raises(SchemaError, match="vendor"):
        benford(df, by="vendor")


def test_drivers_and_their_rows_largest_first():
    cents = _cents(20_000, seed=8)
    cents[:2_500] = 4_800 + np.arange(2_500) % 100  # 48.00 .. 48.99
    r = _quiet(benford, _frame(cents), test="first_two", limit=50)
    assert r.verdict == "nonconformity"
    drivers = r["drivers"]
    assert drivers["digit"].iloc[0] == 48
    assert drivers["z"].is_monotonic_decreasing and (drivers["z"] > 1.96).all()
    rows = r["rows"]
    assert len(rows) == 50 and r.facts["rows_listed"] == 50
    first_two = pd.Series(cents[cents >= 10].astype(str)).str[:2].astype(int)
    assert r.facts["driver_rows"] == int(first_two.isin(drivers["digit"]).sum())
    assert rows["amount"].abs().is_monotonic_decreasing
    assert set(rows["digit"]) <= set(drivers["digit"])
    ids = rows["transaction_id"].str[1:].astype(int)
    np.testing.assert_allclose(cents[ids] / 100, rows["amount"])


def test_second_order_rows_show_the_pair():
    cents = np.sort(_cents(5_000, seed=9))
    cents[::7] += 4_700  # 47.00 steps
    r = _quiet(benford, _frame(cents), test="second_order", limit=20)
    rows = r["rows"]
    assert not rows.empty
    np.testing.assert_allclose(rows["amount"] - rows["previous"], rows["difference"])
    ids = rows["transaction_id"].str[1:].astype(int)
    np.testing.assert_allclose(cents[ids] / 100, rows["amount"])


def test_by_group_equals_each_group_alone_and_skips_small_groups():
    rng = np.random.default_rng(10)
    cents = np.concatenate([_cents(3_000, 11), _invented(3_000, 12), _cents(50, 13)])
    df = _frame(cents).assign(vendor=["A"] * 3_000 + ["B"] * 3_000 + ["C"] * 50)
    df = df.iloc[rng.permutation(len(df))].reset_index(drop=True)
    with pytest.warns(ExamineWarning, match=r"1 of 3 groups have fewer than 110.*'C'"):
        r = benford(df, test="first", by="vendor")
    groups = r["groups"]
    assert next(iter(r.tables)) == "groups"
    assert groups["vendor"].tolist() == ["B", "A"]  # ranked by excess MAD
    for name in ("A", "B"):
        alone = _quiet(benford, df[df.vendor == name], test="first")
        row = groups.set_index("vendor").loc[name]
        assert row["rows"] == alone.facts["tested"]
        for key, fact in (("mad", "mad"), ("chi2", "chi2"), ("ks", "ks"),
                          ("excess_mad", "excess_mad")):
            np.testing.assert_allclose(row[key], alone.facts[fact], rtol=1e-12)
        assert row["verdict"] == alone.verdict
    r2 = _quiet(benford, df, test="first", by="vendor", min_rows=10)
    assert set(r2["groups"]["vendor"]) == {"A", "B", "C"}
    # numbered groups are named as numbers, not as numpy's repr of them
    with pytest.warns(ExamineWarning, match=r"groups have fewer than 110 tested rows and are "
                      r"not ranked \(3\)"):
        benford(df.assign(vendor=df["vendor"].map({"A": 1, "B": 2, "C": 3})), by="vendor")
    so = _quiet(benford, df, test="second_order", by="vendor", min_rows=10)
    alone = _quiet(benford, df[df.vendor == "A"], test="second_order")
    np.testing.assert_allclose(so["groups"].set_index("vendor").loc["A", "mad"],
                               alone.facts["mad"], rtol=1e-12)


def test_expected_mad_matches_a_simulation():
    """E(MAD) = 1/sqrt(C N) with C from the expected shares: a conforming sample's mean
    MAD (simulated) agrees within 2% (for the first digit C = 18.13, not 21.27)."""
    rng = np.random.default_rng(14)
    n = 2_000
    for test in ("first", "first_two", "second", "last_two"):
        p = _quiet(benford, _frame(_cents(n)), test=test)["digits"]["expected"].to_numpy()
        sims = rng.multinomial(n, p, size=4_000) / n
        mean_mad = np.abs(sims - p).mean(1).mean()
        r = _quiet(benford, _frame(_cents(n)), test=test)
        expected = r.facts["expected_mad"] * np.sqrt(r.facts["tested"] / n)
        assert expected == pytest.approx(mean_mad, rel=0.02)
    first = _quiet(benford, _frame(_cents(n)), test="first").facts
    assert 1 / (first["expected_mad"] ** 2 * first["tested"]) == pytest.approx(18.13, abs=0.01)
    two = _quiet(benford, _frame(_cents(n)), test="first_two").facts
    assert 1 / (two["expected_mad"] ** 2 * two["tested"]) == pytest.approx(158.8, abs=0.05)


def test_last_two_verdict_is_the_chi_square():
    r = _quiet(benford, _frame(_cents(20_000, seed=15)), test="last_two")
    assert r.verdict == "acceptable" and r.facts["chi2_p"] >= 0.05
    rounded = _cents(20_000, seed=16) // 100 * 100 + 1000  # whole amounts: cents 00
    r = _quiet(benford, _frame(rounded), test="last_two")
    assert r.verdict == "nonconformity" and r["drivers"]["digit"].tolist() == [0]
    assert "chi-square" in r.facts["verdict_basis"]


def test_replay_plot_and_every_test_listed():
    df = _frame(_cents(3_000, seed=17))
    for test in BENFORD_TESTS:
        r = _quiet(benford, df, test=test)
        again = _quiet(getattr(ex, r.test), df, **r.params)
        assert again.facts == r.facts
        assert "<svg" in r.svg()
        assert r._repr_html_().count("<table") >= 2


@pytest.mark.parametrize("test", ["first", "first_two", "first_three", "second", "last_two"])
def test_amounts_beyond_int32_cents_equal_benford_py(test):
    """Amounts of 21,474,836.48 and more do not fit int32 cents: the digits are then
    read in int64, with the same figures."""
    cents = _cents(30_000, seed=18, decades=9)
    cents[:6] = [2**31, 2**31 - 1, 2**31 + 5, 98_765_432_100, 10**12, 10**12 - 1]
    _check_against(cents, test)
    small = _quiet(benford, _frame(cents[6:]), test=test)["digits"]["count"].to_numpy()
    assert (_quiet(benford, _frame(cents), test=test)["digits"]["count"].to_numpy()
            - small).sum() == 6


def test_listed_rows_are_the_largest_drivers_with_ties_by_row():
    """A driver planted among small amounts only: the rows listed are still the largest
    driving amounts (equal ones by row), as a full sort finds them."""
    rng = np.random.default_rng(19)
    cents = _cents(200_000, seed=19, decades=4) * 1_000  # 10.00 and more
    small = rng.choice(200_000, 30_000, replace=False)
    cents[small] = 4_800 + rng.integers(0, 3, 30_000)  # 48.00 .. 48.02, many equal
    r = _quiet(benford, _frame(cents), test="first_two", limit=40)
    assert 48 in r["drivers"]["digit"].tolist()
    rows = r["rows"]
    driver = pd.Series(cents.astype(str)).str[:2].astype(int).isin(r["drivers"]["digit"])
    want = np.flatnonzero(driver.to_numpy())
    want = want[np.lexsort((want, -cents[want]))][:40]
    assert sorted(rows["row"]) == sorted(want.tolist())
    assert rows["row"].tolist() == want[np.lexsort((want, -cents[want]))].tolist()


def test_second_order_on_many_repeated_amounts():
    """Millions of amounts with few distinct values: the differences of the sorted
    amounts are read from the distinct ones (a repeat adds a difference of zero)."""
    rng = np.random.default_rng(20)
    pool = _cents(5_000, seed=20, decades=5)
    cents = pool[rng.integers(0, len(pool), 1 << 21)]
    r = _quiet(benford, pd.DataFrame({"amount": cents / 100}), test="second_order", limit=25)
    d = np.diff(np.sort(cents))
    assert r.facts["differences"] == len(d)
    assert r.facts["repeated"] == int((d == 0).sum())
    values, counts = np.unique(d[d >= 10], return_counts=True)
    want = np.zeros(90, np.int64)
    np.add.at(want, [int(str(v)[:2]) - 10 for v in values], counts)
    assert r["digits"]["count"].tolist() == want.tolist()
    rows = r["rows"]
    np.testing.assert_allclose(rows["amount"] - rows["previous"], rows["difference"])
    np.testing.assert_allclose(cents[rows["row"]] / 100, rows["amount"])
    assert rows["amount"].is_monotonic_decreasing


def test_second_order_by_group_counts_differences_within_groups():
    cents = np.concatenate([_cents(3_000, 21), _cents(2_000, 22)[:1_000].repeat(2)])
    df = _frame(cents).assign(vendor=["A"] * 3_000 + ["B"] * 2_000)
    r = _quiet(benford, df, test="second_order", by="vendor", min_rows=10)
    alone = [_quiet(benford, df[df.vendor == v], test="second_order").facts for v in "AB"]
    for key in ("differences", "repeated", "below_minimum", "tested"):
        assert r.facts[key] == sum(f[key] for f in alone)
    assert r.facts["differences"] == 5_000 - 2


@pytest.mark.parametrize("big", [0, 4_503_599_627_370_400])
def test_summation_totals_are_exact_cents(big):
    """The money per first two digits is summed exactly, in int32 blocks or beyond
    (two amounts near 2**52 cents sum past 2**53, where float64 loses cents)."""
    cents = _cents(40_000, seed=23, decades=8)
    if big:  # whole units, which float amounts hold exactly
        cents[:3] = [big, big - 100, 10**15 + 700]
    r = _quiet(benford, pd.DataFrame({"amount": cents / 100}), test="summation")
    want = {}
    for c in cents.tolist():
        if c >= 10:
            want[int(str(c)[:2])] = want.get(int(str(c)[:2]), 0) + c
    got = r["digits"].set_index("digit")["total_cents"]
    assert {d: int(v) for d, v in got.items() if v} == want
