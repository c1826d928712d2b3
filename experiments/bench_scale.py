"""The kernels on Dask: rows/s with 1 and 2 workers against the single-machine call, in
one run, with the results checked equal.

* ``score_fraud``: a detector fitted (without labels) on ``--history`` synthetic
  transactions scores ``--fraud-rows`` more, read from Parquet parts: single machine
  (``pd.read_parquet`` + ``FraudDetector.score``) against ``nexus_lab.scale.score_fraud``
  on a LocalCluster of 1 and of 2 worker processes (one thread each), reading the same
  parts on the workers. Reported: seconds, rows/s, speed-up of 2 workers over 1, the
  overhead of 1 worker over the single machine, the peak memory per worker (Dask's
  ``MemorySampler``) and the client's peak RSS.

* ``reconcile``: ``--reconcile-rows`` bank lines against their ledger (the generator's
  ``--profile``), single machine (``nx.reconcile``) against ``nexus_lab.scale.reconcile``
  on a LocalCluster of 1 and of 2 workers, the tables in the client's memory (as the
  engine holds them). Reported as above, with the seconds per stage of each run (where
  the time goes: the tiers the client runs alone bound the speed-up) and the cores
  each run keeps busy (the client with its workers), overall and per stage (a stage
  whose threads already use most of the second core gains little from a second
  worker). Two cores finish the CPU seconds of the 1-worker run in no less than half of
  them: ``most_2_over_1_on_2_cores`` (2 over the 1-worker run's cores) is the most two
  workers can gain over one on this machine without doing less work.

* ``ceiling``: what two processes of this machine give at all on this work: one
  single-machine ``nx.reconcile`` of ``--ceiling-rows`` alone, then two of them at once
  in two processes (no Dask, nothing shared, no serial part). Two at once finish
  ``2 * alone / together`` times the work of one: the most any two workers could reach
  over one on these kernels (sorts and look-ups over arrays larger than the caches,
  bound by memory more than by the cores).

* ``shipping``: an array of ``--ship-mb`` MB put on a 2-worker LocalCluster and read by
  a task on each worker, carried in a task's graph (through the scheduler) against
  scattered from the client.

The clusters are started before the clock starts (a cluster is started once and serves
many jobs); each timed call includes reading the data, shipping the detector, scoring
and gathering the scores to the client.

Usage::

    python experiments/bench_scale.py --only reconcile --reconcile-rows 2000000
    python experiments/bench_scale.py --only score_fraud --fraud-rows 10000000
    python experiments/bench_scale.py --only ceiling --ceiling-rows 1000000
    python experiments/bench_scale.py --only shipping
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def _write_parts(frame: pd.DataFrame, folder: Path, rows_per_part: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for k, start in enumerate(range(0, len(frame), rows_per_part)):
        frame.iloc[start:start + rows_per_part].to_parquet(folder / f"part-{k:04d}.parquet",
                                                           index=False)
    return folder


def bench_fraud(args: argparse.Namespace, tmp: Path) -> dict:
    from distributed.diagnostics import MemorySampler

    import nexus_lab as nx
    from nexus_lab import scale

    data = nx.datasets.synth_transactions(args.history + args.fraud_rows, seed=args.seed)
    data = data.drop(columns=["is_fraud", "pattern"])
    history = data.iloc[: args.history]
    folder = _write_parts(data.iloc[args.history:], tmp / "scored", args.part_rows)
    del data
    det = nx.fraud.FraudDetector(device="cpu", random_state=args.seed).fit(history)
    del history
    det.score(pd.read_parquet(next(folder.glob("*.parquet"))).head(1_000))  # warm-up
    out: dict = {"rows": args.fraud_rows, "history_rows": args.history, "runs": []}

    t = time.perf_counter()
    one = det.score(pd.read_parquet(folder))
    single = time.perf_counter() - t
    out["runs"].append({"how": "single machine", "workers": 0, "seconds": round(single, 2),
                        "rows_per_second": round(args.fraud_rows / single)})
    print(out["runs"][-1], flush=True)
    for workers in args.workers:
        sampler = MemorySampler()
        with scale.cluster(workers=workers) as client:
            scale.score_fraud(pd.read_parquet(next(folder.glob("*.parquet"))).head(1_000),
                              det, client, progress=False)  # warm-up: imports on the workers
            with sampler.sample(f"{workers}", client=client, interval=0.25):
                t = time.perf_counter()
                scored = scale.score_fraud(str(folder / "*.parquet"), det, client,
                                           progress=False)
                seconds = time.perf_counter() - t
        pd.testing.assert_frame_equal(pd.DataFrame(scored), pd.DataFrame(one))
        memory = sampler.to_pandas()
        out["runs"].append({
            "how": f"scale.score_fraud, {workers} worker{'s' * (workers > 1)}",
            "workers": workers, "seconds": round(seconds, 2),
            "rows_per_second": round(args.fraud_rows / seconds),
            "peak_gb_per_worker": round(float(memory.max().iloc[0]) / workers / 1e9, 2),
            "equal_to_single_machine": True,
        })
        print(out["runs"][-1], flush=True)
        del scored
    return _ratios(out)


def _compare(got, want) -> None:
    for name in ("matches", "unmatched_bank", "unmatched_ledger"):
        pd.testing.assert_frame_equal(getattr(got, name), getattr(want, name))
    assert got.rate == want.rate


def bench_reconcile(args: argparse.Namespace) -> dict:
    from distributed.diagnostics import MemorySampler

    import nexus_lab as nx
    from nexus_lab import scale

    bank, ledger, _ = nx.datasets.synth_reconciliation(args.reconcile_rows, seed=args.seed,
                                                       profile=args.profile)
    warm = nx.datasets.synth_reconciliation(2_000, seed=1, profile=args.profile)[:2]
    nx.reconcile(*warm, device="cpu")
    out: dict = {"bank_rows": len(bank), "ledger_rows": len(ledger), "profile": args.profile,
                 "runs": []}
    with _CoresUsed() as used:
        t = time.perf_counter()
        one = nx.reconcile(bank, ledger, device="cpu")
        single = time.perf_counter() - t
    rows = len(bank) + len(ledger)
    out["runs"].append({"how": "single machine", "workers": 0, "seconds": round(single, 2),
                        "rows_per_second": round(rows / single),
                        "stages": {k: round(v, 2) for k, v in one.timings.items()},
                        "cores": round(used.cores(t, t + single), 2),
                        "stage_cores": used.by_stage(t, one.timings)})
    print(out["runs"][-1], flush=True)
    for workers in args.workers:
        sampler = MemorySampler()
        with scale.cluster(workers=workers) as client:
            scale.reconcile(*warm, client, device="cpu", progress=False)  # imports there
            with sampler.sample(f"{workers}", client=client, interval=0.25), \
                    _CoresUsed(tree=True) as used:
                t = time.perf_counter()
                got = scale.reconcile(bank, ledger, client, device="cpu", progress=False)
                seconds = time.perf_counter() - t
        _compare(got, one)
        memory = sampler.to_pandas()
        out["runs"].append({
            "how": f"scale.reconcile, {workers} worker{'s' * (workers > 1)}",
            "workers": workers, "shards": got.params["dask"]["partitions"],
            "seconds": round(seconds, 2), "rows_per_second": round(rows / seconds),
            "stages": {k: round(v, 2) for k, v in got.timings.items()},
            "peak_gb_per_worker": round(float(memory.max().iloc[0]) / workers / 1e9, 2),
            "cores": round(used.cores(t, t + seconds), 2),  # the client and its workers
            "stage_cores": used.by_stage(t, got.timings),
            "equal_to_single_machine": True,
        })
        print(out["runs"][-1], flush=True)
        del got
    return _ratios(out)


class _CoresUsed:
    """CPU seconds per second of wall time (cores in use) of this process and, with
    ``tree``, of its child processes too (a LocalCluster's nannies and workers), sampled
    every 50 ms in a thread while the block runs: overall and per stage of a result's
    timings (what a run already takes of the cores a second worker would bring)."""

    def __init__(self, tree: bool = False) -> None:
        self.tree = tree

    def _cpu(self) -> float:
        import psutil

        procs = [psutil.Process()]
        if self.tree:
            procs += procs[0].children(recursive=True)
        total = 0.0
        for proc in procs:
            try:
                times = proc.cpu_times()
            except psutil.Error:  # a process that ended between the listing and now
                continue
            total += times.user + times.system
        return total

    def __enter__(self) -> _CoresUsed:
        import threading

        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), self._cpu()))
            self._stop.wait(0.05)
        self.samples.append((time.perf_counter(), self._cpu()))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def cores(self, start: float, stop: float) -> float:
        inside = [s for s in self.samples if start <= s[0] <= stop]
        if len(inside) < 2:
            return float("nan")
        (w0, c0), (w1, c1) = inside[0], inside[-1]
        return (c1 - c0) / (w1 - w0)

    def by_stage(self, start: float, timings: dict) -> dict:
        out, edge = {}, start
        for stage, seconds in timings.items():  # the stages run one after the other
            out[stage] = round(self.cores(edge, edge + seconds), 2)
            edge += seconds
        return out


def _reconcile_once(rows: int, seed: int, profile: str, start) -> float:
    """Seconds of one single-machine reconciliation, started when every process has made
    its tables (``start``: a barrier of them all)."""
    import nexus_lab as nx

    bank, ledger, _ = nx.datasets.synth_reconciliation(rows, seed=seed, profile=profile)
    nx.reconcile(*nx.datasets.synth_reconciliation(2_000, seed=1, profile=profile)[:2],
                 device="cpu")
    start.wait()
    t = time.perf_counter()
    nx.reconcile(bank, ledger, device="cpu")
    return time.perf_counter() - t


def bench_ceiling(args: argparse.Namespace) -> dict:
    """One reconciliation alone, then two at once in two processes of one thread each."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from nexus_lab.config import environ
    from nexus_lab.scale._cluster import _THREAD_VARIABLES

    ctx = mp.get_context("spawn")
    out: dict = {"rows": args.ceiling_rows, "profile": args.profile}
    with environ(dict.fromkeys(_THREAD_VARIABLES, "1")):
        for n in (1, 2):
            with ctx.Manager() as manager, ProcessPoolExecutor(n, mp_context=ctx) as pool:
                start = manager.Barrier(n)
                runs = [pool.submit(_reconcile_once, args.ceiling_rows, args.seed + k,
                                    args.profile, start) for k in range(n)]
                out[f"seconds_{n}_at_once"] = [round(r.result(), 2) for r in runs]
            print(out, flush=True)
    alone, together = out["seconds_1_at_once"][0], max(out["seconds_2_at_once"])
    out["throughput_2_over_1"] = round(2 * alone / together, 3)
    return out


def _touch(value, k: int) -> int:
    return len(value) + k


def bench_shipping(args: argparse.Namespace) -> dict:
    """Seconds to put an array on a 2-worker LocalCluster and run a task on each worker
    that reads it: as the result of a task carrying it in the graph (through the
    scheduler: ``keep``, how the fitted models travel), against scattered from here
    (what ``scale.reconcile`` shares)."""
    import numpy as np

    from nexus_lab import scale
    from nexus_lab.scale._shipped import keep

    out: dict = {}
    with scale.cluster(workers=2) as client:
        workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
        for mb in args.ship_mb:
            value = np.random.default_rng(0).random(mb * 125_000)
            for how in ("task", "scatter"):
                t = time.perf_counter()
                handle = (keep(client, [value])[0] if how == "task"
                          else client.scatter([value], hash=False)[0])
                client.gather([client.submit(_touch, handle, k, workers=[w], pure=False)
                               for k, w in enumerate(workers)])
                out[f"{how}_{mb}_mb_seconds"] = round(time.perf_counter() - t, 2)
                del handle
            print(out, flush=True)
    return out


def _ratios(out: dict) -> dict:
    runs = {r["workers"]: r["seconds"] for r in out["runs"]}
    if 1 in runs:
        out["overhead_1_worker"] = round(runs[1] / runs[0] - 1, 3)
    if 1 in runs and 2 in runs:
        out["speedup_2_over_1"] = round(runs[1] / runs[2], 3)
        out["scaling_efficiency_2"] = round(runs[1] / runs[2] / 2, 3)
    cores = {r["workers"]: r.get("cores") for r in out["runs"]}
    if cores.get(1):
        # two cores finish the 1-worker run's CPU seconds in no less than half of them:
        # the most two workers on this machine can gain over one, unless they work less
        out["most_2_over_1_on_2_cores"] = round(2 / cores[1], 3)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=["reconcile", "score_fraud", "ceiling", "shipping"],
                    default=None,
                    help="run one of the benches (default: all)")
    ap.add_argument("--ceiling-rows", type=int, default=1_000_000,
                    help="bank lines of each reconciliation of the ceiling")
    ap.add_argument("--reconcile-rows", type=int, default=2_000_000,
                    help="bank lines of the reconciliation (the ledger has about as many)")
    ap.add_argument("--profile", default="retail", help="the reconciliation's books")
    ap.add_argument("--fraud-rows", type=int, default=10_000_000)
    ap.add_argument("--history", type=int, default=1_000_000)
    ap.add_argument("--part-rows", type=int, default=500_000,
                    help="rows per Parquet part of the input")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--ship-mb", type=int, nargs="+", default=[100, 400],
                    help="sizes of the arrays shipped to the workers (shipping)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    result = {"machine": platform.platform(), "python": sys.version.split()[0],
              "cores": len(__import__("os").sched_getaffinity(0))}
    if args.only in (None, "reconcile"):
        result["reconcile"] = bench_reconcile(args)
    if args.only in (None, "score_fraud"):
        with tempfile.TemporaryDirectory() as tmp:
            result["score_fraud"] = bench_fraud(args, Path(tmp))
    if args.only in (None, "ceiling"):
        result["ceiling"] = bench_ceiling(args)
    if args.only in (None, "shipping"):
        result["shipping"] = bench_shipping(args)
    result["client_peak_rss_gb"] = round(_peak_rss_gb(), 2)
    print(json.dumps(result, indent=1), flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
