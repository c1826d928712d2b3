"""Standardization as a recorded pipeline: each rule says which values it changed."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nexus_lab import _html
from nexus_lab._typing import FrameLike
from nexus_lab.errors import SchemaError
from nexus_lab.frames import (
    CURRENCY_SIGNS,
    decimal_text,
    describe_rows,
    read_dates,
    read_money,
    select_columns,
    to_pandas,
)

__all__ = ["CONTRACTS", "Standardized", "standardize"]

#: The data contracts standardized here: required and optional columns (DESIGN.md).
CONTRACTS: dict[str, dict[str, tuple[str, ...]]] = {
    "bank": {"required": ("transaction_id", "date", "amount", "description"),
             "optional": ("account", "reference", "currency", "category")},
    "ledger": {"required": ("transaction_id", "date", "amount", "description"),
               "optional": ("vendor", "category", "account", "reference", "currency")},
}
_TEXT = ("transaction_id", "description", "account", "reference", "vendor", "category",
         "currency")
_SIGNS = "".join(re.escape(s) for s in CURRENCY_SIGNS)
_CODE = rf"(?P<cur>[{_SIGNS}]|\b[A-Z]{{3}}\b)"
_CHANGES = ["rule", "column", "row", "before", "after"]
_PAIRS = ["left_row", "right_row", "score", "found_by"]
_FINDERS = ("exact_duplicates", "duplicates")  # rules that find pairs, changing no value


def check_kind(kind: str) -> str:
    """``kind`` when it names a contract, else a :class:`SchemaError`."""
    if kind not in CONTRACTS:
        raise SchemaError(f"kind={kind!r}: give one of {sorted(CONTRACTS)} (the data contract "
                          "the table follows)")
    return kind


@dataclass
class Standardized:
    """What :func:`standardize` made of a table.

    Attributes
    ----------
    frame : pandas.DataFrame
        The table in its data contract: ``transaction_id``, ``date`` (datetime64),
        ``amount`` (units, the exact value of ``amount_cents`` / 100), ``amount_cents``
        (int64), ``description``, the optional columns present, ``currency`` (ISO code
        or missing) and, when ``categories`` were given, ``category_match``
        (``"exact"``, ``"alias"``, ``"fuzzy"`` or ``"unknown"``).
    changes : pandas.DataFrame
        One row per value a rule changed: ``rule, column, row, before, after``
        (``row`` is the 0-based position in the input).
    duplicates : pandas.DataFrame
        Suspected duplicate pairs: ``left_row, right_row, score, found_by`` and any
        further columns the finder gave.
    rules : list of dict
        The rules applied, in order, each ``{"rule": name, **parameters}``; the
        parameters are the ones decided for this table (the decimal mark, the date
        order), so that :meth:`replay` reads another table the same way.
    """

    frame: pd.DataFrame
    changes: pd.DataFrame
    duplicates: pd.DataFrame
    rules: list[dict[str, Any]]
    kind: str = "bank"
    input_rows: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Counts: rows, changes per rule, duplicate pairs, currencies, unknown categories."""
        per_rule = self.changes["rule"].value_counts(sort=False)
        out: dict[str, Any] = {
            "kind": self.kind,
            "rows": len(self.frame),
            "changes": len(self.changes),
            "changes_by_rule": {r["rule"]: int(per_rule.get(r["rule"], 0)) for r in self.rules
                                if r["rule"] not in _FINDERS},
            "duplicate_pairs": len(self.duplicates),
            "currencies": {str(k): int(v) for k, v in
                           self.frame["currency"].value_counts(dropna=True).items()},
        }
        if "category_match" in self.frame:
            out["unknown_categories"] = int((self.frame["category_match"] == "unknown").sum())
        return out

    def to_frame(self) -> pd.DataFrame:
        """The standardized table (a copy of :attr:`frame`)."""
        return self.frame.copy()

    def replay(self, df: FrameLike, **overrides: Any) -> Standardized:
        """Standardize another table with the same settings and the same decisions (the
        decimal mark and date order read from this one), ``overrides`` taking precedence."""
        options = dict(self.options)
        for rule in self.rules:
            if rule["rule"] == "amount" and options.get("decimal") is None:
                options["decimal"] = rule.get("decimal")
            if rule["rule"] == "date" and options.get("dayfirst") is None:
                options["dayfirst"] = {"day/month/year": True,
                                       "month/day/year": False}.get(rule.get("order", ""))
        return standardize(df, self.kind, **{**options, **overrides})

    def _repr_html_(self) -> str:
        s = self.summary()
        head = {k: v for k, v in s.items() if not isinstance(v, dict)}
        return (f"<h4>Standardized {_html.escape(self.kind)} table</h4>{_html.kv(head)}"
                f"<h5>Changes by rule</h5>{_html.kv(s['changes_by_rule'])}"
                f"<h5>Changes</h5>{_html.frame(self.changes, limit=10, empty='no changes')}"
                f"<h5>Suspected duplicates</h5>"
                f"{_html.frame(self.duplicates, limit=10, empty='none found')}")


