"""Data quality: five dimensions scored 0-100 from rules checked with pandera."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nexus_lab import _html
from nexus_lab._typing import FrameLike
from nexus_lab.errors import NexusError, SchemaError
from nexus_lab.frames import to_pandas
from nexus_lab.standardize._standardize import Standardized, check_kind

__all__ = ["DIMENSIONS", "WEIGHTS", "QualityReport", "contract_schema", "quality"]

#: The five dimensions, in the order reports show them.
DIMENSIONS = ("completeness", "validity", "uniqueness", "consistency", "timeliness")
#: Weights of the overall score (dimensions with no rule are left out, the rest rescaled).
WEIGHTS = {"completeness": 0.25, "validity": 0.30, "uniqueness": 0.20, "consistency": 0.15,
           "timeliness": 0.10}
#: Checks a rule may name besides pandera's built-in ones (``in_range``, ``isin``,
#: ``str_matches``, ``greater_than``...): ``not_null``, ``unique``, ``dtype``,
#: ``consistent_by`` (one value per group of ``by``), ``max_age_days`` (timeliness).
OWN_CHECKS = ("not_null", "unique", "dtype", "consistent_by", "max_age_days")
_PANDERA_CHECKS = ("equal_to", "not_equal_to", "greater_than", "greater_than_or_equal_to",
                   "less_than", "less_than_or_equal_to", "in_range", "isin", "notin",
                   "str_matches", "str_contains", "str_startswith", "str_endswith",
                   "str_length")
_DEFAULT_AGE = 365  # days: the built-in timeliness window
_SHOW = 10  # failing rows per rule in the HTML report


@dataclass
class QualityReport:
    """Scores and failures of :func:`quality`.

    Attributes
    ----------
    scores : pandas.DataFrame
        One row per column and a last row ``"(table)"``; columns the five
        :data:`DIMENSIONS` (0-100, NaN where no rule measures it) and ``score`` (their
        weighted mean, :data:`WEIGHTS`).
    overall : float
        The table's score, 0-100.
    failures : pandas.DataFrame
        One row per failing cell or row: ``rule, dimension, column, row, value``
        (``row`` is the 0-based position in the table).
    counts : pandas.DataFrame
        Per rule: ``rule, dimension, column, failing_rows``, every rule listed (0 when it
        passed).
    as_of : pandas.Timestamp or None
        The day timeliness is measured against.
    """

    scores: pd.DataFrame
    overall: float
    failures: pd.DataFrame
    counts: pd.DataFrame
    rows: int
    as_of: pd.Timestamp | None = None
    settings: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The overall score, the table's five scores, rows and failing rules."""
        table = self.scores.loc["(table)"]
        return {"overall": round(self.overall, 2), "rows": self.rows,
                **{d: (None if pd.isna(table[d]) else round(float(table[d]), 2))
                   for d in DIMENSIONS},
                "failing_rules": int((self.counts["failing_rows"] > 0).sum()),
                "rules": len(self.counts)}

    def to_frame(self) -> pd.DataFrame:
        """The scores (a copy of :attr:`scores`)."""
        return self.scores.copy()

    def _repr_html_(self) -> str:
        return _body(self, standalone=False)

    def html(self, before: str = "") -> str:
        """The standalone HTML report :meth:`to_html` writes, as text; ``before`` is HTML
        put at the top of its body (a heading naming the table, say).

        Examples
        --------
        >>> import pandas as pd
        >>> rep = quality(pd.DataFrame({"id": ["a", None]}), [{"column": "id",
        ...                                                    "check": "not_null"}])
        >>> page = rep.html("<h1>ids</h1>")
        >>> page.startswith("<!doctype html>"), "<body><h1>ids</h1>" in page
        (True, True)
        """
        return ("<!doctype html><html><head><meta charset='utf-8'><title>Data quality</title>"
                "<style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}"
                "table{border-collapse:collapse;margin:6px 0 14px}"
                "td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left;"
                "font-size:14px}h1{font-size:22px}h2{font-size:18px;margin-top:26px}"
                "</style></head><body>" + before + _body(self, standalone=True)
                + "</body></html>")

    def to_html(self, path: str | os.PathLike[str]) -> Path:
        """Write a standalone HTML report: scores as bars, failures per rule, the first
        failing rows of each rule. Written atomically; returns ``path``."""
        from nexus_lab.files import write_text

        return write_text(self.html(), path)


