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
from nexus_lab.review._fraud import (
    FRAUD_ORDERS,
    REVIEW_STATES,
    fraud_history,
    fraud_queue_page,
    fraud_run_overview,
    fraud_runs,
    fraud_score,
)
from nexus_lab.review._pages import (
    ITEM_ORDERS,
    MATCH_ORDERS,
    matches_page,
    open_items_page,
    run_overview,
    runs,
)

__all__ = ["FRAUD_ORDERS", "ITEM_ORDERS", "MATCH_ORDERS", "RESOLUTIONS", "REVIEW_STATES",
           "approve_reconciliation", "approve_run", "clear_flag", "clear_fraud_flag",
           "escalate_flag", "fraud_history", "fraud_queue_page", "fraud_run_overview",
           "fraud_runs", "fraud_score", "matches_digest", "matches_page", "open_items_page",
           "resolve_open_item", "run_digest", "run_overview", "runs"]


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


# ---- reviews of what the store holds -----------------------------------------------------

RESOLUTIONS = ("linked", "timing", "written_off", "accepted")


def _store(store: Any) -> Any:
    from nexus_lab.store import connect  # the store loads SQLAlchemy: only when used

    return connect(store)


def _one(s: Any, table: str, key: str, value: Any, what: str) -> pd.Series:
    found = s.read(table, where={key: value})
    if len(found) == 0:
        raise NexusError(f"no {what} {value!r} in the store at {s.where}")
    return found.iloc[0]


def approve_run(run_id: str, *, note: str = "", store: Any = None) -> dict:
    """Approve a reconciliation kept in the store (``reconciliation.approve``).

    The run's matches are checked against the digest taken when it was saved (a match
    changed since is refused); the run is marked approved, by whom and when, in one
    unit of work with its audit record.

    Parameters
    ----------
    run_id : str
        ``reconciliation_runs.run_id`` (as :func:`nexus_lab.workflows.save_reconciliation`
        returned it).
    note : str, optional
        The approver's note.
    store : Store or str, optional

    Returns
    -------
    dict
        ``run_id, approved_by, open_items, matches_sha256``.

    Raises
    ------
    PermissionDenied
        When the current user may not approve (a judge, an auditor...).
    NexusError
        When the run is unknown, already approved, or its matches changed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import auth, review, workflows
    >>> store = nx.store.connect(pathlib.Path(tempfile.mkdtemp()) / "books.db")
    >>> _ = store.migrate()  # no roles yet: single-user
    >>> bank, ledger, _ = nx.datasets.synth_reconciliation(100, seed=0)
    >>> _ = store.ingest("bank_statements", bank), store.ingest("expenses", ledger)
    >>> with auth.acting_as("ana"):
    ...     _, run_id = workflows.reconcile_from_store(store, device="cpu")
    ...     review.approve_run(run_id, note="March", store=store)["approved_by"]
    'ana'
    """
    from nexus_lab import auth

    s = _store(store)
    who = auth.require("reconciliation.approve", store=s,
                       resource=f"reconciliation_runs/{run_id}")
    run = _one(s, "reconciliation_runs", "run_id", run_id, "reconciliation run")
    if run["status"] == "approved":
        raise NexusError(f"reconciliation run {run_id} was approved already, by "
                         f"{run['approved_by']} at {run['approved_at']}")
    digest = run_digest(run_id, store=s)
    if run["matches_sha256"] and digest != run["matches_sha256"]:
        raise NexusError(f"the matches of reconciliation run {run_id} changed since it was "
                         "saved (their digest differs); run the reconciliation again")
    still_open = int((s.read("open_items", where={"run_id": run_id, "status": "open"},
                             columns=["id"])).shape[0])
    with audit.change(s, "reconciliation.approved", f"reconciliation_runs/{run_id}",
                      {"note": note, "open_items": still_open, "matches_sha256": digest},
                      actor=who, resource_type="reconciliation_run"):
        s.execute("update reconciliation_runs set status = 'approved', approved_by = :w, "
                  "approved_at = CURRENT_TIMESTAMP, approval_note = :n where run_id = :r "
                  "and status = 'open'", {"w": who, "n": note, "r": run_id})
    return {"run_id": run_id, "approved_by": who, "open_items": still_open,
            "matches_sha256": digest}


def matches_digest(matches: pd.DataFrame) -> str:
    """SHA-256 of a run's matches as the store holds them, in a canonical order: one line
    per match, ``bank_statement_id, expense_id, group_id, confidence_score`` as text joined
    by tabs, sorted by the first three."""
    cols = ["bank_statement_id", "expense_id", "group_id", "confidence_score"]
    rows = matches[cols].sort_values(cols[:3], kind="stable").astype(str)
    if not len(rows):
        return hashlib.sha256(b"").hexdigest()
    lines = rows[cols[0]]
    for col in cols[1:]:
        lines = lines + "\t" + rows[col]
    return hashlib.sha256("\n".join(lines.tolist()).encode()).hexdigest()


def run_digest(run_id: str, *, store: Any = None) -> str:
    """:func:`matches_digest` of a run kept in the store, reading only the four columns it
    covers (a million matches in seconds, not the rows with their evidence)."""
    s = _store(store)
    return matches_digest(s.query(
        "select bank_statement_id, expense_id, group_id, confidence_score from "
        "reconciliation_matches where run_id = :r", {"r": run_id}))


