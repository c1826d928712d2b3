"""Vector codecs measured and logged to MLflow as runs."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

from nexus_lab.files import signals_held
from nexus_lab.tracking._mlflow import (
    _client,
    _experiment_id,
    _import_mlflow,
    _param,
    _run_failed,
    artifact_location,
    default_tracking_uri,
)

log = logging.getLogger("nexus_lab")

COMPRESS_EXPERIMENT = "nexus-compress"
_MSE_ROWS = 1 << 16  # rows whose reconstruction error is computed at a time
_BATCH = 1000  # MLflow takes at most 1,000 metrics and 100 parameters per log_batch


def _codec_files(codec: Any, folder: Path) -> list[Path]:
    """``codec.npz`` (every learned array, no pickle) and ``codec.json`` (class, params):
    :func:`nexus_lab.artifacts.codec_state`, which ``codec_from_state`` reads back."""
    import numpy as np

    from nexus_lab.artifacts import codec_state
    from nexus_lab.files import write_json

    info, arrays = codec_state(codec)
    npz, js = folder / "codec.npz", folder / "codec.json"
    np.savez(npz, **arrays)
    write_json(info, js)
    return [npz, js]


def log_codec(
    codec: Any,
    X: Any,
    queries: Any = None,
    *,
    experiment: str = COMPRESS_EXPERIMENT,
    run_name: str | None = None,
    tracking_uri: str | None = None,
    source: str | None = None,
) -> str:
    """Measure a vector codec on ``X`` and log it to MLflow as one run.

    The run holds the codec's parameters (and its class, the vectors' count and
    dimension); the metrics ``bytes_per_vector``, ``compression_ratio`` (``4 * dim``
    bytes of float32 over the code's bytes), ``mse`` (mean squared distance between
    a vector and its decoded self) and, with ``queries``, ``recall_at_10``
    (:func:`nexus_lab.compress.recall_at_k` of the decoded ``X``); the
    seconds to encode and decode (and to fit, when the codec is fitted here);
    a codec with a ``history_`` (the neural codec's loss per epoch) logs it as
    the metric ``train_loss`` with ``step`` the epoch (from 1). The artifacts are
    ``codec.npz`` (every learned array, saved with ``np.savez``: no pickle) and
    ``codec.json`` (the class, the parameters and the other learned values).

    Parameters
    ----------
    codec : Codec
        A codec of :mod:`nexus_lab.compress`; fitted on ``X`` first when it is
        not fitted yet.
    X : array-like, (n, dim)
        The vectors to measure it on.
    queries : array-like, (n_queries, dim), optional
        Queries for the recall (by inner product; ``X`` needs at least 10 vectors).
    experiment : str
        The experiment's name; made when missing.
    run_name : str, optional
        Default: the codec's class and its bytes per vector, e.g. ``"RQ 16B"``.
    tracking_uri : str, optional
        Default: :func:`default_tracking_uri`.
    source : str, optional
        What ran it (``"notebook"``, ``"cli"``...); default ``"python"``.

    Returns
    -------
    str
        The run id.

    Raises
    ------
    SchemaError
        When ``X`` or ``queries`` are not vectors of the codec's dimension.
    NexusError
        When the tracking store cannot be reached or written; the message names it.

    Examples
    --------
    >>> import numpy as np, tempfile, nexus_lab as nx
    >>> X = np.random.default_rng(0).normal(size=(1000, 16)).astype("float32")
    >>> codec = nx.compress.PQ(m=4, nbits=4, device="cpu", random_state=0)
    >>> uri = f"sqlite:///{tempfile.mkdtemp()}/mlflow.db"
    >>> run_id = log_codec(codec, X, X[:20], tracking_uri=uri)
    >>> from mlflow import MlflowClient
    >>> run = MlflowClient(uri).get_run(run_id)
    >>> run.data.metrics["bytes_per_vector"], run.data.metrics["compression_ratio"]
    (2.0, 32.0)
    """
    import tempfile

    import numpy as np

    from nexus_lab import __version__
    from nexus_lab.compress import check_vectors, recall_at_k

    uri = tracking_uri or default_tracking_uri()
    source = source or "python"
    arr = check_vectors(X)
    metrics: dict[str, float] = {}
    if not hasattr(codec, "code_size_"):
        started = time.perf_counter()
        codec.fit(arr)
        metrics["seconds_fit"] = time.perf_counter() - started
    elif isinstance(getattr(codec, "fit_seconds_", None), int | float):
        metrics["seconds_fit"] = float(codec.fit_seconds_)
    started = time.perf_counter()
    codes = codec.encode(arr)
    metrics["seconds_encode"] = time.perf_counter() - started
    started = time.perf_counter()
    decoded = codec.decode(codes)
    metrics["seconds_decode"] = time.perf_counter() - started
    n, dim = arr.shape
    nbytes = float(codec.code_size_ * codec.code_dtype.itemsize)
    sq = sum(float(np.square(decoded[lo:lo + _MSE_ROWS] - arr[lo:lo + _MSE_ROWS],
                             dtype=np.float64).sum()) for lo in range(0, n, _MSE_ROWS))
    metrics.update({"bytes_per_vector": nbytes, "compression_ratio": 4.0 * dim / nbytes,
                    "mse": sq / n})
    run_params = {"codec": type(codec).__name__, "n_vectors": n, "dim": dim,
                  **codec.get_params()}
    if queries is not None:
        q = check_vectors(queries, "queries")
        metrics["recall_at_10"] = recall_at_k(q, arr, decoded, k=10,
                                              device=getattr(codec, "device", "auto"))
        run_params["n_queries"] = len(q)
    history = [float(v) for v in getattr(codec, "history_", None) or []]
    now = int(time.time() * 1000)
    _import_mlflow()
    from mlflow.entities import Metric, Param, RunTag

    entries = [Metric(k, v, now, 0) for k, v in metrics.items() if math.isfinite(v)]
    entries += [Metric("train_loss", v, now, step) for step, v in enumerate(history, 1)
                if math.isfinite(v)]
    note = (f"{type(codec).__name__} at {nbytes:g} bytes per vector "
            f"({metrics['compression_ratio']:.1f}x) on {n:,} vectors of {dim} dimensions: "
            f"MSE {metrics['mse']:.4g}"
            + (f", 10-recall@10 {metrics['recall_at_10']:.3f}" if queries is not None else "")
            + ".")
    tags = {"nexus_lab.version": __version__, "nexus_lab.kernel": "compress",
            "nexus_lab.source": source, "mlflow.source.type": "LOCAL",
            "mlflow.source.name": f"nexus-lab {source}", "mlflow.note.content": note}
    run_id = None
    try:
        client = _client(uri)
        exp_id = _experiment_id(client, experiment, artifact_location(uri))
        with signals_held():  # a stop meanwhile comes once run_id names the run to mark
            run_id = client.create_run(exp_id, run_name=run_name or
                                       f"{type(codec).__name__} {nbytes:g}B").info.run_id
        params = [Param(k, _param(v)) for k, v in run_params.items()]
        client.log_batch(run_id, params=params[:100], tags=[RunTag(k, v)
                                                            for k, v in tags.items()])
        for lo in range(100, len(params), 100):
            client.log_batch(run_id, params=params[lo:lo + 100])
        for lo in range(0, len(entries), _BATCH):
            client.log_batch(run_id, metrics=entries[lo:lo + _BATCH])
        with tempfile.TemporaryDirectory() as tmp:
            for path in _codec_files(codec, Path(tmp)):
                client.log_artifact(run_id, str(path))
        client.set_terminated(run_id, "FINISHED")
    except BaseException as err:
        _run_failed(client if run_id else None, run_id, err, uri, "the codec run",
                    "check MLFLOW_TRACKING_URI or pass tracking_uri=")
        raise
    log.info("logged codec run %s to %s (experiment %s)", run_id, uri, experiment)
    return run_id
