"""Fraud triage's way out, a flag escalated into a case with its rows as evidence, and the
case moved along: the changes that touch both the store and the case store."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pandas as pd

from nexus_lab import audit, auth, cases, review
from nexus_lab.errors import NexusError
from nexus_lab.files import spreadsheet_safe
from nexus_lab.frames import cents_text
from nexus_lab.store import Store, connect

__all__ = ["change_case_status", "escalate_to_case"]

log = logging.getLogger("nexus_lab")

_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,60}$")


def escalate_to_case(score_id: int, note: str, *, case_id: str | None = None,
                     title: str | None = None, store: Store | str | None = None) -> dict:
    """Escalate a fraud flag into a case: the flagged row and its account's and vendor's
    history are taken in as sealed evidence, and the flag is marked escalated into it.

    Needs ``fraud.review`` (and ``financial.read``, to read the rows), not
    ``case.write``: escalating is how an examiner's review of a flag ends, and the
    examiner holds ``fraud.review`` but not ``case.write`` (no role holds both; asking
    for both would leave no one able to escalate). What the examiner does to the case is
    bounded: open it (status ``open``) or add to an active one, and take in the rows as
    evidence, sealed and signed on intake and recorded as theirs; moving the case along
    its lifecycle stays with ``case.write`` (:func:`change_case_status`).

    Parameters
    ----------
    score_id : int
        ``fraud_scores.id`` of a row open for review.
    note : str
        Why it is escalated (required); the new case's description.
    case_id : str, optional
        Add to this case (one of the store's, or of the case store) instead of opening
        a new one.
    title : str, optional
        The new case's title (default: the transaction, its vendor and its risk).
    store : Store or str, optional

    Returns
    -------
    dict
        ``case_id, created`` (whether the case was opened now), ``evidence`` (the ids
        taken in now), ``score_id, transaction_id, review_state, reviewed_by, path`` (the
        case store's folder) and ``repeated`` (True when the flag was escalated into
        this case already: nothing was done again).

    Raises
    ------
    PermissionDenied
        The user may not review fraud flags (a judge, a prosecutor...).
    NexusError
        An empty note, an unknown score or case, a flag cleared already or escalated into
        another case, a closed case, or no ``NEXUS_LAB_KEY_PASSWORD`` for the
        evidence-room key.

    Notes
    -----
    The case store is a folder of files, the store a database: they cannot commit
    together. So the store's unit of work is opened first (holding back another
    escalation of the same flag until it ends), the case store is written inside it, and
    the store's part (the ``cases`` row and the escalated flag, with their audit
    records) commits last, all or nothing. A failure before that commit leaves no
    ``cases`` row and no escalated flag; at worst the case store holds the case and its
    evidence already, and a retry finds them: a new case's number comes from the
    transaction (``FR-<transaction id>``), evidence is named after the score, and what
    is there already is not taken in again.

    Examples
    --------
    >>> import os, tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import review, workflows
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> os.environ.update(NEXUS_LAB_KEY_PASSWORD="room password",
    ...                   NEXUS_LAB_CASES=str(folder / "cases"),
    ...                   NEXUS_LAB_CASES_KEY=str(folder / "room.nxkey"))
    >>> store = nx.store.connect(folder / "books.db"); _ = store.migrate()
    >>> tx = nx.datasets.synth_transactions(600, seed=1, days=30).drop(
    ...     columns=["pattern", "is_fraud"])
    >>> det = nx.fraud.FraudDetector(device="cpu", random_state=0).fit(tx)
    >>> run = workflows.save_fraud_scores(det.score(tx), tx, store=store)
    >>> top = review.fraud_queue_page(run, limit=1, store=store)[0].iloc[0]
    >>> done = workflows.escalate_to_case(int(top["id"]), "structuring pattern",
    ...                                   store=store)
    >>> done["case_id"] == f"FR-{top['transaction_id']}", done["evidence"]
    (True, ['E-0001', 'E-0002'])
    >>> nx.cases.verify_case(done["case_id"], store=store)["verdict"]
    'PASS'
    >>> for name in ("NEXUS_LAB_KEY_PASSWORD", "NEXUS_LAB_CASES", "NEXUS_LAB_CASES_KEY"):
    ...     del os.environ[name]
    """
    from nexus_lab import config

    s = connect(store)
    who = auth.require("fraud.review", store=s, resource=f"fraud_scores/{score_id}")
    if not isinstance(note, str) or not note.strip():
        raise NexusError("say why the flag is escalated (note='...'): it is the case's "
                         "first account of the matter")
    score = review.fraud_score(score_id, store=s)
    history = review.fraud_history(score_id, store=s)
    with s.transaction():  # the store's unit of work, which holds other escalations back
        # (SQLite: its write lock, taken at the start; PostgreSQL: the flag's row lock)
        now = s.query("select review_state, case_id, reviewed_by, review_note from "
                      "fraud_scores where id = :i"
                      + (" for update" if s.dialect == "postgresql" else ""),
                      {"i": int(score_id)}).iloc[0]
        if now["review_state"] == "escalated":
            if case_id is None or case_id == now["case_id"]:
                return _result(score, now["case_id"], False, [], None, repeated=True,
                               reviewed_by=now["reviewed_by"])
            raise NexusError(f"fraud score {score_id} was escalated already, into case "
                             f"{now['case_id']} by {now['reviewed_by']}")
        if now["review_state"] == "cleared":
            raise NexusError(f"fraud score {score_id} was cleared by {now['reviewed_by']} "
                             f"({now['review_note']}): it cannot be escalated")
        number = case_id or _number(score)
        listed = _listed_case(s, number, given=case_id is not None)
        folder = Path(listed["path"]) if listed is not None and listed["path"] else \
            config.cases_folder()
        with cases.workbench_store(folder, writable=True, create=True) as room:
            created, held = _case(room, number, case_id, title, score, note, who)
            taken = _take_in(room.case(number), score, history, note, who)
            case_title = room.case(number).title
        facts = {"score_id": int(score_id), "transaction_id": score["transaction_id"],
                 "evidence": taken, "path": str(folder), "note": note}
        with audit.change(s, "case.opened" if listed is None else "case.evidence_added",
                          f"cases/{number}", facts, actor=who, resource_type="case"):
            if listed is None:
                s.execute("insert into cases (case_id, title, status, path, created_by) "
                          "values (:c, :t, :st, :p, :w)",
                          {"c": number, "t": case_title, "st": held, "p": str(folder),
                           "w": who})
            else:
                s.execute("update cases set updated_at = CURRENT_TIMESTAMP where case_id = :c",
                          {"c": number})
        review.escalate_flag(score_id, note, case_id=number, store=s)
    log.info("fraud score %s escalated into case %s by %s (%s)", score_id, number, who,
             "new" if created else "existing")
    return _result(score, number, created, taken, folder, reviewed_by=who)


def _result(score: dict, number: str, created: bool, taken: list[str], folder: Path | None,
            *, repeated: bool = False, reviewed_by: str | None = None) -> dict:
    return {"case_id": number, "created": created, "evidence": taken,
            "score_id": int(score["id"]), "transaction_id": score["transaction_id"],
            "review_state": "escalated", "reviewed_by": reviewed_by or score["reviewed_by"],
            "path": None if folder is None else str(folder), "repeated": repeated}


def _listed_case(s: Store, number: str, *, given: bool) -> pd.Series | None:
    """The store's row of case ``number``, or None. A ``given`` case must be the store's
    or the case store's (NexusError naming the store's cases when it is neither)."""
    from nexus_lab import config

    found = s.query("select case_id, path from cases where case_id = :c", {"c": number})
    if len(found) or not given:
        return found.iloc[0] if len(found) else None
    room = config.cases_folder()
    if (room / "cases.db").is_file():
        with cases.workbench_store(room) as held:
            if number in set(held.cases()["number"]):
                return None
    known = s.query("select case_id from cases order by created_at desc")["case_id"]
    raise NexusError(f"no case {number!r} in the store at {s.where} or in the case store "
                     f"{str(room)!r}; the store's cases: {known.tolist()[:10] or 'none yet'} "
                     "(leave case_id out to open a new case)")


def _number(score: dict) -> str:
    """The case number a flag opens: ``FR-<transaction id>`` (the same on a retry)."""
    tid = str(score["transaction_id"])
    return f"FR-{tid}" if _NUMBER.match(tid) else f"FR-S{int(score['id'])}"


def _case(room: Any, number: str, case_id: str | None, title: str | None, score: dict,
          note: str, who: str) -> tuple[bool, str]:
    """Open the case unless the case store holds it already; ``(opened now, status)``."""
    if number in set(room.cases()["number"]):
        return False, room.case(number).status
    if case_id is not None:  # the store lists it, the case store does not
        raise NexusError(f"case {case_id} is in the store's list but not in its case store "
                         f"{str(room.folder)!r}: the case store was moved or replaced")
    vendor = score.get("vendor") or score.get("account") or "unknown payee"
    title = title or (f"Flagged payment {score['transaction_id']} to {vendor} "
                      f"(risk {float(score['risk_score']):.0f})")
    room.new_case(title, number=number, description=note, actor=who)
    return True, "open"


def _take_in(case: Any, score: dict, history: pd.DataFrame, note: str, who: str
             ) -> list[str]:
    """Take the flagged row and its history in as evidence, unless there already."""
    sid, tid = int(score["id"]), score["transaction_id"]
    have = set(case.evidence()["name"])
    items = [
        (f"fraud-score-{sid}-flagged.csv", _flagged_csv(score),
         f"the flagged transaction {tid} as scored (risk {float(score['risk_score']):.1f}, "
         f"flags: {', '.join(score['flags']) or 'none'}) in fraud run "
         f"{str(score['run_id'])[:8]}; escalated: {note}"),
        (f"fraud-score-{sid}-history.csv", _history_csv(history),
         f"the scored transactions of account {score.get('account') or '-'} and vendor "
         f"{score.get('vendor') or '-'} within 30 days of {tid} ({len(history)} rows, the "
         "flagged one marked)"),
    ]
    taken = []
    for name, data, description in items:
        if name in have:  # taken in by an escalation that failed later: not again
            continue
        taken.append(case.add_evidence(data, name=name, description=description,
                                       actor=who).evidence_id)
    return taken


def _when(value: Any) -> str:
    return "" if value is None or pd.isna(value) else pd.Timestamp(value).isoformat()


def _flagged_csv(score: dict) -> bytes:
    parts = score.get("explanation")
    why = "" if parts is None else "; ".join(
        f"{k} {n}: {p:+.1f}" for k, n, p in parts.itertuples(index=False))
    frame = pd.DataFrame([{
        "score_id": int(score["id"]), "run_id": score["run_id"], "model": score.get("model"),
        "transaction_id": score["transaction_id"], "date": _when(score["date"]),
        "account": score["account"], "vendor": score["vendor"],
        "amount": cents_text(score["amount_cents"], grouping=False),
        "risk_score": score["risk_score"],
        "flags": "; ".join(score["flags"]), "reasons": " | ".join(score["reasons"]),
        "contributions": why, "review_state": score["review_state"]}])
    return spreadsheet_safe(frame).to_csv(index=False).encode()  # a spreadsheet runs none


def _history_csv(history: pd.DataFrame) -> bytes:
    frame = pd.DataFrame({
        "score_id": history["id"].astype("int64"), "transaction_id": history["transaction_id"],
        "date": [_when(d) for d in history["date"]], "account": history["account"],
        "vendor": history["vendor"],
        "amount": [cents_text(c, grouping=False) for c in history["amount_cents"]],
        "risk_score": history["risk_score"], "flags": ["; ".join(f) for f in history["flags"]],
        "review_state": history["review_state"], "same": history["same"],
        "flagged_row": history["this"]})
    return spreadsheet_safe(frame).to_csv(index=False).encode()  # a spreadsheet runs none


def change_case_status(case_id: str, status: str, reason: str, *,
                       store: Store | str | None = None) -> dict:
    """Move a case along its lifecycle, with the reason (``case.write``).

    The case store records the change (its status history and signed audit log) and
    the store's ``cases`` row follows, in one unit of work with the store's audit
    record; the case store's change is the last step of it, so a refusal or a failure
    before it leaves both as they were.

    Parameters
    ----------
    case_id : str
    status : str
        One that :data:`nexus_lab.cases.TRANSITIONS` allows after the case's status.
    reason : str
        Why (required).
    store : Store or str, optional

    Returns
    -------
    dict
        ``case_id, from, to, changed_by``.

    Raises
    ------
    PermissionDenied
        The user may not write cases (an examiner, a judge...).
    NexusError
        An empty reason, an unknown case, or a status that cannot follow the current one.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import auth, workflows
    >>> store = nx.store.connect(pathlib.Path(tempfile.mkdtemp()) / "books.db")
    >>> _ = store.migrate()
    >>> _ = auth.add_user("lead", role="admin", store=store)
    >>> with auth.acting_as("lead"):
    ...     _ = auth.add_user("ana", role="examiner", store=store)
    >>> with auth.acting_as("ana"):  # an examiner escalates, a prosecutor moves cases
    ...     workflows.change_case_status("FR-1", "closed", "no fraud", store=store)
    Traceback (most recent call last):
    ...
    nexus_lab.errors.PermissionDenied: ana (examiner) may not case.write: ...

    The escalation's example (:func:`escalate_to_case`) opens a case to move.
    """
    s = connect(store)
    who = auth.require("case.write", store=s, resource=f"cases/{case_id}")  # first
    if not isinstance(reason, str) or not reason.strip():
        raise NexusError("give the reason the case moves on (reason='...'): its history "
                         "records who moved it, when and why")
    detail = cases.case_detail(case_id, store=s)["case"]
    current = detail["status"]
    allowed = cases.TRANSITIONS.get(current, ())
    if status not in allowed:
        raise NexusError(f"case {case_id} is {current!r}: it can go to "
                         f"{' or '.join(map(repr, allowed)) or 'nowhere (it is final)'}, "
                         f"not {status!r}")
    with cases.workbench_store(detail["path"], writable=True) as room, \
            audit.change(s, "case.status_changed", f"cases/{case_id}",
                         {"from": current, "to": status, "reason": reason.strip()},
                         actor=who, resource_type="case"):
        s.execute("update cases set status = :st, updated_at = CURRENT_TIMESTAMP where "
                  "case_id = :c", {"st": status, "c": case_id})
        room.case(case_id).set_status(status, actor=who, note=reason.strip())
    log.info("case %s: %s -> %s by %s", case_id, current, status, who)
    return {"case_id": case_id, "from": current, "to": status, "changed_by": who}
