"""Sample bank statement files: one account's statement as OFX, camt.053 and MT940.

The bank side of ``nexus_lab.datasets.synth_reconciliation(50, seed=7)`` (the retail
profile: card spending of a small business), cut (the ledger too) to the entries booked up to
``CUTOFF``, is written as the statement a bank would send in each format; its ledger
side is written beside it as CSV, and the same bank entries as CSV too, so that the
formats can be compared with the CSV they replace::

    nexus-lab reconcile data/bankfiles/statement.ofx data/bankfiles/ledger.csv
    nexus-lab reconcile data/bankfiles/bank.csv data/bankfiles/ledger.csv

The generator signs bank spending positive; a statement signs money out negative, so
the statement files carry the amounts negated. The same bytes come out every run.

Usage::

    python experiments/make_bankfiles.py [--out data/bankfiles]
"""

from __future__ import annotations

import argparse
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

import pandas as pd

import nexus_lab as nx
from nexus_lab.files import write_frame, write_text

CUTOFF = "2025-10-31"  # the last booking day of the statement and the books: 48 entries
ACCOUNT_OFX = ("121000248", "4417830021")  # routing number, account number (made up)
IBAN = "US00SAMPLE4417830021"  # not a real IBAN: the sample bank is in the US
OPENING = Decimal("25000.00")


def sample() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The statement's entries (money out negative, as ``Decimal``) and the ledger."""
    bank, ledger, _ = nx.datasets.synth_reconciliation(50, seed=7)
    bank = bank[bank["date"] <= CUTOFF].reset_index(drop=True)
    ledger = ledger[ledger["date"] <= CUTOFF].reset_index(drop=True)
    return bank, ledger


def _money(x: float) -> Decimal:
    return Decimal(f"{x:.2f}")


def ofx(bank: pd.DataFrame, amounts: list[Decimal], closing: Decimal) -> str:
    """OFX 1.0.2 (SGML), as US banks send for Quicken and QuickBooks."""
    start, end = bank["date"].min(), bank["date"].max()
    lines = [
        "OFXHEADER:100", "DATA:OFXSGML", "VERSION:102", "SECURITY:NONE", "ENCODING:USASCII",
        "CHARSET:1252", "COMPRESSION:NONE", "OLDFILEUID:NONE", "NEWFILEUID:NONE", "",
        "<OFX>", "<SIGNONMSGSRSV1>", "<SONRS>", "<STATUS>", "<CODE>0", "<SEVERITY>INFO",
        "</STATUS>", f"<DTSERVER>{end:%Y%m%d}120000", "<LANGUAGE>ENG", "</SONRS>",
        "</SIGNONMSGSRSV1>", "<BANKMSGSRSV1>", "<STMTTRNRS>", "<TRNUID>1", "<STATUS>",
        "<CODE>0", "<SEVERITY>INFO", "</STATUS>", "<STMTRS>", "<CURDEF>USD",
        "<BANKACCTFROM>", f"<BANKID>{ACCOUNT_OFX[0]}", f"<ACCTID>{ACCOUNT_OFX[1]}",
        "<ACCTTYPE>CHECKING", "</BANKACCTFROM>", "<BANKTRANLIST>",
        f"<DTSTART>{start:%Y%m%d}", f"<DTEND>{end:%Y%m%d}",
    ]
    for row, amount in zip(bank.itertuples(), amounts, strict=True):
        lines += ["<STMTTRN>", "<TRNTYPE>POS" if "CHECK" not in row.description else
                  "<TRNTYPE>DEBIT", f"<DTPOSTED>{row.date:%Y%m%d}", f"<TRNAMT>{amount}",
                  f"<FITID>{row.transaction_id}"]
        if isinstance(row.reference, str):
            lines.append(f"<REFNUM>{escape(row.reference)}")
        lines += [f"<NAME>{escape(row.description[:32])}", f"<MEMO>{escape(row.description)}",
                  "</STMTTRN>"]
    lines += ["</BANKTRANLIST>", "<LEDGERBAL>", f"<BALAMT>{closing}",
              f"<DTASOF>{end:%Y%m%d}", "</LEDGERBAL>", "</STMTRS>", "</STMTTRNRS>",
              "</BANKMSGSRSV1>", "</OFX>"]
    return "\r\n".join(lines) + "\r\n"


