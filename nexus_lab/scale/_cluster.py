"""The cluster a scale job runs on: a LocalCluster by default, a given client, or the
scheduler at an address; partitions sized from the data and the workers' memory."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Sequence
from typing import Any

from nexus_lab.config import environ
from nexus_lab.errors import ClusterError, SchemaError

# a partition's in-memory size as a share of a worker's memory limit: the kernels hold a
# few working copies of a partition, and Dask spills to disk at 70% (its default)
_PART_SHARE = 0.08
_PART_MIN_BYTES = 16 << 20
_PART_MAX_BYTES = 512 << 20
_SAMPLE_ROWS = 20_000  # rows measured to size a frame (frame_bytes)
_CONNECT_SECONDS = 10
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def cluster(client: Any = None, *, scheduler: str | None = None, workers: int | None = None,
            memory_limit: str | int | float | None = "auto") -> Iterator[Any]:
    """A Dask client for one job: the one given, the scheduler at ``scheduler``, or a
    ``distributed.LocalCluster`` of ``workers`` processes (the cores by default) that is
    closed when the block ends.

    Parameters
    ----------
    client : distributed.Client, optional
        An existing client; it is used as it is and left open.
    scheduler : str, optional
        ``tcp://host:port`` of a running scheduler, or ``"local"`` (the default) for a
        LocalCluster on this machine.
    workers : int, optional
        Worker processes of the LocalCluster; the cores by default. Each runs one task
        at a time, whose NumPy, BLAS and torch threads get the worker's share of the
        cores.
    memory_limit : str, int or float, default "auto"
        Per worker of the LocalCluster: ``"auto"`` shares this machine's memory between
        the workers; Dask spills a worker's data to disk at 70% of it, pauses it at 80%
        and restarts it at 95% (its defaults, kept). The workers keep glibc's own malloc
        thresholds: Dask's default hands freed memory back to the OS past 64 KiB, which
        maps every large temporary array of the kernels anew (their parts ran 1.5-1.8x
        slower). Freed memory goes back to the OS after each task instead
        (``malloc_trim``). ``MALLOC_TRIM_THRESHOLD_`` set in this process's environment
        is passed on; a cluster of your own (``client=``, ``scheduler=``) gains the same
        by starting its workers with
        ``distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_`` set to None and
        registering ``nexus_lab.scale._trim.TrimAfterTasks``.

    Yields
    ------
    distributed.Client

    Raises
    ------
    ClusterError
        When the scheduler cannot be reached (the message names the address).

    Examples
    --------
    >>> from nexus_lab import scale
    >>> with scale.cluster(workers=1) as client:  # doctest: +SKIP
    ...     client.submit(sum, [1, 2]).result()
    3
    """
    if client is not None:
        if scheduler not in (None, "local"):
            raise SchemaError("give either client= or scheduler=, not both")
        yield client
        return
    from distributed import Client, LocalCluster

    if scheduler not in (None, "", "local"):
        address = str(scheduler)
        if "://" not in address:
            raise SchemaError(f"scheduler={address!r}: give the scheduler's address as "
                              "tcp://host:port, or 'local' for a cluster on this machine")
        try:
            remote = Client(address, timeout=_CONNECT_SECONDS, set_as_default=False)
        except (OSError, TimeoutError) as err:
            raise ClusterError(
                f"cannot reach the Dask scheduler at {address} ({err.__class__.__name__}: "
                f"{err}); check that it runs (`dask scheduler`) and that this machine may "
                "connect to its port, or leave --scheduler out to run on this machine"
            ) from None
        try:
            yield remote
        finally:
            remote.close()
        return
    import dask

    n = int(workers) if workers is not None else _cores()
    if n < 1:
        raise SchemaError(f"workers={workers!r}: give at least 1 worker")
    # each worker runs one task at a time; the kernels' own threads (NumPy, BLAS, torch)
    # get the worker's share of the cores (Dask's default would give them one core each).
    # Dask's nanny takes a variable set in this process over its configuration: both say it.
    # None drops Dask's MALLOC_TRIM_THRESHOLD_ (see memory_limit above); a value set in
    # this process's environment is still inherited by the workers
    share = {k: str(max(1, _cores() // n)) for k in _THREAD_VARIABLES}
    spawn = {**dask.config.get("distributed.nanny.pre-spawn-environ", {}), **share,
             "MALLOC_TRIM_THRESHOLD_": None}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": spawn}), \
            environ(share), _quiet_dask(), \
            LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                         memory_limit=memory_limit, dashboard_address=":0",
                         silence_logs=40) as local, Client(local, set_as_default=False) as c:
        from nexus_lab.scale._trim import TrimAfterTasks

        c.register_plugin(TrimAfterTasks())  # what a task freed goes back to the OS after it
        # all of them known to the client before the work is cut (started by now)
        c.wait_for_workers(n, timeout=60)
        yield c


@contextlib.contextmanager
def _quiet_dask() -> Iterator[None]:
    """Dask's own INFO lines (the scheduler and each worker starting and stopping) only
    where this process shows INFO lines (the CLI's ``--verbose``)."""
    import logging

    dask_log = logging.getLogger("distributed")
    was = dask_log.level
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        dask_log.setLevel(max(was, logging.WARNING))
    try:
        yield
    finally:
        dask_log.setLevel(was)


def dashboard_link(client: Any) -> str | None:
    """The Dask dashboard's address of a client's scheduler, or None when it has none."""
    try:
        link = client.dashboard_link
    except (AttributeError, KeyError):
        return None
    return str(link) if link else None


def workers_of(client: Any) -> int:
    """How many workers the client's cluster has: a LocalCluster's own (its nannies start
    a lost worker again, so one restarting still counts), else the scheduler's now."""
    own = getattr(getattr(client, "cluster", None), "workers", None)
    if isinstance(own, dict) and own:
        return len(own)
    return max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))


