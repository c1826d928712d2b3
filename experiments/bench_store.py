"""Bulk ingest into the store against pandas' ``to_sql``, on SQLite and PostgreSQL, in one run.

Bank statement rows (``nx.datasets.synth_reconciliation``'s bank side, replicated with
unique ids to ``--rows``) are written into ``bank_statements`` of a migrated store:

* ``ingest new``: ``store.ingest("bank_statements", df)`` into the empty table. ``df`` is
  what a reader gives: amounts in currency units (float), dates, text. The store checks
  and types every column (money to int64 cents, dates, text lengths, NUL characters,
  repeated keys), records the batch, and skips rows already there;
* ``ingest again``: the same frame once more: every row is there already, 0 written;
* ``ingest more``: ``--rows`` other new rows into the table that now holds the first;
* ``to_sql ...``: the anchor, pandas ``df_db.to_sql("bank_statements", engine,
  if_exists="append", index=False)`` into the same empty, migrated table, through
  SQLAlchemy (sqlite3 / psycopg 3). ``df_db`` is the same data already typed as the
  table wants it (its column names, ``amount_cents`` int64, dates as ``datetime.date``),
  made before the clock starts: to_sql parses nothing, checks nothing and stops at the
  first row already there (no conflict handling). ``method=None`` (executemany),
  ``method="multi"`` (multi-row VALUES, ``--chunksize`` rows a statement) and, on
  PostgreSQL, the ``COPY`` method from pandas' own documentation (``psql_insert_copy``).

Each operation gets a fresh store (a new SQLite file; a new PostgreSQL database from a
migrated template) on a throwaway PostgreSQL server started by this script the way the
tests start theirs (tests/_postgres.py: initdb + pg_ctl, ``fsync=off``,
``full_page_writes=off``). Seconds are the median of ``--repeats`` runs (the anchors
``--anchor-repeats``); peak memory is the most the process's resident set grew during
the operation (sampled every 5 ms).

Usage::

    python experiments/bench_store.py --rows 1000000 [--repeats 3] [--engines sqlite postgresql]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
from _tables import markdown  # experiments/_tables.py, beside this script

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import nexus_lab as nx  # noqa: E402
from tests._postgres import database_url, throwaway_postgres  # noqa: E402

TABLE = "bank_statements"


def bank_rows(n: int, seed: int = 0, offset: int = 0) -> pd.DataFrame:
    """``n`` bank statement rows: the generator's, replicated, with unique ids."""
    bank, _, _ = nx.datasets.synth_reconciliation(min(n, 50_000), seed=seed)
    reps = -(-n // len(bank))
    df = pd.concat([bank] * reps, ignore_index=True).iloc[:n].copy()
    ids = np.char.add("B", np.char.zfill(np.arange(offset, offset + n).astype(str), 10))
    df["transaction_id"] = ids.astype(object)
    return df


def db_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The same rows typed as the table holds them: what to_sql is given."""
    return pd.DataFrame({
        "account": df["account"].to_numpy(),
        "transaction_id": df["transaction_id"].to_numpy(),
        "date": np.array(df["date"].dt.date.to_numpy(), dtype=object),
        "amount_cents": np.round(df["amount"].to_numpy() * 100).astype(np.int64),
        "description": df["description"].to_numpy(),
        "reference": df["reference"].to_numpy(),
    })


def psql_insert_copy(table, conn, keys, data_iter) -> int:
    """pandas' documented ``to_sql(method=...)`` for PostgreSQL: COPY from a CSV buffer."""
    dbapi_conn = conn.connection
    buf = io.StringIO()
    csv.writer(buf).writerows(data_iter)
    buf.seek(0)
    columns = ", ".join(f'"{k}"' for k in keys)
    with dbapi_conn.cursor() as cur, \
            cur.copy(f'COPY "{table.name}" ({columns}) FROM STDIN WITH CSV') as copy:
        while chunk := buf.read(1 << 20):
            copy.write(chunk)
    return -1


class PeakRSS:
    """The most the resident set grew, sampled in a thread, over a ``with`` block (GB)."""

    def __enter__(self) -> PeakRSS:
        self.base = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())
        self.gb = (self.peak - self.base) / 1e9


