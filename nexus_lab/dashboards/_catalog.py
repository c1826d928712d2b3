"""The dashboards, who lands where, and the four looks (no Panel import here)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DASHBOARDS", "HOME", "THEMES", "Dashboard", "home_of", "primary_role", "theme_of"]


@dataclass(frozen=True)
class Dashboard:
    """One dashboard: its URL path, title, what it is for and what opening it needs."""

    name: str
    title: str
    purpose: str
    permission: tuple[str, ...]  # any one of these opens it
    module: str                  # nexus_lab.dashboards.<module> has page()


DASHBOARDS: dict[str, Dashboard] = {d.name: d for d in (
    Dashboard("review", "Reconciliation review",
              "rate, open items and matches of a period; resolve items and approve the period",
              ("financial.read",), "review"),
    Dashboard("fraud", "Fraud triage",
              "the queue of flagged transactions by risk; clear a flag or escalate it into a case",
              ("financial.read",), "fraud"),
    Dashboard("cases", "Cases",
              "cases, their timeline, evidence and chain of custody, and whether they verify",
              ("case.read",), "cases"),
    Dashboard("overview", "Executive overview",
              "reconciliation rate, open exceptions by age, fraud exposure and cases over time",
              ("strategic.read", "financial.read"), "overview"),
    Dashboard("models", "Models",
              "the workflows' runs in MLflow and the registry: figures, champions, promotions",
              ("models.read",), "models"),
    Dashboard("quality", "Data quality",
              "each source's standardization report and quality score",
              ("financial.read",), "quality"),
    Dashboard("examine", "Audit analytics",
              "the audit tests run on general ledgers: verdicts, findings, replays; run them",
              ("examine.run",), "examine"),
)}

#: Where each point of view lands after signing in.
HOME = {"examiner": "review", "prosecutor": "cases", "judge": "cases", "executive": "overview",
        "compliance_officer": "quality", "auditor": "examine", "admin": "models"}

#: The seeds' four looks: (accent, header background) for Panel's template.
THEMES = {
    "financial professional": ("#1f6feb", "#0b2545"),
    "modern financial": ("#0f9d8a", "#123b3a"),
    "executive dashboard": ("#b7791f", "#2d2a4a"),
    "compliance & audit": ("#2f855a", "#243b2f"),
}
_ROLE_THEME = {"examiner": "financial professional", "admin": "financial professional",
               "prosecutor": "modern financial", "judge": "modern financial",
               "executive": "executive dashboard", "compliance_officer": "compliance & audit",
               "auditor": "compliance & audit"}
# when a user holds several roles, the first of these is the one they land as
_PRECEDENCE = ("examiner", "prosecutor", "judge", "compliance_officer", "auditor", "executive",
               "admin")


def primary_role(roles: list[str]) -> str | None:
    """The role a user holding ``roles`` lands as."""
    for role in _PRECEDENCE:
        if role in roles:
            return role
    return roles[0] if roles else None


def home_of(roles: list[str]) -> str:
    """The dashboard a user holding ``roles`` lands on (``""``: the landing page, which
    tells a user without a role to ask for one)."""
    role = primary_role(roles)
    return "" if role is None else HOME.get(role, "review")


def theme_of(roles: list[str]) -> tuple[str, str, str]:
    """``(theme name, accent, header background)`` for a user holding ``roles``."""
    name = _ROLE_THEME.get(primary_role(roles) or "", "financial professional")
    return (name, *THEMES[name])
