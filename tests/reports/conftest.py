"""A store filled with real kernel output for the signed reports: three monthly
reconciliations with resolutions and an approval, a fraud run with reviews, two cases
(one intact, one with a broken seal), users of every role, and a signed audit log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab import audit, auth, review, workflows

SCRIPT = '<script>alert("x")</script>'
HOSTILE = ['=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3", "@SUM(A1:A9)",
           "\tcmd", "\rcmd"]
PERSON = "Jane Q. Doe"
IBAN = "DE89370400440532013000"
CARD = "WIRE TO 4111 1111 1111 1234"
USERS = {"lead": "admin", "ana": "examiner", "jo": "judge", "pat": "prosecutor",
         "eve": "executive", "aud": "auditor", "cora": "compliance_officer"}


def _month(frame: pd.DataFrame, month: str) -> pd.DataFrame:
    return frame[frame["date"].dt.strftime("%Y-%m") == month].reset_index(drop=True)


def _fill(folder: Path) -> dict:
    s = nx.store.connect(folder / "books.db")
    s.migrate()
    with auth.acting_as("lead"):
        for user, role in USERS.items():
            auth.add_user(user, role=role, display_name=user.title(), store=s)
    bank, ledger, _ = nx.datasets.synth_reconciliation(300, seed=3)
    extra_bank = pd.DataFrame({"transaction_id": ["B-X1"], "date": [pd.Timestamp("2025-11-20")],
                               "amount": [-98765.43], "description": [CARD],
                               "account": ["CHK-0001"], "reference": [None]})
    extra_ledger = pd.DataFrame({"transaction_id": ["L-X1"],
                                 "date": [pd.Timestamp("2025-11-12")], "amount": [-4321.09],
                                 "description": [SCRIPT], "category": ["office"],
                                 "vendor": [PERSON], "account": ["1000-Cash"],
                                 "reference": [None]})
    bank = pd.concat([bank, extra_bank], ignore_index=True)
    ledger = pd.concat([ledger, extra_ledger], ignore_index=True)
    runs = {}
    with auth.acting_as("ana"):
        for month, account in (("2025-09", "CHK-00012345"), ("2025-10", "CHK-00012345"),
                               ("2025-11", IBAN)):
            res = nx.reconcile(_month(bank, month), _month(ledger, month), device="cpu")
            first = pd.Timestamp(month + "-01")
            runs[month] = workflows.save_reconciliation(
                res, store=s, account=account, start=first,
                end=first + pd.offsets.MonthEnd(0))
        items = s.read("open_items", where={"run_id": runs["2025-10"]}, order_by="id")
        review.resolve_open_item(int(items["id"].iloc[0]), "timing",
                                 note=f"posts in November, see {SCRIPT}", store=s)
        review.approve_run(runs["2025-10"], note="October closed", store=s)

        tx = nx.datasets.synth_transactions(900, seed=1)
        tx["date"] = tx["date"] + pd.DateOffset(months=5)  # June to November 2025
        hostile = tx.index[-len(HOSTILE) - 1:]
        tx.loc[hostile, "vendor"] = [*HOSTILE, PERSON]
        tx.loc[hostile, "amount"] = 25000.0 + np.arange(len(hostile)) * 1000
        tx.loc[hostile, "account"] = IBAN
        scored = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1,
                                        random_state=0).fit(tx).score(tx)
        fraud_run = workflows.save_fraud_scores(scored, tx, store=s, model="test-model")
        # the store's bulk path trims leading blanks: write a tab and a carriage return
        # first, as another program writing to the store could
        for vendor in ("\tcmd", "\rcmd"):
            s.execute("update fraud_scores set vendor = :v where id = (select min(id) from "
                      "fraud_scores where vendor = 'cmd' and run_id = :r)",
                      {"v": vendor, "r": fraud_run})
        flagged = s.read("fraud_scores", where={"review_state": "open"}, order_by="-risk_score")
        review.clear_flag(int(flagged["id"].iloc[-1]), "known supplier, contract on file",
                          store=s)
        review.escalate_flag(int(flagged["id"].iloc[0]), f"pattern of {PERSON}",
                             case_id="C-2025-0001", store=s)

    room_key = nx.crypto.generate_keypair("evidence-room")
    prosecutor = nx.crypto.generate_keypair("prosecutor")
    cases = {}
    for number, title, broken in (("C-2025-0001", f"Kickbacks paid to {PERSON}", False),
                                  ("C-2025-0002", "Ghost payroll", True)):
        room = nx.cases.CaseStore(folder / f"room-{number}", room_key, create=True)
        case = room.new_case(title, number=number, actor="ana")
        item = case.add_evidence(b"%PDF-1.7 invoice 4471", name="invoice-4471.pdf",
                                 description=f"invoice seized; {SCRIPT}", actor="ana",
                                 recipients=[prosecutor.public])
        case.transfer(item.evidence_id, to="pat", actor="ana", reason="charging decision")
        case.set_status("under_investigation", actor="ana", note="evidence in")
        room.close()
        if broken:
            sealed = folder / f"room-{number}" / "evidence" / number / "E-0001.nxs"
            blob = bytearray(sealed.read_bytes())
            blob[-1] ^= 1
            sealed.write_bytes(bytes(blob))
        s.execute("insert into cases (case_id, title, status, path, created_by, created_at) "
                  "values (:c, :t, 'under_investigation', :p, 'ana', '2025-11-03 10:00:00')",
                  {"c": number, "t": title, "p": str(folder / f"room-{number}")})
        cases[number] = folder / f"room-{number}"
    with auth.acting_as("jo"):  # a refusal in the audit trail
        try:
            review.approve_run(runs["2025-11"], store=s)
        except nx.errors.PermissionDenied:
            pass
    return {"store": s, "runs": runs, "fraud_run": fraud_run, "cases": cases}


@pytest.fixture(scope="package")
def books(tmp_path_factory):
    """The filled store, its audit log and a workbench key; shared, so tests only add."""
    folder = tmp_path_factory.mktemp("reports-books")
    log = nx.crypto.AuditLog(folder / "audit.db")
    with audit.using(log):
        filled = _fill(folder)
    filled.update(log=log, key=nx.crypto.generate_keypair("workbench"), folder=folder)
    yield filled
    filled["store"].close()
    log.close()
