"""Opening a dashboard from JupyterLab, signed in as the acting user, without a second
password.

``GET {base_url}nexus/dashboards/NAME`` (``NAME`` one of the dashboards; without it, the
landing page) makes a ticket (:func:`nexus_lab.dashboards.ticket`) for the request's
acting user and sends the browser (302) to the dashboards' login behind this server,
``{base_url}nexus-dashboards/login?ticket=...&next=...`` (the proxy of
:mod:`nexus_lab.jupyter._proxy`), which takes the ticket once, signs the user in and goes
on to the dashboard. Jupyter authenticates the request first: without its token or
login cookie the answer is 403.
"""

from __future__ import annotations

import asyncio
import urllib.parse

from jupyter_server.utils import url_path_join
from tornado import web

from nexus_lab import config, dashboards
from nexus_lab.jupyter._handlers import ApiError, NexusHandler
from nexus_lab.jupyter._proxy import NAME

__all__ = ["HANDLERS", "OpenDashboardHandler"]


class OpenDashboardHandler(NexusHandler):
    """Sends the browser on to a dashboard, signed in as the acting user."""

    @web.authenticated
    async def get(self, name: str = "") -> None:
        if name and name not in dashboards.DASHBOARDS:
            raise ApiError(404, f"no dashboard {name!r}; the dashboards are "
                           f"{', '.join(dashboards.DASHBOARDS)}")
        user = self.user
        if not await asyncio.to_thread(self.workbench.known, user):
            raise ApiError(403, f"{user} is not an active user of the store at "
                           f"{config.redact(self.workbench.store_url)}, so cannot open the "
                           "dashboards: an administrator adds them with "
                           f"`nexus-lab users add {user} --role ROLE`", "PermissionDenied")
        proxied = url_path_join(self.base_url, NAME)
        query = urllib.parse.urlencode({"ticket": dashboards.ticket(user, name),
                                        "next": f"{proxied}/{name}"})
        # the address holds a ticket: no cache keeps it, no page it opens is told of it
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")
        self.redirect(f"{proxied}/login?{query}")


#: The routes (relative to the server's ``base_url``) and their handler.
HANDLERS: list[tuple[str, type]] = [
    ("/nexus/dashboards", OpenDashboardHandler),
    ("/nexus/dashboards/{name}", OpenDashboardHandler),
]
