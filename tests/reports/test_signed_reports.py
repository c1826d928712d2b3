"""Signed reports as their readers get them: each kind for its roles, masked and escaped,
in every format, signed, recorded, and refused to whoever may not read it."""

from __future__ import annotations

import csv
import io
import sqlite3
import zipfile
from pathlib import Path

import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab import audit, auth
from nexus_lab.errors import NexusError, PermissionDenied
from nexus_lab.reports import MASKING, REPORT_KINDS, SignedReport, make_report
from tests.reports.conftest import CARD, HOSTILE, IBAN, PERSON, SCRIPT, USERS

AS = {role: user for user, role in USERS.items()}


def _make(books, kind, role, tmp_path, *, fmt="html", log=True, **kwargs) -> SignedReport:
    with audit.using(books["log"]) if log else _nothing(), auth.acting_as(AS[role]):
        return make_report(kind, role=role, store=books["store"], fmt=fmt,
                           out=tmp_path / "reports", key=books["key"], **kwargs)


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _text(report: SignedReport) -> str:
    return report.path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("kind", "role", "sections", "extra"), [
    ("reconciliation", "examiner", ["runs", "by_reason", "by_age", "largest", "resolutions",
                                    "approvals"], {}),
    ("reconciliation", "compliance_officer", ["runs", "by_reason", "by_age", "largest",
                                              "resolutions", "approvals"], {}),
    ("reconciliation", "admin", ["runs", "by_reason", "by_age", "approvals"], {}),
    ("fraud", "examiner", ["runs", "by_risk", "by_flag", "flagged", "reviews"], {}),
    ("fraud", "admin", ["runs", "by_risk", "by_flag"], {}),
    ("case", "prosecutor", ["verification", "status", "evidence", "custody", "timeline"],
     {"case_id": "C-2025-0001"}),
    ("case", "judge", ["verification", "status", "evidence", "custody", "timeline"],
     {"case_id": "C-2025-0001"}),
    ("case", "admin", ["verification", "status"], {"case_id": "C-2025-0001"}),
    ("executive", "executive", ["trend", "by_age", "by_flag", "cases"], {}),
    ("executive", "examiner", ["trend", "by_age", "by_flag", "cases", "largest"], {}),
    ("audit_trail", "auditor", ["actions", "refused", "entries"], {}),
    ("audit_trail", "compliance_officer", ["actions", "refused", "entries"], {}),
])
def test_each_kind_shows_its_roles_their_sections_signed_and_recorded(books, tmp_path, kind,
                                                                      role, sections, extra):
    s = books["store"]
    before = len(s.read("reports"))
    report = _make(books, kind, role, tmp_path, **extra)
    assert report.sections == tuple(sections)
    assert report.path.name.startswith(f"{kind}-{role}-all-") and report.path.suffix == ".html"
    assert report.signature == report.path.with_name(report.path.name + ".sig")
    assert report.public.parent == report.path.parent and report.public.suffix == ".nxpub"
    assert report.verify()
    page = _text(report)
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page.lower()
    for outside in ("http://", "https://", "<link", "@import", "url("):
        assert outside not in page.lower().replace("http://evil.example", "")
    row = s.read("reports", where={"report_id": report.report_id}).iloc[0]
    assert len(s.read("reports")) == before + 1
    assert (row["kind"], row["path"], row["sha256"], row["created_by"]) == (
        kind, str(report.path), report.sha256, AS[role])
    assert nx.crypto.Signature.from_bytes(__import__("base64").b64decode(row["signature"])
                                          ).to_bytes() == report.signature.read_bytes()
    trail = s.read("audit_logs", where={"resource_id": f"reports/{report.report_id}"})
    assert trail["action"].tolist() == ["report.signed"] and trail["chain_seq"].notna().all()
    assert trail["details"].iloc[0]["sections"] == sections
    assert "report.signed" in books["log"].entries()["action"].tolist()


def test_the_examiner_sees_everything_the_executive_no_accounts_nor_names(books, tmp_path):
    examiner = _text(_make(books, "executive", "examiner", tmp_path))
    assert IBAN in examiner and "Largest open exceptions" in examiner
    assert "by ana" in examiner
    executive = _text(_make(books, "executive", "executive", tmp_path))
    for secret in (IBAN, "CHK-00012345", PERSON, CARD, ">ana<", "by ana", "Largest open"):
        assert secret not in executive, secret
    assert "by •••••" in executive and "<svg" in executive
    assert "Masked for the executive: account numbers" in executive


