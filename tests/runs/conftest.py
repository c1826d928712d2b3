"""Small notebooks of our own (each run starts a kernel, so they do little), a store, and
a Jupyter set-up of the test's own (data, configuration and runtime folders)."""

from __future__ import annotations

from pathlib import Path

import pytest

import nexus_lab as nx
from tests.runs._notebooks import write_notebook


@pytest.fixture
def root(tmp_path) -> Path:
    """A Jupyter root folder with ``nbs/interest.ipynb`` (rate, principal, label; it
    writes ``interest.txt`` beside itself) and ``nbs/failing.ipynb`` (``fail``: its third
    cell raises)."""
    folder = tmp_path / "root"
    write_notebook(folder / "nbs" / "interest.ipynb",
                   "rate = 0.1\nprincipal = 250\nlabel = 'interest'",
                   "print(f'{label}: {rate:.0%} of {principal} is {principal * rate:g}')",
                   "from pathlib import Path\n"
                   "Path('interest.txt').write_text(f'{type(principal).__name__} {label}')")
    write_notebook(folder / "nbs" / "failing.ipynb", "fail = True",
                   "checked = 'books'",
                   "if fail:\n    raise ValueError('the books do not balance')\nprint('fine')",
                   "print('never reached')")
    return folder


@pytest.fixture
def store(tmp_path):
    s = nx.store.connect(tmp_path / "books.db")
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def jupyter(tmp_path, monkeypatch) -> Path:
    """Jupyter's data, configuration and runtime folders in tmp_path (jupyter-scheduler's
    database and staging area land in the data folder); the data folder is returned."""
    data = tmp_path / "jupyter-data"
    for name, folder in (("JUPYTER_DATA_DIR", data), ("JUPYTER_CONFIG_DIR", tmp_path / "jcfg"),
                         ("JUPYTER_RUNTIME_DIR", tmp_path / "jruntime")):
        folder.mkdir()
        monkeypatch.setenv(name, str(folder))
    return data
