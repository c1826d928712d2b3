"""Audit workpapers as their readers get them: one page with each test's verdict, plot and
tables, escaped and printable; a workbook with every row, money as numbers and no formula
run; each signed, recorded, checked by ``nexus-lab verify``, and refused to a role that may
not run examinations.

The battery here is made of real computations on a small ledger (pandas), so what the
workpaper shows can be checked against the ledger itself."""

from __future__ import annotations

import html
import re

import numpy as np
import openpyxl
import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab import auth
from nexus_lab.cli import main
from nexus_lab.errors import NexusError, PermissionDenied
from nexus_lab.examine import Battery, Examination
from nexus_lab.reports import WORKPAPER_FORMATS, make_workpaper, workpaper_bytes

SCRIPT = "<script>alert('x')</script>"
FORMULA = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture(scope="module")
def ledger() -> pd.DataFrame:
    """240 balanced two-line entries; one account named as markup, one as a formula."""
    rng = np.random.default_rng(5)
    n = 120
    amounts = np.round(rng.lognormal(6, 1.2, n), 2)
    accounts = rng.choice(["4000", "6100", "6200", SCRIPT, FORMULA], n)
    return pd.DataFrame({
        "entry_id": np.repeat([f"JE-{i:04d}" for i in range(n)], 2),
        "line": np.tile([1, 2], n),
        "date": np.repeat(pd.date_range("2025-01-01", periods=n, freq="D"), 2),
        "account": np.column_stack([accounts, np.full(n, "1000")]).ravel(),
        "amount": np.column_stack([amounts, -amounts]).ravel(),
    })


def _battery(gl: pd.DataFrame) -> Battery:
    totals = (gl.groupby("account", as_index=False)
              .agg(lines=("amount", "size"), total=("amount", "sum")))
    totals["total"] = totals["total"].round(2)

    def bars(result, ax):
        t = result.tables["by_account"]
        ax.bar(t["account"].astype(str), t["total"])

    summarize = Examination("summarize", {"by": "account", "values": ["amount"]},
                            {"by_account": totals}, {"groups": len(totals)}, plotter=bars)
    repeated = gl[gl.duplicated(["account", "amount"], keep=False) & (gl["line"] == 1)]
    duplicates = Examination(
        "duplicates", {"same": ["account", "amount"]}, {"rows": repeated},
        {"duplicate_rows": len(repeated)}, verdict="findings" if len(repeated) else "clean",
        notes=(f"few rows {SCRIPT}",))
    bands = pd.cut(gl["amount"].abs(), [0, 100, 1000, np.inf])
    strata = gl.assign(band=bands.astype(str)).groupby("band", as_index=False).agg(
        lines=("amount", "size"), amount=("amount", "sum"))
    stratify = Examination("stratify", {"column": "amount", "bands": [0, 100, 1000]},
                           {"strata": strata}, {"bands": len(strata)})
    lines = Examination("listing", {}, {"lines": gl}, {"rows": len(gl)}, verdict="close")
    return Battery({"summarize": summarize, "duplicates_exact": duplicates,
                    "stratify": stratify, "lines": lines},
                   info={"rows": len(gl), "period_end": "2025-04-30"})


def test_the_page_shows_every_test_escaped_with_its_plot(ledger):
    battery = _battery(ledger)
    page = workpaper_bytes(battery, facts={"source": f"gl {SCRIPT}.csv"}).decode()
    assert "<script" not in page and "&lt;script&gt;" in page  # data shown as text
    assert "This copy is not signed" in page
    for name in battery:
        assert f"{name}</h2>" in page
    assert page.count("<svg") == 1  # the one test with a plot, inline
    svg = page[page.index("<svg"):page.index("</svg>")]
    ids = re.findall(r'\bid="([^"]+)"', svg)
    assert ids and all(i.startswith("f1-") for i in ids)  # unique to its figure
    for ref in re.findall(r'href="#([^"]+)"|url\(#([^)]+)\)', svg):
        assert (ref[0] or ref[1]).startswith("f1-")
    # money exact, from the ledger itself
    total = ledger.loc[ledger["account"] == "6100", "amount"].sum()
    assert nx.frames.cents_text(round(total * 100)) in page
    # the call that replays each test
    assert "nexus_lab.examine.summarize(data, by='account', values=['amount'])" in \
        html.unescape(page)
    # a long table: the page shows the first 50 rows and says so
    assert f"The first 50 of {len(ledger):,} rows." in page