def test_masks_follow_the_table_of_rules(books, tmp_path):
    assert "executive" not in MASKING["account"] | MASKING["person"] | MASKING["text"]
    assert {"examiner", "judge", "auditor"} <= MASKING["account"] & MASKING["person"]
    compliance = _text(_make(books, "fraud", "compliance_officer", tmp_path))
    assert IBAN not in compliance and "••••3000" in compliance
    assert PERSON in compliance  # a compliance officer reads people's names
    recon = _text(_make(books, "reconciliation", "compliance_officer", tmp_path))
    assert CARD not in recon and "WIRE TO ••••1234" in recon  # numbers in text masked
    admin = _text(_make(books, "reconciliation", "admin", tmp_path, period="2025-10"))
    assert "October closed" not in admin and "[withheld]" in admin
    assert "CHK-00012345" not in admin and "••••2345" in admin
    assert ">ana<" in admin  # an administrator knows the users
    case = _text(_make(books, "case", "admin", tmp_path, case_id="C-2025-0001"))
    assert PERSON not in case and "[withheld]" in case and "<h2>Evidence</h2>" not in case
    prosecutor = _text(_make(books, "case", "prosecutor", tmp_path, case_id="C-2025-0001"))
    assert f"Kickbacks paid to {PERSON}" in prosecutor and "invoice-4471.pdf" in prosecutor


def test_data_is_escaped_everywhere(books, tmp_path):
    for kind, role, extra in (("reconciliation", "examiner", {}),
                              ("case", "judge", {"case_id": "C-2025-0001"}),
                              ("audit_trail", "auditor", {})):
        page = _text(_make(books, kind, role, tmp_path, **extra))
        assert "<script" not in page.lower(), kind
        assert "&lt;script&gt;alert(" in page and "&lt;/script&gt;" in page, kind
    page = _text(_make(books, "reconciliation", "examiner", tmp_path))
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_spreadsheet_cells_that_would_run_are_neutralized(books, tmp_path):
    import openpyxl

    book = _make(books, "fraud", "examiner", tmp_path, fmt="xlsx")
    assert book.path.name.endswith(".xlsx") and book.verify()
    ws = openpyxl.load_workbook(book.path)["Flagged transactions"]
    vendors = [c.value for c in ws["E"][1:]]
    for name in HOSTILE:  # Excel keeps a carriage return in a cell as _x000D_
        assert "'" + name.replace("\r", "_x000D_") in vendors, name
        assert name not in vendors
    assert all(c.data_type == "s" for c in ws["E"][1:])
    zipped = _make(books, "fraud", "examiner", tmp_path, fmt="csv")
    assert zipped.path.name.endswith(".csv.zip") and zipped.verify()
    with zipfile.ZipFile(zipped.path) as z:
        assert z.namelist() == ["summary.csv", "01-runs.csv", "02-by_risk.csv",
                                "03-by_flag.csv", "04-flagged.csv", "05-reviews.csv"]
        rows = list(csv.DictReader(io.StringIO(z.read("04-flagged.csv").decode("utf-8"),
                                               newline="")))
    vendors = [r["Vendor"] for r in rows]
    for name in HOSTILE:
        assert "'" + name in vendors and name not in vendors, name
    amounts = {r["Vendor"]: r["Amount"] for r in rows}
    assert amounts["'+1+1"] == "26000.00"  # money exact, a number left as it is