def standardize(
    df: FrameLike,
    kind: str = "bank",
    *,
    columns: Mapping[str, str] | None = None,
    currency: str | None = None,
    categories: Mapping[str, Any] | pd.DataFrame | None = None,
    decimal: str | None = None,
    dayfirst: bool | None = None,
    duplicates: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    category_threshold: float = 85.0,
) -> Standardized:
    """Bring a bank or ledger table into its data contract, recording every change.

    The rules run in this order, each recording the values it changed:

    1. ``whitespace``: text columns lose leading and trailing blanks, inner runs of
       blanks become one space; blank text becomes missing.
    2. ``case``: descriptions and vendors in upper case, categories in lower case.
    3. ``currency``: each row's ISO code, from the ``currency`` column (symbols such
       as ``€`` read as their code, :data:`nexus_lab.frames.CURRENCY_SIGNS`), else from
       the symbol or code written in the amount (``"£12.00"``, ``"12,50 EUR"``), else
       ``currency=``. Rows may differ: mixed currencies are kept per row.
    4. ``amount``: amounts to int64 cents with :func:`nexus_lab.frames.read_money`, the
       decimal mark decided once per currency; a change is recorded where the amount is
       not a plain number worth the same cents (``"$1,234.50"`` -> ``"1234.50"``,
       ``12.345`` -> ``"12.34"``; ``21.5`` is no change).
    5. ``date``: dates with :func:`nexus_lab.frames.read_dates` (one day/month order for
       the column); a change is recorded where the text differs from ISO 8601.
    6. ``category_alias`` and ``category_fuzzy`` (with ``categories``): a category is
       replaced by the name of the mapping entry that lists it; one that matches no
       entry takes the closest name or alias when the rapidfuzz ``WRatio`` score is at
       least ``category_threshold``; others are kept and flagged ``"unknown"``.

    Then duplicates are looked for (the changes do not include them): with
    ``duplicates=None`` rows with the same date, amount, currency and (standardized)
    description are exact duplicates, each paired with the first row of its group.

    Parameters
    ----------
    df : DataFrame
        pandas, polars, pyarrow or cuDF frame following the bank or ledger contract.
    kind : {"bank", "ledger"}
        The contract (:data:`CONTRACTS`).
    columns : mapping, optional
        ``{canonical name: your column}``, e.g. ``{"amount": "Amt"}``.
    currency : str, optional
        The ISO code of rows whose currency nothing else tells.
    categories : mapping or DataFrame, optional
        ``{"fuel": ["gas", "petrol"], ...}`` (a name and its aliases), or a frame with
        columns ``alias`` and ``category``.
    decimal : {".", ","}, optional
        The decimal mark of text amounts (default: decided from the values).
    dayfirst : bool, optional
        The order of numeric dates when the column does not settle it.
    duplicates : callable, optional
        ``finder(frame) -> DataFrame`` with columns ``left_row`` and ``right_row``
        (positions in ``frame``) and optionally ``score`` (0-100); it is given the
        standardized frame.
    category_threshold : float, default 85
        Smallest fuzzy score (0-100) that maps an unknown category to a known one.

    Returns
    -------
    Standardized

    Raises
    ------
    SchemaError
        For a missing column, an amount or date that cannot be read, a currency
        column that contradicts the currency written in the amount, or a finder
        whose output lacks ``left_row``/``right_row``.

    Examples
    --------
    >>> import pandas as pd
    >>> bank = pd.DataFrame({"transaction_id": ["B1", "B2", "B3"],
    ...                      "date": ["03/04/2025", "13/04/2025", "13/04/2025"],
    ...                      "amount": ["$12.50", "€1.234,00", "€1.234,00"],
    ...                      "description": [" coffee  shop", "RENT", "rent "]})
    >>> res = standardize(bank)
    >>> res.frame[["amount_cents", "currency"]].values.tolist()
    [[1250, 'USD'], [123400, 'EUR'], [123400, 'EUR']]
    >>> res.summary()["changes_by_rule"]
    {'whitespace': 2, 'case': 2, 'currency': 3, 'amount': 3, 'date': 3}
    >>> res.duplicates[["left_row", "right_row"]].values.tolist()
    [[1, 2]]
    """
    kind = check_kind(kind)
    options = {"columns": dict(columns) if columns else None, "currency": currency,
               "categories": categories, "decimal": decimal, "dayfirst": dayfirst,
               "duplicates": duplicates, "category_threshold": category_threshold}
    raw = to_pandas(df, kind)
    contract = CONTRACTS[kind]
    table = select_columns(raw, name=kind, required=contract["required"],
                           optional=contract["optional"], columns=columns)
    table = table.reset_index(drop=True)
    log = _Log()
    ids = table["transaction_id"].astype("string").to_numpy(dtype=object, na_value=None)

    text = [c for c in _TEXT if c in table]
    for c in text:
        table[c] = _text(table[c])
    before = {c: table[c].copy() for c in text}
    for c in text:
        table[c] = table[c].str.strip().str.replace(r"\s+", " ", regex=True).replace("", pd.NA)
        log.record("whitespace", c, before[c], table[c])
    log.rule("whitespace", columns=text)

    cases = {"description": "upper", "vendor": "upper", "category": "lower"}
    cased = {c: how for c, how in cases.items() if c in table}
    for c, how in cased.items():
        old = table[c].copy()
        table[c] = table[c].str.upper() if how == "upper" else table[c].str.lower()
        log.record("case", c, old, table[c])
    log.rule("case", columns=cased)

    amount_text = table["amount"].astype("string").str.strip()
    written = amount_text.str.extract(_CODE, expand=False)
    written = written.map(lambda s: CURRENCY_SIGNS.get(s, s), na_action="ignore")
    cur, sources = _currency(table, written.astype("string"), currency, kind, ids)
    old_cur = table["currency"].copy() if "currency" in table else pd.Series(
        pd.NA, index=table.index, dtype="string")
    table["currency"] = cur
    log.record("currency", "currency", old_cur, cur)
    log.rule("currency", sources=sources, default=currency)

    cents, marks = _money(table["amount"], written, kind, ids, decimal)
    plain = pd.Series(np.asarray(decimal_text(cents / 100.0, digits=2, sign=False)
                                 .to_pylist(), dtype=object), index=table.index, dtype="string")
    # a plain number worth the same cents (21.5, 21.50) is no change; "$21.50" is one
    plain_text = amount_text.where(amount_text.str.fullmatch(r"[+-]?\d+(\.\d+)?").fillna(False))
    as_number = pd.to_numeric(plain_text, errors="coerce").astype("float64").to_numpy()
    same = np.isclose(as_number * 100, cents, rtol=0.0, atol=1e-6)
    log.record("amount", "amount", amount_text, plain, same=same)
    log.rule("amount", decimal=marks[0] if len(set(marks)) == 1 else marks)
    table["amount"] = cents / 100.0
    table["amount_cents"] = cents

    stamps, order = read_dates(table["date"], table=kind, ids=ids, dayfirst=dayfirst)
    iso = _iso(stamps, table.index)
    if pd.api.types.is_datetime64_any_dtype(table["date"]):
        log.record("date", "date", iso, iso)  # datetimes are already in the contract
    else:
        log.record("date", "date", table["date"].astype("string").str.strip(), iso)
    log.rule("date", order=order)
    table["date"] = stamps

    if categories is not None:
        if "category" not in table:
            raise SchemaError(f"categories= was given but the {kind} table has no category "
                              "column; map it with columns={'category': '<your column>'}",
                              table=kind, column="category")
        _categories(table, categories, category_threshold, log)

    front = ["transaction_id", "date", "amount", "amount_cents", "description"]
    rest = [c for c in table if c not in front]
    frame = table[front + rest]
    pairs = _duplicates(frame, duplicates)
    if duplicates is None:
        log.rule("exact_duplicates", on=["date", "amount_cents", "currency", "description"])
    else:
        log.rule("duplicates", finder=getattr(duplicates, "__name__", repr(duplicates)))
    return Standardized(frame, log.frame(), pairs, log.rules, kind, len(raw), options)


