"""config.py: every environment variable in one place, read when asked, never shown secret."""

from __future__ import annotations

from pathlib import Path

from nexus_lab import config


def test_settings_are_read_when_asked(monkeypatch):
    for var in config.VARIABLES:
        monkeypatch.delenv(var, raising=False)
    assert config.settings() == config.Settings()
    monkeypatch.setenv("NEXUS_LAB_AUDIT_LOG", "/srv/audit.db")
    monkeypatch.setenv("NEXUS_LAB_ACTOR", "")  # empty counts as unset
    assert config.settings().audit_log == "/srv/audit.db"
    assert config.settings().actor is None


def test_one_default_tracking_uri(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    expected = f"sqlite:///{(tmp_path / 'experiments' / 'mlflow.db').as_posix()}"
    assert config.tracking_uri() == expected
    assert Path(expected.removeprefix("sqlite:///")).relative_to(tmp_path) == \
        config.DEFAULT_TRACKING_DB
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    assert config.tracking_uri() == "http://mlflow:5000"


def test_secrets_never_show(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql://alice:s3cret@db/mlflow")
    monkeypatch.setenv("NEXUS_LAB_WEB3_URL", "https://u:tok3n@rpc.example/v3?apikey=k3y")
    monkeypatch.setenv("NEXUS_LAB_AUDIT_PASSWORD", "pw1")
    monkeypatch.setenv("NEXUS_LAB_KEY_PASSWORD", "pw2")
    shown = repr(config.settings())
    for secret in ("s3cret", "tok3n", "k3y", "pw1", "pw2"):
        assert secret not in shown
    assert "alice:***@db/mlflow" in shown and "rpc.example" in shown
    assert config.redact("http://host:5000/path") == "http://host:5000/path"
