"""Dashboards: the Panel views of every point of view, behind one login.

A surface. Each dashboard is a module here with a ``page()`` that builds it for the
signed-in user; ``dashboards/*.py`` in a checkout are one-line entry files for
``panel serve``. :func:`serve` (``nexus-lab dashboards serve``) serves them all with a
landing page, behind a login checked against the store's users (their passwords kept
as scrypt hashes: ``nexus-lab users add NAME --role ROLE``).

=============  ==========================================  ===========================
path           what it shows                               who lands there
=============  ==========================================  ===========================
``/review``    reconciliation review: resolve, approve     examiner
``/fraud``     fraud triage: clear or escalate a flag
``/cases``     cases, evidence, custody, verification      prosecutor, judge
``/overview``  executive overview over periods             executive
``/models``    MLflow runs and registry, promotion         admin
``/quality``   data quality per source                     compliance officer
``/examine``   audit tests on general ledgers, run them    auditor
=============  ==========================================  ===========================

Views read and write only through the services (store, review, cases, tracking,
reports), run as the signed-in user: a role sees only the actions it may take, and an
action forged from the browser is refused by the service, and recorded, exactly as the
same call from a notebook.

Signed in to JupyterLab, a user opens a dashboard without a second password: the
Jupyter server makes a :func:`ticket` for them, which the dashboards' login takes once
(:func:`redeem_ticket`), within a minute.

Panel is imported only when a dashboard is built or served.
"""

from typing import Any

from nexus_lab.dashboards._catalog import DASHBOARDS, HOME, THEMES, Dashboard, primary_role
from nexus_lab.dashboards._tickets import TicketRefused, redeem_ticket, ticket

__all__ = ["DASHBOARDS", "HOME", "THEMES", "Dashboard", "TicketRefused", "primary_role",
           "redeem_ticket", "serve", "shared_store", "ticket"]


def serve(**options: Any) -> Any:
    """Serve every dashboard behind a login (see :func:`nexus_lab.dashboards._server.serve`
    for the options: ``port``, ``address``, ``store``, ``prefix``, ``oauth_provider``,
    ``start``...)."""
    from nexus_lab.dashboards._server import serve as _serve

    return _serve(**options)


def shared_store(url: str | None = None) -> Any:
    """The process's open store for ``url`` (default: the configured one), migrated once:
    the dashboards, and a Jupyter server's routes, share its connection pool."""
    from nexus_lab.dashboards._session import shared_store as _shared_store

    return _shared_store(url)
