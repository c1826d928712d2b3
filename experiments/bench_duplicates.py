"""Exact duplicates: ``examine.duplicates`` against pandas' ``duplicated(keep=False)``.

On a general ledger of ``synth_general_ledger(lines, "misstated", 0)``, for three keys:
``account, amount`` (many duplicates), ``entry_id, line`` (almost none) and
``account, amount, date``. Ours and pandas run in turn, ``--repeat`` times each in one
process, and the best of each is reported with every time (the machine may be shared:
the best is the fairer figure). Each of our results is checked to list the rows pandas
marks.

Usage::

    python experiments/bench_duplicates.py [--lines 3000000 10000000] [--repeat 3]
        [--out results.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _tables import markdown

import nexus_lab.examine as ex
from nexus_lab.datasets import synth_general_ledger

KEYS = {
    "account, amount": ["account", "amount"],
    "entry_id, line": ["entry_id", "line"],
    "account, amount, date": ["account", "amount", "date"],
}


def clock(fn, *args, **kwargs):
    gc.collect()
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def run(lines: int, repeat: int) -> list[dict]:
    (gl, _, _), t_gen = clock(synth_general_ledger, lines, "misstated", 0)
    print(f"generated {len(gl):,} lines in {t_gen:.1f} s", file=sys.stderr)
    out = []
    for label, same in KEYS.items():
        frame = gl[["entry_id", "line", "account", "amount", *(["date"] if "date" in same
                                                              else [])]]
        ours_s, pandas_s = [], []
        equal = True
        for _ in range(repeat):
            res, t = clock(ex.duplicates, frame, same=same)
            ours_s.append(t)
            ref, t = clock(lambda f, s=same: f.duplicated(s, keep=False), frame)
            pandas_s.append(t)
            rows = np.sort(res["rows"]["row"].to_numpy())
            equal &= np.array_equal(rows, np.flatnonzero(ref.to_numpy()))
            del res, ref
        print(f"{label}: ours {ours_s}, pandas {pandas_s}", file=sys.stderr)
        out.append({"rows": len(frame), "key": label,
                    "duplicate rows": len(rows), "same rows as pandas": bool(equal),
                    "nexus_lab s": round(min(ours_s), 2), "pandas s": round(min(pandas_s), 2),
                    "speed-up": round(min(pandas_s) / min(ours_s), 2),
                    "all nexus_lab s": " ".join(f"{t:.2f}" for t in ours_s),
                    "all pandas s": " ".join(f"{t:.2f}" for t in pandas_s)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[3_000_000, 10_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = [r for n in args.lines for r in run(n, args.repeat)]
    print(markdown(pd.DataFrame(rows)))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
