"""Audit analytics on a general ledger, recorded: run the battery of audit tests, keep each
test (who ran it, on which data, with which parameters, what it found) in the store and
the audit trail, write the signed workpaper and every table; replay a recorded test."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from nexus_lab import audit, auth
from nexus_lab.errors import NexusError
from nexus_lab.store import Store, connect

__all__ = ["EXAMINE_FILES", "ExamineRun", "Replay", "examination_runs", "examinations",
           "examine_ledger", "load_examination", "replay_examination"]

log = logging.getLogger("nexus_lab")

#: What :func:`examine_ledger` writes to ``out`` (with the signer's ``<fingerprint>.nxpub``
#: when signed; under ``tables/<test>/``, each table of the test as ``<table>.csv`` and
#: ``<table>.parquet``, and its plot as ``plot.svg``).
EXAMINE_FILES = ("summary.json", "workpaper.html", "workpaper.html.sig", "workpaper.xlsx",
                 "workpaper.xlsx.sig", "tables")

#: General-ledger and event columns read as text from files (ids keep their zeros).
_TEXT = ("entry_id", "posted_by", "approved_by", "source", "entity", "user", "user_id",
         "object_id", "event_id", "target", "vendor_id", "action", "object")


@dataclass(frozen=True)
class _Data:
    """A table the battery ran on: the frame, where it came from, its fingerprint."""

    frame: pd.DataFrame
    source: str | None
    sha256: str

    @property
    def rows(self) -> int:
        return len(self.frame)

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, "rows": self.rows, "sha256": self.sha256}


def fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's canonical bytes (:func:`nexus_lab.frames.frame_bytes`)."""
    from nexus_lab.frames import frame_bytes

    return hashlib.sha256(frame_bytes(frame)).hexdigest()


def read_ledger(data: Any, name: str = "general ledger",
                columns: Mapping[str, str] | None = None) -> tuple[pd.DataFrame, str | None]:
    """A general ledger (or event log) as the battery takes it: a frame as it is, or a file
    read with :func:`nexus_lab.read_table` (ids and people's names kept as text); returns
    the frame and the file's absolute path (None for a frame)."""
    from nexus_lab.files import TEXT_COLUMNS, read_table
    from nexus_lab.frames import to_pandas

    if isinstance(data, str | os.PathLike):
        text = (*TEXT_COLUMNS, *_TEXT, *(columns or {}).values())
        return read_table(data, name=name, text_columns=text), os.path.abspath(data)
    if data is None:
        raise NexusError(f"no {name} given: pass a frame or the path of a file")
    return to_pandas(data, name), None


def _data(data: Any, name: str, columns: Mapping[str, str] | None,
          source: str | None) -> _Data:
    frame, path = read_ledger(data, name, columns)
    return _Data(frame, source or path, fingerprint(frame))


@dataclass
class ExamineRun:
    """What :func:`examine_ledger` did.

    Attributes
    ----------
    battery : Battery
        The tests' results (:func:`nexus_lab.examine.battery`).
    battery_id : str
        The id the tests are recorded under (``examinations.battery_id``).
    records : dict of str to str
        Each test's record id (``examinations.examination_id``) by its name.
    data : dict
        ``{"gl": {source, rows, sha256}, "events": {...}}``: what the tests ran on.
    folder : pathlib.Path or None
        The output folder, when one was asked for.
    workpapers : tuple
        The signed workpapers (:class:`~nexus_lab.reports.SignedReport`), or the paths of
        the unsigned ones.
    created_by : str
        Who ran them.
    """

    battery: Any
    battery_id: str
    records: dict[str, str]
    data: dict[str, dict[str, Any]]
    folder: Path | None = None
    workpapers: tuple[Any, ...] = ()
    created_by: str = ""
    store: str = ""

    def summary(self) -> dict[str, Any]:
        """The battery's summary with the records, the data and the files (JSON values)."""
        papers = [str(getattr(p, "path", p)) for p in self.workpapers]
        return {"battery_id": self.battery_id, "created_by": self.created_by,
                "store": self.store, "data": self.data, "records": dict(self.records),
                "folder": None if self.folder is None else str(self.folder),
                "workpapers": papers, **self.battery.summary()}

    def _repr_html_(self) -> str:
        from nexus_lab._html import escape, kv

        where = {"battery": self.battery_id, "run by": self.created_by, "store": self.store,
                 **{f"{k} sha256": v["sha256"] for k, v in self.data.items()}}
        where.update({f"workpaper ({getattr(p, 'fmt', 'file')})": getattr(p, "path", p)
                      for p in self.workpapers})
        return (f"<div><h4>Recorded: {len(self.records)} tests as battery "
                f"{escape(self.battery_id[:12])}</h4>{kv(where, code=True)}"
                f"{self.battery._repr_html_()}</div>")