def _bar(value: float) -> str:
    if pd.isna(value):
        return "<span style='color:#888'>n/a</span>"
    color = "#2f6b3a" if value >= 95 else "#b25f00" if value >= 80 else "#a8322d"
    return (f"<div style='display:flex;align-items:center;gap:6px'><div style='width:120px;"
            f"background:#eee;height:10px'><div style='width:{value:.0f}%;background:{color};"
            f"height:10px'></div></div><span>{value:.1f}</span></div>")


def _body(rep: QualityReport, *, standalone: bool) -> str:
    title = "h1" if standalone else "h4"
    sub = "h2" if standalone else "h5"
    head = (f"<{title}>Data quality: {rep.overall:.1f} / 100</{title}>"
            + _html.kv({"rows": rep.rows, "as of": "" if rep.as_of is None else
                        str(rep.as_of.date()),
                        "weights": ", ".join(f"{k} {v:g}" for k, v in WEIGHTS.items())}))
    rows = "".join(
        f"<tr><th>{_html.escape(name)}</th>" + "".join(
            f"<td>{_bar(row[d])}</td>" for d in (*DIMENSIONS, "score")) + "</tr>"
        for name, row in rep.scores.iterrows())
    grid = ("<table><tr><th>column</th>" + "".join(f"<th>{d}</th>" for d in
                                                  (*DIMENSIONS, "score")) + "</tr>"
            + rows + "</table>")
    counts = _html.frame(rep.counts, limit=200, empty="no rules")
    parts = [head, f"<{sub}>Scores</{sub}>", grid, f"<{sub}>Rules</{sub}>", counts]
    if standalone:
        for rule, rows_ in rep.failures.groupby("rule", sort=False):
            parts.append(f"<{sub}>{_html.escape(rule)}: {len(rows_)} failing</{sub}>")
            parts.append(_html.frame(rows_.drop(columns="rule"), limit=_SHOW))
    return "".join(parts)


def contract_schema(kind: str = "bank", *, as_of: object = None,
                    max_age_days: int = _DEFAULT_AGE,
                    present: Sequence[str] | None = None) -> Any:
    """The built-in rules of a data contract, as a ``pandera.DataFrameSchema``.

    Bank and ledger: ``transaction_id`` filled and unique; ``date`` filled and a date;
    ``amount`` filled, a number, not zero; ``description`` filled; ``currency`` an ISO
    code where given; the table has no two rows with the same date, amount and
    description (duplicates after the first fail). Consistency: a bank ``account`` in
    one currency, a ledger ``vendor`` in one category (rows away from the group's most
    common value fail). With ``as_of``, dates within ``max_age_days`` days up to
    ``as_of`` (timeliness). Rules on optional columns apply when the column is there.

    Parameters
    ----------
    kind : {"bank", "ledger"}
    as_of : date-like, optional
        The day timeliness is measured against; None leaves timeliness out.
    max_age_days : int, default 365
    present : sequence of str, optional
        The table's columns: consistency rules whose columns are not all there are left
        out (default: every rule).

    Returns
    -------
    pandera.DataFrameSchema

    Examples
    --------
    >>> sorted(contract_schema("ledger").columns)
    ['amount', 'category', 'currency', 'date', 'description', 'transaction_id', 'vendor']
    """
    import pandera.pandas as pa

    check_kind(kind)
    date_checks = [] if as_of is None else [_age_check(as_of, max_age_days)]
    cols = {
        "transaction_id": pa.Column(str, nullable=False, unique=True,
                                    report_duplicates="exclude_first", coerce=True),
        "date": pa.Column("datetime64[ns]", nullable=False, coerce=True, checks=date_checks),
        "amount": pa.Column(float, nullable=False, coerce=True,
                            checks=[pa.Check.not_equal_to(0)]),
        "description": pa.Column(str, nullable=False),
        "currency": pa.Column(str, nullable=True, required=False,
                              checks=[pa.Check.str_matches(r"^[A-Z]{3}$")]),
    }
    pair = ("currency", "account") if kind == "bank" else ("category", "vendor")
    if kind == "ledger":
        cols["vendor"] = pa.Column(str, nullable=True, required=False)
        cols["category"] = pa.Column(str, nullable=True, required=False)
    checks = ([_consistent_check(*pair)] if present is None or set(pair) <= set(present)
              else [])
    return pa.DataFrameSchema(cols, checks=checks, unique=["date", "amount", "description"],
                              report_duplicates="exclude_first", name=f"{kind} contract")


