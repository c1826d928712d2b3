"""Litigation cases: evidence sealed and signed at intake, chain of custody, timelines.

A service (it records through :mod:`nexus_lab.audit`). Its rules (``Case``,
``CaseStore``) sit on a repository module that alone holds the schema and the SQL.

A :class:`CaseStore` is a folder that holds cases and everything needed to prove,
later and from the files alone, that their evidence is what was taken in and who
handled it:

* **evidence** is sealed (post-quantum hybrid encryption) for the store's key and
  chosen recipients; its intake record (plaintext and sealed SHA-256, who, when) is
  canonical JSON signed by the store's key, beside the sealed file;
* **custody** events (intake, transfer, access) are hash-chained per item, starting
  from the intake record, and each is signed;
* every action is appended to a hash-chained **audit log** (``audit.db``) whose
  checkpoints the store's key signs after each action;
* cases move through ``open -> under_investigation -> in_litigation -> closed ->
  archived``; milestones (hearings, deadlines) and all events form a **timeline**.

:func:`verify` checks all of it from the folder. The files are plain formats: anyone
can check an item without NEXUS Lab's case code, e.g. ``sha256sum E-0001.nxs``
against the record's ``sealed_sha256`` and ``nx.crypto.verify("E-0001.json",
Path("E-0001.sig").read_bytes(), store_public_key)``.

The workbench keeps its cases in one case store (:func:`workbench_store`, signed by its
evidence-room key) and lists them in the system of record's ``cases`` table:
:func:`store_cases`, :func:`case_detail` and :func:`verify_case` read them as the current
user (``case.read``); :func:`nexus_lab.workflows.change_case_status` moves one along.

Examples
--------
>>> import tempfile
>>> from nexus_lab import cases
>>> from nexus_lab.crypto import generate_keypair
>>> room, prosecutor = generate_keypair("evidence-room"), generate_keypair("prosecutor")
>>> store = cases.CaseStore(tempfile.mkdtemp() + "/store", room, create=True)
>>> case = store.new_case("Vendor kickbacks", number="2025-FR-001", actor="examiner")
>>> item = case.add_evidence(b"%PDF-1.7 invoice 4471", name="invoice-4471.pdf",
...                          description="invoice seized at vendor", actor="examiner",
...                          recipients=[prosecutor.public])
>>> _ = case.transfer(item.evidence_id, to="prosecutor", actor="examiner",
...                   reason="charging decision")
>>> case.open_evidence("E-0001", prosecutor, actor="prosecutor", purpose="review")
b'%PDF-1.7 invoice 4471'
>>> print(cases.verify(store.folder, public=room.public))  # doctest: +ELLIPSIS
case store intact: 1 cases, 1 evidence items, 3 custody events, ... audit entries; ...
"""

from nexus_lab.cases._case import Case, EvidenceItem
from nexus_lab.cases._records import STATUSES, TRANSITIONS
from nexus_lab.cases._store import CaseStore
from nexus_lab.cases._verify import VerifyReport, verify
from nexus_lab.cases._workbench import case_detail, store_cases, verify_case, workbench_store

__all__ = [
    "STATUSES",
    "TRANSITIONS",
    "Case",
    "CaseStore",
    "EvidenceItem",
    "VerifyReport",
    "case_detail",
    "store_cases",
    "verify",
    "verify_case",
    "workbench_store",
]