def camt053(bank: pd.DataFrame, amounts: list[Decimal], closing: Decimal) -> str:
    """ISO 20022 camt.053.001.08."""
    start, end = bank["date"].min(), bank["date"].max()

    def balance(code: str, amount: Decimal, day: pd.Timestamp) -> str:
        return (f"      <Bal>\n        <Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>\n"
                f'        <Amt Ccy="USD">{abs(amount)}</Amt>\n'
                f"        <CdtDbtInd>{'DBIT' if amount < 0 else 'CRDT'}</CdtDbtInd>\n"
                f"        <Dt><Dt>{day:%Y-%m-%d}</Dt></Dt>\n      </Bal>\n")

    out = ['<?xml version="1.0" encoding="UTF-8"?>\n'
           '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">\n'
           "  <BkToCstmrStmt>\n    <GrpHdr>\n      <MsgId>SAMPLE-053-0001</MsgId>\n"
           f"      <CreDtTm>{end:%Y-%m-%d}T06:00:00</CreDtTm>\n    </GrpHdr>\n    <Stmt>\n"
           "      <Id>SAMPLE-STMT-2025-01</Id>\n"
           f"      <FrToDt><FrDtTm>{start:%Y-%m-%d}T00:00:00</FrDtTm>"
           f"<ToDtTm>{end:%Y-%m-%d}T23:59:59</ToDtTm></FrToDt>\n"
           f"      <Acct><Id><Othr><Id>{ACCOUNT_OFX[1]}</Id></Othr></Id><Ccy>USD</Ccy></Acct>\n",
           balance("OPBD", OPENING, start), balance("CLBD", closing, end)]
    for row, amount in zip(bank.itertuples(), amounts, strict=True):
        ref = escape(row.reference) if isinstance(row.reference, str) else "NOTPROVIDED"
        out.append(
            "      <Ntry>\n"
            f'        <Amt Ccy="USD">{abs(amount)}</Amt>\n'
            f"        <CdtDbtInd>{'DBIT' if amount < 0 else 'CRDT'}</CdtDbtInd>\n"
            "        <Sts><Cd>BOOK</Cd></Sts>\n"
            f"        <BookgDt><Dt>{row.date:%Y-%m-%d}</Dt></BookgDt>\n"
            f"        <ValDt><Dt>{row.date:%Y-%m-%d}</Dt></ValDt>\n"
            f"        <AcctSvcrRef>{row.transaction_id}</AcctSvcrRef>\n"
            "        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>CCRD</Cd><SubFmlyCd>POSD</SubFmlyCd>"
            "</Fmly></Domn></BkTxCd>\n"
            "        <NtryDtls><TxDtls>\n"
            f"          <Refs><EndToEndId>{ref}</EndToEndId></Refs>\n"
            f"          <RmtInf><Ustrd>{escape(row.description[:140])}</Ustrd></RmtInf>\n"
            "        </TxDtls></NtryDtls>\n      </Ntry>\n")
    out.append("    </Stmt>\n  </BkToCstmrStmt>\n</Document>\n")
    return "".join(out)


def mt940(bank: pd.DataFrame, amounts: list[Decimal], closing: Decimal) -> str:
    """SWIFT MT940, one statement, :86: details in lines of at most 65 characters."""
    start, end = bank["date"].min(), bank["date"].max()

    def amt(x: Decimal) -> str:
        return f"{abs(x)}".replace(".", ",")

    lines = [":20:SAMPLE250101", f":25:{ACCOUNT_OFX[0]}/{ACCOUNT_OFX[1]}", ":28C:1/1",
             f":60F:{'D' if OPENING < 0 else 'C'}{start:%y%m%d}USD{amt(OPENING)}"]
    for row, amount in zip(bank.itertuples(), amounts, strict=True):
        mark = "D" if amount < 0 else "C"
        ref = row.reference[:16] if isinstance(row.reference, str) else "NONREF"
        lines.append(f":61:{row.date:%y%m%d}{row.date:%m%d}{mark}{amt(amount)}NMSC{ref}"
                     f"//{row.transaction_id}")
        text = row.description
        chunks = [text[i:i + 65] for i in range(0, len(text), 65)][:6]
        lines += [f":86:{chunks[0]}", *chunks[1:]]
    lines += [f":62F:{'D' if closing < 0 else 'C'}{end:%y%m%d}USD{amt(closing)}", "-"]
    return "\r\n".join(lines) + "\r\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/bankfiles"))
    args = parser.parse_args()
    bank, ledger = sample()
    amounts = [-_money(x) for x in bank["amount"]]
    closing = OPENING + sum(amounts, Decimal(0))
    args.out.mkdir(parents=True, exist_ok=True)
    write_text(ofx(bank, amounts, closing), args.out / "statement.ofx")
    write_text(camt053(bank, amounts, closing), args.out / "statement.xml")
    write_text(mt940(bank, amounts, closing), args.out / "statement.sta")
    for frame, file in ((bank, "bank.csv"), (ledger, "ledger.csv")):
        frame = frame.assign(amount=frame["amount"].map("{:.2f}".format),
                             date=frame["date"].dt.strftime("%Y-%m-%d"))
        write_frame(frame, args.out / file)
    print(f"{len(bank)} entries, closing balance {closing}, ledger {len(ledger)} rows: "
          f"{args.out}")


if __name__ == "__main__":
    main()
