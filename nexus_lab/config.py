"""Configuration: every environment variable NEXUS Lab reads is read here, and only here.

Each setting has one default, written once. The variables are read when asked for
(not at import), so a notebook or a test that sets one sees it at once.

==============================  ===================================================
variable                        what it sets (default)
==============================  ===================================================
``MLFLOW_TRACKING_URI``         where runs and models go (a SQLite store: see
                                :func:`tracking_uri`)
``NEXUS_LAB_STORE``             the system of record: ``sqlite:///path`` or
                                ``postgresql://user:password@host/db`` (``nexus.db``
                                in the user's data folder: see :func:`store_url`)
``NEXUS_LAB_AUDIT_LOG``         the audit log services record into when none is set
                                in code (none: nothing is recorded)
``NEXUS_LAB_AUDIT_KEY``         the key file that signs that log's checkpoints (none)
``NEXUS_LAB_AUDIT_PASSWORD``    that key file's password (empty)
``NEXUS_LAB_ACTOR``             who acts, when no actor is set in code (the login name)
``NEXUS_LAB_KEY_PASSWORD``      the password of key files the CLI opens (asked on the
                                terminal)
``NEXUS_LAB_WEB3_URL``          the Ethereum JSON-RPC endpoint anchors go to (an
                                in-process test chain)
``NEXUS_LAB_SIGNING_KEY``       the key file that signs reports
                                (``keys/workbench.nxkey`` in the data folder)
``NEXUS_LAB_CASES``             the case store's folder (``cases`` in the data folder)
``NEXUS_LAB_CASES_KEY``         the case store's key file
                                (``keys/evidence-room.nxkey`` in the data folder)
``NEXUS_LAB_REPORTS``           where signed reports are written (``reports`` in the
                                data folder)
``NEXUS_LAB_COOKIE_SECRET``     the secret that signs the dashboards' login cookies
                                (made once and kept in ``dashboards/cookie_secret`` in
                                the data folder)
==============================  ===================================================

Kernels take their settings as arguments; services and surfaces ask this module.

Without ``MLFLOW_TRACKING_URI``, runs go to one SQLite store whichever folder a command
runs from: ``experiments/mlflow.db`` of the NEXUS Lab checkout the current folder is in
(a folder above it whose ``pyproject.toml`` names ``nexus-lab``, or that holds an
``experiments/mlflow.db`` already), else ``mlflow.db`` in the user's data folder
(``~/.local/share/nexus-lab`` on Linux, ``$XDG_DATA_HOME/nexus-lab`` when that is set).

Examples
--------
>>> from nexus_lab import config
>>> config.tracking_uri("/srv/lab") == "sqlite:////srv/lab/experiments/mlflow.db" or bool(
...     config.settings().tracking_uri)
True
>>> config.tracking_uri().startswith("sqlite:///") or bool(config.settings().tracking_uri)
True
>>> sorted(config.VARIABLES)[:2]
['MLFLOW_TRACKING_URI', 'NEXUS_LAB_ACTOR']
"""

from __future__ import annotations

import contextlib
import getpass
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import tomllib

__all__ = ["DEFAULT_TRACKING_DB", "VARIABLES", "Settings", "cases_folder", "cases_key",
           "checkout", "data_folder", "login_name", "redact", "reports_folder", "settings",
           "signing_key", "store_url", "tracking_uri"]

DEFAULT_TRACKING_DB = Path("experiments") / "mlflow.db"  # relative to a checkout's root
_PROJECT = "nexus-lab"  # the name a checkout's pyproject.toml gives

VARIABLES = {
    "MLFLOW_TRACKING_URI": "tracking_uri",
    "NEXUS_LAB_STORE": "store_url",
    "NEXUS_LAB_AUDIT_LOG": "audit_log",
    "NEXUS_LAB_AUDIT_KEY": "audit_key",
    "NEXUS_LAB_AUDIT_PASSWORD": "audit_password",
    "NEXUS_LAB_ACTOR": "actor",
    "NEXUS_LAB_KEY_PASSWORD": "key_password",
    "NEXUS_LAB_WEB3_URL": "web3_url",
    "NEXUS_LAB_SIGNING_KEY": "signing_key",
    "NEXUS_LAB_CASES": "cases",
    "NEXUS_LAB_CASES_KEY": "cases_key",
    "NEXUS_LAB_REPORTS": "reports",
    "NEXUS_LAB_COOKIE_SECRET": "cookie_secret",
}


