"""The dashboards behind the Jupyter server: jupyter-server-proxy runs
``nexus-lab dashboards serve`` as a process of its own, on demand, and passes it every
request to ``{base_url}nexus-dashboards/`` once Jupyter has authenticated it.

The dashboards server listens on 127.0.0.1 only, on a port jupyter-server-proxy picks,
under the path prefix ``{base_url}nexus-dashboards`` (the proxy passes the whole path
on: ``absolute_url``), with the store of this Jupyter server. Nobody is signed in to it
by being signed in to Jupyter: ``{base_url}nexus/dashboards/NAME`` (see
:mod:`nexus_lab.jupyter._dashboards`) hands the browser a ticket for its login.

Its entry point, in ``pyproject.toml``::

    [project.entry-points.jupyter_serverproxy_servers]
    nexus-dashboards = "nexus_lab.jupyter._proxy:dashboards_server"
"""

from __future__ import annotations

import sys
from typing import Any

from nexus_lab.jupyter._settings import store_url

__all__ = ["NAME", "dashboards_server"]

#: The proxy's path under the server's ``base_url`` (and the entry point's name).
NAME = "nexus-dashboards"
_START_SECONDS = 60.0  # the first visit waits while the server imports Panel and the views


def _server_store() -> str:
    """The store of the Jupyter server this runs in: its NEXUS Lab workbench's, else the
    one such a server would choose."""
    from jupyter_server.serverapp import ServerApp

    if not ServerApp.initialized():
        return store_url()
    server = ServerApp.instance()
    web_app = getattr(server, "web_app", None)
    bench = web_app.settings.get("nexus_lab") if web_app is not None else None
    return bench.store_url if bench is not None else store_url(server.root_dir)


def _environment() -> dict[str, str]:
    """The dashboards server's settings (in its environment: a PostgreSQL URL's password
    is not shown in a listing of processes)."""
    # jupyter-server-proxy fills {port} and {base_url} in with str.format
    url = _server_store().replace("{", "{{").replace("}", "}}")
    return {"NEXUS_LAB_STORE": url}


def dashboards_server() -> dict[str, Any]:
    """jupyter-server-proxy's description of the dashboards server (its
    ``jupyter_serverproxy_servers`` entry point).

    Returns
    -------
    dict
        ``command``, ``environment``, ``absolute_url``, ``timeout``,
        ``request_headers_override`` and ``launcher_entry`` (none: the JupyterLab
        sidebar opens the dashboards).
    """
    return {
        "command": [sys.executable, "-m", "nexus_lab.cli", "dashboards", "serve",
                    "--port", "{port}", "--address", "127.0.0.1",
                    "--prefix", "{base_url}" + NAME],
        "environment": _environment,
        "absolute_url": True,
        "timeout": _START_SECONDS,
        # Bokeh accepts a websocket only from an origin it allows, by default its own
        # (127.0.0.1:{port}). The browser's Origin is the Jupyter server's, which Jupyter
        # has already checked against its own host (JupyterHandler.check_origin, as for
        # every websocket it accepts) before the proxy opens the websocket onwards: the
        # proxy then presents the dashboards server's own origin. A page of another site
        # opening the dashboards server's port directly is still refused.
        "request_headers_override": {"Origin": "http://127.0.0.1:{port}"},
        "launcher_entry": {"enabled": False},
        "new_browser_tab": False,
    }
