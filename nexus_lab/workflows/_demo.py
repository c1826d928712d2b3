"""The demo's steps on the bundled sample data, and the sample data itself.

Each step does its work and writes its outputs (all at once), then returns what it
found; the CLI prints it. The sample data is read from the repository's ``data/``
folder, or made in memory by the generators when the package is installed without it.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nexus_lab._typing import DeviceLike
from nexus_lab.errors import NexusError

__all__ = ["DATA", "SAMPLE", "Sample", "compress_step", "examine_step", "fraud_step",
           "load_sample", "recommend_step", "sources_of", "write_sample"]

log = logging.getLogger("nexus_lab")

DATA = Path(__file__).resolve().parents[2] / "data"


@dataclass(frozen=True)
class _SampleSizes:
    n: int = 2_000  # bank rows of data/bank.csv
    seed: int = 7
    transactions: int = 5_000  # rows of data/transactions.csv (same seed)
    users: int = 600  # data/interactions.csv (same seed)
    items: int = 300
    gl_lines: int = 5_000  # lines of data/gl.csv (same seed)
    gl_profile: str = "misstated"  # its business (nexus_lab.datasets.GL_PROFILES)
    events: int = 3_000  # events of data/erp_events.csv (same seed)


SAMPLE = _SampleSizes()  # how data/ was made: `nexus-lab data sample` with the defaults


@dataclass
class Sample:
    """The sample tables, and the files they came from (empty when generated)."""

    bank: Any
    ledger: Any
    truth: Any
    transactions: Any
    interactions: Any
    files: dict[str, Path] = field(default_factory=dict)
    gl: Any = None  # a general ledger (journal entries), for audit analytics
    events: Any = None  # its ERP's event log

    @property
    def generated(self) -> bool:
        """True when the tables were made in memory (no ``data/`` folder)."""
        return not self.files


def load_sample(folder: str | Path | None = None) -> Sample:
    """The bundled sample tables: ``data/`` when it is there, else generated in memory.

    Examples
    --------
    >>> s = load_sample()
    >>> len(s.bank) > 0 and {"user_id", "item_id"} <= set(s.interactions.columns)
    True
    """
    from nexus_lab.datasets import synth_interactions, synth_reconciliation, synth_transactions
    from nexus_lab.files import read_table
    from nexus_lab.workflows._examine import read_ledger

    root = Path(folder) if folder is not None else DATA
    names = ("bank", "ledger", "truth", "transactions", "interactions")
    files = {name: root / f"{name}.csv" for name in names}
    audit = {"gl": root / "gl.csv", "events": root / "erp_events.csv"}
    if all(path.exists() for path in [*files.values(), *audit.values()]):
        tables = {name: read_table(path, name=name,
                                   **({"text_columns": None} if name == "interactions" else {}))
                  for name, path in files.items()}
        return Sample(**tables, files={**files, **audit},
                      gl=read_ledger(audit["gl"])[0],
                      events=read_ledger(audit["events"], "events")[0])
    bank, ledger, truth = synth_reconciliation(SAMPLE.n, seed=SAMPLE.seed)
    gl, events = _audit_tables(SAMPLE.gl_lines, SAMPLE.events, SAMPLE.seed)
    return Sample(bank, ledger, truth, synth_transactions(SAMPLE.transactions, seed=SAMPLE.seed),
                  synth_interactions(SAMPLE.users, SAMPLE.items, seed=SAMPLE.seed), gl=gl,
                  events=events)


def _audit_tables(lines: int, events: int, seed: int) -> tuple[Any, Any]:
    """A general ledger and its ERP's event log, as the sample holds them."""
    from nexus_lab.datasets import synth_erp_events, synth_general_ledger

    gl = synth_general_ledger(lines, profile=SAMPLE.gl_profile, seed=seed)[0]
    return gl, synth_erp_events(events, seed=seed)[0]


