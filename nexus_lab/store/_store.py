"""The store: one interface over SQLite and PostgreSQL (SQLAlchemy Core 2, Alembic)."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from nexus_lab import config
from nexus_lab.errors import NexusError, SchemaError
from nexus_lab.store._schema import NATURAL_KEYS, metadata

log = logging.getLogger("nexus_lab")

_MIGRATIONS = Path(__file__).with_name("migrations")


class StoreError(NexusError):
    """The store cannot be reached, is not at this version's schema, or refused a write.

    The message names the store (its URL, password hidden) and what to do.
    """


def connect(url: str | os.PathLike[str] | Store | None = None, *, echo: bool = False
            ) -> Store:
    """Open the system of record.

    Parameters
    ----------
    url : str or path-like or Store, optional
        ``sqlite:///path/to/file.db``, ``postgresql://user:password@host:port/db`` (psycopg
        3 is the driver), or a path to a SQLite file. By default, ``NEXUS_LAB_STORE``, else
        ``nexus.db`` in the user's data folder (:func:`nexus_lab.config.store_url`). A
        store already open is returned as it is, so that a service can take either.
    echo : bool, default False
        Log every SQL statement (to the ``sqlalchemy.engine`` logger).

    Returns
    -------
    Store

    Raises
    ------
    StoreError
        When the server refuses the connection or the credentials, the database does
        not exist, or its schema is newer than this version of NEXUS Lab.

    Examples
    --------
    >>> import tempfile, pathlib, pandas as pd
    >>> import nexus_lab as nx
    >>> store = nx.store.connect(pathlib.Path(tempfile.mkdtemp()) / "books.db")
    >>> store.migrate()
    '0005'
    >>> bank = pd.DataFrame({"transaction_id": ["B1", "B2"], "date": ["2025-01-02", "2025-01-03"],
    ...                      "amount": ["-12.50", "1,000.00"], "description": ["fuel", "wire"]})
    >>> store.ingest("bank_statements", bank), store.ingest("bank_statements", bank)
    (2, 0)
    >>> store.read("bank_statements", where={"transaction_id": "B2"})["amount_cents"].tolist()
    [100000]
    """
    if isinstance(url, Store):
        return url
    default = url is None
    if default:
        url = config.store_url()
    return Store(str(url), echo=echo, make_folder=default)


class Store:
    """A connection to the system of record; see :func:`connect`.

    Reads and writes bind every value as a parameter, never into the SQL text. Writes
    are transactional: a write either happens whole or not at all, also when the
    process is killed in the middle. Calls made inside ``with store.transaction():`` go
    into that one transaction.
    """

    def __init__(self, url: str, *, echo: bool = False, make_folder: bool = False) -> None:
        self.url = _normalize(url)
        self._shown = config.redact(url if "://" in url else self.url)  # as the user wrote it
        self._active: ContextVar[sa.Connection | None] = ContextVar(
            f"nexus_lab_store_{id(self)}", default=None)
        self.engine = _engine(self.url, echo, make_folder)
        self._check_reachable()

    # ---- identity ---------------------------------------------------------------------

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @property
    def where(self) -> str:
        """Where the store is, fit to show: the SQLite file, or ``host:port/database``."""
        u = self.engine.url
        if self.dialect == "sqlite":
            return u.database or ":memory:"
        return f"{u.host or 'localhost'}:{u.port or 5432}/{u.database}"

    def __repr__(self) -> str:
        return f"Store({self._shown!r}, revision={self.revision()!r})"

    def close(self) -> None:
        """Close the connections this store holds."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- schema -----------------------------------------------------------------------

    def revision(self) -> str | None:
        """The schema revision the database is at (None before :meth:`migrate`)."""
        with self._read() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    def migrate(self) -> str:
        """Bring the schema up to this version's (Alembic ``upgrade head``).

        Safe to call every time: at the latest revision it changes nothing. Two
        processes migrating at once are serialized by the database.

        Returns
        -------
        str
            The revision the database is at now.

        Raises
        ------
        StoreError
            When the database's schema is newer than this version's.
        """
        from alembic import command
        from alembic.config import Config

        if self._check_not_newer() == _head():
            return _head()  # at the latest revision already: nothing to run
        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        with self._write() as conn:
            if self.dialect == "postgresql":  # one migrator at a time
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(74657)"))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        return self.revision()

    def _check_not_newer(self) -> str | None:
        """The database's revision, refused when this version does not know it."""
        have = self.revision()
        if have is not None and have not in _known_revisions():
            raise StoreError(
                f"the store at {self._shown} has schema revision {have!r}, newer than this "
                f"version of NEXUS Lab knows (latest {_head()!r}); upgrade NEXUS Lab "
                "(pip install -U nexus-lab) before using this store")
        return have

    def tables(self) -> pd.DataFrame:
        """The store's tables with their row counts.

        Returns
        -------
        pandas.DataFrame
            ``table, rows``, one row per table of the schema that exists.
        """
        with self._read() as conn:
            have = set(sa.inspect(conn).get_table_names())
            rows = [(t.name, conn.execute(sa.select(sa.func.count()).select_from(t)).scalar())
                    for t in metadata.sorted_tables if t.name in have]
        return pd.DataFrame(rows, columns=["table", "rows"])

    # ---- transactions -----------------------------------------------------------------

    @property
    def in_transaction(self) -> bool:
        """True inside a :meth:`transaction` block of this context."""
        return self._active.get() is not None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One unit of work: everything the store does inside the block commits together
        at its end, or not at all when the block raises.

        A ``transaction()`` inside another is a savepoint: its block can fail alone.

        Yields
        ------
        sqlalchemy.Connection
            The connection, for SQLAlchemy Core statements of your own.

        Examples
        --------
        >>> import tempfile, pathlib, pandas as pd
        >>> from nexus_lab import store as st
        >>> store = st.connect(pathlib.Path(tempfile.mkdtemp()) / "books.db")
        >>> _ = store.migrate()
        >>> row = pd.DataFrame({"transaction_id": ["B1"], "date": ["2025-01-02"],
        ...                     "amount": [12.5]})
        >>> try:
        ...     with store.transaction():
        ...         _ = store.ingest("bank_statements", row)
        ...         raise RuntimeError("something later failed")
        ... except RuntimeError:
        ...     pass
        >>> len(store.read("bank_statements"))
        0
        """
        outer = self._active.get()
        if outer is not None:
            with outer.begin_nested():
                yield outer
            return
        with self._write() as conn:
            token = self._active.set(conn)
            try:
                yield conn
            finally:
                self._active.reset(token)

    @contextlib.contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """The active transaction's connection, else a new write transaction."""
        active = self._active.get()
        if active is not None:
            yield active
            return
        try:
            with self.engine.connect().execution_options(nexus_begin="IMMEDIATE") as conn, \
                    conn.begin():
                yield conn
        except sa.exc.OperationalError as err:
            raise self._error(err) from err

    @contextlib.contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        active = self._active.get()
        if active is not None:
            yield active
            return
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa.exc.OperationalError as err:
            raise self._error(err) from err

    # ---- reading ----------------------------------------------------------------------

    def read(self, table: str, where: Mapping[str, Any] | None = None, *,
             columns: Sequence[str] | None = None, order_by: str | Sequence[str] | None = None,
             limit: int | None = None) -> pd.DataFrame:
        """Rows of one table as a DataFrame.

        Parameters
        ----------
        table : str
            A table of the schema (see :meth:`tables`).
        where : mapping, optional
            ``{column: value}`` (equal) or ``{column: [values]}`` (any of), all of which
            must hold; ``None`` as a value matches NULL.
        columns : sequence of str, optional
            The columns to return (default: all).
        order_by : str or sequence of str, optional
            Columns to sort by; a leading ``-`` sorts descending (``"-risk_score"``).
        limit : int, optional
            At most this many rows.

        Returns
        -------
        pandas.DataFrame
            Dates as ``datetime64``, times as UTC ``datetime64``, JSON as Python objects.
        """
        t = self._table(table)
        cols = [self._column(t, c) for c in columns] if columns else list(t.columns)
        stmt = sa.select(*cols)
        for name, value in (where or {}).items():
            col = self._column(t, name)
            if value is None:
                stmt = stmt.where(col.is_(None))
            elif isinstance(value, list | tuple | set | np.ndarray | pd.Series | pd.Index):
                stmt = stmt.where(col.in_([_plain(v) for v in value]))
            else:
                stmt = stmt.where(col == _plain(value))
        orders = [order_by] if isinstance(order_by, str) else list(order_by or [])
        for name in orders:
            col = self._column(t, name.lstrip("-"))
            stmt = stmt.order_by(col.desc() if name.startswith("-") else col)
        if not orders and t.primary_key.columns:
            stmt = stmt.order_by(*t.primary_key.columns)
        if limit is not None:
            stmt = stmt.limit(int(limit))
        with self._read() as conn:
            self._need(conn, table)
            result = conn.execute(stmt)
            frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        return _typed(frame, [t.c[c] for c in frame.columns])

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        """The rows of a SQL query, its values bound as parameters.

        Parameters
        ----------
        sql : str
            A query with named parameters: ``"select * from expenses where vendor = :v"``.
        params : mapping, optional
            ``{"v": "ACME; DROP TABLE expenses"}``: values are bound, never spliced in.

        Returns
        -------
        pandas.DataFrame
        """
        with self._read() as conn:
            try:
                result = conn.execute(sa.text(sql), _bound(params))
            except sa.exc.DBAPIError as err:
                raise self._error(err, sql) from err
            if not result.returns_rows:
                return pd.DataFrame()
            return pd.DataFrame(result.fetchall(), columns=list(result.keys()))

    def execute(self, sql: str, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
                | None = None) -> int:
        """Run a statement that changes rows (in the current transaction, if any).

        Parameters
        ----------
        sql : str
            An ``insert``, ``update`` or ``delete`` with named parameters.
        params : mapping or sequence of mappings, optional
            Bound values; a sequence runs the statement once per mapping.

        Returns
        -------
        int
            The number of rows changed.
        """
        many = isinstance(params, Sequence) and not isinstance(params, str | bytes)
        with self._write() as conn:
            try:
                result = conn.execute(sa.text(sql), [_bound(p) for p in params] if many
                                      else _bound(params))
            except sa.exc.DBAPIError as err:
                raise self._error(err, sql) from err
            return int(result.rowcount or 0)

    # ---- writing ----------------------------------------------------------------------

    def ingest(self, table: str, df: pd.DataFrame, *, source: str | None = None,
               sha256: str | None = None, dayfirst: bool | None = None,
               decimal: str = "auto", created_by: str | None = None) -> int:
        """Write rows in bulk; rows whose natural key is in the table already are skipped.

        PostgreSQL: the table is locked against other writers (``SHARE ROW EXCLUSIVE``:
        readers go on), then ``COPY ... FROM STDIN`` straight into it (in a savepoint);
        when a row's key is there already, the rows go into a staging table instead and
        one ``INSERT ... ON CONFLICT DO NOTHING`` takes the new ones. SQLite:
        one ``executemany`` with ``ON CONFLICT DO NOTHING``. Either way in one
        transaction: a process killed in the middle leaves the table as it was, and two
        processes ingesting the same file at once leave one copy (the second waits for
        the first, then writes nothing).

        Parameters
        ----------
        table : str
            ``bank_statements``, ``expenses``, ``projects``, ``project_milestones`` or
            ``trading_operations``.
        df : pandas.DataFrame
            Columns named as the table's (headings compared loosely: ``"Transaction
            ID"`` is ``transaction_id``). Money as ``amount`` (text or numbers in
            currency units, read by :func:`nexus_lab.frames.read_money`), or
            ``debit``/``credit``, or ``amount_cents``; dates as dates or text
            (:func:`nexus_lab.frames.read_dates`).
        source : str, optional
            Where the rows come from (a file name), kept in ``ingest_batches``.
        sha256 : str, optional
            The source file's SHA-256, kept in ``ingest_batches``.
        dayfirst : bool, optional
            The order of numeric dates when a column does not settle it.
        decimal : {"auto", ".", ","}, default "auto"
            The decimal mark of text amounts.
        created_by : str, optional
            Who ingests, kept in ``ingest_batches`` (the services pass the acting user;
            default: the login name).

        Returns
        -------
        int
            Rows written (those already there are not counted).

        Raises
        ------
        SchemaError
            For a missing column, a repeated key, a value that does not fit its column
            (text too long, a NUL character, a non-amount), naming the rows.
        StoreError
            When the table does not exist (the store is not migrated) or the server fails.
        """
        from nexus_lab.store._ingest import bulk_insert, prepare

        if table not in NATURAL_KEYS:
            raise StoreError(f"cannot ingest into {table!r}: ingest writes "
                             f"{', '.join(NATURAL_KEYS)}; the other tables are written by "
                             "the services (workflows, review)")
        t = metadata.tables[table]
        frame = prepare(t, df, dayfirst=dayfirst, decimal=decimal)
        with self._write() as conn:
            self._need(conn, table)
            batches = metadata.tables["ingest_batches"]
            try:
                batch = conn.execute(
                    sa.insert(batches).values(
                        table_name=table, source=source or "frame", sha256=sha256,
                        rows_read=len(frame), rows_written=0,
                        created_by=created_by or config.login_name(),
                    ).returning(batches.c.id)).scalar()
                frame["batch_id"] = batch
                written = bulk_insert(conn, t, frame, NATURAL_KEYS[table])
                conn.execute(sa.update(batches).where(batches.c.id == batch)
                             .values(rows_written=written))
            except sa.exc.DBAPIError as err:
                raise self._error(err) from err
        log.info("ingested %d of %d rows into %s (%s)", written, len(frame), table, self._shown)
        return written

    def append(self, table: str, df: pd.DataFrame) -> int:
        """Insert rows as they are (a service's results: matches, open items, scores).

        The same typed, checked, bulk path as :meth:`ingest` (``COPY`` on PostgreSQL),
        without skipping rows already there; in the current transaction, if any.

        Returns
        -------
        int
            Rows written.
        """
        from nexus_lab.store._ingest import bulk_insert, prepare

        t = self._table(table)
        if len(df) == 0:
            return 0
        frame = prepare(t, df)
        with self._write() as conn:
            self._need(conn, table)
            try:
                return bulk_insert(conn, t, frame, ())
            except sa.exc.DBAPIError as err:
                raise self._error(err) from err

    # ---- helpers ----------------------------------------------------------------------

    def _table(self, name: str) -> sa.Table:
        t = metadata.tables.get(name)
        if t is None:
            raise StoreError(f"the store has no table {name!r}; its tables: "
                             f"{', '.join(sorted(metadata.tables))}")
        return t

    @staticmethod
    def _column(t: sa.Table, name: str) -> sa.Column:
        if name not in t.c:
            raise SchemaError(f"{t.name} has no column {name!r}; its columns: "
                              f"{', '.join(t.c.keys())}")
        return t.c[name]

    def _need(self, conn: sa.Connection, table: str) -> None:
        if not sa.inspect(conn).has_table(table):
            self._check_not_newer()
            raise StoreError(
                f"the store at {self._shown} has no table {table!r}: it is not migrated to "
                "this version's schema; run store.migrate() (or: nexus-lab store migrate "
                f"--store {self._shown})")

    def _check_reachable(self) -> None:
        try:
            with self.engine.connect():
                pass
        except sa.exc.DBAPIError as err:
            raise self._error(err) from err
        self._check_not_newer()

    def _error(self, err: sa.exc.DBAPIError, sql: str | None = None) -> StoreError:
        text = str(getattr(err, "orig", None) or err).strip().splitlines()[0][:300]
        low = text.lower()
        where = f"the store at {self._shown}"
        if "password authentication failed" in low or "no password supplied" in low:
            fix = "check the user name and password in the URL (or PGPASSWORD, ~/.pgpass)"
        elif "connection refused" in low or "could not connect" in low or (
                "timeout" in low and "connect" in low):
            fix = ("is the PostgreSQL server running and listening there? check the host and "
                   "port in the URL")
        elif "does not exist" in low and "database" in low:
            fix = f"create the database first (createdb {self.engine.url.database})"
        elif "unable to open database file" in low:
            fix = "check that the SQLite file's folder exists and is writable"
        elif "database is locked" in low:
            fix = "another process holds the SQLite file; try again when it is done"
        elif "readonly" in low or "read-only" in low:
            fix = "the store is read-only here; use a store you may write to"
        elif sql is not None:
            fix = "check the SQL and its parameters"
        else:
            fix = "check that the URL names a NEXUS Lab store you may use"
        return StoreError(f"{where}: {text}; {fix}")


