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
