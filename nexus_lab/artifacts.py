"""Fitted kernels saved to folders, and loaded back, without pickle.

A service: the kernels stay free of file I/O; the CLI and the MLflow model
wrappers (:mod:`nexus_lab.tracking`) save and load through here.

A saved fraud detector is a folder::

    detector.json     format version, parameters, rules, vocabularies, scalars
    arrays.npz        numeric tables (NumPy, loaded with allow_pickle=False)
    history.parquet   the fitted history's rows (ids, times, cents, entities), or
    history.nxcf      the same in a compress_frame container (``compact=True``)
    models.skops      the isolation forest, boosted trees and calibrator (skops)
    autoencoder.pt    the autoencoder's weights (torch, loaded with weights_only=True)

skops refuses to load types it does not know unless they are trusted by
name. Loading trusts exactly the types a detector holds (listed in
``_TRUSTED``) and refuses a file that asks for anything else, so a tampered
or foreign file cannot run code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from nexus_lab.errors import IntegrityError, NexusError

__all__ = ["codec_from_state", "codec_state", "load_fraud_detector", "load_recommender",
           "save_fraud_detector", "save_recommender"]

FORMAT = 1
_TRUSTED = frozenset({
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
})
_STATS = ("count", "median", "mad", "q1", "q3")


def _read_meta(root: Path, name: str, what: str, save: str) -> dict:
    """The JSON description of a saved folder, refused when missing or of a newer format."""
    if not (root / name).exists():
        raise NexusError(f"{root} holds no saved {what} ({name} is missing); save one with "
                         f"nexus_lab.artifacts.{save}")
    meta = json.loads((root / name).read_text())
    if meta.get("format", 0) > FORMAT:
        raise NexusError(f"{root} was saved by a newer NEXUS Lab (format {meta['format']}, this "
                         f"version reads up to {FORMAT}); upgrade nexus-lab to load it")
    return meta


def save_fraud_detector(det, path: str | os.PathLike[str], *, compact: bool = False) -> Path:
    """Write a fitted :class:`~nexus_lab.fraud.FraudDetector` to the folder ``path``.

    The folder appears complete or not at all (:func:`nexus_lab.files.atomic_dir`).
    ``compact=True`` stores the fitted history's rows in a checksummed
    :func:`nexus_lab.compress.compress_frame` container (``history.nxcf``, lossless and
    smaller than Parquet) instead of ``history.parquet``.

    Examples
    --------
    >>> import nexus_lab as nx, tempfile, pathlib
    >>> tx = nx.data.synth_transactions(1_000, seed=0)
    >>> det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(tx)
    >>> folder = save_fraud_detector(det, pathlib.Path(tempfile.mkdtemp()) / "det")
    >>> again = load_fraud_detector(folder, device="cpu")
    >>> bool((again.score(tx)["risk_score"] == det.score(tx)["risk_score"]).all())
    True
    """
    import skops.io as sio
    import torch

    from nexus_lab.files import atomic_dir
    from nexus_lab.fraud._features import ENTITIES

    det._check_fitted()
    an = det.anomaly_
    hist = det.history_
    meta = {
        "format": FORMAT,
        "params": {k: v for k, v in det.get_params().items() if k != "device"},
        "rules": {k: list(v) if isinstance(v, tuple) else v for k, v in det.rules_.items()},
        "vocab": {e: [str(v) for v in det.vocab_[e]] for e in ENTITIES},
        "supervised": bool(det.supervised_),
        "prior": float(getattr(det, "prior_", 0.0)),
        "n_history": int(det.n_history_),
        "anomaly": {"epochs": an.epochs, "combine": an.combine, "random_state": an.random_state},
        "autoencoder": {k: v for k, v in dict(an.autoencoder_.hparams).items()},
        "ids_as_text": hist.ids.dtype.kind not in "iu",
    }
    arrays = {"center": an.center_, "scale": an.scale_, "forest_ref": an.forest_ref_,
              "ae_ref": an.ae_ref_}
    for e in ENTITIES:
        for f in _STATS:
            arrays[f"stats_{e}_{f}"] = getattr(det.stats_[e], f)
    if det.supervised_:
        for e, table in det.targets_.items():
            arrays[f"target_{e}"] = table
    models = {"forest": an.forest_}
    if det.supervised_:
        models.update(booster=det.booster_, calibrator=det.calibrator_)
    frame = pd.DataFrame({
        "transaction_id": hist.ids.astype(str) if meta["ids_as_text"] else hist.ids,
        "ts": hist.ts, "local": hist.local, "cents": hist.cents,
        **{e: hist.entities[e].astype(str) for e in ENTITIES},
    })
    with atomic_dir(path) as tmp:
        (tmp / "detector.json").write_text(json.dumps(meta, indent=1))
        np.savez(tmp / "arrays.npz", **arrays)
        if compact:
            from nexus_lab.compress import compress_frame

            (tmp / "history.nxcf").write_bytes(compress_frame(frame))
        else:
            frame.to_parquet(tmp / "history.parquet", index=False)
        sio.dump(models, tmp / "models.skops")
        state = {k: v.detach().cpu() for k, v in an.autoencoder_.state_dict().items()}
        torch.save(state, tmp / "autoencoder.pt")
    return Path(path)


def load_fraud_detector(path: str | os.PathLike[str], device: object = "auto"):
    """Read a detector written by :func:`save_fraud_detector`.

    Raises
    ------
    NexusError
        When the folder holds no detector, or one of a newer format.
    IntegrityError
        When its model file asks to load types a detector never holds.
    """
    import skops.io as sio
    import torch

    from nexus_lab.device import resolve_device
    from nexus_lab.fraud import _models
    from nexus_lab.fraud._detector import FraudDetector
    from nexus_lab.fraud._features import ENTITIES, GroupStats, HistoryTables, encode
    from nexus_lab.fraud._inputs import Tx

    root = Path(path)
    meta = _read_meta(root, "detector.json", "detector",
                      "save_fraud_detector(detector, path)")
    untrusted = set(sio.get_untrusted_types(file=root / "models.skops"))
    unexpected = sorted(untrusted - _TRUSTED)
    if unexpected:
        raise IntegrityError(
            f"{root / 'models.skops'} asks to load types a detector never holds: {unexpected}; "
            "it was not written by save_fraud_detector and is refused")
    models = sio.load(root / "models.skops", trusted=sorted(untrusted))
    arrays = np.load(root / "arrays.npz", allow_pickle=False)
    det = FraudDetector(**meta["params"], device=device)
    det.rules_ = {k: tuple(v) if isinstance(v, list) else v for k, v in meta["rules"].items()}
    det.device_ = resolve_device(device)
    det.vocab_ = {e: pd.Index(meta["vocab"][e], dtype=object) for e in ENTITIES}
    det.stats_ = {e: GroupStats(*(arrays[f"stats_{e}_{f}"] for f in _STATS)) for e in ENTITIES}
    det.supervised_ = meta["supervised"]
    det.n_history_ = meta["n_history"]
    if (root / "history.nxcf").exists():
        from nexus_lab.compress import decompress_frame

        hist = decompress_frame((root / "history.nxcf").read_bytes())
    else:
        hist = pd.read_parquet(root / "history.parquet")
    ids = hist["transaction_id"].to_numpy()
    det.history_ = Tx(ids.astype(object) if meta["ids_as_text"] else ids,
                      hist["ts"].to_numpy(), hist["local"].to_numpy(), hist["cents"].to_numpy(),
                      {e: hist[e].to_numpy(dtype=object) for e in ENTITIES})
    # the history's summary tables are rebuilt from its rows: one source of truth
    h = det.history_
    det.history_order_ = np.argsort(h.ts, kind="stable")
    det.tables_ = HistoryTables.build(
        h.ts, h.cents, encode(det.vocab_["account"], h.entities["account"]),
        encode(det.vocab_["vendor"], h.entities["vendor"]), len(det.vocab_["account"]),
        len(det.vocab_["vendor"]))
    an = _models.AnomalyDetector(device, **meta["anomaly"])
    an.device_ = det.device_
    an.center_, an.scale_ = arrays["center"], arrays["scale"]
    an.forest_ref_, an.ae_ref_ = arrays["forest_ref"], arrays["ae_ref"]
    an.forest_ = models["forest"]
    hp = meta["autoencoder"]
    module = _models._module_class()(hp["n_features"], hidden=hp["hidden"], code=hp["code"],
                                     lr=hp["lr"])
    module.load_state_dict(torch.load(root / "autoencoder.pt", weights_only=True))
    an.autoencoder_ = module.eval()
    det.anomaly_ = an
    if det.supervised_:
        det.prior_ = meta["prior"]
        det.booster_, det.calibrator_ = models["booster"], models["calibrator"]
        det.targets_ = {e: arrays[f"target_{e}"] for e in ("account", "vendor")}
    det._last = None
    return det


# --------------------------------------------------------------------- recommenders

_RECOMMENDERS = ("ALS", "BPR", "Content", "Demographic", "EASE", "Hybrid", "ItemKNN",
                 "Popularity")


def save_recommender(model, path: str | os.PathLike[str], *,
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

    Examples
    --------
    >>> import nexus_lab as nx, tempfile, pathlib
    >>> data = nx.data.synth_interactions(200, 60, seed=0)
    >>> model = nx.recommend.ALS(factors=8, iterations=3, device="cpu").fit(data)
    >>> folder = save_recommender(model, pathlib.Path(tempfile.mkdtemp()) / "als")
    >>> again = load_recommender(folder, device="cpu")
    >>> again.recommend([1, 2], k=3).equals(model.recommend([1, 2], k=3))
    True
    """
    from nexus_lab.files import atomic_dir

    model._check_fitted()
    if vector_bytes is not None and (not isinstance(vector_bytes, int) or vector_bytes < 1):
        raise NexusError(f"vector_bytes must be a positive integer or None, got "
                         f"{vector_bytes!r}")
    with atomic_dir(path) as tmp:
        _write_recommender(model, tmp, vector_bytes)
    return Path(path)


