"""Bank statement files (OFX, camt.053, MT940): the readers and read_table's dispatch.

The fixtures in tests/fixtures/bankfiles/ are written by hand from the public
specifications (OFX 1.0.2 and 2.1.1, ISO 20022 camt.053.001.02 and .08, SWIFT MT940).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab.bankfiles import (
    STATEMENT_COLUMNS,
    read_camt053,
    read_mt940,
    read_ofx,
    statement_kind,
)
from nexus_lab.errors import NexusError, SchemaError
from nexus_lab.files import read_table
from nexus_lab.frames import read_money

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "bankfiles"
SAMPLES = ROOT / "data" / "bankfiles"


def _days(df: pd.DataFrame, column: str = "date") -> list[str | None]:
    return [None if pd.isna(d) else str(d.date()) for d in df[column]]


def _contract(df: pd.DataFrame) -> None:
    assert tuple(df.columns) == STATEMENT_COLUMNS
    assert df["date"].dtype == "datetime64[ns]" and df["value_date"].dtype == "datetime64[ns]"
    assert df["transaction_id"].is_unique
    assert all(isinstance(a, str) for a in df["amount"])
    json.dumps(df.attrs["statement"])  # plain JSON values


# ----------------------------------------------------------------------------- OFX


def test_ofx_102_sgml():
    df = read_ofx(FIX / "ofx102.ofx")
    _contract(df)
    assert df["transaction_id"].tolist() == ["20250303001", "20250305002"]
    assert df["amount"].tolist() == ["-45.20", "1200.00"]
    assert _days(df) == ["2025-03-03", "2025-03-05"]
    assert df["description"].tolist() == ["CORNER CATERING Invoice 4411", "ACME PAYROLL"]
    assert df["type"].tolist() == ["DEBIT", "CREDIT"]
    assert set(df["currency"]) == {"USD"} and set(df["account"]) == {"123456789"}
    st = df.attrs["statement"]
    assert st["format"] == "ofx" and st["closing_balance"] == "2154.80"
    assert (st["period_start"], st["period_end"]) == ("2025-03-01", "2025-03-10")
    assert st["opening_balance"] is None and st["entries"] == 2


def test_ofx_211_xml_keeps_the_banks_own_day():
    df = read_ofx(FIX / "ofx211.qfx")
    _contract(df)
    # 22:00 EST on 2 March is 3 March in UTC: the booking day is the one the bank wrote
    assert _days(df) == ["2025-03-02", "2025-03-04", "2025-03-06"]
    assert _days(df, "value_date") == ["2025-03-03", None, None]
    assert df["reference"].tolist() == [None, "1043", "INV-5521"]  # REFNUM, else CHECKNUM
    assert df["description"].tolist()[2] == "NORTHWIND TRADERS Payment of invoice INV-5521"
    assert df.attrs["statement"]["period_end"] == "2025-03-10"


# ----------------------------------------------------------------------------- camt.053


def test_camt053_v02():
    df = read_camt053(FIX / "camt053_v02.xml")
    _contract(df)
    assert df["amount"].tolist() == ["-45.20", "1200.00", "-50.00"]
    assert df["transaction_id"][0] == "AS-0001" and df["transaction_id"][2] == "AS-0003"
    assert df["transaction_id"][1].startswith("H")  # no AcctSvcrRef, NtryRef or EndToEndId
    assert df["reference"].tolist() == ["INV-4411", None, None]  # NOTPROVIDED is none
    assert df["description"].tolist() == ["Corner Catering GmbH Invoice 4411",
                                          "ACME Payroll Refund March", "Account maintenance fee"]
    assert df["type"].tolist() == ["PMNT/ICDT/ESCT", "PMNT/RCDT/ESCT", "FEE"]
    assert df["balance_after"].tolist() == ["954.80", "2154.80", "2104.80"]
    assert _days(df, "value_date") == ["2025-03-04", "2025-03-05", None]
    st = df.attrs["statement"]
    assert st == {"format": "camt.053.001.02", "file": "camt053_v02.xml",
                  "account": "DE89370400440532013000", "currency": "EUR",
                  "statement_id": "STMT-2025-03-001", "period_start": "2025-03-01",
                  "period_end": "2025-03-10", "opening_balance": "1000.00",
                  "closing_balance": "2104.80", "entries": 3}


def test_camt053_v08():
    df = read_camt053(FIX / "camt053_v08.xml")
    _contract(df)
    assert df["transaction_id"].tolist() == ["E-77", "E-78"]  # NtryRef
    assert df["amount"].tolist() == ["1000.00", "-219.45"]
    assert _days(df) == ["2025-03-31", "2025-03-31"]  # BookgDt/DtTm read as written
    assert df["reference"].tolist() == ["E2E-5521", None]
    assert df["description"].tolist() == ["Northwind Traders AG",
                                          "Swisscom Phone and internet March 2025"]
    assert set(df["currency"]) == {"CHF"} and set(df["account"]) == {"CH-0042-7781"}
    st = df.attrs["statement"]
    assert st["format"] == "camt.053.001.08"
    assert (st["opening_balance"], st["closing_balance"]) == ("-150.00", "630.55")  # PRCD DBIT


def test_ids_made_from_the_entry_are_stable(tmp_path):
    first = read_camt053(FIX / "camt053_v02.xml")["transaction_id"][1]
    copy = tmp_path / "copy.xml"
    copy.write_bytes((FIX / "camt053_v02.xml").read_bytes())
    assert read_camt053(copy)["transaction_id"][1] == first
    changed = tmp_path / "changed.xml"
    changed.write_text((FIX / "camt053_v02.xml").read_text().replace(
        "Refund March", "Refund April"))
    assert read_camt053(changed, check_balance=False)["transaction_id"][1] != first


# ----------------------------------------------------------------------------- MT940


def test_mt940_signs_details_and_balances():
    df = read_mt940(FIX / "mt940.sta")
    _contract(df)
    # D and RC (a reversed credit) are money out; C and RD money in
    assert df["amount"].tolist() == ["-45.20", "1200.00", "-50.00", "50.00"]
    assert df["transaction_id"][:2].tolist() == ["B2503030001", "B2503050002"]
    assert df["reference"].tolist() == ["INV4411", "REF123", None, None]  # NONREF is none
    assert df["description"][0] == "CORNER CATERING Invoice 4411"  # structured ?20 / ?32
    assert df["description"][1] == "Salary March ACME PAYROLL second line of details third line"
    assert df["balance_after"].tolist() == ["954.80", "2154.80", "2104.80", "2154.80"]
    assert df["type"].tolist() == ["NTRF", "NTRF", "NMSC", "NMSC"]
    st = df.attrs["statement"]
    assert (st["opening_balance"], st["closing_balance"], st["currency"]) == (
        "1000.00", "2154.80", "EUR")
    assert st["statement_id"] == "STARTUMSE/00001"


def test_mt940_two_statements_in_a_txt_with_swift_blocks():
    df = read_table(FIX / "mt940_two.txt", name="bank")
    _contract(df)
    assert df["transaction_id"].tolist() == ["AB0001", "AB0002", "AB0002-2"]
    assert df["description"].tolist()[0] == "WESTSIDE SUPPLY Order 7781"
    st = df.attrs["statement"]
    assert [s["statement_id"] for s in st["statements"]] == ["STMT0310A/12", "STMT0311A/13"]
    assert (st["opening_balance"], st["closing_balance"], st["entries"]) == (
        "500.00", "550.00", 3)


def test_amounts_are_read_exactly_by_the_kernels_reader():
    df = read_mt940(FIX / "mt940.sta")
    cents, written = read_money(df["amount"], table="bank")
    assert cents.tolist() == [-4520, 120000, -5000, 5000]
    assert written == {"decimal": ".", "currency": None}


# ----------------------------------------------------------------------------- balances


def test_a_cut_off_statement_fails_the_balance_check():
    with pytest.raises(SchemaError) as err:
        read_camt053(FIX / "camt053_missing_entry.xml")
    msg = str(err.value)
    for part in ("camt053_missing_entry.xml", "opening 1000.00", "entries 1154.80",
                 "closing balance is 2104.80", "difference of -50.00", "check_balance=False"):
        assert part in msg
    df = read_table(FIX / "camt053_missing_entry.xml", name="bank", check_balance=False)
    assert len(df) == 2


def test_mt940_balances_that_do_not_add_up(tmp_path):
    bad = tmp_path / "bad.sta"
    bad.write_text((FIX / "mt940.sta").read_text().replace("EUR2154,80", "EUR2154,81"))
    with pytest.raises(SchemaError, match=r"difference of 0\.01.*ask the bank"):
        read_mt940(bad)
    assert len(read_mt940(bad, check_balance=False)) == 4


def test_mt940_without_a_closing_balance_is_cut_off():
    with pytest.raises(NexusError, match=r"mt940_cut.sta.*no closing balance.*cut off"):
        read_mt940(FIX / "mt940_cut.sta")
    df = read_mt940(FIX / "mt940_cut.sta", check_balance=False)
    assert df["amount"].tolist() == ["-45.20", "1200.00"]
    assert df.attrs["statement"]["closing_balance"] is None


# ----------------------------------------------------------------------------- bad files


@pytest.mark.parametrize(("file", "error", "parts"), [
    ("ofx102_cut.ofx", NexusError, ["ofx102_cut.ofx", "line 44", "cut off"]),
    ("ofx102_no_amount.ofx", SchemaError, ["TRNAMT", "entry 1", "line 33"]),
    ("ofx102_bad_currency.ofx", SchemaError, ["'USX'", "<CURDEF> on line 24", "ISO 4217"]),
    ("camt053_cut.xml", NexusError, ["not well-formed XML", "line 74", "cut off"]),
    ("camt053_no_date.xml", SchemaError, ["BookgDt", "Document/BkToCstmrStmt/Stmt[1]/Ntry[2]"]),
    ("camt053_bad_date.xml", SchemaError, ["entry 2", "'2025-02-30'", "not a day"]),
    ("camt053_bad_currency.xml", SchemaError, ["'EUX'", "Stmt[1]/Ntry[3]/Amt", "ISO 4217"]),
    ("mt940_broken.sta", NexusError, ["line 7", ":61:", "25035C1200,00"]),
    ("mt940_bad_currency.sta", SchemaError, ["'EUX'", "line 1", ":60F:"]),
    ("camt052.xml", NexusError, ["camt.052", "not an ISO 20022 camt.053"]),
    ("not_a_statement.xml", NexusError, ["not an ISO 20022 camt.053"]),
])
def test_bad_files_are_refused_with_where_and_what(file, error, parts):
    with pytest.raises(error) as err:
        read_table(FIX / file, name="bank")
    assert type(err.value) is error
    for part in parts:
        assert part in str(err.value)
    assert "Traceback" not in str(err.value)


@pytest.mark.parametrize("file", ["billion_laughs.xml", "external_entity.xml"])
def test_hostile_xml_is_refused_not_expanded(file):
    for read in (read_camt053, read_table):
        with pytest.raises(NexusError, match=r"refused.*nothing is expanded or fetched"):
            read(FIX / file)


def test_hostile_ofx_is_refused(tmp_path):
    text = (FIX / "ofx211.qfx").read_text()
    bad = tmp_path / "bad.ofx"
    bad.write_text(text.replace("<OFX>", '<!DOCTYPE OFX [<!ENTITY x SYSTEM "file:///etc/'
                                         'passwd">]>\n<OFX>', 1).replace("CHECK 1043", "&x;"))
    with pytest.raises(NexusError, match="declares a document type or entities"):
        read_table(bad)


# ----------------------------------------------------------------------------- dispatch


def test_read_table_dispatches_by_extension_and_content(tmp_path):
    assert statement_kind(FIX / "ofx211.qfx") == "ofx"
    assert statement_kind(FIX / "camt053_v08.xml") == "camt.053"
    assert statement_kind(FIX / "mt940_two.txt") == "mt940"
    for file in ("ofx102.ofx", "ofx211.qfx", "camt053_v02.xml", "mt940.sta"):
        assert tuple(read_table(FIX / file).columns) == STATEMENT_COLUMNS
    mt = tmp_path / "statement.txt"
    mt.write_bytes((FIX / "mt940.sta").read_bytes())
    assert len(read_table(mt)) == 4
    for ext in (".mt940", ".940"):
        assert len(read_table(mt.rename(mt.with_suffix(ext)))) == 4
        mt = mt.with_suffix(ext)
    csv = tmp_path / "plain.txt"
    csv.write_text("transaction_id,amount\n:20:x,1.50\n")
    assert read_table(csv)["transaction_id"].tolist() == [":20:x"]  # CSV, not MT940
    ofx_as_xml = tmp_path / "bank.xml"
    ofx_as_xml.write_bytes((FIX / "ofx211.qfx").read_bytes())
    assert len(read_table(ofx_as_xml)) == 3
    qif = tmp_path / "x.qif"
    qif.write_text("!Type:Bank\n")
    with pytest.raises(NexusError, match=r"\.ofx, \.qfx, camt\.053 \.xml, MT940 \.sta"):
        read_table(qif)


# ----------------------------------------------------------------------------- reconcile


def test_reconcile_an_ofx_statement_against_a_ledger(tmp_path):
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(
        "transaction_id,date,amount,description,reference\n"
        "L1,2025-03-01,12.50,Blue Pet Supply,\n"
        "L2,2025-03-03,300.00,Check 1043 office rent,\n"
        "L3,2025-03-05,-2500.00,Northwind Traders invoice,INV-5521\n")
    bank = nx.read_table(FIX / "ofx211.qfx", name="bank")
    res = nx.reconcile(bank, nx.read_table(ledger, name="ledger"), device="cpu")
    pairs = dict(zip(res.matches["bank_id"], res.matches["ledger_id"], strict=True))
    assert pairs == {"X-1001": "L1", "X-1002": "L2", "X-1003": "L3"}
    assert res.rate == pytest.approx(1.0)


@pytest.mark.parametrize("file", ["statement.ofx", "statement.xml", "statement.sta"])
def test_the_samples_reconcile_like_their_csv(file):
    ledger = read_table(SAMPLES / "ledger.csv", name="ledger")
    csv = read_table(SAMPLES / "bank.csv", name="bank")
    statement = read_table(SAMPLES / file, name="bank")
    assert 20 <= len(statement) <= 50
    assert statement["transaction_id"].tolist() == csv["transaction_id"].tolist()
    cents = read_money(statement["amount"], table="bank")[0]
    assert np.array_equal(cents, -np.rint(csv["amount"].to_numpy() * 100).astype(np.int64))
    want = nx.reconcile(csv, ledger, device="cpu").rate
    got = nx.reconcile(statement, ledger, device="cpu").rate
    assert want > 0.8 and got == pytest.approx(want, abs=0.02)


def test_the_samples_are_what_the_script_writes(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "experiments" / "make_bankfiles.py"),
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=300,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    for p in sorted(SAMPLES.iterdir()):
        assert (tmp_path / p.name).read_bytes() == p.read_bytes(), p.name
