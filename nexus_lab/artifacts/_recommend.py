"""Fitted recommenders saved to folders and loaded back, without pickle.

A saved recommender is a folder::

    recommender.json   format, class, parameters, the kind of every learned attribute
                       (``attributes``), the JSON ones (``values``), the keys of dicts of
                       arrays (``keys``, ``tensors``) and the codecs of compressed
                       embeddings (``codecs``)
    arrays.npz         tensors and arrays under their names; a CSR matrix as
                       ``attr.data / .indices / .indptr / .shape``; a dict's arrays as
                       ``attr/key``; compressed embeddings as codes plus
                       ``attr.codec/...`` (loaded with ``allow_pickle=False``)
    <attr>.parquet     an id index (column ``id``) or a table
    models/<name>/     a hybrid's models, each a folder of its own

The kinds are the model's (:meth:`nexus_lab.recommend.Recommender.to_state`); the
state's ``"tensors"`` / ``"arrays"`` are stored as the kind ``"arrays"`` with a
``tensors`` flag, and compressed embeddings as the kind ``"codes"``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nexus_lab._typing import DeviceLike
from nexus_lab.artifacts._codec import codec_from_state, codec_state
from nexus_lab.artifacts._format import FORMAT, read_meta, write_json
from nexus_lab.errors import IntegrityError, NexusError

__all__ = ["load_recommender", "save_recommender"]

_META = "recommender.json"


def save_recommender(model: Any, path: str | os.PathLike[str], *,
                     vector_bytes: int | None = None) -> Path:
    """Write a fitted recommender (any of ``nexus_lab.recommend``'s) to the folder ``path``.

    The folder holds ``recommender.json`` (format, class, parameters, the kind
    of every learned attribute and the JSON ones), ``arrays.npz`` (tensors,
    arrays and sparse matrices, loaded with ``allow_pickle=False``), one
    Parquet file per id index or table, and a subfolder per model of a
    hybrid. No pickle. It appears complete or not at all.

    ``vector_bytes`` stores the user and item embeddings (the ``*factors_`` matrices)
    compressed: each through ``nx.compress.fit(..., bytes_per_vector=vector_bytes)``,
    as codes plus the codec, decoded on load. Lossy: recommendations may change a little.

    Parameters
    ----------
    model : nexus_lab.recommend.Recommender
        Fitted.
    path : str or path-like
        The folder to write (replaced only when empty or written by NEXUS Lab).
    vector_bytes : int, optional
        Bytes per embedding vector, to store the embeddings compressed.

    Returns
    -------
    pathlib.Path
        The folder.

    Raises
    ------
    NexusError
        When ``model`` is not a NEXUS Lab recommender, or ``vector_bytes`` is not a
        positive integer.
    NotFittedError
        When the model is not fitted.

    Examples
    --------
    >>> import nexus_lab as nx, tempfile, pathlib
    >>> data = nx.datasets.synth_interactions(200, 60, seed=0)
    >>> model = nx.recommend.ALS(factors=8, iterations=3, device="cpu").fit(data)
    >>> folder = save_recommender(model, pathlib.Path(tempfile.mkdtemp()) / "als")
    >>> again = load_recommender(folder, device="cpu")
    >>> again.recommend([1, 2], k=3).equals(model.recommend([1, 2], k=3))
    True
    """
    from nexus_lab.files import atomic_dir
    from nexus_lab.recommend import Recommender

    if not isinstance(model, Recommender):
        raise NexusError(f"save_recommender saves nexus_lab.recommend models, not "
                         f"{type(model).__name__}")
    state = model.to_state()
    if vector_bytes is not None and (not isinstance(vector_bytes, int) or vector_bytes < 1):
        raise NexusError(f"vector_bytes must be a positive integer or None, got "
                         f"{vector_bytes!r}")
    with atomic_dir(path) as tmp:
        _write(state, tmp, vector_bytes)
    return Path(path)


def _write(state: dict[str, Any], folder: Path, vector_bytes: int | None) -> None:
    meta: dict[str, Any] = {"format": FORMAT, "class": state["class"],
                            "params": state["params"], "attributes": {}}
    arrays: dict[str, np.ndarray] = {}
    for attr, kind in state["kinds"].items():
        value = state["attributes"][attr]
        if (vector_bytes and kind == "tensor" and attr.endswith("factors_") and value.ndim == 2
                and len(value) > 1):
            from nexus_lab import compress

            codec = compress.fit(value, bytes_per_vector=vector_bytes, device="cpu",
                                 random_state=0)
            kind, arrays[attr] = "codes", codec.encode(value)
            info, codec_arrays = codec_state(codec)
            meta.setdefault("codecs", {})[attr] = info
            arrays.update({f"{attr}.codec/{k}": v for k, v in codec_arrays.items()})
        elif kind in ("tensor", "array"):
            arrays[attr] = value
        elif kind == "csr":
            arrays.update({f"{attr}.data": value.data, f"{attr}.indices": value.indices,
                           f"{attr}.indptr": value.indptr, f"{attr}.shape": np.array(value.shape)})
        elif kind == "index":
            pd.DataFrame({"id": value.to_numpy()}).to_parquet(folder / f"{attr}.parquet")
        elif kind == "frame":
            value.to_parquet(folder / f"{attr}.parquet")
        elif kind in ("tensors", "arrays"):  # e.g. a tensor per user attribute
            meta.setdefault("keys", {})[attr] = list(value)
            arrays.update({f"{attr}/{key}": v for key, v in value.items()})
            meta.setdefault("tensors", {})[attr] = kind == "tensors"
            kind = "arrays"
        elif kind == "models":
            for name, sub in value.items():
                (folder / "models" / name).mkdir(parents=True)
                _write(sub, folder / "models" / name, vector_bytes)
        elif kind == "json":
            meta.setdefault("values", {})[attr] = value
        else:
            raise NexusError(f"save_recommender cannot store {attr} of the kind {kind!r}")
        meta["attributes"][attr] = kind
    write_json(folder / _META, meta)
    np.savez(folder / "arrays.npz", **arrays)


def load_recommender(path: str | os.PathLike[str], device: DeviceLike = "auto") -> Any:
    """Read a recommender written by :func:`save_recommender`.

    Parameters
    ----------
    path : str or path-like
        The folder.
    device : {"auto", "cpu", "cuda"}
        Where the model scores.

    Returns
    -------
    nexus_lab.recommend.Recommender
        Fitted, of the class that was saved.

    Raises
    ------
    NexusError
        When the folder holds no recommender, or one of a newer format.
    IntegrityError
        When it names a class that is not a NEXUS Lab recommender.

    Examples
    --------
    >>> import nexus_lab as nx, tempfile, pathlib
    >>> data = nx.datasets.synth_interactions(200, 60, seed=1)
    >>> folder = save_recommender(nx.recommend.Popularity().fit(data),
    ...                           pathlib.Path(tempfile.mkdtemp()) / "pop")
    >>> type(load_recommender(folder, device="cpu")).__name__
    'Popularity'
    """
    from nexus_lab.recommend import Recommender

    root = Path(path)
    state = _read(root)
    try:
        return Recommender.from_state(state, device=device)
    except IntegrityError as exc:
        raise IntegrityError(f"{root / _META}: {exc}") from exc


def _read(root: Path) -> dict[str, Any]:
    import scipy.sparse as sp

    meta = read_meta(root, _META, "recommender", "save_recommender(model, path)")
    arrays = np.load(root / "arrays.npz", allow_pickle=False)
    kinds: dict[str, str] = {}
    attributes: dict[str, Any] = {}
    for attr, kind in meta["attributes"].items():
        if kind in ("tensor", "array"):
            value = arrays[attr]
        elif kind == "codes":
            prefix = f"{attr}.codec/"
            codec = codec_from_state(meta["codecs"][attr], {
                k[len(prefix):]: arrays[k] for k in arrays.files if k.startswith(prefix)})
            kind, value = "tensor", codec.decode(arrays[attr])
        elif kind == "csr":
            value = sp.csr_matrix((arrays[f"{attr}.data"], arrays[f"{attr}.indices"],
                                   arrays[f"{attr}.indptr"]),
                                  shape=tuple(arrays[f"{attr}.shape"]))
        elif kind == "index":
            value = pd.Index(pd.read_parquet(root / f"{attr}.parquet")["id"].to_numpy())
        elif kind == "frame":
            value = pd.read_parquet(root / f"{attr}.parquet")
        elif kind == "arrays":
            value = {key: arrays[f"{attr}/{key}"] for key in meta["keys"][attr]}
            kind = "tensors" if meta["tensors"][attr] else "arrays"
        elif kind == "models":
            value = {sub.name: _read(sub) for sub in sorted((root / "models").iterdir())}
        elif kind == "json":
            value = meta["values"][attr]
        else:
            raise IntegrityError(f"{root / _META} gives {attr} the kind {kind!r}, which this "
                                 "version does not store; it is refused")
        kinds[attr], attributes[attr] = kind, value
    return {"class": meta.get("class"), "params": meta["params"], "kinds": kinds,
            "attributes": attributes}
