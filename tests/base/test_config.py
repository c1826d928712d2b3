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


def _outside(monkeypatch, tmp_path) -> Path:
    """A working folder in no checkout, and a home of its own for the user data folder."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home" / "data"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def test_one_default_tracking_uri(monkeypatch, tmp_path):
    work = _outside(monkeypatch, tmp_path)
    expected = f"sqlite:///{(tmp_path / 'home' / 'data' / 'nexus-lab' / 'mlflow.db').as_posix()}"
    assert config.tracking_uri() == expected  # outside a checkout: the user data folder
    given = work / config.DEFAULT_TRACKING_DB
    assert config.tracking_uri(work) == f"sqlite:///{given.as_posix()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow:5000")
    assert config.tracking_uri() == "http://mlflow:5000"


def test_the_store_is_the_checkouts_wherever_one_stands_in_it(monkeypatch, tmp_path):
    work = _outside(monkeypatch, tmp_path)
    checkout = work / "lab"
    deep = checkout / "notebooks" / "2026"
    deep.mkdir(parents=True)
    (checkout / "pyproject.toml").write_text('[project]\nname = "nexus-lab"\n')
    store = f"sqlite:///{(checkout / 'experiments' / 'mlflow.db').as_posix()}"
    for folder in (checkout, deep):
        monkeypatch.chdir(folder)
        assert config.tracking_uri() == store
    # another project's pyproject.toml is not ours; an existing store above is
    (deep / "pyproject.toml").write_text('[project]\nname = "other"\n')
    assert config.tracking_uri() == store
    other = work / "books"
    (other / "experiments").mkdir(parents=True)
    (other / "experiments" / "mlflow.db").write_bytes(b"")
    (other / "q1").mkdir()
    monkeypatch.chdir(other / "q1")
    assert config.tracking_uri() == f"sqlite:///{(other / 'experiments' / 'mlflow.db').as_posix()}"
    assert not (other / "q1" / "experiments").exists()


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


def test_a_password_under_any_name_of_the_query_never_shows():
    # libpq's sslpassword (the client key's), an access token's name of a tracking server
    for uri in ("postgresql://lab@db/books?sslmode=verify-full&sslpassword=k3y-pw",
                "https://mlflow.example/?access_token=t0k&user=ana",
                "postgresql://db/books?PGPASSWORD=pw3"):
        shown = config.redact(uri)
        assert not any(s in shown for s in ("k3y-pw", "t0k", "pw3")), shown
        assert shown.split("?")[0] == uri.split("?")[0]
    assert config.redact("postgresql://lab@db/books?sslmode=require") == (
        "postgresql://lab@db/books?sslmode=require")