def memory_per_worker(client: Any) -> int:
    """The smallest memory limit of the cluster's workers, in bytes (0: unlimited)."""
    limits = [w.get("memory_limit") or 0
              for w in client.scheduler_info(n_workers=-1).get("workers", {}).values()]
    return int(min(limits)) if limits else 0


def frame_bytes(frame: Any) -> int:
    """A pandas frame's size in memory, its text measured on an even sample of rows.

    Measuring every string (``memory_usage(deep=True)``) takes about a second per
    million rows of a statement, on the client, before any work starts; a partition
    count needs the size to within a few percent, which a sample of
    ``_SAMPLE_ROWS`` rows spread over the frame gives.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"n": range(100_000),
    ...                       "text": [f"payment {k}" for k in range(100_000)]})
    >>> round(frame_bytes(frame) / int(frame.memory_usage(deep=True).sum()), 2)
    1.0
    """
    n = len(frame)
    if n <= _SAMPLE_ROWS:
        return int(frame.memory_usage(deep=True).sum())
    sample = frame.iloc[:: n // _SAMPLE_ROWS]
    return int(sample.memory_usage(deep=True).sum() * n / len(sample))


def n_partitions(nbytes: int, client: Any, *, at_least: int | None = None) -> int:
    """Partitions for ``nbytes`` of data: at least one per worker, none larger than a
    share of a worker's memory (so that a partition's working copies fit), and never
    more than the data needs."""
    workers = workers_of(client)
    memory = memory_per_worker(client)
    cap = min(_PART_MAX_BYTES, max(_PART_MIN_BYTES, int(memory * _PART_SHARE))) if memory \
        else _PART_MAX_BYTES
    return max(at_least if at_least is not None else workers, math.ceil(nbytes / cap), 1)


def gather(client: Any, futures: Sequence[Any], *, progress: bool | None = None,
           label: str = "") -> list[Any]:
    """The results of ``futures`` in order, with Dask's progress bar while they run (a
    widget in a notebook, a text bar in a terminal) when ``progress`` is true (by
    default: when standard error is a terminal, or in a notebook)."""
    if progress is None:
        progress = _interactive()
    futures = list(futures)
    if not (progress and futures):
        return client.gather(futures)
    if label:
        print(label, flush=True)
    if _in_notebook():  # a widget: it shows the futures' progress and returns at once
        from distributed import progress as bar

        with client.as_current():  # the bar asks the current client for its scheduler
            bar(futures, notebook=True, multi=False)
        return client.gather(futures)
    return _gather_drawn(client, futures)


def _gather_drawn(client: Any, futures: list[Any]) -> list[Any]:
    """``client.gather(futures)`` with Dask's text bar drawn on the client's event loop
    meanwhile. The bar waits for every future to finish, and one cancelled (its data
    lost with a worker) never does: the bar is stopped when the gather ends, however
    it ends, so that a caller may run the work again."""
    import asyncio
    import sys

    from distributed.diagnostics.progressbar import TextProgressBar

    shown = TextProgressBar(futures, scheduler=client.scheduler.address, start=False)
    drawing = asyncio.run_coroutine_threadsafe(shown.listen(), client.loop.asyncio_loop)
    try:
        results = client.gather(futures)
        with contextlib.suppress(Exception):  # the bar's last step: 100%, then cleared
            drawing.result(timeout=5)
        return results
    finally:
        if not drawing.done():
            drawing.cancel()
            sys.stdout.write("\n")
            sys.stdout.flush()


def numbers_dtype(dtype: Any) -> bool:
    """Whether a column of ``dtype`` holds numbers (not booleans, not text), as amounts
    read on Dask must: a text column's decimal mark is decided from all its values."""
    import pandas as pd

    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and shell.__class__.__name__ == "ZMQInteractiveShell"


def _interactive() -> bool:
    import sys

    return _in_notebook() or bool(getattr(sys.stderr, "isatty", lambda: False)())
