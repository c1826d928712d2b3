"""The workbench's cases: the store's ``cases`` rows and the case store that holds them.

The system of record lists the cases (``cases``: ``case_id, title, status, path,
created_by``); each one's evidence, custody and history live in the case store at
``path`` (by default :func:`nexus_lab.config.cases_folder`, signed by the workbench's
evidence-room key, :func:`nexus_lab.config.cases_key`). These functions read and change
them as the current user (``case.read``); the changes that touch both, such as moving a
case along its lifecycle, are workflows (:func:`nexus_lab.workflows.change_case_status`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from nexus_lab import audit, config
from nexus_lab.cases._records import TRANSITIONS
from nexus_lab.cases._store import CaseStore
from nexus_lab.cases._verify import verify
from nexus_lab.errors import NexusError

__all__ = ["case_detail", "store_cases", "verify_case", "workbench_store"]

log = logging.getLogger("nexus_lab")

#: The label of the workbench's evidence-room key.
ROOM = "evidence-room"


def _connect(store: Any) -> Any:
    from nexus_lab.store import connect  # the store loads SQLAlchemy: only when used

    return connect(store)


def _require(permission: str, s: Any, resource: str) -> str:
    from nexus_lab import auth

    return auth.require(permission, store=s, resource=resource)


def workbench_store(folder: str | Path | None = None, *, writable: bool = False,
                    create: bool = False) -> CaseStore:
    """The workbench's case store (no permission is checked here: the functions that
    use it check theirs).

    Parameters
    ----------
    folder : str or path-like, optional
        Default :func:`nexus_lab.config.cases_folder`.
    writable : bool, default False
        Open it with the evidence-room key (:func:`nexus_lab.audit.workbench_keypair`
        of :func:`nexus_lab.config.cases_key`, read with ``NEXUS_LAB_KEY_PASSWORD``), to
        change it; else read-only.
    create : bool, default False
        Make the store (and the key, on first use) when the folder holds none.

    Returns
    -------
    CaseStore
        Close it when done.

    Examples
    --------
    >>> import os, tempfile, pathlib
    >>> from nexus_lab import cases
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> os.environ.update(NEXUS_LAB_KEY_PASSWORD="room password",
    ...                   NEXUS_LAB_CASES_KEY=str(folder / "room.nxkey"))
    >>> with cases.workbench_store(folder / "cases", writable=True, create=True) as room:
    ...     room.summary()["signer"]
    'evidence-room'
    >>> for name in ("NEXUS_LAB_KEY_PASSWORD", "NEXUS_LAB_CASES_KEY"):
    ...     del os.environ[name]
    """
    where = Path(folder) if folder is not None else config.cases_folder()
    if not writable:
        if not (where / "cases.db").is_file():
            raise NexusError(f"no case store in {str(where)!r} yet: it is made when the "
                             "first flag is escalated into a case (or set NEXUS_LAB_CASES to "
                             "the case store's folder)")
        return CaseStore(where)
    key = audit.workbench_keypair(config.cases_key(), ROOM, create=create)
    return CaseStore(where, key, create=create)


def _pinned() -> Any:
    """The evidence-room key's public half, to check signatures against (None when the
    key file is not here: the bundles in the store's ``keys/`` are used then)."""
    from nexus_lab.crypto import PublicKey

    path = config.cases_key()
    return PublicKey.load(path) if path.is_file() else None


def _rows(s: Any, case_id: str | None = None) -> pd.DataFrame:
    rows = s.read("cases", where=None if case_id is None else {"case_id": case_id},
                  columns=["case_id", "title", "status", "path", "created_by", "created_at",
                           "updated_at"])
    for col in ("created_at", "updated_at"):  # the store's times are UTC
        rows[col] = pd.to_datetime(rows[col]).dt.tz_localize("UTC")
    return rows


def _row(s: Any, case_id: str) -> pd.Series:
    found = _rows(s, case_id)
    if found.empty:
        known = _rows(s)["case_id"].tolist()[:10]
        raise NexusError(f"no case {case_id!r} in the store at {s.where}; its cases: "
                         f"{known or 'none yet'}")
    return found.iloc[0]


def _folder(row: pd.Series) -> Path:
    return Path(row["path"]) if isinstance(row["path"], str) and row["path"] else \
        config.cases_folder()