def test_the_workbook_is_typed_and_formatted(books, tmp_path):
    import datetime as dt

    import openpyxl

    report = _make(books, "reconciliation", "examiner", tmp_path, fmt="xlsx")
    wb = openpyxl.load_workbook(report.path)
    assert wb.sheetnames == ["Summary", "Runs", "Open items by reason", "Open items by age",
                             "Largest open items", "Resolutions", "Approval"]
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(min_row=3, values_only=True)}
    assert summary["Report id"] == report.report_id and summary["Role"] == "Financial examiner"
    for name in wb.sheetnames[1:]:
        ws = wb[name]
        assert ws.freeze_panes == "A2", name
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), name
    ws = wb["Largest open items"]
    head = [c.value for c in ws[1]]
    amount, date = head.index("Amount") + 1, head.index("Date") + 1
    cell = ws.cell(2, amount)
    assert isinstance(cell.value, int | float) and "#,##0.00" in cell.number_format
    assert cell.value == -98765.43
    assert isinstance(ws.cell(2, date).value, dt.datetime)
    assert ws.cell(2, date).number_format == "yyyy-mm-dd"
    assert ws.column_dimensions["H"].width > 20  # the description column is wide
    rate = wb["Runs"].cell(2, [c.value for c in wb["Runs"][1]].index("Reconciled") + 1)
    assert rate.number_format == "0.0%" and 0 < rate.value <= 1


def test_the_pdf_is_laid_out_from_the_same_page(books, tmp_path):
    import pypdfium2

    for kind, role, title, extra in (
            ("reconciliation", "examiner", "Reconciliation report", {}),
            ("case", "judge", "Case C-2025-0002", {"case_id": "C-2025-0002"}),
            ("executive", "executive", "Executive summary", {"period": "2025"})):
        report = _make(books, kind, role, tmp_path, fmt="pdf", **extra)
        assert report.path.read_bytes().startswith(b"%PDF") and report.verify()
        pdf = pypdfium2.PdfDocument(report.path)
        text = "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
        assert 1 <= len(pdf) <= 4, (kind, len(pdf))
        assert title in text and report.report_id[:8] in text
        if kind == "case":
            assert "Fails 1 check" in text and "First broken link: case C-2025-0002" in text
        pdf.close()


def test_a_case_report_says_whether_its_evidence_verifies(books, tmp_path):
    intact = _text(_make(books, "case", "judge", tmp_path, case_id="C-2025-0001"))
    assert "Intact" in intact and "Every check passes" in intact
    assert "under investigation" in intact and "charging decision" in intact
    broken = _text(_make(books, "case", "prosecutor", tmp_path, case_id="C-2025-0002"))
    assert "Fails 1 check" in broken and "First broken link: case C-2025-0002, evidence E-0001" \
        in broken and "the sealed file was altered or replaced" in broken
    with pytest.raises(NexusError, match="needs the case"):
        _make(books, "case", "judge", tmp_path)
    with pytest.raises(NexusError, match=r"no case 'C-9'.*C-2025-0001"):
        _make(books, "case", "judge", tmp_path, case_id="C-9")


def test_the_audit_trail_says_whether_the_chain_verifies(books, tmp_path):
    chained = _text(_make(books, "audit_trail", "auditor", tmp_path))
    assert "The audit chain verifies" in chained and "permission.denied" in chained
    unchecked = _text(_make(books, "audit_trail", "auditor", tmp_path, log=False))
    assert "Not checked: no signed audit log is in use here" in unchecked
    other = nx.crypto.AuditLog(tmp_path / "other.db")
    with audit.using(other), auth.acting_as("aud"):
        failed = make_report("audit_trail", role="auditor", store=books["store"],
                             out=tmp_path / "reports", key=books["key"])
    assert "The audit chain fails verification" in _text(failed)
    assert "which the log does not hold" in _text(failed)


def test_periods_choose_the_rows_and_bad_ones_are_named(books, tmp_path):
    nov = _make(books, "reconciliation", "examiner", tmp_path, period="2025-11")
    assert nov.period == "2025-11" and "-2025-11-" in nov.path.name
    page = _text(nov)
    assert "1 reconciliation run" in page and IBAN in page and "CHK-00012345" not in page
    q4 = _text(_make(books, "reconciliation", "examiner", tmp_path, period="2025-Q4"))
    assert "2 reconciliation runs" in q4
    days = _make(books, "fraud", "examiner", tmp_path, period="2025-11-01..2025-11-30")
    assert "-2025-11-01_2025-11-30-" in days.path.name
    empty = _text(_make(books, "reconciliation", "examiner", tmp_path, period="2024"))
    assert empty.count("Nothing in this period.") >= 4
    for bad, says in (("Nov 2025", r"accepted forms: 2025-11 \(a month\), 2025-Q4"),
                      ("2025-13", "accepted forms"), ("2025-Q5", "accepted forms"),
                      ("2025-11-30..2025-11-01", r"ends \(2025-11-01\) before it starts")):
        with pytest.raises(NexusError, match=says):
            _make(books, "reconciliation", "examiner", tmp_path, period=bad)


