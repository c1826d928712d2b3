"""The landing page: the dashboards this user may open, their own first."""

from __future__ import annotations

import html
from typing import Any

import panel as pn

from nexus_lab.dashboards._layout import CSS, guarded


def _build(session: Any) -> tuple[list, list]:
    mine = session.home
    cards = []
    for d in sorted(session.dashboards(), key=lambda d: d.name != mine):
        yours = d.name == mine
        cards.append(pn.pane.HTML(
            f'<a href="./{d.name}" data-nx="card-{d.name}" '
            'style="text-decoration:none;color:inherit">'
            f'<div class="nx-figure" style="width:300px;min-height:120px;'
            f'{"border:2px solid " + session.accent + ";" if yours else ""}">'
            f'<div class="nx-label">{"your view" if yours else "dashboard"}</div>'
            f'<div class="nx-value" style="font-size:20px">{html.escape(d.title)}</div>'
            f'<div class="nx-note">{html.escape(d.purpose)}</div></div></a>',
            margin=(0, 12, 12, 0), stylesheets=[CSS]))
    roles = ", ".join(session.roles) or "no role"
    intro = pn.pane.Markdown(
        f"### Welcome, {html.escape(session.user)}\n\nSigned in as **{html.escape(roles)}** "
        f"({html.escape(session.theme)}), on the store `{html.escape(session.where)}`. "
        "Every action you take here is recorded, with your name, in the audit log.")
    if not cards:
        cards = [pn.pane.Alert("No dashboard is open to your roles: ask an administrator "
                               "for a role (`nexus-lab users grant NAME ROLE`).",
                               alert_type="warning")]
    return [intro, pn.FlexBox(*cards)], []


def page() -> Any:
    """The landing page for the signed-in user."""
    return guarded("index", _build)