@dataclass(frozen=True)
class Settings:
    """The settings the environment gives (``None`` where a variable is unset or empty)."""

    tracking_uri: str | None = None
    store_url: str | None = None
    audit_log: str | None = None
    audit_key: str | None = None
    audit_password: str | None = None
    actor: str | None = None
    key_password: str | None = None
    web3_url: str | None = None
    signing_key: str | None = None
    cases: str | None = None
    cases_key: str | None = None
    reports: str | None = None
    cookie_secret: str | None = None

    def __repr__(self) -> str:  # secrets never appear in a repr or a log
        shown = {k: "***" if ("password" in k or "secret" in k) and v else redact(v) if v else v
                 for k, v in vars(self).items()}
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"


@contextlib.contextmanager
def environ(values: Mapping[str, str]) -> Iterator[None]:
    """``values`` in this process's environment for the block, then as they were (a
    variable that was unset is unset again).

    Examples
    --------
    >>> with environ({"NEXUS_LAB_EXAMPLE": "1"}):
    ...     os.environ["NEXUS_LAB_EXAMPLE"]
    '1'
    >>> "NEXUS_LAB_EXAMPLE" in os.environ
    False
    """
    before = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def settings() -> Settings:
    """Read every variable of :data:`VARIABLES` now.

    Examples
    --------
    >>> import os
    >>> os.environ["NEXUS_LAB_ACTOR"] = "examiner-7"
    >>> settings().actor
    'examiner-7'
    >>> del os.environ["NEXUS_LAB_ACTOR"]
    """
    return Settings(**{field: os.environ.get(var) or None for var, field in VARIABLES.items()})


def tracking_uri(root: str | os.PathLike[str] | None = None) -> str:
    """The MLflow tracking URI: ``MLFLOW_TRACKING_URI``, else the local SQLite store.

    Parameters
    ----------
    root : str or path-like, optional
        The folder holding ``experiments/``. By default, the checkout the current
        folder is in (the nearest folder above it whose ``pyproject.toml`` names
        ``nexus-lab``, or that holds ``experiments/mlflow.db``), else the user's data
        folder, so that a command finds the same store from any folder.

    Returns
    -------
    str
        ``MLFLOW_TRACKING_URI`` when set, else ``sqlite:///<absolute path of the store>``.

    Examples
    --------
    >>> tracking_uri("/srv/lab") == "sqlite:////srv/lab/experiments/mlflow.db" or bool(
    ...     settings().tracking_uri)
    True
    """
    env = settings().tracking_uri
    if env:
        return env
    if root is not None:
        db = Path(os.path.abspath(root), DEFAULT_TRACKING_DB)
    else:
        checkout = _checkout(Path.cwd())
        db = checkout / DEFAULT_TRACKING_DB if checkout else _data_folder() / "mlflow.db"
    return f"sqlite:///{db.as_posix()}"


def store_url() -> str:
    """The system of record's URL: ``NEXUS_LAB_STORE``, else a SQLite file in the user's
    data folder (``~/.local/share/nexus-lab/nexus.db`` on Linux).

    Examples
    --------
    >>> store_url().startswith(("sqlite:///", "postgresql")) or bool(settings().store_url)
    True
    """
    env = settings().store_url
    if env:
        return env
    return f"sqlite:///{(_data_folder() / 'nexus.db').as_posix()}"


def data_folder() -> Path:
    """The user's data folder for NEXUS Lab (``~/.local/share/nexus-lab`` on Linux,
    ``$XDG_DATA_HOME/nexus-lab`` when that is set); it may not exist yet.

    Examples
    --------
    >>> data_folder().name
    'nexus-lab'
    """
    return _data_folder()