def test_a_run_can_be_chosen_and_unknown_ones_are_named(books, tmp_path):
    run = books["runs"]["2025-10"]
    one = _make(books, "reconciliation", "examiner", tmp_path, run_id=run)
    assert f"run {run}" in _text(one) and "October closed" in _text(one)
    fraud = _make(books, "fraud", "examiner", tmp_path, run_id=books["fraud_run"])
    assert "1 fraud run" not in _text(fraud) and books["fraud_run"] in _text(fraud)
    with pytest.raises(NexusError, match="no reconciliation run 'nope'"):
        _make(books, "reconciliation", "examiner", tmp_path, run_id="nope")
    with pytest.raises(NexusError, match="takes none"):
        _make(books, "executive", "examiner", tmp_path, run_id=run)
    with pytest.raises(NexusError, match="unknown report kind 'ledger'"):
        _make(books, "ledger", "examiner", tmp_path)
    with pytest.raises(NexusError, match="unknown report format 'docx'"):
        _make(books, "fraud", "examiner", tmp_path, fmt="docx")


def test_roles_the_user_lacks_are_refused_and_recorded(books, tmp_path):
    s = books["store"]
    before = len(s.read("reports"))
    seen = int(s.read("audit_logs", columns=["id"])["id"].max())
    with auth.acting_as("pat"), pytest.raises(PermissionDenied) as err:
        make_report("reconciliation", role="examiner", store=s, out=tmp_path / "r",
                    key=books["key"])
    assert "pat (prosecutor) may not read reports as examiner" in str(err.value)
    assert "nexus-lab users grant pat examiner" in str(err.value)
    with auth.acting_as("eve"), pytest.raises(PermissionDenied, match=r"audit\.read"):
        make_report("audit_trail", role="executive", store=s, out=tmp_path / "r",
                    key=books["key"])
    with auth.acting_as("lead"):
        auth.add_user("mix", role="executive", store=s)
        auth.grant("mix", "auditor", store=s)
    with auth.acting_as("mix"), pytest.raises(PermissionDenied, match="the executive role "
                                                                      "may not"):
        make_report("audit_trail", role="executive", store=s, out=tmp_path / "r",
                    key=books["key"])
    refused = s.read("audit_logs", where={"outcome": "refused"}, order_by="id")
    refused = refused[refused["id"] > seen]
    assert refused["user_id"].tolist() == ["pat", "eve", "mix"]
    assert set(refused["resource_id"]) == {"reports/reconciliation", "reports/audit_trail"}
    assert len(s.read("reports")) == before and not (tmp_path / "r").exists()


def test_in_a_store_without_roles_anyone_picks_any_role(tmp_path, monkeypatch):
    s = nx.store.connect(tmp_path / "solo.db")
    s.migrate()
    bank, ledger, _ = nx.datasets.synth_reconciliation(80, seed=4)
    with auth.acting_as("solo"):
        nx.workflows.save_reconciliation(nx.reconcile(bank, ledger, device="cpu"), store=s)
    monkeypatch.setenv("NEXUS_LAB_KEY_PASSWORD", "a workbench password")
    monkeypatch.setenv("NEXUS_LAB_SIGNING_KEY", str(tmp_path / "keys" / "workbench.nxkey"))
    monkeypatch.setenv("NEXUS_LAB_REPORTS", str(tmp_path / "signed"))
    with auth.acting_as("solo"):
        report = make_report("executive", role="executive", store=s)
        with pytest.raises(PermissionDenied, match="the executive role may not"):
            make_report("audit_trail", role="executive", store=s)
    assert report.path.parent == tmp_path / "signed" and report.verify()
    assert (tmp_path / "keys" / "workbench.nxpub").is_file()
    assert report.public.read_bytes() == (tmp_path / "keys" / "workbench.nxpub").read_bytes()
    assert "Nothing in this period." in _text(report)  # no fraud runs, no cases