class _Log:
    """The rules applied and the values they changed."""

    def __init__(self) -> None:
        self.parts: list[pd.DataFrame] = []
        self.rules: list[dict[str, Any]] = []

    def rule(self, name: str, **params: Any) -> None:
        self.rules.append({"rule": name, **params})

    def record(self, rule: str, column: str, before: pd.Series, after: pd.Series,
               same: np.ndarray | None = None) -> None:
        b, a = before.astype("string"), after.astype("string")
        changed = ~((b == a).fillna(False) | (b.isna() & a.isna())).to_numpy(bool)
        if same is not None:
            changed &= ~same
        if changed.any():
            rows = np.flatnonzero(changed)
            self.parts.append(pd.DataFrame({
                "rule": rule, "column": column, "row": rows,
                "before": b.iloc[rows].astype(object).where(b.iloc[rows].notna(), None).values,
                "after": a.iloc[rows].astype(object).where(a.iloc[rows].notna(), None).values,
            }))

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({c: pd.Series(dtype="int64" if c == "row" else object)
                                 for c in _CHANGES})
        return pd.concat(self.parts, ignore_index=True)


def _text(values: pd.Series) -> pd.Series:
    """A column as pandas text (numbers as their text, missing stays missing)."""
    return values.astype("string")


def _currency(table: pd.DataFrame, written: pd.Series, default: str | None, kind: str,
              ids: np.ndarray) -> tuple[pd.Series, list[str]]:
    """Each row's currency code and which sources gave some."""
    if default is not None and not re.fullmatch(r"[A-Z]{3}", str(default)):
        raise SchemaError(f"currency={default!r}: give an ISO 4217 code such as 'EUR'",
                          table=kind, column="currency")
    sources = []
    cur = pd.Series(pd.NA, index=table.index, dtype="string")
    if "currency" in table:
        given = table["currency"].str.upper().replace(CURRENCY_SIGNS)
        bad = (given.notna() & ~given.str.fullmatch(r"[A-Z]{3}").fillna(False)).to_numpy(bool)
        if bad.any():
            raise _rows("currency", bad, ids, kind,
                        f"values that are not currency codes ({given[bad].head(3).tolist()})",
                        "write ISO 4217 codes such as EUR or USD, or a symbol ($ € £ ¥ ₹)")
        clash = (given.notna() & written.notna() & (given != written)).fillna(False)
        if clash.any():
            m = clash.to_numpy(bool)
            raise _rows("currency", m, ids, kind, "a currency that contradicts the amount's "
                        f"own ({given[m].head(2).tolist()} against "
                        f"{written[m].head(2).tolist()})",
                        "correct the currency column or the amounts")
        cur = given
        sources.append("column")
    if written.notna().any():
        cur = cur.fillna(written)
        sources.append("amount text")
    if default is not None:
        cur = cur.fillna(default)
        sources.append("default")
    return cur.astype("string"), sources