def _age_check(as_of: object, days: int) -> Any:
    import pandera.pandas as pa

    end = pd.Timestamp(as_of).normalize() + pd.Timedelta(days=1)
    start = end - pd.Timedelta(days=int(days) + 1)

    def timely(s: pd.Series) -> pd.Series:
        d = pd.to_datetime(s, errors="coerce")
        return d.isna() | ((d >= start) & (d < end))

    last = (end - pd.Timedelta(days=1)).date()
    return pa.Check(timely, name=f"max_age_days({int(days)}, as_of={last})")


def _consistent_check(column: str, by: str) -> Any:
    """A wide check: rows whose ``column`` differs from the most common value of their
    ``by`` group fail; it passes where either column is missing from the table."""
    import pandera.pandas as pa

    def consistent(df: pd.DataFrame) -> pd.Series:
        if column not in df or by not in df:
            return pd.Series(True, index=df.index)
        pair = df[[by, column]].astype("string")
        known = pair.notna().all(axis=1)
        n = pair[known].value_counts(sort=False).rename("n").reset_index()
        top = n.sort_values("n", ascending=False, kind="stable").drop_duplicates(by)
        common = pair[by].map(top.set_index(by)[column])
        return ~known | (pair[column] == common).fillna(True)

    return pa.Check(consistent, name=f"consistent_by({column}, by={by})")


def _dimension(check: str, context: str) -> str:
    if check == "not_nullable":
        return "completeness"
    if "uniqueness" in check:
        return "uniqueness"
    if check.startswith("consistent"):
        return "consistency"
    if check.startswith("max_age_days"):
        return "timeliness"
    return "validity"


# ----------------------------------------------------------------------------- rules


def _load_rules(rules: Any, kind: str, as_of: object, max_age_days: int,
                present: Sequence[str]) -> tuple[Any, str]:
    """A DataFrameSchema from rules, and where they came from (for messages)."""
    import pandera.pandas as pa

    if rules is None:
        return contract_schema(kind, as_of=as_of, max_age_days=max_age_days,
                               present=present), "built-in"
    if isinstance(rules, pa.DataFrameSchema):
        return rules, "schema"
    if isinstance(rules, str | os.PathLike):
        return _yaml_rules(Path(rules), as_of), Path(rules).name
    if isinstance(rules, Sequence) and not isinstance(rules, str | bytes):
        return _schema_from(list(rules), "rules", [None] * len(rules), as_of), "rules"
    raise SchemaError(f"rules= must be a list of dicts, a YAML file or a pandera "
                      f"DataFrameSchema, got {type(rules).__name__}")


def _yaml_rules(path: Path, as_of: object) -> Any:
    import yaml

    if not path.is_file():
        raise NexusError(f"rules: no such file {str(path)!r}; check the path")
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise SchemaError(f"{path.name}{where}: not valid YAML "
                          f"({getattr(err, 'problem', err)}); check the indentation") from None
    if isinstance(data, dict) and "rules" in data:
        data = data["rules"]
        node = next(v for k, v in node.value if k.value == "rules")
    if not isinstance(data, list):
        raise SchemaError(f"{path.name}: expected a list of rules (or 'rules:' with a list), "
                          "e.g.\n- {column: amount, check: in_range, min_value: 0, "
                          "max_value: 10000}")
    lines = [item.start_mark.line + 1 for item in node.value]
    return _schema_from(data, path.name, lines, as_of)