def _period_end(frame: pd.DataFrame, columns: Mapping[str, str] | None) -> str:
    """The latest date of the ledger (its ``date`` column), as ``YYYY-MM-DD``."""
    from nexus_lab.frames import find_column, read_dates

    want = (columns or {}).get("date", "date")
    col = want if want in frame.columns else find_column(list(frame.columns), want)
    if col is None:
        raise NexusError(f"the general ledger has no date column {want!r} to take the period "
                         "end from; give period_end (--period-end YYYY-MM-DD) or map the "
                         "column with columns={'date': '<your column>'}")
    days, _ = read_dates(frame[col], table="general ledger", column=col)
    latest = pd.Series(days).max()
    if pd.isna(latest):
        raise NexusError(f"the general ledger's {col!r} holds no date; give period_end")
    return pd.Timestamp(latest).date().isoformat()


def _table_digests(result: Any) -> dict[str, dict[str, Any]]:
    from nexus_lab.frames import frame_bytes

    out = {}
    for name, frame in result.tables.items():
        try:
            digest = hashlib.sha256(frame_bytes(frame)).hexdigest()
        except Exception:  # a table Arrow cannot hold (mixed objects) has its rows only
            digest = None
        out[name] = {"rows": len(frame), "sha256": digest}
    return out


def _plain(value: Any) -> Any:
    """``value`` as the store keeps JSON: numpy scalars as numbers, tuples as lists, NaN
    and infinities as None (JSON has none; PostgreSQL refuses them)."""
    def walk(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, dict):
            return {k: walk(x) for k, x in v.items()}
        return v

    return walk(json.loads(json.dumps(value, default=_default)))


def _default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, set | frozenset):
        return sorted(value)
    return str(value)


def _plots(battery: Any) -> dict[str, str]:
    """Each test's plot as SVG (drawn once: the workpaper and the outputs share it)."""
    out = {}
    for name, result in battery.items():
        try:
            out[name] = result.svg()
        except Exception:  # a plot never stops the outputs
            log.warning("the plot of %s could not be drawn", name, exc_info=True)
            out[name] = ""
    return out


