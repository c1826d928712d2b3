"""Inputs of :func:`~nexus_lab.projects.variance`: the three tables, checked and linked.

Ids are compared as text (``7``, ``7.0`` and ``"7"`` are the same id, as CSV files and
databases give them), money is read to int64 cents and dates to int64 day numbers by the
one reader of each in :mod:`nexus_lab.frames`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nexus_lab._typing import FrameLike
from nexus_lab.errors import SchemaError
from nexus_lab.frames import describe_rows, read_dates, read_money, select_columns, to_pandas

#: ``{table: (required columns, optional columns)}``, with the store's column names.
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "projects": (("project_id", "budget"), ("name", "start_date", "end_date", "status")),
    "milestones": (("milestone_id", "project_id", "due_date", "planned_amount"),
                   ("name", "completed_date", "status")),
    "operations": (("operation_id", "project_id", "date", "amount", "kind"),
                   ("milestone_id", "description")),
}
KINDS = ("income", "expense")
_SHOW = 5


@dataclass
class Tables:
    """The checked tables: ids as text, money in cents, dates as day numbers."""

    projects: pd.DataFrame | None
    milestones: pd.DataFrame
    operations: pd.DataFrame


def split_columns(columns: Mapping[str, object] | None) -> dict[str, dict[str, str]]:
    """``columns=`` per table: one mapping for all three tables (each key goes to the
    tables that have that column), or one per table (``{"operations": {...}}``).

    Examples
    --------
    >>> split_columns({"amount": "Amt", "project_id": "Project"})["operations"]
    {'amount': 'Amt', 'project_id': 'Project'}
    >>> split_columns({"milestones": {"due_date": "Due"}})["milestones"]
    {'due_date': 'Due'}
    """
    out: dict[str, dict[str, str]] = {t: {} for t in TABLES}
    if not columns:
        return out
    if set(columns) <= set(TABLES) and all(isinstance(v, Mapping) for v in columns.values()):
        for table, mapping in columns.items():
            out[table] = dict(mapping)  # type: ignore[arg-type]
        return out
    known = {c for req, opt in TABLES.values() for c in req + opt}
    unknown = sorted(set(columns) - known)
    if unknown:
        raise SchemaError(
            f"columns= names {unknown}, which are not columns of projects, milestones or "
            f"operations; the keys must be among {sorted(known)} (or the table names "
            "'projects', 'milestones', 'operations' with a mapping each), the values your "
            "column names, e.g. columns={'planned_amount': 'Planned'}")
    for table, (req, opt) in TABLES.items():
        out[table] = {k: str(v) for k, v in columns.items() if k in req + opt}
    return out


def ids_text(values: pd.Series) -> pd.Series:
    """Ids as stripped text, blanks as ``<NA>`` (whole floats such as ``7.0`` read as ``"7"``).

    Examples
    --------
    >>> ids_text(pd.Series([7.0, None, 12.0])).tolist()
    ['7', <NA>, '12']
    >>> ids_text(pd.Series([" M-1", ""])).tolist()
    ['M-1', <NA>]
    """
    if pd.api.types.is_float_dtype(values):
        whole = values.dropna()
        if (whole % 1 == 0).all():
            values = values.astype("Int64")
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def _blank(values: pd.Series) -> np.ndarray:
    text = values.astype("string").str.strip()
    return (values.isna() | text.eq("").fillna(True)).to_numpy(bool)


def _refuse(what: str, fix: str, mask: np.ndarray, *, table: str, column: str,
            ids: np.ndarray | None) -> SchemaError:
    return SchemaError(f"{table}.{column}: {what} at {describe_rows(mask, ids)}; {fix}",
                       table=table, column=column, rows=np.flatnonzero(mask)[:_SHOW].tolist())


def _id_column(df: pd.DataFrame, column: str, table: str, *, unique: bool,
               blank_ok: bool = False) -> np.ndarray:
    ids = ids_text(df[column])
    missing = ids.isna().to_numpy(bool)
    if missing.any() and not blank_ok:
        raise _refuse("missing ids", "give every row an id", missing, table=table,
                      column=column, ids=None)
    if unique:
        twice = ids.duplicated(keep=False).to_numpy(bool) & ~missing
        if twice.any():
            raise _refuse("repeated ids", "each id must name one row: drop or renumber the "
                          "repeated rows", twice, table=table, column=column,
                          ids=ids.to_numpy(object))
    return ids.to_numpy(object)


def _cents(df: pd.DataFrame, column: str, table: str, ids: np.ndarray) -> np.ndarray:
    cents = read_money(df[column], table=table, column=column, ids=ids)[0]
    negative = cents < 0
    if negative.any():
        fix = ("write amounts as positive money and say the direction in kind ('income' or "
               "'expense')" if table == "operations" else "planned money and budgets are "
               "amounts to spend: write them as positive (or zero)")
        raise _refuse("negative amounts", fix, negative, table=table, column=column, ids=ids)
    return cents


def _days(values: pd.Series, table: str, column: str, ids: np.ndarray,
          optional: bool) -> np.ndarray:
    """Day numbers (float, NaN where an optional date is blank)."""
    blank = _blank(values) if optional else np.zeros(len(values), bool)
    out = np.full(len(values), np.nan)
    if (~blank).any():
        stamps = read_dates(values[~blank], table=table, column=column, ids=ids[~blank])[0]
        out[~blank] = stamps.astype("datetime64[D]").astype(np.int64)
    return out


def _table(data: FrameLike, table: str, mapping: dict[str, str]) -> pd.DataFrame:
    required, optional = TABLES[table]
    df = select_columns(to_pandas(data, table), name=table, required=required,
                        optional=optional, columns=mapping)
    return df.reset_index(drop=True)


def _unknown(keys: np.ndarray, known: np.ndarray, *, table: str, column: str, ids: np.ndarray,
             other: str, fix: str) -> None:
    """Refuse the rows whose ``keys`` are not among ``known`` (blank keys pass)."""
    orphan = pd.notna(keys) & ~pd.Index(keys).isin(known)
    if orphan.any():
        sample = sorted(set(keys[orphan].tolist()))[:_SHOW]
        raise _refuse(f"{column}s not in the {other} table ({sample})", fix, orphan,
                      table=table, column=column, ids=ids)


def prepare(milestones: FrameLike, operations: FrameLike, projects: FrameLike | None,
            columns: Mapping[str, object] | None) -> Tables:
    """Check the three tables and link them; refuse orphans with the rows that hold them."""
    maps = split_columns(columns)

    ms = _table(milestones, "milestones", maps["milestones"])
    m_ids = _id_column(ms, "milestone_id", "milestones", unique=True)
    m_out = pd.DataFrame({
        "milestone_id": m_ids,
        "project_id": _id_column(ms, "project_id", "milestones", unique=False),
        "name": ms["name"].astype("string") if "name" in ms else pd.Series(pd.NA, index=ms.index,
                                                                             dtype="string"),
        "status": ms["status"].astype("string").str.strip() if "status" in ms
        else pd.Series(pd.NA, index=ms.index, dtype="string"),
        "planned": _cents(ms, "planned_amount", "milestones", m_ids),
        "due": _days(ms["due_date"], "milestones", "due_date", m_ids, optional=False),
        "completed": _days(ms["completed_date"], "milestones", "completed_date", m_ids,
                           optional=True) if "completed_date" in ms else np.nan,
    })

    ops = _table(operations, "operations", maps["operations"])
    o_ids = _id_column(ops, "operation_id", "operations", unique=True)
    kind = ops["kind"].astype("string").str.strip().str.lower()
    bad = ~kind.isin(KINDS).fillna(False).to_numpy(bool)
    if bad.any():
        sample = sorted(set(ops["kind"][bad].astype(str).tolist()))[:_SHOW]
        raise _refuse(f"kinds other than 'income' or 'expense' ({sample})",
                      "write 'income' or 'expense' in kind", bad, table="operations",
                      column="kind", ids=o_ids)
    o_out = pd.DataFrame({
        "operation_id": o_ids,
        "project_id": _id_column(ops, "project_id", "operations", unique=False),
        "milestone_id": _id_column(ops, "milestone_id", "operations", unique=False,
                                   blank_ok=True) if "milestone_id" in ops
        else np.full(len(ops), pd.NA, object),
        "day": _days(ops["date"], "operations", "date", o_ids, optional=False).astype(np.int64),
        "cents": _cents(ops, "amount", "operations", o_ids),
        "expense": kind.eq("expense").to_numpy(bool),
    })

    _unknown(o_out["milestone_id"].to_numpy(object), m_ids, table="operations",
             column="milestone_id", ids=o_ids, other="milestones",
             fix="add those milestones to the milestones table, correct the ids, or leave "
                 "milestone_id blank for an operation of the project as a whole")
    linked = o_out["milestone_id"].notna().to_numpy(bool)
    owner = pd.Series(m_out["project_id"].to_numpy(object), index=m_ids)
    expected = owner.reindex(o_out["milestone_id"].where(linked, m_ids[0])).to_numpy(object)
    wrong = linked & (expected != o_out["project_id"].to_numpy(object))
    if wrong.any():
        raise _refuse("a project_id other than their milestone's project", "give each "
                      "operation its milestone's project_id (or correct its milestone_id)",
                      wrong, table="operations", column="project_id", ids=o_ids)

    p_out = None
    if projects is not None:
        pj = _table(projects, "projects", maps["projects"])
        p_ids = _id_column(pj, "project_id", "projects", unique=True)
        p_out = pd.DataFrame({
            "project_id": p_ids,
            "name": pj["name"].astype("string") if "name" in pj
            else pd.Series(pd.NA, index=pj.index, dtype="string"),
            "status": pj["status"].astype("string").str.strip() if "status" in pj
            else pd.Series(pd.NA, index=pj.index, dtype="string"),
            "budget": _cents(pj, "budget", "projects", p_ids),
            "start": _days(pj["start_date"], "projects", "start_date", p_ids, optional=True)
            if "start_date" in pj else np.nan,
            "end": _days(pj["end_date"], "projects", "end_date", p_ids, optional=True)
            if "end_date" in pj else np.nan,
        })
        fix = "add those projects to the projects table or correct the ids"
        _unknown(m_out["project_id"].to_numpy(object), p_ids, table="milestones",
                 column="project_id", ids=m_ids, other="projects", fix=fix)
        _unknown(o_out["project_id"].to_numpy(object), p_ids, table="operations",
                 column="project_id", ids=o_ids, other="projects", fix=fix)
    return Tables(p_out, m_out, o_out)