def _normalize(url: str) -> str:
    if "://" not in url:
        path = Path(url).expanduser()
        return f"sqlite:///{path.absolute().as_posix()}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    if url.startswith(("sqlite:", "postgresql+psycopg:")):
        return url
    raise StoreError(f"unsupported store URL {config.redact(url)!r}: use sqlite:///path/to/file.db "
                     "or postgresql://user:password@host:port/database")


def _engine(url: str, echo: bool, make_folder: bool = False) -> sa.Engine:
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if not path or path == ":memory:" or path.startswith("file::memory:"):
            raise StoreError(f"{url!r} is a store in memory, which forgets everything when "
                             "the program ends; give a file: sqlite:///path/to/books.db")
        folder = Path(path).expanduser().absolute().parent
        if not folder.is_dir():
            if not make_folder:  # the user's own path: a typo should not make folders
                raise StoreError(f"the folder of the store {path!r} does not exist "
                                 f"({folder}); create it, or choose another path")
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise StoreError(f"cannot make the store's folder {folder}: {err.strerror}; "
                                 "set NEXUS_LAB_STORE to a store you may write") from None
        engine = sa.create_engine(url, echo=echo, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we say BEGIN ourselves, below
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA journal_mode = WAL")  # readers do not wait for a writer
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            # a write transaction takes the write lock at once: two writers queue (up to
            # the timeout) instead of deadlocking when both try to upgrade a read lock
            how = conn.get_execution_options().get("nexus_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {how}")

        return engine
    return sa.create_engine(url, echo=echo, pool_pre_ping=True,
                            connect_args={"connect_timeout": 10})


@functools.cache
def _scripts() -> Any:
    """The package's migrations, read once: every store opened checks its revision."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(_MIGRATIONS))


def _known_revisions() -> set[str]:
    return {s.revision for s in _scripts().walk_revisions()}


def _head() -> str:
    return _scripts().get_current_head()


def _plain(value: Any) -> Any:
    """NumPy and pandas scalars as the Python values drivers bind."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _bound(params: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: _plain(v) for k, v in (params or {}).items()}


def _typed(frame: pd.DataFrame, columns: Sequence[sa.Column]) -> pd.DataFrame:
    """Dates and times as datetime64 (UTC), integers that hold NULLs as Int64."""
    for col in columns:
        name = col.name
        if isinstance(col.type, sa.DateTime):
            frame[name] = pd.to_datetime(frame[name], utc=True).dt.tz_localize(None)
        elif isinstance(col.type, sa.Date):
            frame[name] = pd.to_datetime(frame[name])
        elif isinstance(col.type, sa.BigInteger | sa.Integer) and frame[name].dtype == object:
            frame[name] = frame[name].astype("Int64")
    return frame