def test_the_workbook_holds_every_row_money_as_numbers_and_no_formula(ledger, tmp_path):
    battery = _battery(ledger)
    path = tmp_path / "paper.xlsx"
    path.write_bytes(workpaper_bytes(battery, "xlsx"))
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[:2] == ["Summary", "Tests and verdicts"]
    assert "lines · lines" in book.sheetnames and "summarize · by_account" in book.sheetnames
    sheet = book["lines · lines"]
    head = [c.value for c in sheet[1]]
    assert head == ["entry id", "line", "date", "account", "amount"]
    assert sheet.max_row == len(ledger) + 1  # every row, not the page's 50
    amounts = [r[4].value for r in sheet.iter_rows(min_row=2)]
    assert all(isinstance(a, int | float) for a in amounts)
    assert amounts == pytest.approx(ledger["amount"].tolist())
    assert sheet.cell(2, 5).number_format.startswith("#,##0.00")
    accounts = {r[3].value for r in sheet.iter_rows(min_row=2)}
    assert f"'{FORMULA}" in accounts and FORMULA not in accounts  # neutralized
    assert all(not (isinstance(c.value, str) and c.value.startswith("="))
               for ws in book for row in ws.iter_rows() for c in row)
    dates = [r[2].value for r in sheet.iter_rows(min_row=2)][:2]
    assert [d.date().isoformat() for d in dates] == ["2025-01-01", "2025-01-01"]


def test_a_plot_that_would_run_or_fetch_is_left_out(ledger):
    class Hostile(Examination):
        def svg(self) -> str:
            return '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'

    battery = Battery({"bad": Hostile("listing", {}, {"lines": ledger.head(3)}, {"rows": 3})})
    page = workpaper_bytes(battery).decode()
    assert "<svg" not in page and "<script" not in page
    with pytest.raises(NexusError, match="unknown workpaper format 'pdf'"):
        workpaper_bytes(battery, "pdf")
    with pytest.raises(NexusError, match="made of a Battery"):
        workpaper_bytes({"bad": battery["bad"]})


@pytest.fixture
def store(tmp_path):
    s = nx.store.connect(tmp_path / "books.db")
    s.migrate()
    with auth.acting_as("lead"):
        auth.add_user("lead", role="admin", store=s)
        auth.add_user("aud", role="auditor", store=s)
        auth.add_user("jo", role="judge", store=s)
    yield s
    s.close()


@pytest.mark.parametrize("fmt", list(WORKPAPER_FORMATS))
def test_signed_recorded_and_checked_by_nexus_lab_verify(ledger, store, tmp_path, fmt,
                                                        capsys):
    key = nx.crypto.generate_keypair("workbench")
    with auth.acting_as("aud"):
        paper = make_workpaper(_battery(ledger), fmt=fmt, out=tmp_path / "papers", store=store,
                               key=key, facts={"source": "gl.csv"})
    assert paper.path.name.startswith("workpaper-2025-04-30-")
    assert paper.path.suffix == f".{fmt}" and paper.verify()
    assert paper.public.name == f"{key.public.fingerprint_hex}.nxpub"
    assert main(["verify", str(paper.path), "--sig", str(paper.signature), "--pub",
                 str(paper.public)]) == 0
    row = store.read("reports").iloc[0]
    assert (row["kind"], row["path"], row["created_by"]) == ("examination", str(paper.path),
                                                            "aud")
    trail = store.read("audit_logs", where={"action": "report.signed"})
    assert trail["user_id"].tolist() == ["aud"]
    # a changed byte fails the check
    data = bytearray(paper.path.read_bytes())
    data[len(data) // 2] ^= 1
    paper.path.write_bytes(bytes(data))
    capsys.readouterr()
    assert main(["verify", str(paper.path), "--sig", str(paper.signature), "--pub",
                 str(paper.public)]) == 1


def test_a_judge_may_not_file_a_workpaper_and_nothing_is_written(ledger, store, tmp_path):
    with auth.acting_as("jo"), pytest.raises(PermissionDenied, match=r"examine\.run"):
        make_workpaper(_battery(ledger), out=tmp_path / "papers", store=store,
                       key=nx.crypto.generate_keypair("workbench"))
    assert not (tmp_path / "papers").exists()
    refused = store.read("audit_logs", where={"outcome": "refused"})
    assert refused["user_id"].tolist() == ["jo"]


def test_filed_in_a_folder_being_built_records_where_it_will_lie(ledger, store, tmp_path):
    from nexus_lab.files import atomic_dir

    out = tmp_path / "out"
    key = nx.crypto.generate_keypair("workbench")
    with auth.acting_as("aud"), atomic_dir(out) as work:
        paper = make_workpaper(_battery(ledger), out=work, store=store, key=key,
                               name="workpaper", final_folder=out)
    assert paper.path == out / "workpaper.html" and paper.verify()
    assert store.read("reports")["path"].tolist() == [str(out / "workpaper.html")]
    with auth.acting_as("aud"), pytest.raises(NexusError, match="never overwritten"):
        make_workpaper(_battery(ledger), out=out, store=store, key=key, name="workpaper")
    assert len(store.read("reports")) == 1
