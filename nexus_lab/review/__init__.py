"""Review decisions on kernel results, each recorded in the audit trail.

A service.

An examiner approves a reconciliation or clears a fraud flag; the decision, who
made it, and a SHA-256 of exactly what was decided on are appended to the audit log
(:mod:`nexus_lab.audit`), so a later reader can tell which matches were approved and
whether they changed since.

Examples
--------
>>> import nexus_lab as nx, tempfile, pathlib
>>> from nexus_lab import audit, review
>>> bank, ledger, _ = nx.data.synth_reconciliation(200, seed=0)
>>> res = nx.reconcile(bank, ledger)
>>> log = nx.crypto.AuditLog(pathlib.Path(tempfile.mkdtemp()) / "audit.db")
>>> with audit.using(log):
...     approval = review.approve_reconciliation(res, actor="examiner", note="period 11")
>>> log.entries()["action"].tolist()
['reconciliation.approved']
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd

from nexus_lab import audit
from nexus_lab.errors import NexusError
from nexus_lab.frames import frame_bytes

__all__ = ["approve_reconciliation", "clear_fraud_flag"]


def approve_reconciliation(result: Any, *, actor: str | None = None, note: str = "",
                           reference: str = "reconciliation", audit_log: Any = None) -> dict:
    """Approve a reconciliation and record it.

    Parameters
    ----------
    result : ReconcileResult
        From :func:`nexus_lab.reconcile`.
    actor : str, optional
        Who approves (default: ``NEXUS_LAB_ACTOR`` or the login name).
    note : str, optional
        The approver's note.
    reference : str, default "reconciliation"
        What is approved (a period, an account), the audit entry's resource.
    audit_log : AuditLog, optional
        Where to record (default: the current audit log).

    Returns
    -------
    dict
        The approval: ``actor``, ``reference``, ``note``, the result's summary, the
        SHA-256 of the matches table's canonical bytes
        (:func:`nexus_lab.frames.frame_bytes`, ``matches_sha256``) and the audit entry
        number.
    """
    if not hasattr(result, "matches") or not hasattr(result, "summary"):
        raise NexusError(f"approve_reconciliation takes a ReconcileResult (from "
                         f"nx.reconcile), got {type(result).__name__}")
    summary = {k: (None if isinstance(v, float) and v != v else v)
               for k, v in result.summary().items()}
    facts = {"note": note, "summary": summary,
             "matches_sha256": hashlib.sha256(frame_bytes(result.matches)).hexdigest()}
    entry = audit.record("reconciliation.approved", reference, facts, actor=actor,
                         audit=audit_log)
    return {"actor": audit.actor(actor), "reference": reference, **facts,
            "audit_entry": None if entry is None else entry.seq}


def clear_fraud_flag(scored: pd.DataFrame, transaction_id: Any, *, reason: str,
                     actor: str | None = None, audit_log: Any = None) -> pd.DataFrame:
    """Clear the flags of one scored transaction after review, and record it.

    Parameters
    ----------
    scored : DataFrame
        From :meth:`FraudDetector.score` (``transaction_id``, ``flags``, ``risk_score``).
    transaction_id
        The transaction reviewed.
    reason : str
        Why the flags are cleared (required: a reviewer must say why).
    actor, audit_log
        As in :func:`approve_reconciliation`.

    Returns
    -------
    DataFrame
        A copy of ``scored`` where that row's ``flags`` are empty and ``cleared_by`` /
        ``cleared_reason`` say who cleared it and why (empty for other rows).
    """
    for col in ("transaction_id", "flags", "risk_score"):
        if col not in scored.columns:
            raise NexusError(f"scored has no {col!r} column: pass the frame returned by "
                             "FraudDetector.score")
    if not reason or not str(reason).strip():
        raise NexusError("give the reason the flags are cleared (reason='...')")
    hit = (scored["transaction_id"] == transaction_id).to_numpy()
    if not hit.any():
        raise NexusError(f"transaction {transaction_id!r} is not in the scored table")
    out = pd.DataFrame(scored).copy()
    pos = int(np.flatnonzero(hit)[0])
    flags = list(out["flags"])
    before = [str(f) for f in flags[pos]]
    flags[pos] = []
    who = audit.actor(actor)
    by = out["cleared_by"].astype(object).to_numpy().copy() if "cleared_by" in out \
        else np.full(len(out), "", dtype=object)
    why = out["cleared_reason"].astype(object).to_numpy().copy() if "cleared_reason" in out \
        else np.full(len(out), "", dtype=object)
    by[pos], why[pos] = who, str(reason)
    out["flags"] = pd.Series(flags, index=out.index, dtype=out["flags"].dtype)
    out["cleared_by"], out["cleared_reason"] = by, why
    row = out.index[pos]
    audit.record("fraud.flag_cleared", f"transaction/{transaction_id}",
                 {"flags": before, "risk_score": float(out.at[row, "risk_score"]),
                  "reason": str(reason)}, actor=who, audit=audit_log)
    return out
