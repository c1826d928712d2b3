"""Audit analytics: correctness against independent references and speed, in one run.

Correctness (every reference runs in this process, on the same data):

* Benford: every digit test of ``nexus_lab.examine.benford`` against ``benford_py``
  (counts, shares, Z, chi-square, Kolmogorov-Smirnov, MAD) on the amounts of each
  general-ledger profile;
* exact duplicates: ``examine.duplicates`` against pandas' ``duplicated(keep=False)``;
* sample sizes: ``examine.sample_size`` against every cell of the AICPA *Audit Sampling*
  guide's Tables A-1, A-2 (attribute sampling at 5% and 10% risk) and C-1 (MUS), as
  transcribed in ``tests/examine/test_sampling.py``;
* journal-entry tests: each planted misstatement kind found by its test on every
  profile, the ranking of planted entries, and the false-positive rate on the clean
  profiles (weights tuned on "misstated"; "small", "group" and "services" held out);
* segregation of duties: the planted conflicts of ``synth_erp_events`` found.

Speed (at ``--lines`` journal lines, 10M by default): every Benford test against
benford_py, the whole journal-entry battery, exact duplicates against pandas, and
fuzzy duplicates on ``--names`` vendor names.

Usage::

    python experiments/bench_examine.py [--lines 10000000] [--names 1000000]
        [--quality-lines 20000] [--skip-speed] [--out results.json]

benford_py is a test dependency (``pip install benford_py``); the script says so when it
is absent.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _tables import markdown

import nexus_lab.examine as ex
from nexus_lab.datasets import GL_PROFILES, synth_erp_events, synth_general_ledger

ROOT = Path(__file__).resolve().parents[1]
# each planted kind and the test of journal_entry_tests that looks for it
KIND_TEST = {"unbalanced": "unbalanced", "duplicate_number": "duplicate_numbers",
             "round_amount": "round_amounts", "weekend": "weekend", "holiday": "holiday",
             "backdated": "backdated", "below_limit": "below_limit",
             "rare_account": "rare_accounts", "unusual_pair": "unusual_pairs",
             "unusual_user": "unusual_users", "unusual_hour": "unusual_times",
             "keyword": "keywords", "period_end": "period_end",
             "large_amount": "large_amounts", "self_approved": "self_approved"}
BP_DIGS = {"first": 1, "first_two": 2, "first_three": 3}


def quiet(fn, *a, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*a, **kw)


def clock(fn, *a, **kw):
    gc.collect()
    t = time.perf_counter()
    out = quiet(fn, *a, **kw)
    return out, time.perf_counter() - t


def peak_rss_gb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def je_tests(gl: pd.DataFrame):
    a = gl.attrs
    return ex.journal_entry_tests(gl, a["period_end"], holidays=a["holidays"],
                                  weekend=a["weekend"], approval_limits=a["approval_limits"])


# -- Benford against benford_py --------------------------------------------------------

def benford_py_run(bp, cents: np.ndarray, test: str, decimals: int = 0) -> dict:
    """benford_py's figures for one test on positive amounts: integer cents with
    ``decimals=0`` (the same digits as ours, without benford_py's float truncation of
    ``amount * 100``), or, as a user calls it, the amounts with ``decimals=2``."""
    data = pd.Series(cents) if decimals == 0 else pd.Series(cents / 100)
    src = bp.Source(data, decimals=decimals, sign="pos", verbose=False,
                    sec_order=test == "second_order")
    kw = dict(confidence=95, MAD=True, chi_square=True, KS=True, show_plot=False, ret_df=True)
    if test == "summation":
        df = src.summation(digs=2, show_plot=False, ret_df=True).sort_index()
        return {"counts": None, "mad": float(df.AbsDif.mean()), "chi2": None, "ks": None,
                "totals": df.Summ.astype(np.int64).to_numpy()}
    if test in BP_DIGS:
        df = src.first_digits(digs=BP_DIGS[test], **kw)
    elif test == "second_order":
        df = src.first_digits(digs=2, **kw)
    elif test == "second":
        df = src.second_digit(**kw)
    else:
        df = src.last_two_digits(**kw)
    df = df.sort_index()
    if test == "last_two":  # benford_py expects 1/99 per pair; compare on 1/100
        df = df.assign(Expected=0.01)
        df = df.assign(Dif=df.Found - df.Expected, AbsDif=(df.Found - df.Expected).abs())
        return {"counts": df.Counts.to_numpy(np.int64), "mad": float(df.AbsDif.mean()),
                "chi2": float(bp.stats.chi_sq_2(df)),
                "ks": float(bp.stats.kolmogorov_smirnov_2(df))}
    return {"counts": df.Counts.to_numpy(np.int64), "mad": float(src.MAD),
            "chi2": float(src.chi_square[0]), "ks": float(src.KS[0])}


def benford_all_py(bp, cents: np.ndarray, decimals: int) -> None:
    """Every test with benford_py (timed)."""
    for test in ex.BENFORD_TESTS:
        quiet(benford_py_run, bp, cents, test, decimals)


def benford_all_ours(frame: pd.DataFrame) -> dict:
    return {t: ex.benford(frame, test=t) for t in ex.BENFORD_TESTS}


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-300)


def benford_correctness(bp, ledgers: dict[str, pd.DataFrame]) -> pd.DataFrame:
    rows = []
    for profile, gl in ledgers.items():
        cents = np.rint(gl["amount"].to_numpy() * 100).astype(np.int64)
        cents = cents[cents > 0]
        frame = pd.DataFrame({"amount": cents / 100})
        for test in ex.BENFORD_TESTS:
            ours = quiet(ex.benford, frame, test=test)
            ref = quiet(benford_py_run, bp, cents, test)
            d = ours["digits"]
            if test == "summation":
                same = bool(np.array_equal(d["total_cents"].to_numpy(np.int64), ref["totals"]))
                chi2 = ks = "n/a"
            else:
                same = bool(np.array_equal(d["count"].to_numpy(np.int64), ref["counts"]))
                chi2 = f"{rel(ours.facts['chi2'], ref['chi2']):.1e}"
                ks = f"{rel(ours.facts['ks'], ref['ks']):.1e}"
            rows.append({"profile": profile, "test": test, "amounts": ours.facts["tested"],
                         "counts equal": same,
                         "MAD rel. diff": f"{rel(ours.facts['mad'], ref['mad']):.1e}",
                         "chi2 rel. diff": chi2, "KS rel. diff": ks, "verdict": ours.verdict})
    return pd.DataFrame(rows)


# -- sample sizes against the AICPA tables -----------------------------------------------

def aicpa_cells() -> pd.DataFrame:
    """Every published cell transcribed in the tests, and our size for it."""
    path = ROOT / "tests" / "examine" / "test_sampling.py"
    spec = importlib.util.spec_from_file_location("_aicpa_tables", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = []
    for risk, table in ((5, mod._A1), (10, mod._A2)):
        for tolerable, sizes in table.items():
            for expected, n in zip(mod._EXPECTED_RATES, sizes, strict=False):
                got = ex.sample_size("attribute", 1 - risk / 100, tolerable=tolerable / 100,
                                     expected=expected / 100).facts["n"]
                rows.append({"table": "A-1" if risk == 5 else "A-2", "printed": n, "ours": got,
                             "note": (mod._A2_NOT_THE_GUIDE.get((tolerable, expected))
                                      if risk == 10 else None)})
    for param in mod._c1_cells():
        risk, ratio, tolerable, n = param.values
        got = quiet(ex.sample_size, "mus", 1 - risk / 100, tolerable=tolerable,
                    expected=ratio * tolerable).facts["n"]
        rows.append({"table": "C-1", "printed": n, "ours": got, "note": None})
    return pd.DataFrame(rows)


# -- journal-entry tests: planted kinds, ranking, false positives ------------------------

def gaps_found(result, missing: pd.Series) -> int:
    """How many removed entry numbers lie in a reported gap (same prefix, in range)."""
    gaps = result["gaps"]
    if not len(gaps) or not len(missing):
        return 0
    split = r"^(.*?)(\d+)$"
    lo = gaps["first_missing"].astype(str).str.extract(split)
    hi = gaps["last_missing"].astype(str).str.extract(split)
    m = missing.astype(str).str.extract(split)
    inside = ((m[0].to_numpy()[:, None] == lo[0].to_numpy()[None, :])
              & (m[1].astype(np.int64).to_numpy()[:, None]
                 >= lo[1].astype(np.int64).to_numpy()[None, :])
              & (m[1].astype(np.int64).to_numpy()[:, None]
                 <= hi[1].astype(np.int64).to_numpy()[None, :]))
    return int(inside.any(1).sum())


def je_quality(lines: int, seeds: range) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    found, ranking, false = [], [], []
    for profile in GL_PROFILES:
        for seed in seeds:
            misstate = None if profile == "misstated" else 0.02
            gl, _, truth = synth_general_ledger(lines, profile, seed, misstate=misstate)
            r = quiet(je_tests, gl)
            for kind, test in KIND_TEST.items():
                planted = set(truth.loc[truth["kind"] == kind, "entry_id"])
                hit = planted & set(r[test]["entry_id"])
                found.append({"profile": profile, "seed": seed, "kind": kind,
                              "planted": len(planted), "found": len(hit)})
            missing = truth.loc[truth["kind"] == "gap", "entry_id"]
            found.append({"profile": profile, "seed": seed, "kind": "gap (missing number)",
                          "planted": len(missing), "found": gaps_found(r, missing)})
            planted = set(truth.loc[truth["kind"] != "gap", "entry_id"])
            ent = r["entries"]
            top = set(ent["entry_id"].head(2 * len(planted)))
            clean_gl, _, _ = synth_general_ledger(lines, profile, seed + 100, misstate=0.0)
            row = {"profile": profile, "seed": seed, "tuned on": profile == "misstated",
                   "entries": len(ent), "planted": len(planted),
                   "planted in top 2k": len(planted & top) / len(planted),
                   "planted scoring > 10": float(ent.loc[ent["entry_id"].isin(planted),
                                                         "score"].gt(10).mean())}
            clean = quiet(je_tests, clean_gl)
            ce = clean["entries"]
            per = clean["tests"].set_index("test")["entries"] / len(ce)
            false.append(per.rename(f"{profile} {seed}"))
            row["clean entries scoring > 10"] = float(ce["score"].gt(10).mean())
            row["clean unbalanced/dup. numbers"] = int(
                clean.facts["tests"]["unbalanced"]["entries"]
                + clean.facts["tests"]["duplicate_numbers"]["entries"])
            ranking.append(row)
    f = pd.DataFrame(found).groupby(["kind", "profile"])[["planted", "found"]].sum()
    f = f.assign(share=(f["found"] / f["planted"]).round(3)).reset_index()
    wide = f.pivot(index="kind", columns="profile", values="share")[list(GL_PROFILES)]
    fp = pd.concat(false, axis=1)
    fp = pd.DataFrame({p: fp[[c for c in fp.columns if c.startswith(p + " ")]].mean(1)
                       for p in GL_PROFILES}).round(4)
    return wide.reset_index(), pd.DataFrame(ranking), fp.rename_axis("test").reset_index()


def sod_quality(seeds: range) -> pd.DataFrame:
    rows = []
    for seed in seeds:
        events, truth = synth_erp_events(20_000, seed=seed)
        r = quiet(ex.sod_conflicts, events)
        c = r["conflicts"]
        key = ["rule", "user", "object_id"]
        got = set(map(tuple, c[key].drop_duplicates().to_numpy()))
        want = set(map(tuple, truth[key].drop_duplicates().to_numpy()))
        rows.append({"seed": seed, "events": len(events), "planted (rule, user, object)": len(want),
                     "found": len(got & want), "false": len(got - want)})
    return pd.DataFrame(rows)


# -- speed ------------------------------------------------------------------------------

def speed(args, bp) -> pd.DataFrame:
    rows = []
    (gl, _, _), t_gen = clock(synth_general_ledger, args.lines, "misstated", 0)
    print(f"generated {len(gl):,} lines in {t_gen:.1f} s", file=sys.stderr)
    _, t_je = clock(je_tests, gl)
    rows.append({"what": f"journal_entry_tests, {len(gl):,} lines", "nexus_lab s": t_je,
                 "reference": "", "reference s": None, "target": "≤ 60 s"})

    cents = np.rint(np.abs(gl["amount"].to_numpy()) * 100).astype(np.int64)
    cents = cents[cents > 0]
    amounts = pd.DataFrame({"amount": cents / 100})
    best = min(clock(benford_all_ours, amounts)[1] for _ in range(3))
    for decimals, how in ((2, "amounts, decimals=2 (its default)"),
                          (0, "integer cents, decimals=0")):
        ref_s = clock(benford_all_py, bp, cents, decimals)[1] if bp is not None else None
        rows.append({"what": f"Benford, all 7 tests, {len(cents):,} amounts",
                     "nexus_lab s": best, "reference": f"benford_py on {how}",
                     "reference s": ref_s, "target": "≤ 2 s and ≥ 10x benford_py"})

    frame = gl[["entry_id", "line", "date", "account", "amount"]]
    for key in (["account", "amount"], ["account", "amount", "date"], ["entry_id", "line"]):
        t_dup, t_pd = [], []
        for _ in range(3):  # alternated, best of three
            ours, t = clock(ex.duplicates, frame, same=key)
            t_dup.append(t)
            ref, t = clock(lambda f, k=key: f.duplicated(k, keep=False), frame)
            t_pd.append(t)
        equal = np.array_equal(np.sort(ours["rows"]["row"].to_numpy()),
                               np.flatnonzero(ref.to_numpy()))
        rows.append({"what": f"exact duplicates on {', '.join(key)}, {len(frame):,} rows "
                             f"({int(ref.sum()):,} duplicate rows; same rows as pandas: "
                             f"{equal})",
                     "nexus_lab s": min(t_dup), "reference": "pandas duplicated(keep=False)",
                     "reference s": min(t_pd), "target": "≥ pandas"})
        del ours, ref

    names = vendor_names(args.names)
    res, t_fz = clock(ex.duplicates, names, same=["country"], similar={"vendor": 0.9})
    rows.append({"what": f"fuzzy duplicates, {len(names):,} vendor names "
                         f"({res.facts.get('groups', '?')} groups)",
                 "nexus_lab s": t_fz, "reference": "", "reference s": None,
                 "target": "≤ 60 s"})
    out = pd.DataFrame(rows)
    out["speed-up"] = (out["reference s"] / out["nexus_lab s"]).round(1)
    out["nexus_lab s"] = out["nexus_lab s"].round(2)
    out["reference s"] = out["reference s"].round(2)
    return out.astype(object).where(out.notna(), "")


def vendor_names(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` vendor records whose names repeat with typos (one in five is a variant)."""
    rng = np.random.default_rng(seed)
    stems = np.array(["Acme", "Prairie", "Northwind", "Contoso", "Globex", "Initech", "Umbrella",
                      "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne", "Soylent", "Hooli",
                      "Vandelay", "Monarch", "Pied Piper", "Aperture", "Oscorp", "Gringotts"])
    kinds = np.array(["Supplies", "Systems", "Logistics", "Foods", "Partners", "Holdings",
                      "Services", "Industries", "Trading", "Consulting"])
    suffix = np.array(["Ltd", "LLC", "Inc", "GmbH", "SA", "Co"])
    distinct = max(n // 5, 1)
    base = pd.Series(stems[rng.integers(0, len(stems), distinct)]) + " " \
        + pd.Series(kinds[rng.integers(0, len(kinds), distinct)]) + " " \
        + pd.Series(rng.integers(1, 10_000, distinct).astype(str)) + " " \
        + pd.Series(suffix[rng.integers(0, len(suffix), distinct)])
    pick = rng.integers(0, distinct, n)
    names = base.to_numpy()[pick].astype(object)
    typo = rng.random(n) < 0.2
    pos = rng.integers(1, 8, n)
    mutated = [s[:p] + s[p + 1] + s[p] + s[p + 2:] for s, p in zip(names[typo], pos[typo],
                                                                    strict=True)]
    names[typo] = mutated
    return pd.DataFrame({"vendor": names, "country": rng.choice(["US", "DE", "FR", "GB"], n)})


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=10_000_000, help="journal lines timed")
    ap.add_argument("--names", type=int, default=1_000_000, help="vendor names for fuzzy")
    ap.add_argument("--quality-lines", type=int, default=20_000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    try:
        import benford as bp
    except ImportError:
        bp = None
        print("benford_py is not installed (pip install benford_py): its comparisons are "
              "left out", file=sys.stderr)

    print(f"# Audit analytics — {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}\n")
    seeds = range(args.seeds)
    results = {}
    if bp is not None:
        ledgers = {p: synth_general_ledger(args.quality_lines, p, 0)[0] for p in GL_PROFILES}
        b = benford_correctness(bp, ledgers)
        results["benford"] = b.to_dict("records")
        print("## Benford against benford_py\n")
        print(markdown(b), "\n")
    cells = aicpa_cells()
    exact = (cells["printed"] == cells["ours"]) | (cells["note"] == cells["ours"])
    per = cells.assign(equal=exact).groupby("table")["equal"].agg(["size", "sum"])
    per.columns = ["cells", "equal to the guide (or its risk-corrected cell)"]
    print("## Sample sizes against the AICPA tables\n")
    print(markdown(per.reset_index()), "\n")
    differ = cells[~(cells["printed"] == cells["ours"])]
    if len(differ):
        print("Cells that differ from the printed size:\n")
        print(markdown(differ.rename(columns={
            "note": "corrected (the printed size misses the risk)"})), "\n")
    results["aicpa"] = per.reset_index().to_dict("records")

    found, ranking, fp = je_quality(args.quality_lines, seeds)
    print(f"## Journal-entry tests: planted kinds found ({args.quality_lines:,} lines, "
          f"seeds 0-{args.seeds - 1}; weights tuned on 'misstated')\n")
    print(markdown(found), "\n")
    summary = ranking.groupby(["profile", "tuned on"]).mean(numeric_only=True)
    summary = summary.drop(columns=["seed"]).round(4).reset_index()
    print(markdown(summary), "\n")
    print("Share of the entries of clean ledgers (no misstatement planted) each test "
          "flags:\n")
    print(markdown(fp), "\n")
    results["je_clean_flagged"] = fp.to_dict("records")
    results["je_found"] = found.to_dict("records")
    results["je_ranking"] = summary.to_dict("records")

    sod = sod_quality(seeds)
    print("## Segregation of duties: planted conflicts\n")
    print(markdown(sod), "\n")
    results["sod"] = sod.to_dict("records")

    if not args.skip_speed:
        s = speed(args, bp)
        print(f"## Speed ({os.cpu_count()} cores; peak memory {peak_rss_gb():.1f} GB)\n")
        print(markdown(s), "\n")
        results["speed"] = s.to_dict("records")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
