"""The generator profiles of :func:`nexus_lab.datasets.synth_reconciliation`.

``retail`` is the original generator (``_reconciliation.py``); every other
profile is a generator of its own in ``_recon_<name>.py``, written to be unlike
the others: other counterparties, amount distributions, posting lags,
description grammars, columns and sign conventions.
"""

from __future__ import annotations

from nexus_lab.datasets._recon_dense import dense
from nexus_lab.datasets._recon_fx import fx
from nexus_lab.datasets._recon_installments import installments
from nexus_lab.datasets._recon_marketplace import marketplace
from nexus_lab.datasets._recon_messy import messy
from nexus_lab.datasets._recon_payables import payables
from nexus_lab.datasets._recon_signs import signs

#: The profiles :func:`~nexus_lab.datasets.synth_reconciliation` knows, ``retail`` first.
RECONCILIATION_PROFILES = (
    "retail", "payables", "installments", "fx", "messy", "signs", "dense", "marketplace",
)

_GENERATORS = {
    "payables": payables,
    "installments": installments,
    "fx": fx,
    "messy": messy,
    "signs": signs,
    "dense": dense,
    "marketplace": marketplace,
}


def check_profile(profile: object) -> str:
    """The profile name, or a ValueError that lists the names."""
    if not isinstance(profile, str) or profile not in RECONCILIATION_PROFILES:
        raise ValueError(
            f"synth_reconciliation has no profile {profile!r}; choose one of "
            f"{', '.join(repr(p) for p in RECONCILIATION_PROFILES)}"
        )
    return profile


def generate(profile: str, n: int, seed: int, *, start: str, days: int | None):
    """Bank, ledger and truth of one of the profiles other than ``retail``."""
    return _GENERATORS[profile](n, seed, start=start, days=days)
