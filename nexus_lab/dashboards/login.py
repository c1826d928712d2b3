"""The login for ``panel serve dashboards/*.py``: a Bokeh auth module.

``nexus-lab dashboards serve`` sets the login up itself. Serving the entry files with
Panel's own command, pass this module and a cookie secret::

    panel serve dashboards/*.py --index index \\
        --auth-module "$(python -c 'import nexus_lab.dashboards.login as m; print(m.__file__)')" \\
        --cookie-secret "$NEXUS_LAB_COOKIE_SECRET"

The users are the store's (``NEXUS_LAB_STORE``), checked against their password hashes;
every sign-in is recorded in the audit log.
"""

from pathlib import Path

from nexus_lab.dashboards._auth import StoreAuthProvider

_HERE = Path(__file__).parent / "templates"
_provider = StoreAuthProvider(login_endpoint="/login", logout_endpoint="/logout",
                              login_template=str(_HERE / "login.html"),
                              logout_template=str(_HERE / "logout.html"))

get_user = _provider.get_user
login_url = _provider.login_url
LoginHandler = _provider.login_handler
logout_url = _provider.logout_url
LogoutHandler = _provider.logout_handler
