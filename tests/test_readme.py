"""README.md as a user follows it: every ```python and ```bash block runs, in order.

The blocks run one after the other in a fresh folder that holds what a checkout gives a
user (``.venv``, ``notebooks/``), the python blocks in one namespace (as in one
notebook), the bash blocks in ``bash -euo pipefail`` with ``.venv/bin`` first on the
path. A block that must not run here is preceded by the line::

    <!-- not run: REASON -->

and REASON says why: a ``make`` target (they build the environment these tests run
in), a GPU build, or a server (it does not return). Runs go to a throwaway MLflow store
(``MLFLOW_TRACKING_URI``) and key files take their password from
``NEXUS_LAB_KEY_PASSWORD``, as the README says a script does.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
_FENCE = re.compile(r"^```(\w*)\s*$")
_NOT_RUN = re.compile(r"^<!--\s*not run:\s*(?P<reason>.+?)\s*-->$")
_ALLOWED = ("make", "GPU", "server")  # the only reasons a block may be left out


@dataclass(frozen=True)
class Block:
    language: str
    code: str
    line: int  # where the block starts in README.md (1-based)
    not_run: str | None  # the reason, when the block is marked not to run


def readme_blocks(text: str) -> list[Block]:
    """The fenced ``python`` and ``bash`` blocks of ``text``, in order."""
    blocks: list[Block] = []
    lines = text.splitlines()
    n = 0
    while n < len(lines):
        fence = _FENCE.match(lines[n])
        if not fence:
            n += 1
            continue
        start, language = n, fence.group(1)
        end = next((m for m in range(n + 1, len(lines)) if lines[m].startswith("```")), None)
        if end is None:
            raise AssertionError(f"README.md:{start + 1}: a code block is never closed")
        before = next((lines[m].strip() for m in range(start - 1, -1, -1)
                       if lines[m].strip()), "")
        mark = _NOT_RUN.match(before)
        if language in ("python", "bash"):
            blocks.append(Block(language, "\n".join(lines[start + 1:end]), start + 1,
                                mark.group("reason") if mark else None))
        n = end + 1
    return blocks


def test_blocks_are_found_and_marked_blocks_say_why():
    text = ("intro\n```bash\necho 1\n```\n<!-- not run: a make target -->\n\n```bash\n"
            "make x\n```\n```python\nx = 1\n```\n```text\nnot code\n```\n")
    found = readme_blocks(text)
    assert [(b.language, b.code, b.line, b.not_run) for b in found] == [
        ("bash", "echo 1", 2, None), ("bash", "make x", 7, "a make target"),
        ("python", "x = 1", 10, None)]
    for block in readme_blocks(README.read_text()):
        if block.not_run:
            assert any(word in block.not_run for word in _ALLOWED), (
                f"README.md:{block.line}: a block is left out for {block.not_run!r}; only "
                f"make targets, GPU builds and servers may be")


@pytest.fixture
def user_folder(tmp_path, monkeypatch, _mlflow_template) -> dict[str, str]:
    """A fresh folder as a checkout gives it to a user, and the environment they run in."""
    work = tmp_path / "lab"
    work.mkdir()
    (work / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    shutil.copytree(ROOT / "notebooks", work / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    store = tmp_path / "store" / "mlflow.db"
    store.parent.mkdir()
    shutil.copy(_mlflow_template, store)
    env = {
        "MLFLOW_TRACKING_URI": f"sqlite:///{store}",
        "NEXUS_LAB_KEY_PASSWORD": "readme example password",
        "XDG_DATA_HOME": str(tmp_path / "data-home"),
        "PATH": f"{Path(sys.prefix) / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(work)
    return {**os.environ, **env}


def test_every_readme_example_runs_as_written(user_folder):
    namespace: dict = {"__name__": "__readme__"}
    ran = 0
    for block in readme_blocks(README.read_text()):
        if block.not_run:
            continue
        where = f"README.md:{block.line} ({block.language})"
        if block.language == "python":
            try:
                exec(compile(block.code, where, "exec"), namespace)
            except Exception as err:
                raise AssertionError(f"{where} fails: {type(err).__name__}: {err}") from err
        else:
            proc = subprocess.run(["bash", "-euo", "pipefail", "-c", block.code],
                                  capture_output=True, text=True, env=user_folder,
                                  timeout=600)
            assert proc.returncode == 0, (
                f"{where} exits {proc.returncode}:\n{block.code}\n--- stdout\n"
                f"{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}")
        ran += 1
    assert ran >= 10