def _write_tables(battery: Any, folder: Path, plots: Mapping[str, str]) -> None:
    from nexus_lab.files import write_frame, write_text

    for name, result in battery.items():
        if plots.get(name):
            write_text(plots[name], folder / "tables" / name / "plot.svg")
        for tname, frame in result.tables.items():
            plain = pd.DataFrame(frame).reset_index(drop=isinstance(frame.index,
                                                                    pd.RangeIndex))
            plain.columns = [str(c) for c in plain.columns]
            for ext in ("csv", "parquet"):
                write_frame(_parquet_safe(plain) if ext == "parquet" else plain,
                            folder / "tables" / name / f"{tname}.{ext}")


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns of mixed Python objects as text (Parquet needs one type per column)."""
    import pyarrow as pa

    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object:
            try:
                pa.array(out[col], from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                out[col] = out[col].map(lambda v: None if v is None else
                                        json.dumps(v, default=str) if isinstance(v, dict)
                                        else str(v))
    return out


def examine_ledger(gl: Any, *, period_end: Any = None, tests: str | Iterable[str] = "all",
                   columns: Mapping[str, str] | None = None, events: Any = None,
                   options: Mapping[str, Mapping[str, Any]] | None = None,
                   out: str | os.PathLike[str] | None = None, store: Store | str | None = None,
                   sign: bool = True, key: Any = None, source: str | None = None,
                   events_source: str | None = None) -> ExamineRun:
    """Run the standard battery of audit tests on a general ledger and record every test.

    Each test is kept in the store's ``examinations`` table, in one unit of work with its
    audit record (``examine.ran``): who ran it, the data (the SHA-256 of the frame's
    canonical bytes, :func:`nexus_lab.frames.frame_bytes`, its source file and row
    count), the exact parameters (to replay it with :func:`replay_examination`), the
    verdict, the findings, the summary and a digest of each table. Needs ``examine.run``
    (the examiner, the compliance officer, the auditor, the administrator).

    With ``out``, the folder is written whole or not at all
    (:func:`nexus_lab.files.atomic_dir`): the workpaper as a page and a workbook
    (:func:`nexus_lab.reports.make_workpaper`), each with its detached signature and the
    signer's public bundle (unless ``sign`` is False), every table of every test as CSV
    and Parquet under ``tables/<test>/``, and ``summary.json``.

    Parameters
    ----------
    gl : DataFrame or path
        The general ledger (``entry_id, line, date, account, amount[, posted_by,
        posted_at, source, description, approved_by, entity]``), or its file.
    period_end : date-like, optional
        The period's last day (the ageing cutoff, the journal-entry tests' period end);
        default: the ledger's latest date.
    tests : "all" or iterable of str
        Names of :data:`nexus_lab.examine.EXAMINE_TESTS`.
    columns : mapping, optional
        ``{our name: your column}`` for the ledger's (and the events') columns.
    events : DataFrame or path, optional
        The ERP's event log, for the segregation-of-duties test.
    options : mapping, optional
        Arguments per test (``{"stratify": {"bands": [0, 1000, 10000]}}``).
    out : str or path-like, optional
        The output folder (its files: :data:`EXAMINE_FILES`).
    store : Store or str, optional
        Default: :func:`nexus_lab.store.connect`'s.
    sign : bool, default True
        Sign the workpapers (with ``key``, else the workbench key) and file them in the
        store's ``reports`` table; False writes them unsigned.
    key : KeyPair, optional
    source, events_source : str, optional
        The data's name in the records, for frames not read from a file.

    Returns
    -------
    ExamineRun

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import workflows
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> store = nx.store.connect(folder / "books.db"); _ = store.migrate()
    >>> gl, _, _ = nx.datasets.synth_general_ledger(2_000, seed=1)
    >>> run = workflows.examine_ledger(gl, tests=["summarize", "gaps"], store=store,
    ...                                source="gl of the doctest")
    >>> sorted(store.read("examinations")["name"]) == sorted(run.records)
    True
    """
    from nexus_lab.examine import battery as run_battery

    s = connect(store)
    who = auth.require("examine.run", store=s, resource="examinations")
    if out is not None:
        from nexus_lab.files import check_out_dir

        check_out_dir(out)  # before the work, not after it
    ledger = _data(gl, "general ledger", columns, source)
    log = _data(events, "events", columns, events_source) if events is not None else None
    battery = run_battery(ledger.frame, period_end=period_end if period_end is not None else
                          _period_end(ledger.frame, columns), tests=tests, columns=columns,
                          events=None if log is None else log.frame, options=options)
    day = battery.info["period_end"]
    battery_id = uuid.uuid4().hex
    records = {name: uuid.uuid4().hex for name in battery}
    data = {"gl": ledger.describe(), **({"events": log.describe()} if log else {})}
    facts = {"source": ledger.source or "a frame", "sha256": ledger.sha256,
             "battery_id": battery_id, "run_by": who,
             **({"events": log.source or "a frame", "events_sha256": log.sha256} if log
                else {})}
    run = ExamineRun(battery, battery_id, records, data, None, (), who, s.where)
    with s.transaction():
        if out is None:
            _record(s, run, day, workpaper=None)
        else:
            from nexus_lab.files import atomic_dir

            final = Path(os.path.abspath(out))
            plots = _plots(battery)
            with atomic_dir(final) as tmp:
                papers = _workpapers(battery, tmp, final, s, sign=sign, key=key, facts=facts,
                                     records=records, plots=plots)
                run.folder, run.workpapers = final, papers
                _record(s, run, day, workpaper=str(final / "workpaper.html"))
                _write_tables(battery, tmp, plots)
                from nexus_lab.files import write_json

                write_json(_plain(run.summary()), tmp / "summary.json")
    return run


def _workpapers(battery: Any, tmp: Path, final: Path, s: Store, *, sign: bool, key: Any,
                facts: Mapping[str, Any], records: Mapping[str, str],
                plots: Mapping[str, str]) -> tuple[Any, ...]:
    from nexus_lab.reports import WORKPAPER_FORMATS, make_workpaper, workpaper_bytes

    if not sign:
        papers = []
        for fmt, ext in WORKPAPER_FORMATS.items():
            path = tmp / f"workpaper.{ext}"
            path.write_bytes(workpaper_bytes(battery, fmt, facts=facts, records=records,
                                             plots=plots))
            papers.append(final / path.name)
        return tuple(papers)
    return tuple(make_workpaper(battery, fmt=fmt, out=tmp, store=s, key=key, facts=facts,
                                records=records, name="workpaper", final_folder=final,
                                plots=plots)
                 for fmt in WORKPAPER_FORMATS)


def _record(s: Store, run: ExamineRun, period_end: str, *, workpaper: str | None) -> None:
    """One row of ``examinations`` and one ``examine.ran`` audit record per test; the
    battery's tests share one time, to the microsecond (batteries sort by it)."""
    import datetime as dt

    when = dt.datetime.now(dt.timezone.utc)
    found_by_test = run.battery.findings()
    for position, (name, result) in enumerate(run.battery.items(), start=1):
        which = run.battery.inputs.get(name, "gl")
        data = run.data["events" if which == "events" else "gl"]
        found = found_by_test[name]
        summary = _plain(result.summary())
        row = {"i": run.records[name], "b": run.battery_id, "n": name, "o": position,
               "t": result.test,
               "p": json.dumps(_plain(result.params)), "d": which, "h": data["sha256"],
               "src": data["source"], "rows": data["rows"], "pe": pd.Timestamp(period_end)
               .date(), "v": result.verdict, "f": found, "s": json.dumps(summary),
               "tb": json.dumps(_table_digests(result)), "w": workpaper,
               "by": run.created_by, "at": when}
        with audit.change(s, "examine.ran", f"examinations/{run.records[name]}", {
                "battery_id": run.battery_id, "name": name, "test": result.test,
                "params": _plain(result.params), "data_sha256": data["sha256"],
                "data_source": data["source"], "data_rows": data["rows"],
                "verdict": result.verdict, "findings": found}, actor=run.created_by,
                resource_type="examination"):
            s.execute(
                "insert into examinations (examination_id, battery_id, name, position, test, "
                "params, data, data_sha256, data_source, data_rows, period_end, verdict, "
                "findings, summary, tables, workpaper, created_by, created_at) values (:i, :b, "
                ":n, :o, :t, :p, :d, :h, :src, :rows, :pe, :v, :f, :s, :tb, :w, :by, :at)", row)


