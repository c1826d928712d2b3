"""Shared fixtures: small synthetic tables, their files, a throwaway MLflow store and a
throwaway PostgreSQL server."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import pandas as pd
import pytest

from nexus_lab.datasets import synth_reconciliation
from tests._postgres import PASSWORD, USER, PostgresUnavailable, throwaway_postgres


@pytest.fixture(scope="session")
def tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A small bank statement, ledger and true links (300 bank rows)."""
    return synth_reconciliation(300, seed=3)


def _write_tables(bank: pd.DataFrame, ledger: pd.DataFrame, folder: Path, ext: str):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in (("bank", bank), ("ledger", ledger)):
        path = folder / f"{name}.{ext}"
        if ext == "csv":
            frame.to_csv(path, index=False)
        elif ext == "parquet":
            frame.to_parquet(path, index=False)
        else:
            frame.to_excel(path, index=False)
        paths.append(path)
    return paths


@pytest.fixture
def write_tables():
    """``write_tables(bank, ledger, folder, ext)`` writes .csv, .parquet or .xlsx files."""
    return _write_tables


@pytest.fixture(scope="session")
def _mlflow_template(tmp_path_factory) -> Path:
    """An MLflow SQLite store with its tables made once (migrations take seconds)."""
    from mlflow import MlflowClient

    db = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{db}").search_experiments()
    return db


@pytest.fixture
def tracking_uri(_mlflow_template, tmp_path, monkeypatch) -> str:
    """A fresh SQLite tracking store in tmp_path, set as ``MLFLOW_TRACKING_URI``."""
    db = tmp_path / "store" / "mlflow.db"
    db.parent.mkdir()
    shutil.copy(_mlflow_template, db)
    uri = f"sqlite:///{db}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


# ---- a real PostgreSQL server, started for the test run --------------------------------

PG_USER, PG_PASSWORD = USER, PASSWORD


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL cluster (tests/_postgres.py: initdb + pg_ctl on a free port),
    stopped at the end; password authentication over TCP. Yields ``(host, port)``.

    As root (CI), the server runs as the ``postgres`` user that Debian's package creates.
    """
    with contextlib.ExitStack() as stack:
        try:
            host, port = stack.enter_context(throwaway_postgres())
        except PostgresUnavailable as err:
            pytest.skip(str(err))
        yield host, port


@pytest.fixture
def postgres_url(postgres_server, request) -> str:
    """A fresh, empty database on the test server: ``postgresql://user:password@...``."""
    import uuid

    import psycopg

    host, port = postgres_server
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = f"postgresql://{PG_USER}:{PG_PASSWORD}@{host}:{port}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql://{PG_USER}:{PG_PASSWORD}@{host}:{port}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """The URL of a new, empty store: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")


#: where a result computed on Dask ran, as ``nexus_lab.scale.reconcile`` keeps it
ON_DASK = {"scheduler": "tcp://127.0.0.1:40123", "workers": 2, "partitions": 8,
           "dashboard": "http://127.0.0.1:8787/status"}


@pytest.fixture(scope="session")
def seed0():
    """A real reconciliation of 300 rows (seed 0), of one machine."""
    import nexus_lab as nx

    bank, ledger, _ = nx.datasets.synth_reconciliation(300, seed=0)
    return nx.reconcile(bank, ledger, device="cpu")


@pytest.fixture(scope="session")
def on_dask():
    """``on_dask(result, **facts)``: ``result`` as the distributed reconciliation returns
    it, ``params["dask"]`` set (:data:`ON_DASK`, with ``facts`` over it)."""
    import dataclasses

    def made(result, **info):
        return dataclasses.replace(result, params={**result.params,
                                                   "dask": {**ON_DASK, **info}})

    return made

