"""Test-session settings shared by the tests and the doctests of the package."""

import tempfile

import pytest


@pytest.fixture(autouse=True)
def _temporary_files_stay_in_pytest(tmp_path, monkeypatch):
    """Files made with ``tempfile`` (as the docstring examples do) and the user's data folder
    land in pytest's tmp_path."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    # the user's data folder (the MLflow store outside a checkout) too, never the home folder
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "user-data"))