def examinations(store: Store | str | None = None, *, battery_id: str | None = None,
                 limit: int | None = None) -> pd.DataFrame:
    """The recorded examinations, the newest battery first, each battery's tests in their
    order (one row per test). Needs ``examine.run``, ``financial.read`` or ``audit.read``.

    Parameters
    ----------
    store : Store or str, optional
    battery_id : str, optional
        Only the tests of one battery.
    limit : int, optional
        At most this many rows.

    Returns
    -------
    pandas.DataFrame
        The ``examinations`` table's columns (``params``, ``summary`` and ``tables`` as
        Python objects).
    """
    s = connect(store)
    auth.require(("examine.run", "financial.read", "audit.read"), store=s,
                 resource="examinations")
    found = s.read("examinations", where=None if battery_id is None else
                   {"battery_id": battery_id}, order_by=["created_at", "battery_id", "position"])
    latest = found.groupby("battery_id")["created_at"].transform("max")
    found = found.assign(_latest=latest).sort_values(
        ["_latest", "battery_id", "position"], ascending=[False, True, True], kind="stable")
    found = found.drop(columns="_latest").reset_index(drop=True)
    return found.head(limit) if limit is not None else found


def examination_runs(store: Store | str | None = None, *, offset: int = 0,
                     limit: int | None = None) -> pd.DataFrame:
    """The recorded batteries, newest first: one row per battery. Needs what
    :func:`examinations` needs.

    Returns
    -------
    pandas.DataFrame
        ``battery_id, created_at, created_by, data_source, data_rows, data_sha256,
        period_end, tests, with_findings, verdicts`` (``{name: verdict}``), ``workpaper``;
        ``attrs["total"]`` is the number of batteries.
    """
    from nexus_lab.examine import Battery

    s = connect(store)
    auth.require(("examine.run", "financial.read", "audit.read"), store=s,
                 resource="examinations")
    total = int(s.query("select count(distinct battery_id) as n from examinations")["n"]
                .iloc[0])
    ids = s.query("select battery_id, max(created_at) as latest from examinations group by "
                  "battery_id order by latest desc, battery_id limit :l offset :o",
                  {"l": total if limit is None else int(limit), "o": int(offset)})
    rows = s.read("examinations", where={"battery_id": ids["battery_id"].tolist()},
                  order_by=["created_at", "position"]) if len(ids) else s.read(
        "examinations", limit=0)
    out = []
    for battery_id in ids["battery_id"]:
        tests = rows[rows["battery_id"] == battery_id]
        gl = tests[tests["data"] == "gl"]
        first = (gl if len(gl) else tests).iloc[0]
        found = tests["verdict"].isna() & (tests["findings"].fillna(0).astype(int) > 0)
        unclean = tests["verdict"].notna() & ~tests["verdict"].isin(
            Battery.CLEAN | Battery.UNJUDGED)
        out.append({"battery_id": battery_id, "created_at": tests["created_at"].min(),
                    "created_by": first["created_by"], "data_source": first["data_source"],
                    "data_rows": int(first["data_rows"]), "data_sha256": first["data_sha256"],
                    "period_end": first["period_end"], "tests": len(tests),
                    "with_findings": int((found | unclean).sum()),
                    "verdicts": dict(zip(tests["name"], tests["verdict"], strict=True)),
                    "workpaper": first["workpaper"]})
    frame = pd.DataFrame(out, columns=["battery_id", "created_at", "created_by", "data_source",
                                       "data_rows", "data_sha256", "period_end", "tests",
                                       "with_findings", "verdicts", "workpaper"])
    frame.attrs["total"] = total
    return frame


