"""Shared fixtures: small synthetic tables, their files, and a throwaway MLflow store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from nexus_lab.datasets import synth_reconciliation


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

def _postgres_bin() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb") and shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                      else 0)
    return versions[-1].parent if versions else None


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PG_USER, PG_PASSWORD = "nexus", "nexus-test-password"


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL cluster (initdb + pg_ctl on a free port), stopped at the
    end; password authentication over TCP. Yields ``(host, port)``.

    PostgreSQL refuses to run as root: as root (CI), the server runs as the
    ``postgres`` user that Debian's package creates.
    """
    import os
    import subprocess

    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed: "
                    "apt-get install postgresql (.ci/run does)")
    import tempfile

    # not under pytest's temporary folder: as root, that is closed to the postgres user
    base = Path(tempfile.mkdtemp(prefix="nexus-lab-pg-", dir="/tmp" if os.geteuid() == 0 else None))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    pwfile = base / "pw"
    pwfile.write_text(PG_PASSWORD + "\n")
    user = None
    if os.geteuid() == 0:
        import pwd

        try:
            user = pwd.getpwnam("postgres").pw_name
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        for p in (base, sock, pwfile):
            shutil.chown(p, user)
    port = _free_port()

    def run(*args: str) -> None:
        proc = subprocess.run([str(bindir / args[0]), *args[1:]], user=user,
                              capture_output=True, text=True, timeout=120)
        if proc.returncode:
            raise RuntimeError(f"{args[0]} failed: {proc.stderr or proc.stdout}")

    run("initdb", "-D", str(data), "-U", PG_USER, f"--pwfile={pwfile}", "-A", "scram-sha-256",
        "-E", "UTF8", "--no-sync")
    run("pg_ctl", "-D", str(data), "-l", str(base / "log"), "-w", "-t", "60", "-o",
        f"-p {port} -k {sock} -h 127.0.0.1 -c fsync=off -c full_page_writes=off", "start")
    try:
        yield "127.0.0.1", port
    finally:
        run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


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