def write_sample(out: str | Path, n: int = SAMPLE.n, seed: int = SAMPLE.seed, *,
                 progress: bool | None = None) -> dict[str, int]:
    """Write bank, ledger, truth, transactions and interactions CSVs made by the generators,
    and a general ledger (``gl.csv``) with its ERP's event log (``erp_events.csv``).

    The same ``n`` and ``seed`` give the same files; ``n`` scales every table.

    Parameters
    ----------
    out : str or path-like
        The folder.
    n : int
        About this many bank rows.
    seed : int
        The generators' seed.
    progress : bool, optional
        Show a progress bar (on stderr, or in the notebook): True always, False never,
        None (default) when stderr is a terminal or a notebook.

    Returns
    -------
    dict
        Rows written per file name.

    Examples
    --------
    >>> import tempfile
    >>> rows = write_sample(tempfile.mkdtemp(), n=50, seed=1, progress=False)
    >>> sorted(rows)  # doctest: +NORMALIZE_WHITESPACE
    ['bank.csv', 'erp_events.csv', 'gl.csv', 'interactions.csv', 'ledger.csv',
     'transactions.csv', 'truth.csv']
    """
    import sys

    from tqdm.auto import tqdm

    from nexus_lab.datasets import synth_interactions, synth_reconciliation, synth_transactions
    from nexus_lab.files import write_frame

    if n < 10:
        raise NexusError(f"--n {n} is too small: ask for at least 10 bank rows")
    out = Path(out)
    n_tx = max(SAMPLE.transactions * n // SAMPLE.n, 1_000)
    scale = n / SAMPLE.n
    users, items = max(round(SAMPLE.users * scale), 50), max(round(SAMPLE.items * scale), 30)
    lines = max(SAMPLE.gl_lines * n // SAMPLE.n, 500)
    n_events = max(SAMPLE.events * n // SAMPLE.n, 500)
    with tqdm(total=11, desc="sample data", unit="step", file=sys.stderr, leave=True,
              disable=None if progress is None else not progress) as bar:

        def step(what: str) -> None:
            log.info("sample data: %s", what)
            bar.set_postfix_str(what, refresh=True)

        step(f"bank statement and ledger ({n:,} bank rows)")
        bank, ledger, truth = synth_reconciliation(n, seed=seed)
        bar.update()
        step(f"transactions ({n_tx:,} rows)")
        tx = synth_transactions(n_tx, seed=seed)
        bar.update()
        step(f"interactions ({users:,} users, {items:,} items)")
        interactions = synth_interactions(users, items, seed=seed)
        bar.update()
        step(f"general ledger and its ERP events ({lines:,} lines, {n_events:,} events)")
        gl, events = _audit_tables(lines, n_events, seed)
        bar.update()
        rows = {}
        for name, frame in (("bank", bank), ("ledger", ledger), ("truth", truth),
                            ("transactions", tx), ("interactions", interactions),
                            ("gl", gl), ("erp_events", events)):
            step(f"writing {name}.csv ({len(frame):,} rows)")
            if "amount" in frame:  # as a statement shows money: two decimals
                frame = frame.assign(amount=frame["amount"].map("{:.2f}".format))
            write_frame(frame, out / f"{name}.csv")
            rows[f"{name}.csv"] = len(frame)
            bar.update()
        step("done")
    return rows


def fraud_step(transactions: Any, out: str | Path, *, device: DeviceLike = "auto",
               track: bool = True) -> dict:
    """Train a fraud detector on the sample transactions, score the latest weeks, and
    write ``out/fraud/`` (scored held-out rows, summary.json, report.html).

    Returns what :func:`~nexus_lab.workflows.train_fraud_model` returned, plus ``folder``.
    """
    from nexus_lab.reports import export_fraud
    from nexus_lab.workflows._train import train_fraud_model

    res = train_fraud_model(transactions.drop(columns=["pattern"], errors="ignore"), "is_fraud",
                            device=device, register=track, source="demo",
                            run_name="demo: sample transactions")
    folder = Path(out) / "fraud"
    export_fraud(res["holdout_scores"], folder, transactions=res["holdout_transactions"],
                 extra={"metrics": res["metrics"], "model_version": res.get("version")})
    return {**res, "folder": folder}


def recommend_step(interactions: Any, out: str | Path, *, device: DeviceLike = "auto",
                   track: bool = True, k: int = 10) -> dict:
    """Train the self-tuning hybrid recommender on the sample catalogue and write
    ``out/recommend/`` (every user's top ``k``: recommendations.csv; metrics.json).

    Returns what :func:`~nexus_lab.workflows.train_recommender` returned, plus ``folder``.
    """
    import pandas as pd

    from nexus_lab.files import atomic_dir, write_frame, write_json
    from nexus_lab.workflows._train import train_recommender

    res = train_recommender(interactions, "hybrid", device=device, register=track,
                            source="demo", run_name="demo: sample catalogue")
    recs = pd.DataFrame(res["model"].recommend(None, k=k))
    folder = Path(out) / "recommend"
    with atomic_dir(folder) as tmp:
        write_frame(recs, tmp / "recommendations.csv")
        write_json({**res["metrics"], "blend": res["model"].weights_,
                    "model_version": res.get("version")}, tmp / "metrics.json")
    return {**res, "folder": folder}


def compress_step(transactions: Any, interactions: Any, out: str | Path, *,
                  device: DeviceLike = "auto", seed: int = SAMPLE.seed) -> dict:
    """The sample transactions in a checksummed container, and a recommender's item
    embeddings as searchable 16-byte codes; writes ``out/compress/``.

    Returns
    -------
    dict
        ``transactions`` (rows, container, CSV and Parquet+zstd bytes),
        ``item_embeddings`` (items, dim, codec, bytes per vector, the share of each
        item's 10 most similar items found on the codes) and ``folder``.
    """
    import numpy as np
    import pandas as pd

    from nexus_lab import compress, recommend
    from nexus_lab.files import atomic_dir, write_json

    blob = compress.compress_frame(transactions)
    pd.testing.assert_frame_equal(compress.decompress_frame(blob), transactions)
    parquet = io.BytesIO()
    transactions.to_parquet(parquet, compression="zstd")
    model = recommend.ALS(factors=64, device=device, random_state=seed).fit(interactions)
    items = model.item_factors_.detach().cpu().numpy()
    items = items / np.maximum(np.linalg.norm(items, axis=1, keepdims=True), 1e-12)
    codec = compress.fit(items, bytes_per_vector=16, device=device, random_state=0)
    codes = codec.encode(items)
    ids, _ = compress.search(codec, codes, items, k=11)
    truth = np.argsort(-(items @ items.T), axis=1)[:, :11]
    found = float((ids[:, :, None] == truth[:, None, :]).any(-1).mean())
    summary = {
        "transactions": {"rows": len(transactions), "container_bytes": len(blob),
                         "csv_bytes": len(transactions.to_csv(index=False).encode()),
                         "parquet_zstd_bytes": len(parquet.getvalue())},
        "item_embeddings": {"items": len(items), "dim": int(items.shape[1]),
                            "codec": repr(codec), "codec_name": type(codec).__name__,
                            "bytes_per_vector": codec.bytes_per_vector,
                            "similar_items_recall_at_11": found},
    }
    folder = Path(out) / "compress"
    with atomic_dir(folder) as tmp:
        (tmp / "transactions.nxcf").write_bytes(blob)
        np.save(tmp / "item_codes.npy", codes)
        write_json(summary, tmp / "summary.json")
    return {**summary, "folder": folder}


#: The demo users' passwords, to sign in to the dashboards on the demo's store.
DEMO_PASSWORDS = {"lead": "demo-lead-pass", "ana": "demo-ana-pass", "jo": "demo-jo-pass"}


def records_step(sample: Sample, out: str | Path, *, device: DeviceLike = "auto") -> dict:
    """The system of record on the sample: a SQLite store with three users (an
    administrator, an examiner, a judge), the sample's bank statement and books ingested
    (twice: the second time writes nothing), a reconciliation from the store, the judge's
    approval refused and the examiner's taken; writes ``out/store/books.db`` and the
    examiner's signed reconciliation report (PDF) in ``out/reports/``. The users sign in to
    the dashboards with the passwords :data:`DEMO_PASSWORDS` gives.

    Returns
    -------
    dict
        ``store`` (the file), ``ingested`` (rows per table, first and second time),
        ``run_id``, ``rate``, ``open_items``, ``refused`` (the judge's refusal),
        ``approved_by``, ``audit`` (rows of the store's audit log by outcome), ``report``
        (the :class:`~nexus_lab.reports.SignedReport`), ``folder``.
    """
    from nexus_lab import auth, review, store
    from nexus_lab.errors import PermissionDenied
    from nexus_lab.files import atomic_dir
    from nexus_lab.workflows._records import ingest_file, reconcile_from_store

    folder = Path(out) / "store"
    facts: dict[str, Any] = {}
    with atomic_dir(folder) as tmp:
        books = store.connect(tmp / "books.db")
        try:
            books.migrate()
            with auth.acting_as("lead"):
                for user, role, name in (("lead", "admin", "Lead examiner"),
                                         ("ana", "examiner", "Ana (examiner)"),
                                         ("jo", "judge", "Jo (judge)")):
                    auth.add_user(user, role=role, display_name=name,
                                  password=DEMO_PASSWORDS[user], store=books)
            files = dict(sample.files)
            for side in ("bank", "ledger"):
                if side not in files:  # generated in memory: ingest it from a file too
                    files[side] = tmp / f"{side}.csv"
                    getattr(sample, side).to_csv(files[side], index=False)
            ingested = {}
            with auth.acting_as("ana"):
                for side, table in (("bank", "bank_statements"), ("ledger", "expenses")):
                    first = ingest_file(files[side], table, store=books)["rows_written"]
                    again = ingest_file(files[side], table, store=books)["rows_written"]
                    ingested[table] = (first, again)
                result, run_id = reconcile_from_store(books, device=device)
            with auth.acting_as("jo"):
                try:
                    review.approve_run(run_id, store=books)
                    refused = None
                except PermissionDenied as err:
                    refused = str(err)
            with auth.acting_as("ana"):
                approval = review.approve_run(run_id, note="sample period", store=books)
            outcomes = books.query("select outcome, count(*) as n from audit_logs "
                                   "group by outcome")
            facts = {"ingested": ingested, "run_id": run_id, "rate": float(result.rate),
                     "open_items": int(approval["open_items"]), "refused": refused,
                     "approved_by": approval["approved_by"],
                     "audit": dict(zip(outcomes["outcome"], outcomes["n"].astype(int),
                                       strict=True))}
        finally:
            books.close()  # the SQLite file whole, its write-ahead log folded in
        for side in ("bank", "ledger"):
            (tmp / f"{side}.csv").unlink(missing_ok=True)
    # the examiner's signed report, from the store in its place (it records where it is)
    from nexus_lab.crypto import generate_keypair
    from nexus_lab.reports import make_report

    books = store.connect(folder / "books.db")
    try:
        reports = Path(out) / "reports"  # a new one each time: reports are never overwritten
        with auth.acting_as("ana"):
            facts["report"] = make_report("reconciliation", role="examiner",
                                          run_id=facts["run_id"], store=books, fmt="pdf",
                                          out=reports,
                                          key=generate_keypair("demo workbench"))
    finally:
        books.close()
    return {**facts, "store": folder / "books.db", "folder": folder}


def case_step(store_path: str | Path, fraud_run: str, *, user: str = "ana") -> dict:
    """The demo's case: ``user`` (an examiner) escalates the riskiest flag of
    ``fraud_run`` into a case, its evidence sealed in a case store beside the store
    (``cases/``, signed by the demo's evidence-room key in ``keys/``, whose password is
    :data:`~nexus_lab.workflows.DEMO_PASSWORD`), so the workbench shows a case to
    verify. Running it again on the same flag changes nothing.

    Returns
    -------
    dict
        What :func:`~nexus_lab.workflows.escalate_to_case` returned.
    """
    from nexus_lab import auth, review
    from nexus_lab.config import environ
    from nexus_lab.workflows._provenance import DEMO_PASSWORD
    from nexus_lab.workflows._triage import escalate_to_case

    folder = Path(store_path).parent
    settings = {"NEXUS_LAB_CASES": str(folder / "cases"),
                "NEXUS_LAB_CASES_KEY": str(folder / "keys" / "evidence-room.nxkey"),
                "NEXUS_LAB_KEY_PASSWORD": DEMO_PASSWORD}
    with environ(settings), auth.acting_as(user):  # the case store's, for this call only
        top = review.fraud_queue_page(fraud_run, limit=1, store=str(store_path))[0]
        if top.empty:
            raise NexusError(f"fraud run {fraud_run} has no flag to escalate")
        return escalate_to_case(int(top["id"].iloc[0]),
                                "the riskiest flag of the demo's fraud run",
                                store=str(store_path))


def examine_step(sample: Sample, out: str | Path, store_path: str | Path, *,
                 user: str = "ana", key: Any = None) -> Any:
    """The audit tests on the sample general ledger (``data/gl.csv``, with its ERP events
    ``data/erp_events.csv``; made in memory without them), each recorded in the store at
    ``store_path`` as ``user``'s (an examiner), the signed workpaper and every table in
    ``out/examine/``.

    Parameters
    ----------
    sample : Sample
    out : str or path-like
        The demo's folder.
    store_path : str or path-like
        The demo's store (:func:`records_step`'s).
    user : str, default "ana"
    key : KeyPair, optional
        The key that signs the workpaper (default: a key made for the demo).

    Returns
    -------
    ExamineRun
        What :func:`~nexus_lab.workflows.examine_ledger` returned.
    """
    from nexus_lab import auth
    from nexus_lab.crypto import generate_keypair
    from nexus_lab.workflows._examine import examine_ledger

    gl = sample.files.get("gl", sample.gl)
    events = sample.files.get("events", sample.events)
    with auth.acting_as(user):
        return examine_ledger(
            gl, events=events, out=Path(out) / "examine", store=str(store_path),
            key=key if key is not None else generate_keypair("demo workbench"),
            source=None if "gl" in sample.files else "the sample general ledger (generated)",
            events_source=None if "events" in sample.files else
            "the sample ERP events (generated)")


def sources_of(sample: Sample) -> Mapping[str, tuple[str, Mapping[str, str]]]:
    """The bank and ledger files of a sample, as the reconcile workflow takes them."""
    return {side: (str(sample.files[side]), {}) for side in ("bank", "ledger")
            if side in sample.files}
