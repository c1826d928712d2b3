"""The demo's provenance step: the run's results approved, sealed, signed and taken in
as evidence, with every action in a signed audit log anchored on a chain."""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEMO_PASSWORD = "nexus-demo"  # the demo's keys are samples, and the demo says so


@contextlib.contextmanager
def demo_trail() -> Iterator[Any]:
    """An examiner's key and a signed audit log, current while the demo runs.

    The log lives in a temporary folder until :func:`demo_provenance` copies it into
    the outputs, so a failed demo leaves nothing behind.
    """
    from nexus_lab import audit
    from nexus_lab.crypto import AuditLog, generate_keypair

    examiner = generate_keypair("examiner (demo)")
    with tempfile.TemporaryDirectory(prefix="nexus-demo-audit-") as tmp:
        log = AuditLog(Path(tmp) / "audit.db", signer=examiner)
        try:
            with audit.using(log):
                yield log
        finally:
            log.close()


def demo_provenance(out: Path, trail: Any, kept: dict[str, Any]) -> dict[str, Any]:
    """Approve, clear, seal, sign, take in as evidence, checkpoint, anchor, verify.

    ``kept`` holds the reconciliation ``result`` and the fraud step's ``scored`` rows.
    Returns the facts to show: the folder, the audit log's entries per action, the
    batch signature, the anchor receipt and both verification reports.
    """
    import dataclasses

    import pandas as pd

    from nexus_lab import cases, crypto, review
    from nexus_lab.files import atomic_dir, write_json

    examiner = trail.signer
    prosecutor, judge = (crypto.generate_keypair(f"{who} (demo)") for who in
                         ("prosecutor", "judge"))
    actor = "examiner"
    review.approve_reconciliation(kept["result"], actor=actor, reference="sample period",
                                  note="demo: matches reviewed")
    scored = pd.DataFrame(kept["scored"])
    flagged = scored[scored["flags"].map(len) > 0].sort_values("risk_score", ascending=False)
    cleared_id = flagged["transaction_id"].iloc[-1]  # the weakest flag: a reviewer clears it
    review.clear_fraud_flag(scored, cleared_id, reason="demo: receipt on file", actor=actor)
    evidence = flagged[flagged["transaction_id"] != cleared_id].head(50)

    with atomic_dir(out / "provenance") as tmp:
        store = cases.CaseStore(tmp / "cases", examiner, create=True)
        case = store.new_case("Sample examination: flagged payments", number="DEMO-1",
                              actor=actor, description="the demo's fraud flags and report")
        flags = case.add_evidence(evidence, name="flagged-transactions.parquet", actor=actor,
                                  description=f"the {len(evidence)} riskiest flagged rows",
                                  recipients=[prosecutor.public, judge.public])
        report = out / "report.html"
        case.add_evidence(report, name="reconciliation-report.html", actor=actor,
                          description="the reconciliation report",
                          recipients=[prosecutor.public, judge.public])
        case.transfer(flags.evidence_id, to="prosecutor", actor=actor,
                      reason="charging decision")
        case.open_evidence(flags.evidence_id, prosecutor, actor="prosecutor",
                                    purpose="review")
        case.add_milestone("hearing", due=pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=30),
                           actor=actor)
        store.close()

        sig = crypto.sign(report, examiner)
        (tmp / "report.html.sig").write_bytes(sig.to_bytes())
        records = [json.dumps(r, sort_keys=True, default=str).encode()
                   for r in scored.drop(columns=["reasons"]).to_dict("records")]
        batch = crypto.sign_batch(records, examiner)
        crypto.verify_batch(records, batch, examiner.public)
        crypto.verify(records[7], batch.record(7), examiner.public)
        (tmp / "scored.batchsig").write_bytes(batch.to_bytes())

        receipt = trail.anchor()
        report_ok = trail.verify(examiner.public, anchors=True)
        check = cases.verify(tmp / "cases", public=examiner.public)
        trail.backup(tmp / "audit.db")  # a consistent copy of the live log
        # the live log's witness lives in a folder removed when the demo ends: name the
        # copy's, kept beside out/provenance/audit.db, which holds the same signed heads
        live = f"{trail.path}.witness"
        kept_witness = str(out / "provenance" / "audit.db.witness")
        report_ok = dataclasses.replace(report_ok, witnesses=[
            kept_witness if w == live else w for w in report_ok.witnesses])
        for kp in (examiner, prosecutor, judge):
            name = kp.label.split(" ")[0]
            kp.public.save(tmp / "keys" / f"{name}.nxpub")
            kp.save(tmp / "keys" / f"{name}.nxkey", password=DEMO_PASSWORD)
        write_json(receipt.to_dict(), tmp / "anchor.json")
        write_json({
            "audit": report_ok.summary(), "anchor": receipt.to_dict(),
            "cases": check.summary(), "batch": {"records": batch.count,
                                                "root": batch.root.hex()},
        }, tmp / "summary.json")

    return {
        "folder": out / "provenance", "password": DEMO_PASSWORD,
        "examiner": examiner.public.fingerprint_hex, "entries": len(trail),
        "actions": trail.entries()["action"].value_counts().to_dict(),
        "evidence_rows": len(evidence), "batch": batch, "receipt": receipt,
        "audit": report_ok, "cases": check,
    }