def _schema_from(rules: list, source: str, lines: list[int | None], as_of: object) -> Any:
    """Rules as dicts -> DataFrameSchema. Each rule: ``{"column": name, "check": name,
    **arguments}``, or ``{"check": "unique", "columns": [...]}`` for the table."""
    import pandera.pandas as pa

    spec: dict[str, dict[str, Any]] = {}
    table_checks: list[Any] = []
    unique: list[str] | None = None
    needs: list[tuple[str, str]] = []  # (rule, another column it reads)
    for i, (rule, line) in enumerate(zip(rules, lines, strict=True)):
        where = f"{source} rule {i + 1}" + (f" (line {line})" if line else "")
        if not isinstance(rule, Mapping) or "check" not in rule:
            raise SchemaError(f"{where}: {rule!r} is not a rule; write "
                              "{column: <name>, check: <check>, ...}")
        args = {k: v for k, v in rule.items() if k not in ("column", "check", "columns")}
        check = str(rule["check"])
        if check not in OWN_CHECKS and check not in _PANDERA_CHECKS:
            raise SchemaError(f"{where}: unknown check {check!r}; use one of "
                              f"{sorted((*OWN_CHECKS, *_PANDERA_CHECKS))}")
        if check == "unique" and "columns" in rule:
            unique = [str(c) for c in rule["columns"]]
            continue
        if "column" not in rule:
            raise SchemaError(f"{where}: check {check!r} needs a column; add column: <name>")
        col = str(rule["column"])
        c = spec.setdefault(col, {"nullable": True, "unique": False, "dtype": None,
                                  "checks": [], "where": where})
        try:
            if check == "not_null":
                c["nullable"] = False
            elif check == "unique":
                c["unique"] = True
            elif check == "dtype":
                c["dtype"] = str(args["dtype"])
            elif check == "consistent_by":
                table_checks.append(_consistent_check(col, str(args["by"])))
                needs.append((where, str(args["by"])))
            elif check == "max_age_days":
                day = args.get("as_of", as_of)
                if day is None:
                    raise SchemaError(f"{where}: max_age_days needs as_of (in the rule or "
                                      "quality(..., as_of=...))")
                c["checks"].append(_age_check(day, int(args["days"])))
            else:
                c["checks"].append(getattr(pa.Check, check)(**args))
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, SchemaError):
                raise
            raise SchemaError(f"{where}: check {check!r} does not take {args} ({err}); see "
                              "pandera's Check." + check) from None
    columns = {name: pa.Column(c["dtype"], nullable=c["nullable"], unique=c["unique"],
                               report_duplicates="exclude_first",
                               coerce=c["dtype"] is not None, checks=c["checks"],
                               title=c["where"])
               for name, c in spec.items()}
    return pa.DataFrameSchema(columns, checks=table_checks, unique=unique,
                              report_duplicates="exclude_first", name=source,
                              metadata={"needs": needs})


# ----------------------------------------------------------------------------- scoring


def _filled(df: pd.DataFrame) -> pd.DataFrame:
    """True where a cell holds a value (not missing, not blank text)."""
    blank = df.apply(lambda s: s.astype("string").str.strip().eq("").fillna(False)
                     if s.dtype == object or pd.api.types.is_string_dtype(s) else
                     pd.Series(False, index=s.index))
    return df.notna() & ~blank