def _money(values: pd.Series, written: pd.Series, kind: str, ids: np.ndarray,
           decimal: str | None) -> tuple[np.ndarray, list[str | None]]:
    """int64 cents, read once per currency written in the column (each its own decimal
    mark), and the marks decided."""
    if pd.api.types.is_numeric_dtype(values) or written.fillna("").nunique() <= 1:
        cents, how = read_money(values, table=kind, ids=ids, decimal=decimal or "auto")
        return cents.astype(np.int64), [how["decimal"]]
    cents = np.zeros(len(values), dtype=np.int64)
    marks: list[str | None] = []
    groups = written.fillna("").to_numpy(dtype=object)
    for code in pd.unique(groups):  # one read per currency, not per row
        mask = groups == code
        text = values.astype("string")[mask].str.replace(_CODE, "", regex=True)
        try:
            part, how = read_money(text, table=kind, ids=ids[mask], decimal=decimal or "auto")
        except SchemaError as err:
            raise SchemaError(f"{err} (among the amounts in {code or 'no stated currency'}; "
                              "row numbers count those rows only, the ids are exact)",
                              table=kind, column="amount",
                              rows=np.flatnonzero(mask)[err.rows].tolist()) from None
        cents[mask] = part
        marks.append(how["decimal"])
    return cents, marks


def _iso(stamps: np.ndarray, index: pd.Index) -> pd.Series:
    s = pd.Series(stamps, index=index)
    timed = (s != s.dt.normalize()).any()
    return s.dt.strftime("%Y-%m-%d %H:%M:%S" if timed else "%Y-%m-%d").astype("string")