def store_cases(*, store: Any = None) -> pd.DataFrame:
    """The store's cases with what their case store says of them (``case.read``).

    Returns
    -------
    pandas.DataFrame
        ``case_id, title, status`` (the case store's, else the row's), ``evidence,
        custody_events, milestones_open, last_activity`` (UTC), ``created_by,
        created_at, path, found`` (whether the case store holds the case), the latest
        activity first.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import cases
    >>> store = nx.store.connect(pathlib.Path(tempfile.mkdtemp()) / "books.db")
    >>> _ = store.migrate()  # no roles yet: single-user
    >>> cases.store_cases(store=store).columns.tolist()[:4]
    ['case_id', 'title', 'status', 'evidence']
    """
    s = _connect(store)
    _require("case.read", s, "cases")
    rows = _rows(s)
    facts: dict[str, pd.DataFrame] = {}
    for folder in {str(_folder(r)) for _, r in rows.iterrows()}:
        if (Path(folder) / "cases.db").is_file():
            with CaseStore(folder) as room:
                facts[folder] = room.cases().set_index("number")
    out = []
    for _, r in rows.iterrows():
        known = facts.get(str(_folder(r)))
        got = known.loc[r["case_id"]] if known is not None and r["case_id"] in known.index \
            else None
        times = [t for t in (r["created_at"], r["updated_at"],
                             None if got is None else got["updated_at"]) if pd.notna(t)]
        out.append({
            "case_id": r["case_id"], "title": r["title"],
            "status": r["status"] if got is None else got["status"],
            "evidence": 0 if got is None else int(got["evidence"]),
            "custody_events": 0 if got is None else int(got["custody_events"]),
            "milestones_open": 0 if got is None else int(got["milestones_open"]),
            "last_activity": max(times) if times else pd.NaT,
            "created_by": r["created_by"], "created_at": r["created_at"],
            "path": str(_folder(r)), "found": got is not None})
    frame = pd.DataFrame(out, columns=["case_id", "title", "status", "evidence",
                                       "custody_events", "milestones_open", "last_activity",
                                       "created_by", "created_at", "path", "found"])
    frame["last_activity"] = pd.to_datetime(frame["last_activity"], utc=True)
    return frame.sort_values(["last_activity", "case_id"], ascending=[False, True],
                             kind="stable").reset_index(drop=True)


def case_detail(case_id: str, *, store: Any = None) -> dict:
    """One case as its case store holds it (``case.read``).

    Returns
    -------
    dict
        ``case`` (:meth:`Case.summary`, with the store row's ``created_by`` and
        ``path``), ``timeline`` (:meth:`Case.timeline`), ``evidence``
        (:meth:`Case.evidence`), ``custody`` (:meth:`Case.custody` of every item: who,
        when, what, each event's hash chained to the one before), ``milestones``, and
        ``next_statuses`` (where :data:`TRANSITIONS` lets it go next).

    Raises
    ------
    NexusError
        No such case in the store, or its case store does not hold it.
    """
    s = _connect(store)
    _require("case.read", s, f"cases/{case_id}")
    row = _row(s, case_id)
    with workbench_store(_folder(row)) as room:
        case = room.case(case_id)
        summary = case.summary()
        detail = {"case": {**summary, "created_by": row["created_by"],
                           "path": str(_folder(row))},
                  "timeline": case.timeline(), "evidence": case.evidence(),
                  "custody": case.custody(), "milestones": case.milestones(),
                  "next_statuses": TRANSITIONS[summary["status"]]}
    return detail


def verify_case(case_id: str, *, store: Any = None) -> dict:
    """Check a case's evidence, custody chains and its store's audit log from the files
    (:func:`nexus_lab.cases.verify`), against the evidence-room key when it is here
    (``case.read``). The check and its outcome are recorded in the audit trail.

    Returns
    -------
    dict
        ``ok``, ``verdict`` (``"PASS"`` or ``"FAIL"``), ``first_problem`` (the first
        broken link, naming the case, the item and what failed; None when it passes),
        ``problems`` (all of them), ``summary`` (:meth:`VerifyReport.summary`), ``items``
        (the per-item table), ``pinned`` (whether the signer was checked against the
        workbench's key rather than the store's own bundles).
    """
    s = _connect(store)
    who = _require("case.read", s, f"cases/{case_id}")
    row = _row(s, case_id)
    folder = _folder(row)
    if not (folder / "cases.db").is_file():
        raise NexusError(f"case {case_id}'s case store {str(folder)!r} is missing: it was "
                         "moved or deleted; point the case's path at it")
    report = verify(folder, public=_pinned(), strict=False, cases=[case_id])
    problems = list(report.problems)
    if report.cases == 0:
        problems.insert(0, f"case {case_id}: the case store {str(folder)!r} does not hold it")
    ok = not problems
    audit.record("case.verified", f"cases/{case_id}",
                 {"ok": ok, "problems": len(problems),
                  "first_problem": problems[0] if problems else None,
                  "evidence": len(report.items)},
                 actor=who, store=s, resource_type="case")
    return {"ok": ok, "verdict": "PASS" if ok else "FAIL",
            "first_problem": problems[0] if problems else None, "problems": problems,
            "summary": report.summary(), "items": report.to_frame(), "pinned": report.pinned}