def resolve_open_item(item_id: int, resolution: str, *, linked_to: str | None = None,
                      note: str = "", store: Any = None) -> dict:
    """Resolve an open item of a reconciliation (``reconciliation.resolve``).

    Parameters
    ----------
    item_id : int
        ``open_items.id``.
    resolution : {"linked", "timing", "written_off", "accepted"}
        Linked by hand to ``linked_to`` (the other side's transaction id; default: the
        engine's suggestion; when that row is an open item of the same run, it is
        resolved with this one), a timing difference, written off, or accepted as it is.
    linked_to : str, optional
    note : str, optional
    store : Store or str, optional

    Returns
    -------
    dict
        The item as resolved.
    """
    from nexus_lab import auth

    if resolution not in RESOLUTIONS:
        raise NexusError(f"unknown resolution {resolution!r}; choose one of "
                         f"{', '.join(RESOLUTIONS)}")
    s = _store(store)
    who = auth.require("reconciliation.resolve", store=s, resource=f"open_items/{item_id}")
    item = _one(s, "open_items", "id", int(item_id), "open item")
    if item["status"] != "open":
        raise NexusError(f"open item {item_id} was resolved already ({item['resolution']}, "
                         f"by {item['resolved_by']})")
    run = _one(s, "reconciliation_runs", "run_id", item["run_id"], "reconciliation run")
    if run["status"] == "approved":
        raise NexusError(f"reconciliation run {item['run_id']} is approved: its open items "
                         "are closed; reconcile the period again to change them")
    other = "ledger" if item["side"] == "bank" else "bank"
    counterpart = None
    if resolution == "linked":
        linked_to = linked_to or item["suggested"]
        if not linked_to:
            raise NexusError(f"open item {item_id} has no suggested link: give the other "
                             "side's transaction id (linked_to=...)")
        found = s.read("open_items", where={"run_id": item["run_id"], "side": other,
                                            "transaction_id": str(linked_to)})
        if len(found):
            counterpart = found.iloc[0]
            if counterpart["status"] != "open":
                raise NexusError(f"{other} transaction {linked_to} was resolved already in "
                                 f"this run ({counterpart['resolution']}, by "
                                 f"{counterpart['resolved_by']})")
        elif s.read("expenses" if other == "ledger" else "bank_statements",
                    where={"transaction_id": str(linked_to)}, columns=["transaction_id"]
                    ).empty:
            raise NexusError(f"no {other} transaction {linked_to!r} in the store; give the "
                             f"id of the {other} row this item pairs with")
    with audit.change(s, "open_item.resolved", f"open_items/{item_id}",
                      {"resolution": resolution, "linked_to": linked_to, "note": note,
                       "run_id": item["run_id"], "transaction_id": item["transaction_id"]},
                      actor=who, resource_type="open_item"):
        update = ("update open_items set status = 'resolved', resolution = :res, "
                  "linked_to = :l, note = :n, resolved_by = :w, resolved_at = "
                  "CURRENT_TIMESTAMP where id = :i and status = 'open'")
        s.execute(update, {"res": resolution, "l": linked_to, "n": note, "w": who,
                           "i": int(item_id)})
        if counterpart is not None:  # its other half is open in this run too: both close
            s.execute(update, {"res": resolution, "l": item["transaction_id"], "n": note,
                               "w": who, "i": int(counterpart["id"])})
    return {"id": int(item_id), "status": "resolved", "resolution": resolution,
            "linked_to": linked_to, "resolved_by": who,
            "also_resolved": None if counterpart is None else int(counterpart["id"])}


def _review_flag(score_id: int, state: str, note: str, case_id: str | None,
                 store: Any) -> dict:
    from nexus_lab import auth

    s = _store(store)
    # who may not review is refused (and recorded) whatever they sent
    who = auth.require("fraud.review", store=s, resource=f"fraud_scores/{score_id}")
    if not note or not str(note).strip():
        raise NexusError("say why (a justification is required to clear or escalate a flag)")
    row = _one(s, "fraud_scores", "id", int(score_id), "fraud score")
    if row["review_state"] not in ("open", "none"):
        raise NexusError(f"fraud score {score_id} was reviewed already ({row['review_state']}"
                         f", by {row['reviewed_by']})")
    action = "fraud.flag_cleared" if state == "cleared" else "fraud.flag_escalated"
    with audit.change(s, action, f"fraud_scores/{score_id}",
                      {"transaction_id": row["transaction_id"], "note": note,
                       "risk_score": float(row["risk_score"]), "case_id": case_id},
                      actor=who, resource_type="fraud_score"):
        s.execute("update fraud_scores set review_state = :st, reviewed_by = :w, reviewed_at "
                  "= CURRENT_TIMESTAMP, review_note = :n, case_id = :c where id = :i",
                  {"st": state, "w": who, "n": note, "c": case_id, "i": int(score_id)})
    return {"id": int(score_id), "review_state": state, "reviewed_by": who,
            "case_id": case_id}


def clear_flag(score_id: int, justification: str, *, store: Any = None) -> dict:
    """Clear a fraud flag kept in the store, with a justification (``fraud.review``).

    Returns
    -------
    dict
        ``id, review_state, reviewed_by, case_id``.
    """
    return _review_flag(score_id, "cleared", justification, None, store)


def escalate_flag(score_id: int, note: str, *, case_id: str | None = None,
                  store: Any = None) -> dict:
    """Escalate a fraud flag kept in the store, into ``case_id`` when given
    (``fraud.review``).

    Returns
    -------
    dict
        ``id, review_state, reviewed_by, case_id``.
    """
    return _review_flag(score_id, "escalated", note, case_id, store)