class Stores:
    """Fresh migrated stores of one engine, one per timed operation."""

    def __init__(self, engine: str, folder: Path, server: tuple[str, int] | None) -> None:
        self.engine, self.folder, self.server = engine, folder, server
        if engine == "postgresql":
            import psycopg

            self._admin = database_url(*server, "postgres")
            with psycopg.connect(self._admin, autocommit=True) as conn:
                conn.execute('CREATE DATABASE "template_store"')
            with nx.store.connect(database_url(*server, "template_store")) as store:
                store.migrate()
        else:
            self.template = folder / "template.db"
            with nx.store.connect(f"sqlite:///{self.template}") as store:
                store.migrate()

    def new(self) -> nx.store.Store:
        name = f"s_{uuid.uuid4().hex[:10]}"
        if self.engine == "postgresql":
            import psycopg

            with psycopg.connect(self._admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "template_store"')
            return nx.store.connect(database_url(*self.server, name))
        path = self.folder / f"{name}.db"
        path.write_bytes(self.template.read_bytes())
        return nx.store.connect(f"sqlite:///{path}")

    def drop(self, store: nx.store.Store) -> None:
        store.close()
        if self.engine == "postgresql":
            import psycopg

            with psycopg.connect(self._admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{store.engine.url.database}" WITH (FORCE)')
        else:
            Path(store.engine.url.database).unlink()
            for extra in ("-wal", "-shm"):
                Path(store.engine.url.database + extra).unlink(missing_ok=True)


def _timed(fn) -> tuple[float, float, object]:
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - t0
    return seconds, mem.gb, out


def bench_engine(engine: str, stores: Stores, df: pd.DataFrame, more: pd.DataFrame,
                 df_db: pd.DataFrame, repeats: int, anchor_repeats: int,
                 chunksize: int) -> list[dict]:
    runs: dict[str, list[tuple[float, float, object]]] = {}
    for _ in range(repeats):
        store = stores.new()
        runs.setdefault("ingest new", []).append(
            _timed(lambda s=store: s.ingest(TABLE, df)))
        runs.setdefault("ingest again (all there)", []).append(
            _timed(lambda s=store: s.ingest(TABLE, df)))
        runs.setdefault("ingest more (new rows, table not empty)", []).append(
            _timed(lambda s=store: s.ingest(TABLE, more)))
        stores.drop(store)
    anchors = {"to_sql method=None": dict(method=None),
               f"to_sql method='multi', chunksize={chunksize}": dict(method="multi",
                                                                    chunksize=chunksize)}
    if engine == "postgresql":
        anchors["to_sql method=psql_insert_copy (pandas docs)"] = dict(method=psql_insert_copy)
    for label, kw in anchors.items():
        for _ in range(anchor_repeats):
            store = stores.new()
            runs.setdefault(label, []).append(_timed(lambda s=store, kw=kw: df_db.to_sql(
                TABLE, s.engine, if_exists="append", index=False, **kw)))
            written = int(store.query(f"select count(*) as n from {TABLE}")["n"].iloc[0])
            runs[label][-1] = (*runs[label][-1][:2], written)
            stores.drop(store)
    rows = []
    for label, got in runs.items():
        seconds = statistics.median(g[0] for g in got)
        rows.append({
            "engine": engine, "operation": label, "rows": len(df),
            "written": int(got[-1][2]) if got[-1][2] is not None else None,
            "seconds": round(seconds, 3), "rows_per_s": round(len(df) / seconds),
            "all_seconds": [round(g[0], 3) for g in got],
            "peak_mem_gb": round(max(g[1] for g in got), 3),
        })
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3, help="runs of each ingest (median)")
    ap.add_argument("--anchor-repeats", type=int, default=1,
                    help="runs of each to_sql anchor (median); they are the slow ones")
    ap.add_argument("--chunksize", type=int, default=1000, help="rows per to_sql 'multi' call")
    ap.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"],
                    choices=["sqlite", "postgresql"])
    ap.add_argument("--dir", type=Path, default=None, help="folder for the SQLite files")
    ap.add_argument("--out", type=Path, default=Path("out/bench_store.json"))
    args = ap.parse_args(argv)

    df, more = bank_rows(args.rows), bank_rows(args.rows, seed=1, offset=args.rows)
    df_db = db_frame(df)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-store-") as folder, \
            contextlib.ExitStack() as stack:
        for engine in args.engines:
            server = stack.enter_context(throwaway_postgres()) if engine == "postgresql" \
                else None
            stores = Stores(engine, Path(folder), server)
            rows += bench_engine(engine, stores, df, more, df_db, args.repeats,
                                 args.anchor_repeats, args.chunksize)
    result = {"machine": platform.platform(), "python": sys.version.split()[0],
              "cpus": len(os.sched_getaffinity(0)),
              "date": time.strftime("%Y-%m-%d"), "rows": args.rows,
              "repeats": args.repeats, "anchor_repeats": args.anchor_repeats,
              "postgres_settings": "fsync=off, full_page_writes=off (as the tests' server)",
              "results": rows}
    table = pd.DataFrame(rows).drop(columns=["all_seconds"])
    for _, part in table.groupby("engine", sort=False):  # > 1x: faster than the best to_sql
        anchor = part[part["operation"].str.startswith("to_sql")]["seconds"].min()
        speed = (anchor / part["seconds"]).round(2).astype(str) + "x"
        table.loc[part.index, "speed vs best to_sql"] = speed
    print(markdown(table))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
