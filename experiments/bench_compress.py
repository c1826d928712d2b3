"""Speed of the vector codecs against faiss-cpu, in the same process.

On synthetic clustered 384-d unit vectors (``nx.data.synth_vectors``), for PQ, OPQ and
RQ at the same code size as faiss's ``PQ``, ``OPQ`` and ``RQ`` (residual quantizer,
beam 5): training time, encoding throughput (vectors/s) and search throughput
(queries/s, a batch of queries, top-10 by inner product over every code, no index
structure; ``--batches 1 16`` adds queries/s when they come 1 or 16 at a time). Both
libraries use every core the machine gives them (torch intra-op threads; faiss OpenMP
threads).

``--device cuda`` measures the GPU targets instead: PQ training on ``--train`` vectors
(1M by default) and search over ``--codes`` codes (10M by default; the codes are made by
encoding synthetic vectors in blocks), reported as queries/s.

Usage::

    python experiments/bench_compress.py [--n 200000] [--queries 1000] [--bytes 32] [--only RQ]
    python experiments/bench_compress.py --device cuda [--train 1000000] [--codes 10000000]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

import nexus_lab as nx

cx = nx.compress


def _timed(fn, repeat: int = 1):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return out, best


def _small_batches(search, Q, sizes) -> dict:
    """Queries/s when queries come ``size`` at a time (every batch of the first 64)."""
    out = {}
    for size in sizes:
        batches = [Q[lo:lo + size] for lo in range(0, 64, size)]
        _, t = _timed(lambda b=batches: [search(x) for x in b], 3)
        out[f"queries_per_s_batch_{size}"] = 64 / t
    return out


def nexus(codec, X, Q, sizes=()) -> dict:
    _, t_fit = _timed(lambda: codec.fit(X))
    codes, t_enc = _timed(lambda: codec.encode(X), 2)
    _, t_search = _timed(lambda: cx.search(codec, codes, Q, k=10), 3)
    return dict(fit_s=t_fit, encode_per_s=len(X) / t_enc, queries_per_s=len(Q) / t_search,
                **_small_batches(lambda x: cx.search(codec, codes, x, k=10), Q, sizes))


def faiss_bench(spec: str, X, Q, sizes=()) -> dict:
    import faiss

    index = faiss.index_factory(X.shape[1], spec, faiss.METRIC_INNER_PRODUCT)
    _, t_fit = _timed(lambda: index.train(X))
    _, t_enc = _timed(lambda: index.sa_encode(X), 2)
    index.add(X)
    _, t_search = _timed(lambda: index.search(Q, 10), 3)
    return dict(fit_s=t_fit, encode_per_s=len(X) / t_enc, queries_per_s=len(Q) / t_search,
                **_small_batches(lambda x: index.search(x, 10), Q, sizes))


def cpu(args) -> list[dict]:
    X = nx.data.synth_vectors(args.n, args.dim, n_clusters=1000, seed=0)
    Q = nx.data.synth_vectors(args.queries, args.dim, n_clusters=1000, seed=0)[::-1].copy()
    b = args.bytes
    pairs = [
        (f"PQ(m={b})", cx.PQ(m=b, random_state=0), f"PQ{b}"),
        (f"OPQ(m={b})", cx.OPQ(m=b, random_state=0), f"OPQ{b},PQ{b}"),
        (f"RQ(m={b // 2})", cx.RQ(m=b // 2, random_state=0), f"RQ{b // 2}x8"),
    ]
    rows = []
    for name, codec, spec in pairs:
        if args.only and name.split("(")[0] not in args.only:
            continue
        ours = nexus(codec, X, Q, args.batches)
        theirs = faiss_bench(spec, X, Q, args.batches)
        for lib, r, label in (("nexus", ours, name), ("faiss", theirs, spec)):
            rows.append(dict(library=lib, codec=label, **r))
            small = "".join(f"  [{k.rsplit('_', 1)[1]} at a time: {v:,.0f} q/s]"
                            for k, v in r.items() if "batch" in k)
            print(f"{lib:6s} {label:14s} fit {r['fit_s']:7.2f} s  encode "
                  f"{r['encode_per_s']:>11,.0f} vec/s  search {r['queries_per_s']:>9,.0f} q/s"
                  f"{small}", flush=True)
        enc = ours["encode_per_s"] / theirs["encode_per_s"]
        qps = ours["queries_per_s"] / theirs["queries_per_s"]
        print(f"       ratio nexus/faiss: encode {enc:.2f}x  search {qps:.2f}x", flush=True)
    return rows


def cuda(args) -> list[dict]:
    X = torch.from_numpy(nx.data.synth_vectors(args.train, args.dim, n_clusters=1000, seed=0))
    codec = cx.PQ(m=args.bytes, device="cuda", random_state=0)
    codec.fit(X[:1000])  # warm up kernels
    _, t_fit = _timed(lambda: codec.fit(X))
    print(f"PQ(m={args.bytes}) training on {len(X):,} x {args.dim}: {t_fit:.2f} s", flush=True)
    parts = []
    step = 1_000_000
    for lo in range(0, args.codes, step):
        block = nx.data.synth_vectors(min(step, args.codes - lo), args.dim, n_clusters=1000,
                                      seed=1 + lo // step)
        parts.append(codec.encode(block))
    codes = np.concatenate(parts)
    Q = nx.data.synth_vectors(args.queries, args.dim, n_clusters=1000, seed=99)
    cx.search(codec, codes[:100_000], Q[:10], k=10)
    _, t_search = _timed(lambda: cx.search(codec, codes, Q, k=10), 3)
    qps = len(Q) / t_search
    print(f"search over {len(codes):,} codes: {qps:,.0f} queries/s "
          f"({len(Q)} queries in {t_search:.3f} s)", flush=True)
    return [dict(codec=f"PQ(m={args.bytes})", device=torch.cuda.get_device_name(),
                 train_rows=len(X), fit_s=t_fit, codes=len(codes), queries_per_s=qps)]


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--bytes", type=int, default=32)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--train", type=int, default=1_000_000)
    ap.add_argument("--codes", type=int, default=10_000_000)
    ap.add_argument("--only", nargs="+", metavar="CODEC", help="PQ, OPQ and/or RQ")
    ap.add_argument("--batches", type=int, nargs="*", default=[],
                    help="also queries/s when queries come this many at a time (e.g. 1 16)")
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    print(f"{platform.node()} torch threads {torch.get_num_threads()}", flush=True)
    rows = cuda(args) if args.device == "cuda" else cpu(args)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(rows, fh, indent=1)
    return rows


if __name__ == "__main__":
    main()
