"""NEXUS Lab inside Jupyter: the server extension (the REST API under ``/nexus/api``
that the JupyterLab sidebar reads, and ``/nexus/metrics``), and the ``%nexus`` magics.

A surface: it parses a request, calls a service as the acting user, and answers.

The server extension ``nexus_lab`` is enabled by the file the wheel installs in
``etc/jupyter/jupyter_server_config.d/``; ``jupyter server extension list`` shows it.
Its settings, in a Jupyter configuration file (all optional)::

    c.NexusLab.store_url = "postgresql://lab@db/books"   # else NEXUS_LAB_STORE, ...
    c.NexusLab.user = "lead"          # who the server's own token acts as
    c.NexusLab.tracking_uri = "sqlite:////srv/lab/experiments/mlflow.db"

On a team's server, people sign in with their store account and act as themselves::

    c.ServerApp.identity_provider_class = "nexus_lab.jupyter.StoreIdentityProvider"

The routes and their answers are in ``extensions/API.md``. The Panel dashboards run
behind the server too (jupyter-server-proxy, at ``/nexus-dashboards/``), and
``/nexus/dashboards/NAME`` opens one signed in as the acting user. Nothing of Jupyter is
imported until Jupyter loads the extension.
"""

from __future__ import annotations

from typing import Any

__all__ = ["WORKFLOWS", "ReviewWidget", "StoreIdentityProvider", "create_notebook",
           "launchers", "load_ipython_extension", "table_notebook"]

def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Jupyter Server's hook: set up the server's workbench, its metrics, its JSON log
    lines, and the routes."""
    from nexus_lab.jupyter import _dashboards, _handlers, _metrics
    from nexus_lab.jupyter._logs import json_handler
    from nexus_lab.jupyter._settings import Workbench

    json_handler()
    bench = Workbench.from_server(serverapp)
    bench.metrics = _metrics.Metrics(bench.store)
    serverapp.web_app.settings["nexus_lab"] = bench
    _handlers.register(serverapp, [*_handlers.HANDLERS, *_metrics.HANDLERS,
                                   *_dashboards.HANDLERS])
    serverapp.log.info("NEXUS Lab: the API is at %snexus/api, the metrics at %snexus/metrics",
                       serverapp.base_url, serverapp.base_url)



def __getattr__(name: str) -> Any:
    # each public name is imported on first use: Jupyter Server, IPython and ipywidgets
    # load only when asked for
    if name == "StoreIdentityProvider":
        from nexus_lab.jupyter._identity import StoreIdentityProvider as found
    elif name == "ReviewWidget":
        from nexus_lab.jupyter._widget import ReviewWidget as found
    elif name == "load_ipython_extension":
        from nexus_lab.jupyter._magics import load_ipython_extension as found
    elif name in ("WORKFLOWS", "create_notebook", "launchers", "table_notebook"):
        from nexus_lab.jupyter import _launch

        found = getattr(_launch, name)
    else:
        raise AttributeError(f"module 'nexus_lab.jupyter' has no attribute {name!r}")
    return found