def test_nexus_lab_verify_passes_and_a_changed_byte_fails(books, tmp_path):
    from nexus_lab.cli import main

    for fmt in ("html", "pdf", "xlsx", "csv"):
        report = _make(books, "reconciliation", "examiner", tmp_path, fmt=fmt)
        assert main(["verify", str(report.path), "--sig", str(report.signature), "--pub",
                     str(report.public)]) == 0
    data = bytearray(report.path.read_bytes())
    data[len(data) // 2] ^= 1
    report.path.write_bytes(bytes(data))
    assert main(["verify", str(report.path), "--sig", str(report.signature), "--pub",
                 str(report.public)]) == 1
    with pytest.raises(nx.errors.IntegrityError):
        report.verify()


def test_a_failed_record_leaves_no_report_behind(books, tmp_path):
    s = books["store"]
    before = len(s.read("reports"))
    db = sqlite3.connect(s.where)
    db.execute("create trigger no_reports before insert on audit_logs when "
               "new.action = 'report.signed' begin select raise(abort, 'refused'); end")
    db.commit()
    try:
        with pytest.raises(NexusError):
            _make(books, "fraud", "examiner", tmp_path, log=False)
    finally:
        db.execute("drop trigger no_reports")
        db.commit()
        db.close()
    assert len(s.read("reports")) == before
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == []


def test_the_notebook_view_escapes_and_names_the_check(books, tmp_path):
    report = _make(books, "fraud", "examiner", tmp_path)
    shown = report._repr_html_()
    assert report.path.name in shown and "nexus-lab verify" in shown
    assert "<script" not in shown
    assert set(REPORT_KINDS) == {"reconciliation", "fraud", "case", "executive",
                                 "audit_trail"}


def test_the_templates_ship_in_the_wheel():
    import shutil
    import subprocess

    import tomllib

    from tests.test_packaging import ROOT

    templates = Path(nx.reports.__file__).parent / "templates"
    names = sorted(p.name for p in templates.glob("*.html.j2"))
    assert {f"{kind}.html.j2" for kind in REPORT_KINDS} <= set(names)
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    # the wheel is the whole package folder, less what git ignores
    assert build["targets"]["wheel"]["packages"] == ["nexus_lab"]
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: cannot ask git what it ignores")
    paths = [f"nexus_lab/reports/templates/{n}" for n in names]
    ignored = subprocess.run(["git", "check-ignore", *paths], cwd=ROOT, capture_output=True,
                             text=True)
    assert ignored.stdout == "", ignored.stdout


def test_reports_read_the_data_as_stored(books):
    """The fixture's data is what the tests rely on."""
    s = books["store"]
    vendors = set(s.read("fraud_scores", where={"review_state": "open"})["vendor"])
    assert {"\tcmd", "\rcmd"} <= vendors
    assert pd.Series(sorted(s.read("reconciliation_runs")["account"].unique())).tolist() == [
        "CHK-00012345", IBAN]
    assert SCRIPT in s.read("open_items")["description"].tolist()


@pytest.mark.parametrize("kind", ["reconciliation", "fraud", "executive", "audit_trail"])
def test_reports_read_both_engines(store_url, tmp_path, kind):
    s = nx.store.connect(store_url)
    s.migrate()
    bank, ledger, _ = nx.datasets.synth_reconciliation(120, seed=6)
    scored = pd.DataFrame({"transaction_id": bank["transaction_id"].head(4),
                           "risk_score": [91.0, 12.0, 77.0, 55.0],
                           "flags": [["velocity"], [], ["amount"], ["duplicate", "amount"]],
                           "reasons": [["fast"], [], ["big"], ["twice"]]})
    with auth.acting_as("solo"):
        nx.workflows.save_reconciliation(nx.reconcile(bank, ledger, device="cpu"), store=s,
                                         account="CHK-77778888", start="2025-01-01",
                                         end="2025-12-31")
        nx.workflows.save_fraud_scores(scored, bank, store=s, model="rules")
        report = make_report(kind, role="auditor", period="2025", store=s, fmt="xlsx",
                             out=tmp_path, key=nx.crypto.generate_keypair("w"))
    assert report.verify() and len(report.sections) >= 3
    assert s.read("reports")["report_id"].tolist() == [report.report_id]
    s.close()
