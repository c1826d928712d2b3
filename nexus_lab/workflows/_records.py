"""The jobs that go through the system of record: ingest files, reconcile from the store,
save kernels' results. Each checks the actor's role first and writes in one unit of work
with its audit record (:func:`nexus_lab.audit.change`)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from nexus_lab import audit, auth
from nexus_lab.errors import NexusError
from nexus_lab.files import hash_file, read_table
from nexus_lab.review import run_digest
from nexus_lab.store import Store, connect

#: The tables a file may be ingested into (:data:`nexus_lab.store.NATURAL_KEYS`'s), and
#: what each holds.
INGEST_TABLES = {
    "bank_statements": "a bank statement (the bank's side)",
    "expenses": "the books: a ledger or expense list",
    "projects": "projects with budgets",
    "project_milestones": "projects' milestones with planned amounts",
    "trading_operations": "income and expense operations of projects",
}


def ingest_file(path: str | os.PathLike[str], table: str = "bank_statements", *,
                store: Store | str | None = None, account: str | None = None,
                dayfirst: bool | None = None, decimal: str = "auto",
                sheet: str | int = 0, columns: Mapping[str, str] | None = None,
                check_balance: bool = True) -> dict:
    """Read a file the bank or the books sent and write its rows to the store.

    Needs the ``financial.ingest`` permission. Re-ingesting the same file changes
    nothing; the file's name and SHA-256 are kept in ``ingest_batches``.

    Parameters
    ----------
    path : path-like
        Any file :func:`nexus_lab.read_table` reads (CSV, Excel, Parquet, bank formats).
    table : str, default "bank_statements"
        One of :data:`INGEST_TABLES`.
    store : Store or str, optional
        The store or its URL (default: :func:`nexus_lab.store.connect`'s).
    account : str, optional
        The account the rows belong to, for files without an ``account`` column.
    dayfirst, decimal
        As for :meth:`nexus_lab.store.Store.ingest`.
    sheet : str or int, default 0
        The worksheet of an Excel file.
    columns : mapping, optional
        ``{the table's name: the file's}`` for columns named otherwise
        (``{"amount": "Amt", "date": "Posted"}``).
    check_balance : bool, default True
        Refuse a bank statement file whose balances do not add up (cut off).

    Returns
    -------
    dict
        ``table, source, sha256, rows_read, rows_written``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import auth, workflows
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> store = nx.store.connect(folder / "books.db"); _ = store.migrate()
    >>> bank, ledger, _ = nx.datasets.synth_reconciliation(50, seed=0)
    >>> bank.to_csv(folder / "bank.csv", index=False)
    >>> with auth.acting_as("ana"):
    ...     workflows.ingest_file(folder / "bank.csv", store=store)["rows_written"] == len(bank)
    True
    """
    if table not in INGEST_TABLES:
        raise NexusError(f"cannot ingest into {table!r}; choose one of "
                         f"{', '.join(INGEST_TABLES)}")
    s = connect(store)
    who = auth.require("financial.ingest", store=s, resource=table)
    name = "bank" if table == "bank_statements" else "ledger" if table == "expenses" else table
    frame = read_table(path, name=name, sheet=sheet, columns=columns,
                       check_balance=check_balance)
    kind = (frame.attrs.get("statement") or {}).get("format")
    if kind and table != "bank_statements":
        raise NexusError(f"{os.path.basename(os.fspath(path))} is a bank statement ({kind}): "
                         "ingest it into bank_statements (the default), not into "
                         f"{table}")
    if columns:
        missing = [v for v in columns.values() if v not in frame.columns]
        if missing:
            raise NexusError(f"{os.fspath(path)} has no column {missing[0]!r} (its columns: "
                             f"{', '.join(map(str, frame.columns[:12]))})")
        frame = frame.rename(columns={v: k for k, v in columns.items()})
    if account is not None and "account" not in frame.columns:
        frame = frame.assign(account=account)
    digest = hash_file(path)[0].hexdigest()
    source = os.path.basename(os.fspath(path))
    with audit.change(s, "data.ingested", f"{table}/{source}",
                      {"sha256": digest, "rows_read": len(frame)}, actor=who,
                      resource_type=table) as facts:
        written = s.ingest(table, frame, source=source, sha256=digest, dayfirst=dayfirst,
                           decimal=decimal, created_by=who)
        facts["rows_written"] = written
    return {"table": table, "source": source, "sha256": digest, "rows_read": len(frame),
            "rows_written": written}


def _units(frame: pd.DataFrame) -> pd.DataFrame:
    """Every ``*_cents`` column as money in currency units under its contract name
    (``budget_cents`` -> ``budget``): float64 whose ``round(x * 100)`` is the cents."""
    out = frame.drop(columns=["batch_id"], errors="ignore")
    for col in [c for c in out.columns if c.endswith("_cents")]:
        out.insert(out.columns.get_loc(col), col.removesuffix("_cents"),
                   out[col].astype("Float64").astype(float) / 100.0)
        out = out.drop(columns=[col])
    return out


def _as_contract(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of the store in the kernels' contract: ``amount`` in currency units (float64,
    whose ``round(x * 100)`` is the stored cents exactly)."""
    out = frame.drop(columns=["batch_id", "reconciliation_status", "pov_analysis"],
                     errors="ignore")
    empty = [c for c in ("account", "currency", "reference", "vendor", "category")
             if c in out and out[c].replace("", None).isna().all()]
    return _units(out.drop(columns=empty))  # without the columns the source did not have


def _day(value: Any, what: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        day = pd.Timestamp(value)
    except (ValueError, TypeError):
        day = pd.NaT
    if pd.isna(day):
        raise NexusError(f"the period's {what} {str(value)[:40]!r} is not a date; write it "
                         "as YYYY-MM-DD")
    return day


def load_books(store: Store | str | None = None, *, account: str | None = None,
               ledger_account: str | None = None, start: Any = None, end: Any = None
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The bank statement and the books held in the store, for one account and period.

    Needs ``financial.read``.

    Parameters
    ----------
    store : Store or str, optional
    account : str, optional
        The bank account (default: every account).
    ledger_account : str, optional
        The books' account, when it is named differently (default: ``account``, with
        the books ingested without an account; all the books when none are on it).
    start, end : date-like, optional
        The period, both ends included.

    Returns
    -------
    bank, ledger : pandas.DataFrame
        In the kernels' data contracts (``amount`` in currency units).
    """
    s = connect(store)
    auth.require("financial.read", store=s, resource="bank_statements")
    bank = s.read("bank_statements", where=None if account is None else {"account": account})
    accounts = sorted(bank["account"].unique())
    if account is None and len(accounts) > 1:
        shown = ", ".join(repr(a) for a in accounts[:5]) + (", ..." if len(accounts) > 5 else "")
        raise NexusError(f"the store at {s.where} holds {len(accounts)} bank accounts ({shown})"
                         "; reconcile one at a time: choose it with --account (account= in "
                         "Python)")
    ledger_acc = ledger_account if ledger_account is not None else account
    ledger = s.read("expenses", where=None if ledger_acc is None else
                    {"account": [ledger_acc, ""]})
    if ledger_account is None and account is not None and len(ledger) == 0:
        ledger = s.read("expenses")  # the books name their accounts otherwise: all of them
    for name, frame in (("bank", bank), ("ledger", ledger)):
        if len(frame) == 0:
            where = f" for account {account!r}" if account else ""
            raise NexusError(f"the store at {s.where} holds no {name} rows{where}; ingest "
                             f"them first: nexus-lab ingest FILE --table "
                             f"{'bank_statements' if name == 'bank' else 'expenses'}")
    lo, hi = _day(start, "start (--from)"), _day(end, "end (--to)")
    if lo is not None and hi is not None and lo > hi:
        raise NexusError(f"the period ends ({hi.date()}) before it starts ({lo.date()}); "
                         "swap --from and --to")
    if lo is not None or hi is not None:
        def period(frame: pd.DataFrame) -> pd.DataFrame:
            keep = np.ones(len(frame), dtype=bool)
            if lo is not None:
                keep &= (frame["date"] >= lo).to_numpy()
            if hi is not None:
                keep &= (frame["date"] <= hi).to_numpy()
            return frame[keep].reset_index(drop=True)
        bank, ledger = period(bank), period(ledger)
    return _as_contract(bank), _as_contract(ledger)


def _evidence(m: pd.DataFrame) -> list[dict]:
    """Each match's explanation and the bits of evidence each field gave, as kept in the
    store (``{"text": ..., "bits": {"amount": 8.2, ...}}``)."""
    fields = [c for c in m.columns if c.startswith("weight_")]
    names = [c.removeprefix("weight_") for c in fields]
    weights = m[fields].astype(float).round(3)
    # JSON has no NaN (PostgreSQL refuses it): a field that gave no evidence is null
    bits = weights.astype(object).where(weights.notna(), None).to_numpy().tolist()
    return [{"text": text, "bits": dict(zip(names, row, strict=True))}
            for text, row in zip(m["explanation"].astype(str).tolist(), bits, strict=True)]


def save_reconciliation(result: Any, *, store: Store | str | None = None, account: str = "",
                        start: Any = None, end: Any = None,
                        mlflow_run_id: str | None = None) -> str:
    """Keep a reconciliation in the store: the run, its matches and its open items, in one
    transaction with its audit record. Needs ``reconciliation.run``.

    Parameters
    ----------
    result : ReconcileResult
        From :func:`nexus_lab.reconcile`.
    store : Store or str, optional
    account : str, optional
        The account reconciled.
    start, end : date-like, optional
        The period (default: the dates the bank statement spans).
    mlflow_run_id : str, optional
        The MLflow run that tracked it.

    Returns
    -------
    str
        The run's id (``reconciliation_runs.run_id``).
    """
    if not hasattr(result, "matches") or not hasattr(result, "unmatched_bank"):
        raise NexusError("save_reconciliation takes a ReconcileResult (from nx.reconcile), "
                         f"got {type(result).__name__}")
    s = connect(store)
    who = auth.require("reconciliation.run", store=s, resource="reconciliation_runs")
    run_id = uuid.uuid4().hex
    m = result.matches
    matches = pd.DataFrame({
        "run_id": run_id,
        "bank_statement_id": m["bank_id"].astype(str).to_numpy(),
        "expense_id": m["ledger_id"].astype(str).to_numpy(),
        "group_id": m["group_id"].to_numpy(),
        "confidence_score": m["confidence"].astype(float).to_numpy(),
        "matching_algorithm": m["match_type"].astype(str).to_numpy(),
        "evidence": _evidence(m),
    })
    items = []
    for side, frame in (("bank", result.unmatched_bank), ("ledger", result.unmatched_ledger)):
        if len(frame) == 0:
            continue
        items.append(pd.DataFrame({
            "run_id": run_id, "side": side,
            "transaction_id": frame["transaction_id"].astype(str).to_numpy(),
            "date": frame["date"].to_numpy() if "date" in frame else None,
            "amount_cents": np.round(pd.to_numeric(frame["amount"], errors="coerce")
                                     .to_numpy() * 100).astype(np.int64),
            "description": frame["description"].astype(str).to_numpy()
            if "description" in frame else None,
            "reason": frame["reason"].astype(str).to_numpy(),
            "suggested": frame["nearest_id"].astype(object).where(
                frame["nearest_id"].notna(), None).to_numpy() if "nearest_id" in frame
            else None,
        }))
    open_items = pd.concat(items, ignore_index=True) if items else pd.DataFrame()
    summary = {k: (None if isinstance(v, float) and v != v else v)
               for k, v in result.summary().items()}
    run = {
        "run_id": run_id, "account": account or "",
        "period_start": None if start is None else pd.Timestamp(start).date(),
        "period_end": None if end is None else pd.Timestamp(end).date(),
        "rate": float(result.rate), "bank_rows": int(result.n_bank),
        "ledger_rows": int(result.n_ledger), "matched_pairs": len(m),
        "open_items": len(open_items), "mlflow_run_id": mlflow_run_id,
        "created_by": who,
    }
    with audit.change(s, "reconciliation.saved", f"reconciliation_runs/{run_id}",
                      {"rate": run["rate"], "matched_pairs": run["matched_pairs"],
                       "open_items": run["open_items"], "account": run["account"]},
                      actor=who, resource_type="reconciliation_run") as facts:
        s.execute(
            "insert into reconciliation_runs (run_id, account, period_start, period_end, rate, "
            "bank_rows, ledger_rows, matched_pairs, open_items, summary, params, "
            "mlflow_run_id, created_by) values (:run_id, :account, :period_start, "
            ":period_end, :rate, :bank_rows, :ledger_rows, :matched_pairs, :open_items, "
            ":summary, :params, :mlflow_run_id, :created_by)",
            {**run, "summary": json.dumps(summary, default=str),
             "params": json.dumps(getattr(result, "params", {}), default=str)})
        s.append("reconciliation_matches", matches)
        if len(open_items):
            s.append("open_items", open_items)
        digest = run_digest(run_id, store=s)
        s.execute("update reconciliation_runs set matches_sha256 = :d where run_id = :r",
                  {"d": digest, "r": run_id})
        s.execute("update bank_statements set reconciliation_status = 'matched' where "
                  "account = :a and transaction_id in (select bank_statement_id from "
                  "reconciliation_matches where run_id = :r)", {"a": account or "",
                                                                 "r": run_id})
        s.execute("update expenses set reconciliation_status = 'matched' where "
                  "transaction_id in (select expense_id from reconciliation_matches where "
                  "run_id = :r)", {"r": run_id})
        facts["matches_sha256"] = digest
    return run_id


def reconcile_from_store(store: Store | str | None = None, *, account: str | None = None,
                         ledger_account: str | None = None, start: Any = None, end: Any = None,
                         **reconcile_kwargs: Any) -> tuple[Any, str]:
    """Reconcile the bank statement and the books held in the store, and keep the result.

    Needs ``financial.read`` and ``reconciliation.run``.

    Parameters
    ----------
    store : Store or str, optional
    account, ledger_account, start, end
        Which rows: as for :func:`load_books`.
    **reconcile_kwargs
        Passed to :func:`nexus_lab.reconcile` (``device=``, ``tolerance=``...).

    Returns
    -------
    result : ReconcileResult
    run_id : str
        The run kept in the store (``reconciliation_runs``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import auth, workflows
    >>> store = nx.store.connect(pathlib.Path(tempfile.mkdtemp()) / "books.db")
    >>> _ = store.migrate()  # no roles yet: single-user
    >>> bank, ledger, _ = nx.datasets.synth_reconciliation(100, seed=0)
    >>> _ = store.ingest("bank_statements", bank), store.ingest("expenses", ledger)
    >>> with auth.acting_as("ana"):
    ...     res, run_id = workflows.reconcile_from_store(store, device="cpu")
    >>> store.read("reconciliation_runs")["status"].tolist()
    ['open']
    """
    from nexus_lab.reconcile import reconcile

    s = connect(store)
    auth.require("reconciliation.run", store=s, resource="reconciliation_runs")
    bank, ledger = load_books(s, account=account, ledger_account=ledger_account, start=start,
                              end=end)
    result = reconcile(bank, ledger, **reconcile_kwargs)
    lo = start if start is not None else bank["date"].min()
    hi = end if end is not None else bank["date"].max()
    run_id = save_reconciliation(result, store=s, account=account or "", start=lo, end=hi)
    return result, run_id


def save_fraud_scores(scored: Any, transactions: pd.DataFrame | None = None, *,
                      store: Store | str | None = None, model: str | None = None,
                      threshold: float = 50.0, detector: Any = None,
                      explain_top: int = 2000) -> str:
    """Keep fraud scores in the store, flagged rows open for review, in one transaction.
    Needs ``fraud.run``.

    Parameters
    ----------
    scored : DataFrame
        From :meth:`nexus_lab.fraud.FraudDetector.score`.
    transactions : DataFrame, optional
        The scored transactions, for their account, vendor, date and amount.
    store : Store or str, optional
    model : str, optional
        The model that scored them (an MLflow model URI, say).
    threshold : float, default 50
        Rows with flags or a risk score at or above it are open for review; the others
        are kept with review state ``none``.
    detector : FraudDetector, optional
        The detector whose last :meth:`~nexus_lab.fraud.FraudDetector.score` call gave
        ``scored``: what each flag and each model feature added to the risk of the rows
        open for review (:meth:`~nexus_lab.fraud.FraudDetector.explain`) is kept with
        the run, for the reviewer to see why a row was flagged.
    explain_top : int, default 2000
        Explain at most this many rows open for review, the riskiest first.

    Returns
    -------
    str
        The run's id (``fraud_runs.run_id``).

    Notes
    -----
    The explanations are kept in the run's ``params`` (JSON) under ``explanations``:
    ``{transaction_id: {"flags": [[flag, risk points], ...], "features": [[feature,
    points], ...]}}``, each list strongest first (the six strongest features), with
    ``feature_points`` saying what a feature's points are (the drop in the calibrated
    probability when the feature is set to its usual value, for a detector trained with
    labels; else the feature's share of an unusual autoencoder error). A row's ``flags``
    stay the list of its flag categories. Scores computed on Dask
    (:func:`nexus_lab.scale.score_fraud`) keep where, under ``dask`` (workers,
    partitions, the dashboard's link).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import workflows
    >>> store = nx.store.connect(pathlib.Path(tempfile.mkdtemp()) / "books.db")
    >>> _ = store.migrate()  # no roles yet: single-user
    >>> tx = nx.datasets.synth_transactions(600, seed=1, days=30).drop(
    ...     columns=["pattern", "is_fraud"])
    >>> det = nx.fraud.FraudDetector(device="cpu", random_state=0).fit(tx)
    >>> run = workflows.save_fraud_scores(det.score(tx), tx, store=store, detector=det)
    >>> params = store.read("fraud_runs")["params"].iloc[0]
    >>> kept = params["explanations"]
    >>> len(kept) == params["explained_rows"] > 0
    True
    >>> sorted(next(iter(kept.values())))
    ['features', 'flags']
    """
    for col in ("transaction_id", "risk_score", "flags"):
        if col not in getattr(scored, "columns", ()):
            raise NexusError(f"scored has no {col!r} column: pass what "
                             "FraudDetector.score returns")
    s = connect(store)
    who = auth.require("fraud.run", store=s, resource="fraud_runs")
    run_id = uuid.uuid4().hex
    flags = [list(map(str, f)) if isinstance(f, list | tuple | np.ndarray) else []
             for f in scored["flags"]]
    risk = scored["risk_score"].astype(float).to_numpy()
    flagged = (risk >= threshold) | np.array([bool(f) for f in flags])
    rows = pd.DataFrame({
        "run_id": run_id, "transaction_id": scored["transaction_id"].astype(str).to_numpy(),
        "risk_score": risk, "flags": flags,
        "reasons": ["; ".join(map(str, r)) if isinstance(r, list | tuple | np.ndarray) else
                    str(r) for r in scored.get("reasons", [""] * len(scored))],
        "review_state": np.where(flagged, "open", "none"),
    })
    if transactions is not None:
        extra = pd.DataFrame(transactions).drop_duplicates("transaction_id")
        extra = extra.set_index(extra["transaction_id"].astype(str))
        ids = rows["transaction_id"]
        for col in ("account", "vendor", "date"):
            if col in extra:
                rows[col] = ids.map(extra[col]).to_numpy()
        if "amount" in extra:
            rows["amount_cents"] = np.round(ids.map(extra["amount"]).astype(float) * 100
                                            ).astype("Int64").to_numpy()
    params: dict[str, Any] = {"threshold": threshold}
    if isinstance(getattr(scored, "attrs", {}).get("dask"), dict):
        params["dask"] = dict(scored.attrs["dask"])  # where they were computed
    if detector is not None:
        params.update(_explanations(detector, scored["transaction_id"].to_numpy(), risk,
                                    flagged, explain_top))
    with audit.change(s, "fraud.scored", f"fraud_runs/{run_id}",
                      {"rows": len(rows), "flagged": int(flagged.sum()), "model": model},
                      actor=who, resource_type="fraud_run"):
        s.execute("insert into fraud_runs (run_id, model, rows, flagged, params, created_by) "
                  "values (:r, :m, :n, :f, :p, :w)",
                  {"r": run_id, "m": model, "n": len(rows), "f": int(flagged.sum()),
                   "p": json.dumps(params), "w": who})
        s.append("fraud_scores", rows)
    return run_id


def _explanations(detector: Any, ids: np.ndarray, risk: np.ndarray, flagged: np.ndarray,
                  top: int) -> dict:
    """What each flag and feature added to the riskiest flagged rows (for ``params``)."""
    from nexus_lab.errors import SchemaError

    if not callable(getattr(detector, "explain", None)):
        raise NexusError(f"detector must be the FraudDetector that scored the rows, not a "
                         f"{type(detector).__name__}")
    if int(top) < 0:
        raise NexusError(f"explain_top must be 0 or more, not {top}")
    order = np.flatnonzero(flagged)
    order = order[np.argsort(-risk[order], kind="stable")][: int(top)]
    kept: dict[str, dict] = {}
    for pos in order:
        try:
            parts = detector.explain(ids[pos])
        except SchemaError as err:
            raise NexusError(f"the detector cannot explain transaction {ids[pos]!r} ({err}); "
                             "pass the detector right after the score() call that gave these "
                             "scores") from None
        parts = parts[parts["contribution"].abs() >= 0.05]
        points = parts["contribution"].round(1).astype(float)
        rules = parts["kind"] == "rule"
        kept[str(ids[pos])] = {  # lists, not objects: a JSON object's order is not kept
            "flags": [[n, p] for n, p in zip(parts.loc[rules, "name"], points[rules])],
            "features": [[n, p] for n, p in zip(parts.loc[~rules, "name"],
                                                points[~rules])][:6],
        }
    supervised = bool(getattr(detector, "supervised_", False))
    return {"explanations": kept, "explained_rows": len(kept),
            "feature_points": "probability drop" if supervised else "autoencoder error share"}


def load_projects(store: Store | str | None = None) -> tuple[pd.DataFrame, pd.DataFrame,
                                                           pd.DataFrame]:
    """The store's projects, their milestones and their income and expense operations, in
    the projects kernel's contract (money in currency units). Needs ``financial.read`` or
    ``strategic.read``.

    Returns
    -------
    projects, milestones, operations : pandas.DataFrame
    """
    s = connect(store)
    auth.require(("financial.read", "strategic.read"), store=s, resource="projects")
    frames = [_units(s.read(t)) for t in ("projects", "project_milestones",
                                          "trading_operations")]
    if len(frames[1]) == 0:
        raise NexusError(f"the store at {s.where} holds no project milestones; ingest them "
                         "first: nexus-lab ingest FILE --table project_milestones (and "
                         "projects, trading_operations)")
    return frames[0], frames[1], frames[2]


def project_variance(store: Store | str | None = None, **variance_kwargs: Any) -> Any:
    """Budget against actual for every project the store holds (:func:`nexus_lab.projects
    .variance` on :func:`load_projects`).

    Parameters
    ----------
    store : Store or str, optional
    **variance_kwargs
        Passed to the kernel (``as_of=``, ``tolerance=``...).

    Returns
    -------
    ProjectVariance

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import workflows
    >>> store = nx.store.connect(pathlib.Path(tempfile.mkdtemp()) / "books.db")
    >>> _ = store.migrate()
    >>> projects, milestones, operations = nx.datasets.synth_projects(5, seed=1)
    >>> for table, frame in (("projects", projects), ("project_milestones", milestones),
    ...                      ("trading_operations", operations)):
    ...     _ = store.ingest(table, frame)
    >>> res = workflows.project_variance(store)
    >>> len(res.projects)
    5
    """
    from nexus_lab.projects import variance

    projects, milestones, operations = load_projects(store)
    return variance(milestones, operations, projects=projects, **variance_kwargs)
