"""Test-session settings shared by the tests and the doctests of the package."""

import tempfile

import pytest


@pytest.fixture(autouse=True)
def _temporary_files_stay_in_pytest(tmp_path, monkeypatch):
    """Files made with ``tempfile`` (as the docstring examples do) land in pytest's tmp_path."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
