"""The Jupyter server of NEXUS Lab's browser tests (never for anything else: Galata's
settings take every protection off).

tests/jupyter/test_ui.py sets the environment: NEXUS_UI_PORT (a free port),
JUPYTERLAB_GALATA_ROOT_DIR (the server's root folder), NEXUS_LAB_STORE and
MLFLOW_TRACKING_URI (a workbench made with the demo's steps), and JUPYTER_PATH (this
checkout's labextension first).
"""

import os

from jupyter_server.auth.identity import PasswordIdentityProvider, User
from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821 (c: the configuration Jupyter passes in)

c.ServerApp.port = int(os.environ.get("NEXUS_UI_PORT", "8888"))  # noqa: F821
c.ServerApp.jpserver_extensions = {"nexus_lab": True}  # noqa: F821
c.ServerApp.allow_root = True  # noqa: F821 (CI runs as root)


class _CookieUser(PasswordIdentityProvider):
    """Who the browser is: the store's user the ``nexus-ui-user`` cookie names (a test
    signs in as the judge, jo, with it), else the administrator, lead."""

    def get_user(self, handler):
        name = handler.get_cookie("nexus-ui-user") or "lead"
        return User(username=name, name=name, display_name=name)


c.ServerApp.identity_provider_class = _CookieUser  # noqa: F821