def signing_key() -> Path:
    """The key file that signs reports: ``NEXUS_LAB_SIGNING_KEY``, else
    ``keys/workbench.nxkey`` in the data folder."""
    return Path(settings().signing_key or _data_folder() / "keys" / "workbench.nxkey")


def cases_folder() -> Path:
    """The case store's folder: ``NEXUS_LAB_CASES``, else ``cases`` in the data folder."""
    return Path(settings().cases or _data_folder() / "cases")


def cases_key() -> Path:
    """The case store's key file: ``NEXUS_LAB_CASES_KEY``, else
    ``keys/evidence-room.nxkey`` in the data folder."""
    return Path(settings().cases_key or _data_folder() / "keys" / "evidence-room.nxkey")


def reports_folder() -> Path:
    """Where signed reports go: ``NEXUS_LAB_REPORTS``, else ``reports`` in the data
    folder."""
    return Path(settings().reports or _data_folder() / "reports")


def checkout(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The NEXUS Lab checkout ``start`` (default: the current folder) is in: the nearest
    folder at or above it whose ``pyproject.toml`` names ``nexus-lab``, or that holds
    ``experiments/mlflow.db`` already; None outside any checkout.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> lab = pathlib.Path(tempfile.mkdtemp()) / "lab"
    >>> (lab / "notebooks").mkdir(parents=True)
    >>> _ = (lab / "pyproject.toml").write_text("[project]\\nname = 'nexus-lab'\\n")
    >>> checkout(lab / "notebooks") == lab.absolute()
    True
    """
    return _checkout(Path.cwd() if start is None else Path(start))


def _checkout(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` that is a NEXUS Lab checkout or holds a
    store already (None when there is none)."""
    start = start.absolute()
    for folder in (start, *start.parents):
        if (folder / DEFAULT_TRACKING_DB).is_file() or _names_us(folder / "pyproject.toml"):
            return folder
    return None


def _names_us(pyproject: Path) -> bool:
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    except (OSError, UnicodeError, tomllib.TOMLDecodeError):
        return False
    return isinstance(project, dict) and project.get("name") == _PROJECT


def _data_folder() -> Path:
    """The user's data folder for NEXUS Lab (platformdirs' when it is installed)."""
    try:
        from platformdirs import user_data_dir
    except ImportError:
        base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
        return Path(base) / _PROJECT
    return Path(user_data_dir(_PROJECT, appauthor=False))


_SECRET_PARAMS = ("password", "passwd", "pwd", "token", "secret", "key", "apikey", "api_key")


def _secret(name: str) -> bool:
    """True for a URL's query parameter that holds a secret (``password``,
    ``sslpassword``, ``access_token``...)."""
    name = name.lower()
    return name in _SECRET_PARAMS or any(s in name for s in ("password", "secret", "token"))


def redact(uri: str) -> str:
    """``uri`` fit to print: a password in it (``user:PASSWORD@host``, ``?password=``,
    ``?sslpassword=``, ``?token=``, any query parameter whose name says password, secret or
    token) becomes ``***``; everything else stays, so it still says where.

    Examples
    --------
    >>> redact("postgresql://alice:s3cret@db:5432/mlflow?sslmode=require&password=x")
    'postgresql://alice:***@db:5432/mlflow?sslmode=require&password=%2A%2A%2A'
    >>> redact("sqlite:////srv/lab/experiments/mlflow.db")
    'sqlite:////srv/lab/experiments/mlflow.db'
    """
    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}{':***' if colon else ''}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_secret(k) for k, _ in pairs):
            query = urlencode([(k, "***" if _secret(k) else v) for k, v in pairs])
    if (netloc, query) == (parts.netloc, parts.query):
        return uri
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def login_name() -> str:
    """Who acts by default: ``NEXUS_LAB_ACTOR``, else the login name, else ``"unknown"``."""
    env = settings().actor
    if env:
        return env
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers)
        return "unknown"