def _write_recommender(model, folder: Path, vector_bytes: int | None = None) -> None:
    import scipy.sparse as sp
    import torch

    name = type(model).__name__
    if name not in _RECOMMENDERS:
        raise NexusError(f"save_recommender saves nexus_lab.recommend models, not {name}")
    params = {k: list(v) if isinstance(v, tuple) else v
              for k, v in model.get_params().items() if k not in ("device", "candidates")}
    meta = {"format": FORMAT, "class": name, "params": params, "attributes": {}}
    arrays: dict[str, np.ndarray] = {}
    for attr, value in vars(model).items():
        if not attr.endswith("_") or attr.startswith("_") or attr == "device_":
            continue
        if (vector_bytes and isinstance(value, torch.Tensor) and attr.endswith("factors_")
                and value.ndim == 2 and len(value) > 1):
            from nexus_lab import compress

            vectors = value.detach().cpu().numpy()
            codec = compress.fit(vectors, bytes_per_vector=vector_bytes, device="cpu",
                                 random_state=0)
            kind, arrays[attr] = "codes", codec.encode(vectors)
            info, state = codec_state(codec)
            meta.setdefault("codecs", {})[attr] = info
            arrays.update({f"{attr}.codec/{k}": v for k, v in state.items()})
        elif isinstance(value, torch.Tensor):
            kind, arrays[attr] = "tensor", value.detach().cpu().numpy()
        elif isinstance(value, np.ndarray):
            kind, arrays[attr] = "array", value
        elif sp.issparse(value):
            m = value.tocsr()
            kind = "csr"
            arrays.update({f"{attr}.data": m.data, f"{attr}.indices": m.indices,
                           f"{attr}.indptr": m.indptr, f"{attr}.shape": np.array(m.shape)})
        elif isinstance(value, pd.Index):
            kind = "index"
            pd.DataFrame({"id": value.to_numpy()}).to_parquet(folder / f"{attr}.parquet")
        elif isinstance(value, pd.DataFrame):
            kind = "frame"
            value.to_parquet(folder / f"{attr}.parquet")
        elif isinstance(value, dict) and value and all(
                isinstance(v, (torch.Tensor, np.ndarray)) for v in value.values()):
            kind = "arrays"  # e.g. a tensor per attribute: stored under attr/key
            meta.setdefault("keys", {})[attr] = list(value)
            for key, v in value.items():
                arrays[f"{attr}/{key}"] = (v.detach().cpu().numpy() if isinstance(
                    v, torch.Tensor) else v)
            meta.setdefault("tensors", {})[attr] = isinstance(next(iter(value.values())),
                                                              torch.Tensor)
        elif attr == "models_":
            kind = "models"
            for sub_name, sub in value.items():
                (folder / "models" / sub_name).mkdir(parents=True)
                _write_recommender(sub, folder / "models" / sub_name, vector_bytes)
        else:
            kind = "json"
            meta.setdefault("values", {})[attr] = value
        meta["attributes"][attr] = kind
    (folder / "recommender.json").write_text(json.dumps(meta, indent=1, default=_json_number))
    np.savez(folder / "arrays.npz", **arrays)