def quality(
    df: FrameLike | Standardized,
    rules: Any = None,
    *,
    kind: str = "bank",
    as_of: object = None,
    columns: Mapping[str, str] | None = None,
    max_age_days: int = _DEFAULT_AGE,
) -> QualityReport:
    """Score a table's data quality in five dimensions, 0-100, from rules.

    Blank text counts as missing. For a column ``c`` of ``n`` rows with ``f`` filled
    cells:

    * **completeness** = 100 · f / n (every column);
    * **validity** = 100 · (f − filled cells failing a value check of ``c``: type,
      range, regex, set, ...) / f; a column of the wrong type with no coercion fails
      every filled cell, and where a coercion fails for some cells (``"$3.00"`` is no
      float) those cells fail and the column's other checks do not run;
    * **uniqueness** = 100 · (f − cells repeating an earlier value) / f, for columns a
      rule marks unique;
    * **consistency** = 100 · (f − cells failing a consistency check) / f: a value away
      from the most common one of its group (``consistent_by``, e.g. a vendor's
      category);
    * **timeliness** = 100 · (f − dates older than ``max_age_days`` before ``as_of``,
      or after it) / f, for date columns with a ``max_age_days`` rule (the built-in
      rules have one on ``date``).

    A dimension no rule measures for a column is NaN there; one a rule measures on a
    column with no filled cell is 100. The table's score in a
    dimension is 100 · (rows failing no check of that dimension) / n (so completeness
    counts only the columns a rule requires), the table-wide uniqueness rule (duplicate
    rows after the first) included. The overall score is the mean of the table's
    dimensions weighted by :data:`WEIGHTS` (completeness 0.25, validity 0.30,
    uniqueness 0.20, consistency 0.15, timeliness 0.10), dimensions without a rule left
    out and the others rescaled to sum to 1.

    Parameters
    ----------
    df : DataFrame or Standardized
        The table (a :class:`Standardized` result is scored on its ``frame``).
    rules : list of dict, path or pandera.DataFrameSchema, optional
        ``None``: the contract's built-in rules (:func:`contract_schema`). A list of
        dicts ``{"column": "amount", "check": "in_range", "min_value": 0,
        "max_value": 1e6}`` (checks: :data:`OWN_CHECKS` and pandera's built-in checks,
        with their arguments), ``{"check": "unique", "columns": [...]}`` for
        duplicate rows; a YAML file holding such a list (or ``rules:`` and the list);
        or a ``pandera.DataFrameSchema`` (nullable=False is completeness, unique is
        uniqueness, checks named ``consistent...`` or ``max_age_days...`` are
        consistency and timeliness, every other check is validity).
    kind : {"bank", "ledger"}
        The contract of the built-in rules.
    as_of : date-like, optional
        The day timeliness is measured against; default the table's latest ``date``
        leaving out dates more than 60 days after its 99th percentile, so that a
        mistyped date years ahead does not make every other row look stale (it fails
        timeliness itself).
    columns : mapping, optional
        ``{canonical name: your column}`` for the built-in rules.
    max_age_days : int, default 365
        The built-in timeliness window: rows dated more than a year before ``as_of``
        are not timely.

    Returns
    -------
    QualityReport

    Raises
    ------
    SchemaError
        For a rule naming a column the table does not have, an unknown check, wrong
        arguments of a check, or a rules file that is not a list of rules.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"id": ["a", "b", "b", None], "amount": [5.0, -1.0, 3.0, 2.0]})
    >>> rep = quality(t, [{"column": "id", "check": "not_null"},
    ...                   {"column": "id", "check": "unique"},
    ...                   {"column": "amount", "check": "greater_than", "min_value": 0}])
    >>> rep.scores.loc["id", ["completeness", "uniqueness"]].tolist()
    [75.0, 66.66666666666667]
    >>> rep.summary()["overall"]
    75.0
    """
    import pandera.pandas as pa

    if isinstance(df, Standardized):
        kind, df = df.kind, df.frame
    kind = check_kind(kind)
    frame = to_pandas(df, kind).reset_index(drop=True)
    if columns:
        frame = frame.rename(columns={v: k for k, v in columns.items()})
    if as_of is None and "date" in frame:
        dates = pd.to_datetime(frame["date"], errors="coerce", format="mixed")
        dates = dates.dropna()
        usual = dates.quantile(0.99) + pd.Timedelta(days=60) if len(dates) else None
        as_of = dates[dates <= usual].max() if len(dates) else None
    schema, source = _load_rules(rules, kind, as_of, max_age_days, list(frame.columns))
    _check_columns(schema, frame, source, kind, rules is None)
    filled = _filled(frame)
    clean = frame.mask(~filled)  # blank text is missing
    try:
        schema.validate(clean, lazy=True)
        cases = pd.DataFrame(columns=["schema_context", "column", "check", "failure_case",
                                      "index"])
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
    except pa.errors.SchemaError as err:  # a schema that cannot run at all
        raise SchemaError(f"{source}: the rules cannot run on this table ({err})") from None
    failures = _failures(cases, filled, frame)
    rules_list = _rule_list(schema)
    # rules on optional columns the table does not have do not apply
    rules_list = rules_list[rules_list["column"].isin([*map(str, frame.columns), "(table)"])]
    return _report(frame, filled, failures, rules_list, as_of,
                   {"rules": source, "kind": kind, "max_age_days": max_age_days})


