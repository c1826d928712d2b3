"""The project's set-up: pyproject and environment.yml agree, the API stays small and lazy."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import tomllib

import nexus_lab as nx

ROOT = Path(__file__).resolve().parents[1]
# conda names differ from PyPI names for a few packages
CONDA_NAME = {"torch": "pytorch", "psycopg[binary]": "psycopg",
              "jupyter-scheduler": "jupyter_scheduler", "jupyter-server": "jupyter_server",
              "prometheus-client": "prometheus_client",
              "pytest-jupyter[server]": "pytest-jupyter", "dask[distributed]": "dask"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ ;]", requirement, maxsplit=1)[0].strip().lower()


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted += extra
    env = (ROOT / "environment.yml").read_text().lower()
    listed = set(re.findall(r"^\s*-\s+([a-z0-9_.\-\[\]]+)", env, flags=re.M))
    missing = [r for r in wanted if CONDA_NAME.get(_name(r), _name(r)) not in listed]
    assert not missing, f"environment.yml lacks {missing}"


def test_layout_matches_the_design():
    for path in ("notebooks", "nexus_lab", "extensions", "experiments", "data", "dashboards",
                 "tests", "environment.yml", "pyproject.toml", "README.md", "Makefile",
                 ".ci/run", "LICENSE"):
        assert (ROOT / path).exists(), path


def test_readme_gives_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme


def test_import_is_lazy_and_fast():
    code = "import sys, nexus_lab; print('torch' in sys.modules, 'mlflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_public_api():
    for name in nx.__all__:
        assert getattr(nx, name) is not None
    assert callable(nx.reconcile) and callable(nx.reconcile.evaluate)
    assert callable(nx.data.synth_reconciliation)