def _category_table(categories: Mapping[str, Any] | pd.DataFrame) -> dict[str, str]:
    """``{alias: category}``, every key and name in lower case with single blanks."""
    def norm(v: object) -> str:
        return re.sub(r"\s+", " ", str(v).strip().lower())

    if isinstance(categories, pd.DataFrame):
        missing = {"alias", "category"} - set(categories.columns)
        if missing:
            raise SchemaError(f"the categories frame has no column {sorted(missing)} (it has "
                              f"{list(categories.columns)}); give columns 'alias' and "
                              "'category', one row per alias", column="category")
        pairs = list(zip(categories["alias"].map(norm), categories["category"].map(norm),
                         strict=True))
        names = sorted({c for _, c in pairs})
    else:
        pairs = []
        for name, aliases in categories.items():
            if isinstance(aliases, str):
                aliases = [aliases]
            pairs += [(norm(a), norm(name)) for a in aliases]
        names = [norm(n) for n in categories]
    table = {n: n for n in names}
    for alias, name in pairs:
        if table.get(alias, name) != name:
            raise SchemaError(f"categories: {alias!r} is given for both {table[alias]!r} and "
                              f"{name!r}; give each alias one category", column="category")
        table[alias] = name
    return table


def _categories(table: pd.DataFrame, categories: Any, threshold: float, log: _Log) -> None:
    from rapidfuzz import fuzz, process

    lookup = _category_table(categories)
    names = set(lookup.values())
    col = table["category"]
    match = pd.Series(pd.NA, index=table.index, dtype="string")
    match[col.isin(names).to_numpy(bool)] = "exact"
    aliased = col.map(lookup).astype("string")
    is_alias = (aliased.notna() & (aliased != col)).fillna(False).to_numpy(bool)
    match[is_alias] = "alias"
    new = col.where(aliased.isna(), aliased)
    log.record("category_alias", "category", col, new)
    log.rule("category_alias", entries=len(lookup))

    left = (new.notna() & aliased.isna()).to_numpy(bool)
    fuzzy = new.copy()
    if left.any():
        keys = list(lookup)
        unknown = pd.unique(new[left].to_numpy(dtype=object))
        scores = process.cdist(list(unknown), keys, scorer=fuzz.WRatio, workers=1)
        best = scores.argmax(axis=1)
        ok = scores[np.arange(len(unknown)), best] >= threshold
        found = {u: lookup[keys[b]] for u, b, k in zip(unknown, best, ok, strict=True) if k}
        mapped = new[left].map(found)
        fuzzy[left] = mapped.fillna(new[left])
        match[left] = np.where(mapped.notna(), "fuzzy", "unknown")
    log.record("category_fuzzy", "category", new, fuzzy)
    log.rule("category_fuzzy", scorer="WRatio", threshold=threshold)
    table["category"] = fuzzy
    table["category_match"] = match


def _duplicates(frame: pd.DataFrame, finder: Callable[[pd.DataFrame], pd.DataFrame] | None
                ) -> pd.DataFrame:
    if finder is None:
        key = ["date", "amount_cents", "currency", "description"]
        k = frame[key].astype("string").fillna("\x00")
        group = k.groupby(key, sort=False, dropna=False).ngroup().to_numpy()
        first = pd.Series(np.arange(len(frame))).groupby(group).transform("min").to_numpy()
        right = np.flatnonzero(first != np.arange(len(frame)))
        return pd.DataFrame({"left_row": first[right].astype(np.int64),
                             "right_row": right.astype(np.int64), "score": 100.0,
                             "found_by": "exact"})
    pairs = finder(frame)
    if not isinstance(pairs, pd.DataFrame) or not {"left_row", "right_row"} <= set(pairs):
        raise SchemaError(
            f"the duplicates finder returned {type(pairs).__name__} "
            f"{list(getattr(pairs, 'columns', []))}; it must return a DataFrame with columns "
            "left_row and right_row (row positions) and optionally score (0-100)")
    pairs = pairs.reset_index(drop=True).copy()
    for c in ("left_row", "right_row"):
        pairs[c] = pairs[c].astype(np.int64)
    if "score" not in pairs:
        pairs["score"] = np.nan
    if "found_by" not in pairs:
        pairs["found_by"] = getattr(finder, "__name__", "finder")
    return pairs[_PAIRS + [c for c in pairs if c not in _PAIRS]]


def _rows(column: str, mask: np.ndarray, ids: np.ndarray, table: str, what: str,
          fix: str) -> SchemaError:
    return SchemaError(f"{table}.{column}: {what} at {describe_rows(mask, ids)}; {fix}",
                       table=table, column=column, rows=np.flatnonzero(mask)[:5].tolist())
