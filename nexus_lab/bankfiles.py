"""Bank statement files: OFX, ISO 20022 camt.053 and SWIFT MT940 as statement tables.

Each reader turns one file into a DataFrame in the bank statement contract:

================  ===========================================================
``transaction_id``  the bank's own id of the entry (see each reader), made unique
``date``            the booking date, ``datetime64[ns]`` (a day, no time zone)
``amount``          signed text with a decimal point (``"-1234.56"``): money out
                    is negative; exact, read by :func:`nexus_lab.frames.read_money`
``description``     the entry's text (counterparty, remittance information)
``account``         the statement's account (IBAN, account number)
``reference``       the payer's or payee's reference, when the file gives one
``currency``        the ISO 4217 code of the amount
``value_date``      the value date, when the file gives one
``balance_after``   the balance after the entry (opening balance plus the entries
                    so far, in file order), when the file gives an opening balance
``type``            the format's own transaction code (OFX ``TRNTYPE``, camt
                    ``BkTxCd``, MT940 transaction type)
================  ===========================================================

Statement-level facts (format, file, account, currency, statement id, period, opening
and closing balance, number of entries) are in ``df.attrs["statement"]`` as plain JSON
values; a file of several statements lists each under ``"statements"``.

When a file gives both an opening and a closing balance, the readers check that the
opening balance plus the entries makes the closing balance: a file cut off in the
middle fails the check, with the balances and the difference named. A file that is
not well-formed, misses an amount or a date, names an unknown currency or holds a
broken tag is refused with the file, the line (or XML element) and the fault named;
nothing is returned half-read. XML is read with :mod:`defusedxml`: a document type
declaration, entities and external references are refused, never expanded.

Examples
--------
>>> import pathlib, tempfile
>>> p = pathlib.Path(tempfile.mkdtemp()) / "march.sta"
>>> _ = p.write_text(":20:STMT1\\n:25:DE89370400440532013000\\n:28C:1/1\\n"
...                  ":60F:C250301EUR100,00\\n:61:250303D45,20NTRFINV4411//B1\\n"
...                  ":86:CORNER CATERING\\n:62F:C250303EUR54,80\\n-\\n")
>>> df = read_mt940(p)
>>> df[["transaction_id", "amount", "description", "balance_after"]].values.tolist()
[['B1', '-45.20', 'CORNER CATERING', '54.80']]
>>> df.attrs["statement"]["closing_balance"]
'54.80'
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nexus_lab.errors import NexusError, SchemaError
from nexus_lab.frames import read_money

__all__ = ["STATEMENT_COLUMNS", "read_camt053", "read_mt940", "read_ofx", "statement_kind"]

log = logging.getLogger("nexus_lab")

#: The columns every reader returns, in this order.
STATEMENT_COLUMNS = ("transaction_id", "date", "amount", "description", "account",
                     "reference", "currency", "value_date", "balance_after", "type")

_CAMT_NS = re.compile(rb"urn:iso:std:iso:20022:tech:xsd:(camt\.\d{3})\.001\.(\d{2})")
_SWIFT_START = re.compile(r"^\s*(?:\{1:[^}]*\}(?:\{[23]:[^}]*\})*\{4:\s*)?:20:")
_SNIFF_BYTES = 4096


# ----------------------------------------------------------------------------- sniffing


def statement_kind(path: str | os.PathLike[str]) -> str | None:
    """The bank statement format of a file, from its first bytes, or None.

    Returns
    -------
    str or None
        ``"ofx"`` (OFX 1.x SGML or 2.x XML), ``"camt.053"`` (or ``"camt.052"``,
        ``"camt.054"`` for the other ISO 20022 cash reports), ``"mt940"``, or None.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.txt"
    >>> _ = p.write_text(":20:STMT1\\n:25:123\\n")
    >>> statement_kind(p)
    'mt940'
    """
    with open(path, "rb") as f:
        head = f.read(_SNIFF_BYTES)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    found = _CAMT_NS.search(head)
    if found:
        return found.group(1).decode()
    text = head.decode("latin-1")
    if re.search(r"^\s*OFXHEADER\s*:", text) or re.search(r"<\?OFX\b|<OFX>", text, re.I):
        return "ofx"
    if _SWIFT_START.match(text):
        return "mt940"
    return None


# ----------------------------------------------------------------------------- shared


def _currencies() -> frozenset[str]:
    from ofxtools.models.i18n import ISO4217

    return frozenset(ISO4217)


def _decimal(text: object) -> Decimal | None:
    try:
        value = Decimal(str(text).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def _money_text(value: Decimal) -> str:
    """``Decimal`` as plain text with a decimal point and at least two decimals."""
    value = value.quantize(Decimal("0.01")) if value.as_tuple().exponent > -2 else value
    return f"{value:f}"


def _cents_text(cents: np.ndarray) -> list[str]:
    """Cents as text with a decimal point (``-123456`` is ``"-1234.56"``)."""
    a = np.abs(np.asarray(cents, dtype=np.int64))
    whole = pc.cast(pa.array(a // 100), pa.string())
    frac = pc.utf8_lpad(pc.cast(pa.array(a % 100), pa.string()), 2, "0")
    sign = pa.array(np.where(np.asarray(cents) < 0, "-", ""))
    return pc.binary_join_element_wise(sign, whole, ".", frac, "").to_pylist()


def _unique_ids(df: pd.DataFrame, given: pd.Series) -> pd.Series:
    """The bank's ids where given, else an id made from the entry; repeats made unique.

    An entry without an id gets ``H`` and 12 hex digits of a hash of its account, date,
    amount and description (:func:`pandas.util.hash_pandas_object`, stable from run to
    run). A repeated id (two entries that read the same, or a bank that repeats its
    references) gets ``-2``, ``-3``... on its second, third... occurrence in file order.
    """
    ids = given.astype(object).where(given.notna() & given.astype(str).str.strip().ne(""))
    missing = ids.isna()
    if missing.any():
        key = df.loc[missing, ["account", "date", "amount", "description"]].astype(str)
        digest = pd.util.hash_pandas_object(key, index=False).to_numpy(np.uint64)
        ids[missing] = np.char.add("H", np.char.mod("%012x", digest >> np.uint64(16)))
    ids = ids.astype(str)
    seen = ids.groupby(ids).cumcount().to_numpy()
    if (seen > 0).any():
        ids = ids.where(seen == 0, ids + "-" + pd.Series(seen + 1, index=ids.index).astype(str))
    return ids


def _frame(rows: dict[str, list[Any]], path: Path, name: str, fmt: str,
           statements: list[dict], check_balance: bool, bank_ids: list[Any]) -> pd.DataFrame:
    """The statement table of the rows read, balances checked, ids made unique."""
    n = len(bank_ids)
    df = pd.DataFrame({c: rows[c] if len(rows.get(c, ())) == n else [None] * n
                       for c in STATEMENT_COLUMNS}, dtype=object)
    for col in ("date", "value_date"):
        given = df[col]
        days = pd.to_datetime(given, errors="coerce", format="ISO8601")
        bad = (days.isna() & given.notna()).to_numpy()
        if bad.any():
            at = int(np.flatnonzero(bad)[0])
            raise SchemaError(
                f"{name}: {path.name!r}: entry {at + 1} has the {col.replace('_', ' ')} "
                f"{given.iloc[at]!r}, which is not a day of the calendar; the file is damaged: "
                "ask the bank for the file again", table=name, column=col, rows=[at])
        df[col] = days.astype("datetime64[ns]")
    df["transaction_id"] = _unique_ids(df, pd.Series(bank_ids, dtype=object))
    cents = (read_money(df["amount"], table=name, column="amount")[0] if len(df)
             else np.zeros(0, np.int64))
    part = np.asarray(rows["_statement"], dtype=np.int64)
    balance_after = np.full(len(df), None, dtype=object)
    for i, st in enumerate(statements):
        here = part == i
        total = int(cents[here].sum())
        st["entries"] = int(here.sum())
        opening, closing = st.get("_opening"), st.get("_closing")
        if opening is not None:
            balance_after[here] = _cents_text(opening + np.cumsum(cents[here]))
        if check_balance and opening is not None and closing is not None \
                and opening + total != closing:
            diff = closing - (opening + total)
            raise SchemaError(
                f"{name}: {path.name!r}: the balances do not add up for statement "
                f"{st.get('statement_id')!r} of account {st.get('account')!r}: opening "
                f"{_cents_text(np.array([opening]))[0]} + entries "
                f"{_cents_text(np.array([total]))[0]} = "
                f"{_cents_text(np.array([opening + total]))[0]}, but the closing balance is "
                f"{_cents_text(np.array([closing]))[0]} (a difference of "
                f"{_cents_text(np.array([diff]))[0]}): the file looks cut off or incomplete; "
                "ask the bank for the full statement, or pass check_balance=False to read it "
                "as it is", table=name, column="amount")
    if pd.notna(balance_after).any():
        df["balance_after"] = balance_after
    for st in statements:
        st.pop("_opening", None)
        st.pop("_closing", None)
    df.attrs["statement"] = _summary(statements, path, fmt)
    log.info("read %s: %d entries of %d statement%s from %s (%s)", name, len(df),
             len(statements), "" if len(statements) == 1 else "s", path, fmt)
    return df


def _summary(statements: list[dict], path: Path, fmt: str) -> dict:
    if len(statements) == 1:
        return {"format": fmt, "file": path.name, **statements[0]}
    first, last = statements[0], statements[-1]
    accounts = sorted({str(s.get("account")) for s in statements})
    return {"format": fmt, "file": path.name,
            "account": accounts[0] if len(accounts) == 1 else accounts,
            "currency": first.get("currency"),
            "statement_id": first.get("statement_id"),
            "period_start": first.get("period_start"), "period_end": last.get("period_end"),
            "opening_balance": first.get("opening_balance"),
            "closing_balance": last.get("closing_balance"),
            "entries": sum(s["entries"] for s in statements), "statements": statements}


def _balance(value: Decimal | None) -> tuple[str | None, int | None]:
    if value is None:
        return None, None
    return _money_text(value), int((value * 100).to_integral_value())


def _check_currency(code: object, path: Path, name: str, where: str) -> str:
    text = str(code or "").strip().upper()
    if text not in _currencies():
        raise SchemaError(
            f"{name}: {path.name!r}: unknown currency code {code!r} at {where}; a currency is "
            "an ISO 4217 code such as EUR or USD: check the file with the bank",
            table=name, column="currency")
    return text


def _missing(path: Path, name: str, what: str, where: str, column: str) -> SchemaError:
    return SchemaError(
        f"{name}: {path.name!r}: {what} is missing at {where}; the file is incomplete or not a "
        "statement the bank sent as it is: ask the bank for the file again",
        table=name, column=column)


# ----------------------------------------------------------------------------- OFX


def read_ofx(path: str | os.PathLike[str], *, name: str = "bank",
             check_balance: bool = True) -> pd.DataFrame:
    """Read an OFX or QFX bank statement (OFX 1.x SGML or 2.x XML) with ofxtools.

    Every statement of the file (bank and credit card) is read. ``transaction_id`` is
    the bank's ``FITID``; ``date`` the day of ``DTPOSTED`` as the bank wrote it (its
    own time zone); ``value_date`` the day of ``DTAVAIL``; ``amount`` ``TRNAMT`` (OFX
    signs it: money out negative); ``description`` ``NAME`` and ``MEMO`` (one when it
    holds the other); ``reference`` ``REFNUM``, else ``CHECKNUM``; ``currency`` the
    transaction's ``CURRENCY``, else the statement's ``CURDEF``; ``type`` ``TRNTYPE``.
    OFX gives only a closing balance (``LEDGERBAL``), so no balance is checked and
    ``balance_after`` is empty; ``check_balance`` is taken for symmetry.

    Parameters
    ----------
    path : str or path-like
        The ``.ofx`` / ``.qfx`` file.
    name : str
        The table's name in error messages.
    check_balance : bool, default True
        Unused for OFX (see above).

    Returns
    -------
    pandas.DataFrame
        :data:`STATEMENT_COLUMNS`; statement facts in ``attrs["statement"]``.

    Raises
    ------
    NexusError
        When the file is not well-formed OFX (cut off, a tag not closed), or declares
        a document type or entities.
    SchemaError
        When an entry has no amount, date or id, or a currency is unknown.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.ofx"
    >>> _ = p.write_text(
    ...     "OFXHEADER:100\\nDATA:OFXSGML\\nVERSION:102\\nSECURITY:NONE\\nENCODING:USASCII\\n"
    ...     "CHARSET:1252\\nCOMPRESSION:NONE\\nOLDFILEUID:NONE\\nNEWFILEUID:NONE\\n\\n"
    ...     "<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS>"
    ...     "<DTSERVER>20250310<LANGUAGE>ENG</SONRS></SIGNONMSGSRSV1><BANKMSGSRSV1>"
    ...     "<STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS><STMTRS><CURDEF>USD"
    ...     "<BANKACCTFROM><BANKID>121000248<ACCTID>123456<ACCTTYPE>CHECKING</BANKACCTFROM>"
    ...     "<BANKTRANLIST><DTSTART>20250301<DTEND>20250310<STMTTRN><TRNTYPE>DEBIT"
    ...     "<DTPOSTED>20250303<TRNAMT>-45.20<FITID>F1<NAME>CORNER CATERING</STMTTRN>"
    ...     "</BANKTRANLIST><LEDGERBAL><BALAMT>954.80<DTASOF>20250310</LEDGERBAL>"
    ...     "</STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\\n")
    >>> read_ofx(p)[["transaction_id", "amount", "currency"]].values.tolist()
    [['F1', '-45.20', 'USD']]
    """
    from ofxtools.Parser import OFXTree

    p = Path(path)
    raw = p.read_bytes()
    if re.search(rb"<!(?:DOCTYPE|ENTITY)", raw, re.I):
        raise NexusError(
            f"{name}: {p.name!r} declares a document type or entities, which an OFX "
            "statement never does; refused (entities are not expanded): ask the bank for "
            "the file as it was sent")
    text = raw.decode("latin-1")
    if not re.search(r"</OFX>\s*$", text, re.I):
        raise NexusError(
            f"{name}: {p.name!r} ends on line {text.count(chr(10)) + 1} before its closing "
            "</OFX> tag: the file is cut off; ask the bank for the full file")
    tree = OFXTree()
    try:
        tree.parse(str(p))
        _ofx_fields(tree, text, p, name)
        ofx = tree.convert()
    except NexusError:
        raise
    except Exception as err:  # ofxtools raises ParseError, ValueError, KeyError...
        detail = " ".join(str(err).split())[:300] or type(err).__name__
        line = _ofx_line(text, detail)
        raise NexusError(
            f"{name}: {p.name!r}{line} is not a complete, well-formed OFX statement "
            f"({type(err).__name__}: {detail}); the file may be cut off or edited: ask the "
            "bank for the file again") from None
    rows: dict[str, list[Any]] = {c: [] for c in (*STATEMENT_COLUMNS, "_statement")}
    ids: list[Any] = []
    statements: list[dict] = []
    raw_trns = [e for e in tree.getroot().iter() if e.tag == "STMTTRN"]
    raw_lists = [e for e in tree.getroot().iter() if e.tag == "BANKTRANLIST"]
    k = 0
    for s_no, stmt in enumerate(ofx.statements):
        own = raw_lists[s_no] if s_no < len(raw_lists) else None
        account = getattr(stmt, "account", None)
        acct = getattr(account, "acctid", None)
        curdef = _check_currency(stmt.curdef, p, name, f"statement {s_no + 1} CURDEF")
        tranlist = stmt.banktranlist
        ledger = getattr(stmt, "ledgerbal", None)
        closing, _ = _balance(Decimal(ledger.balamt) if ledger is not None else None)
        statements.append({
            "account": acct, "currency": curdef,
            "statement_id": str(getattr(tree.getroot().find(".//TRNUID"), "text", "") or "")
            or None,
            "period_start": _ofx_day(own.findtext("DTSTART")) if own is not None else None,
            "period_end": _ofx_day(own.findtext("DTEND")) if own is not None else None,
            "opening_balance": None, "closing_balance": closing})
        for trn in stmt.transactions if tranlist is not None else []:
            element = raw_trns[k] if k < len(raw_trns) else None
            k += 1
            posted = element.findtext("DTPOSTED") if element is not None else None
            avail = element.findtext("DTAVAIL") if element is not None else None
            currency = getattr(getattr(trn, "currency", None), "cursym", None)
            rows["date"].append(_ofx_day(posted) or _day(trn.dtposted))
            rows["value_date"].append(_ofx_day(avail))
            rows["amount"].append(_money_text(Decimal(trn.trnamt)))
            rows["description"].append(_join_text(trn.name, trn.memo))
            rows["account"].append(acct)
            rows["reference"].append(trn.refnum or trn.checknum)
            where = f"entry {k} (<STMTTRN> on line {_nth_line(text, 'STMTTRN', k)})"
            rows["currency"].append(_check_currency(currency, p, name, where)
                                    if currency else curdef)
            rows["type"].append(trn.trntype)
            rows["_statement"].append(s_no)
            ids.append(trn.fitid)
    return _frame(rows, p, name, "ofx", statements, check_balance, ids)


def _ofx_fields(tree: Any, text: str, path: Path, name: str) -> None:
    """Refuse an unknown currency, or an entry without its amount, date or id, naming its
    line (ofxtools' own messages name neither)."""
    required = (("TRNAMT", "the amount (TRNAMT)", "amount"),
                ("DTPOSTED", "the date (DTPOSTED)", "date"),
                ("FITID", "the bank's id (FITID)", "transaction_id"))
    for k, element in enumerate((e for e in tree.getroot().iter() if e.tag == "CURDEF"), 1):
        _check_currency(element.text, path, name,
                        f"<CURDEF> on line {_nth_line(text, 'CURDEF', k)}")
    for k, element in enumerate((e for e in tree.getroot().iter() if e.tag == "CURSYM"), 1):
        _check_currency(element.text, path, name,
                        f"<CURSYM> on line {_nth_line(text, 'CURSYM', k)}")
    for k, element in enumerate((e for e in tree.getroot().iter() if e.tag == "STMTTRN"), 1):
        for tag, what, column in required:
            if not (element.findtext(tag) or "").strip():
                where = f"entry {k} (<STMTTRN> on line {_nth_line(text, 'STMTTRN', k)})"
                raise _missing(path, name, what, where, column)


def _day(value: Any) -> str | None:
    return None if value is None else str(value)[:10]


def _ofx_day(text: str | None) -> str | None:
    """``YYYY-MM-DD`` of an OFX date as written (``20250305120000[-5:EST]``)."""
    if not text or not re.match(r"\d{8}", text.strip()):
        return None
    t = text.strip()
    return f"{t[:4]}-{t[4:6]}-{t[6:8]}"


def _join_text(*parts: object) -> str:
    texts = [" ".join(str(t).split()) for t in parts if t is not None and str(t).strip()]
    if len(texts) == 2 and (texts[0] in texts[1] or texts[1] in texts[0]):
        return max(texts, key=len)
    return " ".join(texts)


def _nth_line(text: str, tag: str, n: int) -> int | None:
    for i, m in enumerate(re.finditer(rf"<{tag}>", text, re.I), 1):
        if i == n:
            return text.count("\n", 0, m.start()) + 1
    return None


def _ofx_line(text: str, detail: str) -> str:
    """``", line N"`` where the text quoted in a parser's message starts, else ``""``."""
    quoted = re.findall(r"'([^']{4,})'", detail)
    for q in quoted:
        at = text.find(q[:60])
        if at >= 0:
            return f", line {text.count(chr(10), 0, at) + 1},"
    return ""


# ----------------------------------------------------------------------------- camt.053


def read_camt053(path: str | os.PathLike[str], *, name: str = "bank",
                 check_balance: bool = True) -> pd.DataFrame:
    """Read an ISO 20022 camt.053 bank-to-customer statement (XML).

    Any version of the message (``camt.053.001.02`` to ``.13``) is read, through its
    namespace; every ``Stmt`` of the file and every ``Ntry`` of a statement gives a
    row. ``transaction_id`` is the entry's ``AcctSvcrRef``, else ``NtryRef``, else the
    first ``EndToEndId`` of its details (one other than ``NOTPROVIDED``); ``amount`` is
    ``Amt``, negative when ``CdtDbtInd`` is ``DBIT``; ``date`` ``BookgDt``;
    ``value_date`` ``ValDt``; ``description`` the counterparty's name (the creditor
    of a debit, the debtor of a credit) with the unstructured remittance text
    (``Ustrd``), else ``AddtlNtryInf``; ``reference`` the ``EndToEndId``, else the
    creditor reference (``CdtrRefInf/Ref``); ``type`` the bank transaction code
    (``PMNT/ICDT/ESCT``, or the proprietary code). The opening balance is the
    ``OPBD`` (else ``PRCD``) balance, the closing one ``CLBD``.

    The XML is parsed with :mod:`defusedxml`: a document type declaration, entities
    and external references are refused, never expanded or fetched.

    Parameters
    ----------
    path : str or path-like
        The ``.xml`` file.
    name : str
        The table's name in error messages.
    check_balance : bool, default True
        Refuse a statement whose opening balance plus its entries is not its closing
        balance (a file cut off, entries left out).

    Returns
    -------
    pandas.DataFrame
        :data:`STATEMENT_COLUMNS`; statement facts in ``attrs["statement"]``.

    Raises
    ------
    NexusError
        When the file is not well-formed XML (cut off), declares a document type or
        entities, or is not a camt.053 statement.
    SchemaError
        When an entry has no amount, date or direction, a currency is unknown, or the
        balances do not add up.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.xml"
    >>> _ = p.write_text(
    ...     '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
    ...     '<GrpHdr><MsgId>M1</MsgId><CreDtTm>2025-03-10T08:00:00</CreDtTm></GrpHdr><Stmt>'
    ...     '<Id>S1</Id><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id></Acct>'
    ...     '<Ntry><Amt Ccy="EUR">45.20</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>'
    ...     '<BookgDt><Dt>2025-03-03</Dt></BookgDt><AcctSvcrRef>A1</AcctSvcrRef>'
    ...     '<AddtlNtryInf>CORNER CATERING</AddtlNtryInf></Ntry></Stmt></BkToCstmrStmt>'
    ...     '</Document>')
    >>> read_camt053(p)[["transaction_id", "amount", "description"]].values.tolist()
    [['A1', '-45.20', 'CORNER CATERING']]
    """
    import defusedxml.ElementTree as DET
    from defusedxml import DefusedXmlException

    p = Path(path)
    try:
        root = DET.parse(str(p), forbid_dtd=True, forbid_entities=True,
                         forbid_external=True).getroot()
    except DefusedXmlException as err:
        raise NexusError(
            f"{name}: {p.name!r} declares a document type, entities or external references "
            f"({type(err).__name__}), which a camt.053 statement never does; refused (nothing "
            "is expanded or fetched): ask the bank for the file as it was sent") from None
    except Exception as err:  # xml.etree.ElementTree.ParseError and encoding errors
        position = getattr(err, "position", None)
        where = f" (line {position[0]}, column {position[1] + 1})" if position else ""
        detail = re.sub(r":? line \d+, column \d+$", "", str(err)) or type(err).__name__
        raise NexusError(
            f"{name}: {p.name!r} is not well-formed XML{where}: {detail}; the file may be cut "
            "off: ask the bank for the full file") from None
    m = re.match(r"\{(urn:iso:std:iso:20022:tech:xsd:(camt\.\d{3})\.001\.(\d{2}))\}", root.tag)
    if not m or m.group(2) != "camt.053":
        what = f"a {m.group(2)} message" if m else f"an XML document of root {root.tag!r}"
        raise NexusError(
            f"{name}: {p.name!r} is {what}, not an ISO 20022 camt.053 bank statement; export "
            "the statement as camt.053, OFX, MT940 or CSV")
    fmt = f"{m.group(2)}.001.{m.group(3)}"
    ns = {"c": m.group(1)}
    rows: dict[str, list[Any]] = {c: [] for c in (*STATEMENT_COLUMNS, "_statement")}
    ids: list[Any] = []
    statements: list[dict] = []
    group = root.find("c:BkToCstmrStmt", ns)
    stmts = group.findall("c:Stmt", ns) if group is not None else []
    if not stmts:
        raise NexusError(f"{name}: {p.name!r} holds no statement (Document/BkToCstmrStmt/Stmt); "
                         "ask the bank for the full file")

    def text(el: Any, xpath: str) -> str | None:
        found = el.findtext(xpath, namespaces=ns)
        return " ".join(found.split()) if found and found.strip() else None

    for s_no, stmt in enumerate(stmts):
        spath = f"Document/BkToCstmrStmt/Stmt[{s_no + 1}]"
        acct = (text(stmt, "c:Acct/c:Id/c:IBAN") or text(stmt, "c:Acct/c:Id/c:Othr/c:Id"))
        acct_ccy = text(stmt, "c:Acct/c:Ccy")
        balances = {}
        for b_no, bal in enumerate(stmt.findall("c:Bal", ns), 1):
            code = text(bal, "c:Tp/c:CdOrPrtry/c:Cd") or text(bal, "c:Tp/c:CdOrPrtry/c:Prtry")
            amount = _decimal(text(bal, "c:Amt"))
            if amount is None:
                raise _missing(p, name, "the balance amount", f"{spath}/Bal[{b_no}]/Amt",
                               "amount")
            if text(bal, "c:CdtDbtInd") == "DBIT":
                amount = -amount
            balances.setdefault(code, amount)
            acct_ccy = acct_ccy or bal.find("c:Amt", ns).get("Ccy")
        opening_text, opening = _balance(balances.get("OPBD", balances.get("PRCD")))
        closing_text, closing = _balance(balances.get("CLBD"))
        statements.append({
            "account": acct,
            "currency": _check_currency(acct_ccy, p, name, f"{spath}/Acct/Ccy")
            if acct_ccy else None,
            "statement_id": text(stmt, "c:Id"),
            "period_start": (text(stmt, "c:FrToDt/c:FrDtTm") or "")[:10] or None,
            "period_end": (text(stmt, "c:FrToDt/c:ToDtTm") or "")[:10] or None,
            "opening_balance": opening_text, "closing_balance": closing_text,
            "_opening": opening, "_closing": closing})
        for e_no, ntry in enumerate(stmt.findall("c:Ntry", ns), 1):
            where = f"{spath}/Ntry[{e_no}]"
            amt_el = ntry.find("c:Amt", ns)
            amount = _decimal(amt_el.text) if amt_el is not None and amt_el.text else None
            if amount is None:
                raise _missing(p, name, "the amount (Amt)", where, "amount")
            direction = text(ntry, "c:CdtDbtInd")
            if direction not in ("CRDT", "DBIT"):
                raise _missing(p, name, "the direction (CdtDbtInd CRDT or DBIT)", where,
                               "amount")
            booked = text(ntry, "c:BookgDt/c:Dt") or (text(ntry, "c:BookgDt/c:DtTm") or "")[:10]
            if not booked:
                raise _missing(p, name, "the booking date (BookgDt)", where, "date")
            value = text(ntry, "c:ValDt/c:Dt") or (text(ntry, "c:ValDt/c:DtTm") or "")[:10]
            details = ntry.find("c:NtryDtls/c:TxDtls", ns)
            d = details if details is not None else ntry
            e2e = text(d, "c:Refs/c:EndToEndId")
            e2e = None if e2e == "NOTPROVIDED" else e2e
            party = "c:Cdtr" if direction == "DBIT" else "c:Dbtr"
            counterparty = (text(d, f"c:RltdPties/{party}/c:Nm")
                            or text(d, f"c:RltdPties/{party}/c:Pty/c:Nm"))
            remittance = " ".join(t.text.strip() for t in d.findall("c:RmtInf/c:Ustrd", ns)
                                  if t.text and t.text.strip()) or None
            domain = [text(ntry, f"c:BkTxCd/c:Domn/{x}") for x in
                      ("c:Cd", "c:Fmly/c:Cd", "c:Fmly/c:SubFmlyCd")]
            rows["date"].append(booked)
            rows["value_date"].append(value or None)
            rows["amount"].append(_money_text(-amount if direction == "DBIT" else amount))
            rows["description"].append(
                _join_text(counterparty, remittance) or text(ntry, "c:AddtlNtryInf") or "")
            rows["account"].append(acct)
            rows["reference"].append(e2e or text(d, "c:RmtInf/c:Strd/c:CdtrRefInf/c:Ref"))
            rows["currency"].append(_check_currency(amt_el.get("Ccy"), p, name, f"{where}/Amt"))
            rows["type"].append("/".join(x for x in domain if x) if all(domain)
                                else text(ntry, "c:BkTxCd/c:Prtry/c:Cd"))
            rows["_statement"].append(s_no)
            ids.append(text(ntry, "c:AcctSvcrRef") or text(ntry, "c:NtryRef") or e2e)
    return _frame(rows, p, name, fmt, statements, check_balance, ids)


# ----------------------------------------------------------------------------- MT940


def read_mt940(path: str | os.PathLike[str], *, name: str = "bank",
               check_balance: bool = True, encoding: str | None = None) -> pd.DataFrame:
    """Read a SWIFT MT940 customer statement with the ``mt-940`` package.

    A file may hold several statements (each from its ``:20:`` to its ``:62F:`` or
    ``:62M:``), with or without SWIFT block headers (``{1:...}{4:``). Each ``:61:``
    line is an entry: ``transaction_id`` is its bank reference (after ``//``), else
    its customer reference (unless ``NONREF``); ``reference`` the customer reference;
    ``amount`` negative for ``D`` and ``RC`` (a reversed credit), positive for ``C``
    and ``RD``; ``date`` the entry (booking) date, else the value date; ``value_date``
    the value date; ``type`` the transaction type (``NTRF``, ``NMSC``...);
    ``description`` the ``:86:`` text (all its lines; the counterparty name and
    purpose of a structured ``?20``... field), else the ``:61:`` supplementary details.
    The currency is that of the opening balance (``:60F:``).

    Parameters
    ----------
    path : str or path-like
        The ``.sta``, ``.mt940``, ``.940`` or ``.txt`` file.
    name : str
        The table's name in error messages.
    check_balance : bool, default True
        Refuse a statement whose opening balance plus its entries is not its closing
        balance, or that has no closing balance (a file cut off).
    encoding : str, optional
        The text encoding; by default UTF-8, else Latin-1.

    Returns
    -------
    pandas.DataFrame
        :data:`STATEMENT_COLUMNS`; statement facts in ``attrs["statement"]``.

    Raises
    ------
    NexusError
        When the file holds no statement, or a tag cannot be read (its line named).
    SchemaError
        When a currency is unknown or the balances do not add up.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.sta"
    >>> _ = p.write_text(":20:S1\\n:25:123456\\n:28C:1\\n:60F:C250301EUR0,00\\n"
    ...                  ":61:250303C100,00NTRFNONREF//B7\\n:86:ACME REFUND\\n"
    ...                  ":62F:C250303EUR100,00\\n")
    >>> read_mt940(p)[["transaction_id", "amount", "type"]].values.tolist()
    [['B7', '100.00', 'NTRF']]
    """
    import mt940

    p = Path(path)
    raw = p.read_bytes()
    if encoding is None:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    else:
        text = raw.decode(encoding)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    starts = [m.start() for m in re.finditer(r"^:20:", text, re.M)]
    if not starts:
        raise NexusError(f"{name}: {p.name!r} holds no MT940 statement (no ':20:' line); "
                         "export the statement as MT940 or CSV")
    rows: dict[str, list[Any]] = {c: [] for c in (*STATEMENT_COLUMNS, "_statement")}
    ids: list[Any] = []
    statements: list[dict] = []
    options = mt940.Options.all()
    for s_no, (a, b) in enumerate(zip(starts, [*starts[1:], len(text)], strict=True)):
        block = text[a:b]
        first_line = text.count("\n", 0, a) + 1
        _check_tags(block, first_line, p, name)
        parsed = mt940.models.Transactions(options=options)
        try:
            parsed.parse(block)
        except Exception as err:  # mt940 raises RuntimeError, KeyError, ValueError...
            raise _mt940_error(err, block, first_line, p, name) from None
        data = parsed.data
        opening = data.get("final_opening_balance") or data.get("intermediate_opening_balance")
        closing = data.get("final_closing_balance") or data.get("intermediate_closing_balance")
        currency = parsed.currency
        where = f"line {first_line} (the statement's :60F: balance)"
        currency = _check_currency(currency, p, name, where) if currency else None
        if closing is None and check_balance:
            raise NexusError(
                f"{name}: {p.name!r}: the statement starting on line {first_line} has no "
                "closing balance (:62F: or :62M:): the file looks cut off; ask the bank for "
                "the full statement, or pass check_balance=False to read it as it is")
        opening_text, opening_cents = _balance(opening.amount.amount if opening else None)
        closing_text, closing_cents = _balance(closing.amount.amount if closing else None)
        account = data.get("account_identification")
        statements.append({
            "account": account, "currency": currency,
            "statement_id": "/".join(str(x) for x in (data.get("transaction_reference"),
                                                      data.get("statement_number")) if x),
            "period_start": str(opening.date) if opening else None,
            "period_end": str(closing.date) if closing else None,
            "opening_balance": opening_text, "closing_balance": closing_text,
            "_opening": opening_cents, "_closing": closing_cents})
        for t in parsed:
            d = t.data
            entry = d.get("guessed_entry_date") or d.get("entry_date") or d.get("date")
            customer = d.get("customer_reference")
            customer = None if not customer or customer.upper() == "NONREF" else customer
            tx_ccy = d.get("currency") or currency
            rows["date"].append(str(entry) if entry else None)
            rows["value_date"].append(str(d["date"]) if d.get("date") else None)
            rows["amount"].append(_money_text(d["amount"].amount))
            rows["description"].append(_mt940_text(d))
            rows["account"].append(account)
            rows["reference"].append(customer)
            rows["currency"].append(_check_currency(tx_ccy, p, name, where) if tx_ccy
                                    else None)
            rows["type"].append(d.get("id"))
            rows["_statement"].append(s_no)
            ids.append(d.get("bank_reference") or customer)
    return _frame(rows, p, name, "mt940", statements, check_balance, ids)


# :61: value date YYMMDD, optional entry date MMDD, mark, optional funds code, amount,
# then a transaction type of a letter and three characters
_FIELD_61 = re.compile(r"^\d{6}(\d{4})?R?[CD]\w?\d+(,\d*)?[A-Z][A-Z0-9]{3}", re.I)
_BALANCE = re.compile(r"^[CD]\d{6}[A-Z]{3}\d+(,\d*)?$")


def _check_tags(block: str, first_line: int, path: Path, name: str) -> None:
    """Refuse the tags the parser would misread silently: a ``:61:`` or a balance that
    does not have its fields."""
    for m in re.finditer(r"^:(61|60F|60M|62F|62M):(.*)$", block, re.M):
        tag, value = m.group(1), m.group(2).strip()
        ok = _FIELD_61.match(value) if tag == "61" else _BALANCE.match(value)
        if not ok:
            line = first_line + block.count("\n", 0, m.start())
            shape = ("value date YYMMDD, [entry date MMDD], C/D/RC/RD, amount with a decimal "
                     "comma, transaction type (e.g. NTRF), reference" if tag == "61" else
                     "C/D, date YYMMDD, currency, amount with a decimal comma "
                     "(C250301EUR1000,00)")
            raise NexusError(
                f"{name}: {path.name!r}, line {line}: the :{tag}: field {value!r} cannot be "
                f"read (expected {shape}); the file may be damaged or cut off: ask the bank "
                "for the file again")


def _mt940_error(err: Exception, block: str, first_line: int, path: Path,
                 name: str) -> NexusError:
    args = [a for a in getattr(err, "args", ()) if isinstance(a, str)]
    line = ""
    for value in args[1:] + args[:1]:
        at = block.find(value.strip()[:40]) if value.strip() else -1
        if at >= 0:
            line = f", line {first_line + block.count(chr(10), 0, at)}"
            break
    detail = " ".join((args[0] if args else str(err)).split())[:200] or type(err).__name__
    return NexusError(
        f"{name}: {path.name!r}{line}: not a well-formed MT940 statement ({detail}); the file "
        "may be damaged or cut off: ask the bank for the file again")


def _mt940_text(d: dict) -> str:
    structured: Sequence[Any] = [d.get("applicant_name"), d.get("purpose")]
    if any(structured):
        return _join_text(*structured)
    details = " ".join(str(d.get("transaction_details") or d.get("extra_details") or "").split())
    fields = dict(re.findall(r"/(NAME|REMI|ORDP|BENM|EREF)/([^/]*)", details))
    if details.startswith("/") and fields:  # /NAME/WESTSIDE SUPPLY/REMI/Order 7781
        named = [fields.get("NAME") or fields.get("ORDP") or fields.get("BENM"),
                 fields.get("REMI")]
        return _join_text(*named) or details
    return details
