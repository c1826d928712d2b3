"""The house is checked, not just drawn: layers, private modules, no cycles, test imports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "nexus_lab"


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def test_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    cmd = [str(lint)] if lint.exists() else [sys.executable, "-m", "importlinter.cli"]
    done = subprocess.run([*cmd, "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "5 kept, 0 broken" in done.stdout


def _layer_members(layer: str) -> set[str]:
    return {name.strip().removeprefix("nexus_lab.")
            for part in layer.split("|") for name in part.split(":")}


def test_every_part_of_the_package_is_in_a_layer():
    layers = [_layer_members(layer) for layer in _contracts()["layers"]["layers"]]
    listed = set().union(*layers)
    present = {p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    present |= {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert present - listed == set(), "add new modules and folders to a layer in pyproject.toml"
    assert listed - present == set(), "pyproject.toml names modules that do not exist"


def test_top_level_modules_are_base_only():
    *_, base = (_layer_members(layer) for layer in _contracts()["layers"]["layers"])
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    assert modules <= base
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert not folders & base


def _private_imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of each import of a private nexus_lab module in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "nexus_lab" and any(p.startswith("_") and not p.startswith("__")
                                               for p in parts[1:]):
                found.append((node.lineno, name))
    return found


def test_tests_import_public_names_or_their_own_packages_internals():
    """A test imports public names from public paths. A test in ``tests/<pkg>/`` may also
    unit-test ``nexus_lab.<pkg>``'s own internals (``tests/base/`` those of the top-level
    private modules); nothing else reaches a private module, so moving one inside its
    package breaks no test outside that package's folder."""
    bad = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if "fixtures" in path.parts:
            continue
        own = path.relative_to(ROOT / "tests").parts[0]
        for line, name in _private_imports(path):
            mine = (name.split(".")[1].startswith("_") if own == "base"
                    else name.startswith(f"nexus_lab.{own}."))
            if not mine:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert bad == []


def _package_modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out.append((".".join(parts[:-1] if parts[-1] == "__init__" else parts), path))
    return out


def test_no_import_slips_past_the_contracts():
    """What import-linter cannot see: the root package reached for a subpackage's contents
    (``import nexus_lab as nx`` inside the package), modules imported by name in a string,
    and private names taken from another package."""
    subpackages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    bad = []
    for name, path in _package_modules():
        home = name.split(".")[1] if "." in name else ""
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                bad += [f"{where} imports the root package" for a in node.names
                        if a.name == "nexus_lab"]
            elif isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "nexus_lab":
                    bad += [f"{where} takes {a.name} from the root package" for a in node.names
                            if a.name not in subpackages | modules | {"__version__"}]
                parts = node.module.split(".")
                if parts[0] == "nexus_lab" and len(parts) > 1 and parts[1] != home:
                    bad += [f"{where} takes the private {a.name} from {node.module}"
                            for a in node.names if a.name.startswith("_")
                            and not a.name.startswith("__")]
            elif isinstance(node, ast.Call) and node.args and isinstance(
                    node.args[0], ast.Constant) and str(node.args[0].value).startswith(
                    "nexus_lab.") and getattr(node.func, "attr", getattr(
                        node.func, "id", "")) in ("import_module", "__import__"):
                bad.append(f"{where} imports {node.args[0].value} by name")
    assert bad == []
