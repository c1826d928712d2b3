"""Fitted fraud detectors saved to folders and loaded back, without pickle.

A saved fraud detector is a folder::

    detector.json     format version, parameters, rules, vocabularies, scalars, and the
                      anomaly models' settings (``anomaly``, ``autoencoder``)
    arrays.npz        numeric tables (NumPy, loaded with allow_pickle=False): the
                      standardization and reference scores (``center, scale,
                      forest_ref, ae_ref``), group statistics (``stats_<entity>_<field>``)
                      and, with labels, fraud rates (``target_<entity>``)
    history.parquet   the fitted history's rows (ids, times, cents, entities), or
    history.nxcf      the same in a compress_frame container (``compact=True``)
    models.skops      the isolation forest, boosted trees and calibrator (skops)
    autoencoder.pt    the autoencoder's weights (torch, loaded with weights_only=True)

What these hold, the detector decides (:meth:`nexus_lab.fraud.FraudDetector.to_state`);
this module lays its state out in these files and reads it back.

skops refuses to load types it does not know unless they are trusted by
name. Loading trusts exactly the types a detector holds (listed in
``_TRUSTED``) and refuses a file that asks for anything else, so a tampered
or foreign file cannot run code.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from nexus_lab._typing import DeviceLike
from nexus_lab.artifacts._format import FORMAT, read_meta, write_json
from nexus_lab.errors import IntegrityError, NexusError

__all__ = ["load_fraud_detector", "save_fraud_detector"]

_TRUSTED = frozenset({
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
})
_ARRAYS = ("center", "scale", "forest_ref", "ae_ref")  # the anomaly detector's, by name
_MODELS = ("booster", "calibrator")  # the detector's scikit-learn models (with labels)


def save_fraud_detector(det: Any, path: str | os.PathLike[str], *,
                        compact: bool = False) -> Path:
    """Write a fitted :class:`~nexus_lab.fraud.FraudDetector` to the folder ``path``.

    The folder appears complete or not at all (:func:`nexus_lab.files.atomic_dir`).
    ``compact=True`` stores the fitted history's rows in a checksummed
    :func:`nexus_lab.compress.compress_frame` container (``history.nxcf``, lossless and
    smaller than Parquet) instead of ``history.parquet``.

    Parameters
    ----------
    det : nexus_lab.fraud.FraudDetector
        Fitted.
    path : str or path-like
        The folder to write (replaced only when empty or written by NEXUS Lab).
    compact : bool
        Keep the history in a ``compress_frame`` container.

    Returns
    -------
    pathlib.Path
        The folder.

    Raises
    ------
    NexusError
        When ``det`` is not a fraud detector.
    NotFittedError
        When it is not fitted.

    Examples
    --------
    >>> import nexus_lab as nx, tempfile, pathlib
    >>> tx = nx.datasets.synth_transactions(1_000, seed=0)
    >>> det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(tx)
    >>> folder = save_fraud_detector(det, pathlib.Path(tempfile.mkdtemp()) / "det")
    >>> again = load_fraud_detector(folder, device="cpu")
    >>> bool((again.score(tx)["risk_score"] == det.score(tx)["risk_score"]).all())
    True
    """
    import skops.io as sio
    import torch

    from nexus_lab.files import atomic_dir
    from nexus_lab.fraud import FraudDetector

    if not isinstance(det, FraudDetector):
        raise NexusError(f"save_fraud_detector saves a nexus_lab.fraud.FraudDetector, not "
                         f"{type(det).__name__}")
    state = det.to_state()
    an = state["anomaly"]
    meta = {
        "format": FORMAT,
        **{k: state[k] for k in ("params", "rules", "vocab", "supervised", "prior",
                                 "n_history")},
        "anomaly": an["params"],
        "autoencoder": an["autoencoder"]["hparams"],
        "ids_as_text": state["ids_as_text"],
    }
    arrays = {k: an[k] for k in _ARRAYS}
    for e, fields in state["stats"].items():
        arrays.update({f"stats_{e}_{f}": v for f, v in fields.items()})
    arrays.update({f"target_{e}": v for e, v in state.get("targets", {}).items()})
    models = {"forest": an["forest"], **{k: state[k] for k in _MODELS if k in state}}
    weights = {k: torch.from_numpy(v) for k, v in an["autoencoder"]["weights"].items()}
    with atomic_dir(path) as tmp:
        write_json(tmp / "detector.json", meta)
        np.savez(tmp / "arrays.npz", **arrays)
        if compact:
            from nexus_lab.compress import compress_frame

            (tmp / "history.nxcf").write_bytes(compress_frame(state["history"]))
        else:
            state["history"].to_parquet(tmp / "history.parquet", index=False)
        sio.dump(models, tmp / "models.skops")
        torch.save(weights, tmp / "autoencoder.pt")
    return Path(path)


def load_fraud_detector(path: str | os.PathLike[str], device: DeviceLike = "auto") -> Any:
    """Read a detector written by :func:`save_fraud_detector`.

    Parameters
    ----------
    path : str or path-like
        The folder.
    device : {"auto", "cpu", "cuda"}
        Where the autoencoder scores.

    Returns
    -------
    nexus_lab.fraud.FraudDetector
        Fitted: it scores as the detector that was saved.

    Raises
    ------
    NexusError
        When the folder holds no detector, or one of a newer format.
    IntegrityError
        When its model file asks to load types a detector never holds.

    Examples
    --------
    >>> import nexus_lab as nx, tempfile, pathlib
    >>> tx = nx.datasets.synth_transactions(600, seed=1)
    >>> det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(tx)
    >>> folder = save_fraud_detector(det, pathlib.Path(tempfile.mkdtemp()) / "det")
    >>> load_fraud_detector(folder, device="cpu").n_history_ == len(tx)
    True
    """
    import pandas as pd
    import skops.io as sio
    import torch

    from nexus_lab.fraud import FraudDetector

    root = Path(path)
    meta = read_meta(root, "detector.json", "detector", "save_fraud_detector(detector, path)")
    untrusted = set(sio.get_untrusted_types(file=root / "models.skops"))
    unexpected = sorted(untrusted - _TRUSTED)
    if unexpected:
        raise IntegrityError(
            f"{root / 'models.skops'} asks to load types a detector never holds: {unexpected}; "
            "it was not written by save_fraud_detector and is refused")
    models = sio.load(root / "models.skops", trusted=sorted(untrusted))
    arrays = np.load(root / "arrays.npz", allow_pickle=False)
    if (root / "history.nxcf").exists():
        from nexus_lab.compress import decompress_frame

        history = decompress_frame((root / "history.nxcf").read_bytes())
    else:
        history = pd.read_parquet(root / "history.parquet")
    weights = torch.load(root / "autoencoder.pt", weights_only=True)
    state: dict[str, Any] = {
        "class": "FraudDetector",
        **{k: meta[k] for k in ("params", "rules", "vocab", "supervised", "prior", "n_history",
                                "ids_as_text")},
        "stats": {e: _prefixed(arrays, f"stats_{e}_") for e in meta["vocab"]},
        "history": history,
        "anomaly": {
            "class": "AnomalyDetector", "params": meta["anomaly"],
            **{k: arrays[k] for k in _ARRAYS}, "forest": models["forest"],
            "autoencoder": {"hparams": meta["autoencoder"],
                            "weights": {k: v.numpy() for k, v in weights.items()}},
        },
    }
    if meta["supervised"]:
        state["targets"] = _prefixed(arrays, "target_")
        state.update({k: models[k] for k in _MODELS})
    return FraudDetector.from_state(state, device=device)


def _prefixed(arrays: Any, prefix: str) -> dict[str, np.ndarray]:
    """The arrays whose names start with ``prefix``, by the rest of their names."""
    return {k[len(prefix):]: arrays[k] for k in arrays.files if k.startswith(prefix)}