def load_examination(record_id: str, store: Store | str | None = None) -> dict[str, Any]:
    """One recorded examination (a row of ``examinations`` as a dict). Needs what
    :func:`examinations` needs."""
    s = connect(store)
    auth.require(("examine.run", "financial.read", "audit.read"), store=s,
                 resource=f"examinations/{record_id}")
    found = s.read("examinations", where={"examination_id": str(record_id)})
    if found.empty:
        raise NexusError(f"no examination {record_id!r} in {s.where}; `nexus-lab examine` "
                         "and workflows.examinations() list them")
    return found.iloc[0].to_dict()


@dataclass
class Replay:
    """What :func:`replay_examination` found.

    Attributes
    ----------
    record_id, name, test : str
        The record, its name in the battery and the test that ran.
    data_matches : bool
        The data's fingerprint is the recorded one (the same frame, byte for byte; for a
        test of the ledger's entries, the ledger's).
    matches : bool
        The replayed summary equals the recorded one (numbers to 1e-9).
    tables_match : bool
        Every table's digest equals the recorded one.
    differences : dict
        ``{fact: (recorded, replayed)}`` for the facts that differ.
    result : Examination
        The replayed result.
    recorded : dict
        The record.
    """

    record_id: str
    name: str
    test: str
    data_matches: bool
    matches: bool
    tables_match: bool
    differences: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    result: Any = None
    recorded: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def verdict(self) -> str:
        """One line: whether the replay reproduced the record, and on what."""
        on = "the recorded data" if self.data_matches else "other data than recorded"
        if self.matches:
            return f"reproduced: {self.name} gives the recorded result on {on}"
        shown = ", ".join(list(self.differences)[:4])
        return f"differs: {self.name} on {on} gives another result ({shown})"

    def summary(self) -> dict[str, Any]:
        return {"record": self.record_id, "name": self.name, "test": self.test,
                "data_matches": self.data_matches, "matches": self.matches,
                "tables_match": self.tables_match,
                "differences": {k: list(v) for k, v in self.differences.items()},
                "verdict": self.verdict}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def replay_examination(record_id: str, data: Any, *, store: Store | str | None = None,
                       columns: Mapping[str, str] | None = None) -> Replay:
    """Run a recorded test again with its recorded parameters, and say whether it gives the
    recorded result.

    The data's fingerprint is checked against the record (the same frame, byte for byte);
    the test is re-run (``nexus_lab.examine.<test>(data, **params)``) and its summary and
    tables compared with the record's. The replay is recorded in the audit trail
    (``examine.replayed``). Needs ``examine.run``.

    Parameters
    ----------
    record_id : str
        ``examinations.examination_id`` (:attr:`ExamineRun.records`).
    data : DataFrame or path
        The general ledger (the event log for the segregation-of-duties test), as given
        when it was recorded; a file is read as :func:`examine_ledger` reads it.
    store : Store or str, optional
    columns : mapping, optional
        The column mapping used to read a file (as given to :func:`examine_ledger`).

    Returns
    -------
    Replay

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import workflows
    >>> store = nx.store.connect(pathlib.Path(tempfile.mkdtemp()) / "books.db")
    >>> _ = store.migrate()
    >>> gl, _, _ = nx.datasets.synth_general_ledger(2_000, seed=1)
    >>> run = workflows.examine_ledger(gl, tests=["summarize"], store=store)
    >>> again = workflows.replay_examination(run.records["summarize"], gl, store=store)
    >>> again.data_matches, again.matches
    (True, True)
    >>> workflows.replay_examination(run.records["summarize"], gl.head(100), store=store
    ...                              ).verdict.startswith("differs: summarize on other data")
    True
    """
    from nexus_lab import examine

    s = connect(store)
    who = auth.require("examine.run", store=s, resource=f"examinations/{record_id}")
    row = load_examination(record_id, s)
    frame = _data(data, "events" if row["data"] == "events" else "general ledger", columns,
                  None)
    given = frame.frame
    if row["data"] == "entries":  # the test read the ledger's entries
        given = examine.ledger_entries(given, (row["params"] or {}).get("columns"))
    kernel = getattr(examine, str(row["test"]), None)
    if not callable(kernel):
        raise NexusError(f"examination {record_id} ran {row['test']!r}, which this version of "
                         "nexus_lab.examine does not have; replay it with the version that "
                         "recorded it")
    import warnings

    with warnings.catch_warnings():  # its warnings are part of its summary
        warnings.simplefilter("ignore", examine.ExamineWarning)
        params = dict(row["params"] or {})
        if row["test"] == "journal_entry_tests":  # recorded before large_amounts took
            params.setdefault("multiple", None)  # multiple=: the z alone, as it ran
        result = kernel(given, **params)
    recorded = dict(row["summary"] or {})
    replayed = _plain(result.summary())
    differences = {k: (recorded.get(k), replayed.get(k)) for k in set(recorded) | set(replayed)
                   if not _same(recorded.get(k), replayed.get(k))}
    tables = {k: v["sha256"] for k, v in (row["tables"] or {}).items()}
    again = {k: v["sha256"] for k, v in _table_digests(result).items()}
    replay = Replay(str(record_id), str(row["name"]), str(row["test"]),
                    frame.sha256 == row["data_sha256"], not differences, tables == again,
                    dict(sorted(differences.items())), result, row)
    audit.record("examine.replayed", f"examinations/{record_id}", {
        "data_sha256": frame.sha256, "data_matches": replay.data_matches,
        "matches": replay.matches, "tables_match": replay.tables_match,
        "differences": sorted(differences)}, actor=who, store=s,
        resource_type="examination")
    return replay