def _check_columns(schema: Any, frame: pd.DataFrame, source: str, kind: str,
                   builtin: bool) -> None:
    have = list(frame.columns)
    fix = ("map it with columns={{{!r}: '<your column>'}}" if builtin
           else "fix the rule's column name or add the column")
    needs = [(col.title or source, name) for name, col in schema.columns.items()
             if col.required]
    needs += (schema.metadata or {}).get("needs", [])
    for where, need in needs:
        if need not in frame:
            raise SchemaError(f"{where}: the table has no column {need!r} (it has {have}); "
                              f"{fix.format(need)}", table=kind, column=need)
    for need in schema.unique or []:
        if need not in frame:
            raise SchemaError(f"{source}: the unique rule names column {need!r}, which the "
                              f"table does not have (it has {have})", table=kind, column=need)


def _failures(cases: pd.DataFrame, filled: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """pandera's failure cases -> ``rule, dimension, column, row, value``; a whole-column
    failure (a wrong type) becomes one failure per filled cell."""
    out = []
    if len(cases):
        cases = cases.copy()
        cases["check"] = cases["check"].astype(str)
        cases["dimension"] = [_dimension(c, x) for c, x in
                              zip(cases["check"], cases["schema_context"], strict=True)]
        # a wrong type (without coercion) is the column's fault: pandera points at some
        # cell or none, every filled cell fails
        # (after a coercion that failed, pandera repeats its cells as dtype failures)
        coerced = cases.loc[cases["check"].str.startswith("coerce_dtype("), "column"]
        typed = cases["check"].str.startswith("dtype(")
        repeat = typed & cases["column"].isin(coerced)
        cases = pd.concat([cases[~typed], cases[typed & ~repeat].drop_duplicates("column")
                           .assign(index=None)])
        whole = cases["index"].isna()
        # a check that crashed on values its coercion left as they were: those cells are
        # already counted by the coercion's own failures
        crashed = whole & cases["failure_case"].astype(str).str.match(r"^\w+Error\(")
        for _, case in cases[whole & ~crashed].iterrows():  # one per failed column
            rows = np.flatnonzero(filled[case["column"]].to_numpy(bool))
            out.append(pd.DataFrame({"rule": case["check"], "dimension": case["dimension"],
                                     "column": case["column"], "row": rows,
                                     "value": None}))
        cell = cases[~whole]
        wide = cell["schema_context"] == "DataFrameSchema"
        # a table-wide check fails a row once (pandera lists each of its cells)
        cell = pd.concat([cell[~wide], cell[wide].drop_duplicates(["check", "index"])])
        wide = (cell["schema_context"] == "DataFrameSchema").to_numpy(bool)
        out.append(pd.DataFrame({
            "rule": cell["check"], "dimension": cell["dimension"],
            "column": np.where(wide, "(table)", cell["column"]),
            "row": cell["index"].astype(np.int64),
            "value": cell["failure_case"].astype(object).to_numpy()}))
        if wide.any():  # a failing row of a table-wide rule shows the whole row
            rows = out[-1]["row"].to_numpy()[wide]
            out[-1].loc[wide, "value"] = pd.Series(
                frame.iloc[rows].astype("string").to_dict("records")).astype(str).to_numpy()
    if not out:
        return pd.DataFrame({"rule": pd.Series(dtype=object),
                             "dimension": pd.Series(dtype=object),
                             "column": pd.Series(dtype=object),
                             "row": pd.Series(dtype=np.int64),
                             "value": pd.Series(dtype=object)})
    f = pd.concat(out, ignore_index=True)
    f["rule"] = np.where(f["column"] == "(table)", f["rule"], f["column"].astype(str) + ": "
                         + f["rule"])
    f.loc[f["rule"].str.endswith("multiple_fields_uniqueness"), "rule"] = "duplicate rows"
    return f.drop_duplicates(["rule", "row"]).sort_values(["rule", "row"], kind="stable"
                                                          ).reset_index(drop=True)


def _rule_list(schema: Any) -> pd.DataFrame:
    """Every rule of the schema: ``rule, dimension, column`` (named as failures name them)."""
    rows = []
    for name, col in schema.columns.items():
        if not col.nullable:
            rows.append((f"{name}: not_nullable", "completeness", name))
        if col.unique:
            rows.append((f"{name}: field_uniqueness", "uniqueness", name))
        if col.dtype is not None:
            rows.append((f"{name}: {'coerce_dtype' if col.coerce else 'dtype'}"
                         f"('{col.dtype}')", "validity", name))
        for check in col.checks:
            label = str(check.error or check.name)
            rows.append((f"{name}: {label}", _dimension(label, "Column"), name))
    for check in schema.checks:
        label = str(check.error or check.name)
        rows.append((label, _dimension(label, "DataFrameSchema"), "(table)"))
    if schema.unique:
        rows.append(("duplicate rows", "uniqueness", "(table)"))
    return pd.DataFrame(rows, columns=["rule", "dimension", "column"])


def _report(frame: pd.DataFrame, filled: pd.DataFrame, failures: pd.DataFrame,
            rules: pd.DataFrame, as_of: object, settings: dict) -> QualityReport:
    n = len(frame)
    scores = pd.DataFrame(np.nan, index=[*map(str, frame.columns), "(table)"],
                          columns=[*DIMENSIONS, "score"])
    scores.index.name = "column"
    f_count = filled.sum()
    scores.loc[list(map(str, frame.columns)), "completeness"] = (
        100.0 * f_count / n if n else 100.0).to_numpy()
    for (col, dim), rows in failures.groupby(["column", "dimension"]).row.nunique().items():
        if col in frame:
            base = int(f_count[col]) if dim != "completeness" else n
            scores.loc[col, dim] = 100.0 * (base - rows) / base if base else 100.0
    for col, dim in rules[rules["column"] != "(table)"][["column", "dimension"]].itertuples(
            index=False):
        if pd.isna(scores.loc[col, dim]):
            scores.loc[col, dim] = 100.0
    present = set(rules["dimension"])
    for dim in DIMENSIONS:
        if dim in present:
            bad = failures.loc[failures["dimension"] == dim, "row"].nunique()
            scores.loc["(table)", dim] = 100.0 * (n - bad) / n if n else 100.0
    if "completeness" not in present:
        scores.loc["(table)", "completeness"] = 100.0 * filled.all(axis=1).mean() if n else 100.0
    w = pd.Series(WEIGHTS)
    dims = scores[list(DIMENSIONS)]
    have = dims.notna()
    scores["score"] = (dims.fillna(0) * w).sum(axis=1) / (have * w).sum(axis=1)
    counts = rules.copy()
    per = failures.groupby("rule").row.nunique()
    counts["failing_rows"] = counts["rule"].map(per).fillna(0).astype(np.int64)
    extra = failures.loc[~failures["rule"].isin(counts["rule"]),
                         ["rule", "dimension", "column"]].drop_duplicates("rule")
    if len(extra):
        extra["failing_rows"] = extra["rule"].map(per).astype(np.int64)
        counts = pd.concat([counts, extra], ignore_index=True)
    stamp = None if as_of is None else pd.Timestamp(as_of)
    return QualityReport(scores, float(scores.loc["(table)", "score"]), failures,
                         counts.reset_index(drop=True), n, stamp, settings)