def _json_number(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def load_recommender(path: str | os.PathLike[str], device: object = "auto"):
    """Read a recommender written by :func:`save_recommender`.

    Raises
    ------
    NexusError
        When the folder holds no recommender, one of a newer format, or a
        class that is not a NEXUS Lab recommender.
    """
    from nexus_lab.device import resolve_device

    return _read_recommender(Path(path), resolve_device(device))


def _read_recommender(root: Path, device):
    import scipy.sparse as sp
    import torch

    from nexus_lab import recommend

    meta = _read_meta(root, "recommender.json", "recommender",
                      "save_recommender(model, path)")
    if meta.get("class") not in _RECOMMENDERS:
        raise IntegrityError(f"{root / 'recommender.json'} names the class "
                             f"{meta.get('class')!r}, which is not a NEXUS Lab recommender; "
                             "it is refused")
    cls = getattr(recommend, meta["class"])
    params = {k: tuple(v) if k == "text_columns" and v is not None else v
              for k, v in meta["params"].items()}
    model = cls(**params)
    if "device" in model.get_params():
        model.device = str(device)
    model.device_ = device
    arrays = np.load(root / "arrays.npz", allow_pickle=False)
    for attr, kind in meta["attributes"].items():
        if kind == "tensor":
            value = torch.as_tensor(arrays[attr]).to(device)
        elif kind == "codes":
            prefix = f"{attr}.codec/"
            codec = codec_from_state(meta["codecs"][attr], {
                k[len(prefix):]: arrays[k] for k in arrays.files if k.startswith(prefix)})
            value = torch.as_tensor(codec.decode(arrays[attr])).to(device)
        elif kind == "array":
            value = arrays[attr]
        elif kind == "csr":
            value = sp.csr_matrix((arrays[f"{attr}.data"], arrays[f"{attr}.indices"],
                                   arrays[f"{attr}.indptr"]),
                                  shape=tuple(arrays[f"{attr}.shape"]))
        elif kind == "index":
            value = pd.Index(pd.read_parquet(root / f"{attr}.parquet")["id"].to_numpy())
        elif kind == "frame":
            value = pd.read_parquet(root / f"{attr}.parquet")
        elif kind == "arrays":
            as_tensor = meta["tensors"][attr]
            value = {key: torch.as_tensor(arrays[f"{attr}/{key}"]).to(device) if as_tensor
                     else arrays[f"{attr}/{key}"] for key in meta["keys"][attr]}
        elif kind == "models":
            value = {sub.name: _read_recommender(sub, device)
                     for sub in sorted((root / "models").iterdir())}
        else:
            value = meta["values"][attr]
        setattr(model, attr, value)
    return model


_CODECS = ("OPQ", "PQ", "RQ", "ScalarInt8", "Neural")


def codec_state(codec) -> tuple[dict, dict[str, np.ndarray]]:
    """A fitted ``nx.compress`` codec as JSON-ready facts and plain arrays (no pickle).

    Returns ``(info, arrays)``: ``info`` holds the class, the parameters and the
    learned scalars; ``arrays`` every learned array (dicts of arrays flattened to
    ``"attr/key"``). :func:`codec_from_state` rebuilds the codec.

    Examples
    --------
    >>> import numpy as np, nexus_lab as nx
    >>> X = np.random.default_rng(0).normal(size=(300, 8)).astype("float32")
    >>> codec = nx.compress.PQ(m=2, nbits=4, device="cpu", random_state=0).fit(X)
    >>> again = codec_from_state(*codec_state(codec))
    >>> bool((again.encode(X) == codec.encode(X)).all())
    True
    """
    import torch

    name = type(codec).__name__
    if name not in _CODECS:
        raise NexusError(f"codec_state saves nexus_lab.compress codecs, not {name}")
    codec._check_fitted()
    info: dict = {"format": FORMAT, "class": name, "params": codec.get_params(),
                  "values": {}, "dicts": []}
    arrays: dict[str, np.ndarray] = {}
    for attr, value in vars(codec).items():
        if not attr.endswith("_") or attr.startswith("_"):
            continue
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        if isinstance(value, np.ndarray):
            arrays[attr] = value
        elif isinstance(value, dict) and all(isinstance(v, (np.ndarray, torch.Tensor))
                                             for v in value.values()):
            info["dicts"].append(attr)
            for key, v in value.items():
                arrays[f"{attr}/{key}"] = v.detach().cpu().numpy() if isinstance(
                    v, torch.Tensor) else v
        else:
            info["values"][attr] = value
    info["params"].pop("device", None)
    return json.loads(json.dumps(info, default=_json_number)), arrays


def codec_from_state(info: dict, arrays, device: object = "cpu"):
    """Rebuild a codec from :func:`codec_state`'s ``(info, arrays)``."""
    from nexus_lab import compress

    if info.get("format", 0) > FORMAT:
        raise NexusError(f"this codec was saved by a newer NEXUS Lab (format {info['format']}); "
                         "upgrade nexus-lab to load it")
    if info.get("class") not in _CODECS or not hasattr(compress, info["class"]):
        raise IntegrityError(f"the saved codec names the class {info.get('class')!r}, which "
                             "is not a NEXUS Lab codec; it is refused")
    codec = getattr(compress, info["class"])(**info["params"])
    codec.device = device
    dicts = set(info.get("dicts", []))
    for attr, value in info.get("values", {}).items():
        setattr(codec, attr, value)
    for key in arrays:
        attr, _, sub = key.partition("/")
        if attr in dicts:
            if attr not in vars(codec):
                setattr(codec, attr, {})
            getattr(codec, attr)[sub] = np.asarray(arrays[key])
        else:
            setattr(codec, attr, np.asarray(arrays[key]))
    return codec
