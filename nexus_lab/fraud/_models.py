"""Learned models of the fraud kernel: isolation forest, autoencoder, boosted trees.

The autoencoder is a PyTorch Lightning module: the same code trains and scores
on the CPU and on CUDA. Scikit-learn supplies the isolation forest and the
gradient-boosted trees; target statistics of accounts and vendors are always
computed out of fold, so a row's own label never reaches its features.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import torch

from nexus_lab._arrays import search_sorted
from nexus_lab._estimator import Params, check_is_fitted, json_value
from nexus_lab._lightning import quiet_lightning
from nexus_lab._typing import DeviceLike
from nexus_lab.errors import IntegrityError

log = logging.getLogger("nexus_lab")

_FITTED = ("forest_", "autoencoder_", "forest_ref_", "ae_ref_")  # what scoring reads
_AE_SAMPLE = 200_000  # rows the autoencoder and the forest learn from, at most
_CHUNK = 1 << 16
_FOREST_BLOCK = 1 << 15  # rows every tree visits while they are in the cache


def _module_class():
    import lightning.pytorch as pl

    class AutoEncoder(pl.LightningModule):
        """A small dense autoencoder; its reconstruction error scores a row."""

        def __init__(self, n_features: int, hidden: int = 32, code: int | None = None,
                     lr: float = 3e-3):
            super().__init__()
            # a bottleneck of about a third of the inputs: narrow enough not to copy them
            code = code or max(2, min(8, n_features // 3))
            self.save_hyperparameters()
            self.encoder = torch.nn.Sequential(
                torch.nn.Linear(n_features, hidden), torch.nn.GELU(),
                torch.nn.Linear(hidden, code),
            )
            self.decoder = torch.nn.Sequential(
                torch.nn.Linear(code, hidden), torch.nn.GELU(),
                torch.nn.Linear(hidden, n_features),
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.decoder(self.encoder(x))

        def training_step(self, batch, _index):
            (x,) = batch
            loss = torch.nn.functional.mse_loss(self(x), x)
            return loss

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)

    return AutoEncoder


def _sample(x: np.ndarray, random_state: int) -> np.ndarray:
    """At most ``_AE_SAMPLE`` rows of ``x``, drawn without replacement."""
    if len(x) <= _AE_SAMPLE:
        return x
    return x[np.random.default_rng(random_state).choice(len(x), _AE_SAMPLE, replace=False)]


def fit_autoencoder(
    x: np.ndarray, device: torch.device, random_state: int, epochs: int = 12
) -> torch.nn.Module:
    """Train the autoencoder on standardized features (a sample of at most 200k rows)."""
    import lightning.pytorch as pl

    x = _sample(x, random_state)
    torch.manual_seed(random_state)
    model = _module_class()(x.shape[1])
    data = torch.utils.data.TensorDataset(torch.as_tensor(x, dtype=torch.float32))
    loader = torch.utils.data.DataLoader(
        data, batch_size=512, shuffle=True,
        generator=torch.Generator().manual_seed(random_state),
    )
    with quiet_lightning():
        trainer = pl.Trainer(
            max_epochs=epochs, accelerator="gpu" if device.type == "cuda" else "cpu",
            devices=[device.index or 0] if device.type == "cuda" else 1,
            logger=False, enable_checkpointing=False, enable_progress_bar=False,
            enable_model_summary=False, deterministic=True,
        )
        trainer.fit(model, loader)
    return model.eval()


@torch.no_grad()
def reconstruction_errors(model: torch.nn.Module, x: np.ndarray, device: torch.device):
    """Per row and feature squared reconstruction error, computed in chunks on ``device``."""
    model = model.to(device)
    out = np.empty(x.shape, dtype=np.float32)
    for s in range(0, len(x), _CHUNK):
        xb = torch.as_tensor(x[s : s + _CHUNK], dtype=torch.float32, device=device)
        out[s : s + _CHUNK] = ((model(xb) - xb) ** 2).cpu().numpy()
    return out


def fit_forest(x: np.ndarray, random_state: int):
    from sklearn.ensemble import IsolationForest

    x = _sample(x, random_state)
    return IsolationForest(
        n_estimators=100, max_samples=min(256, len(x)), random_state=random_state,
    ).fit(x)


def _average_path_length(n: np.ndarray) -> np.ndarray:
    """Mean path length of an unsuccessful search in a binary tree of ``n`` points.

    The ``c(n)`` of Liu, Ting and Zhou (2008): 0 for one point, 1 for two,
    ``2 H(n - 1) - 2 (n - 1) / n`` beyond.
    """
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


def _leaf_depths(forest) -> list[np.ndarray]:
    """Per tree and node: its depth plus the expected depth below it, less one."""
    return [tree.tree_.compute_node_depths() + _average_path_length(tree.tree_.n_node_samples)
            - 1.0 for tree in forest.estimators_]


def forest_scores(forest, x: np.ndarray, leaf_depths: list[np.ndarray] | None = None):
    """The isolation forest's ``score_samples`` of the rows of ``x`` (float32).

    Equal to scikit-learn's to the last bit, and faster: rows are taken in
    blocks that stay in the cache while every tree visits them, the blocks are
    shared out over the cores (the trees release the GIL) and each thread adds
    into its own rows, with no lock.
    """
    from concurrent.futures import ThreadPoolExecutor

    leaf_depths = leaf_depths if leaf_depths is not None else _leaf_depths(forest)
    trees = [(t.tree_, f) for t, f in zip(forest.estimators_, forest.estimators_features_)]
    every = x.shape[1]
    depths = np.zeros(len(x))

    def run(start: int, stop: int) -> None:
        for s in range(start, stop, _FOREST_BLOCK):
            block = np.ascontiguousarray(x[s : min(s + _FOREST_BLOCK, stop)])
            acc = depths[s : s + len(block)]
            for (tree, features), values in zip(trees, leaf_depths):
                sub = block if len(features) == every else np.ascontiguousarray(
                    block[:, features])
                acc += values[tree.apply(sub)]

    workers = max(1, min(_threads(), len(x) // _FOREST_BLOCK))
    bounds = np.linspace(0, len(x), workers + 1).astype(int)
    if workers == 1:
        run(0, len(x))
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(run, bounds[:-1], bounds[1:]))
    denominator = len(trees) * _average_path_length([forest.max_samples_])[0]
    return -(2.0 ** (-depths / denominator)) if denominator else -np.ones(len(x))


def _threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


# ------------------------------------------------------------------ target statistics

def target_table(codes: np.ndarray, y: np.ndarray, n_groups: int, prior: float,
                 strength: float = 5.0) -> np.ndarray:
    """Smoothed fraud rate per group: ``(frauds + strength * prior) / (rows + strength)``."""
    pos = np.bincount(codes, weights=y.astype(float), minlength=n_groups)
    cnt = np.bincount(codes, minlength=n_groups).astype(float)
    return (pos + strength * prior) / (cnt + strength)


def out_of_fold_target(codes: np.ndarray, y: np.ndarray, n_groups: int, folds: np.ndarray):
    """Each row's group rate computed without the rows of its own fold (cross-fitting)."""
    prior = float(y.mean())
    out = np.empty(len(codes))
    for f in np.unique(folds):  # a loop over folds, not rows
        inside = folds == f
        table = target_table(codes[~inside], y[~inside], n_groups, prior)
        out[inside] = table[codes[inside]]
    return out


def fit_boosting(x: np.ndarray, y: np.ndarray, random_state: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=300, learning_rate=0.08, max_leaf_nodes=31, l2_regularization=1.0,
        early_stopping=True, validation_fraction=0.15, n_iter_no_change=20,
        random_state=random_state,
    ).fit(x, y)


def fit_calibrator(p: np.ndarray, y: np.ndarray):
    """Isotonic map from out-of-fold model probabilities to observed fraud rates."""
    from sklearn.isotonic import IsotonicRegression

    return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, y)


class AnomalyDetector(Params):
    """Unsupervised anomaly scores: an isolation forest and an autoencoder, combined.

    Features are standardized robustly (median and interquartile range learned
    at fit, clipped to ±10). Each model's raw score is turned into its
    percentile among the training rows (0-1, higher is stranger).
    :meth:`score_samples` returns the forest's percentile by default: on the
    real Shuttle anomalies the autoencoder ranks far worse than the forest and
    averaging the two costs a third of the forest's AUPRC
    (``experiments/eval_fraud.py``), so the autoencoder is a second opinion
    (:meth:`score_parts`, ``combine="mean"``) rather than a default. The fraud
    detector uses both: either one's extreme percentile raises the "model
    anomaly" flag, and with labels both feed the boosted trees.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}
        Where the autoencoder trains and scores.
    random_state : int
        Seed of the forest, the sample and the autoencoder.
    epochs : int
        Passes of the autoencoder over (a sample of at most 200k) rows.
    combine : {"forest", "mean", "max", "autoencoder"}
        What :meth:`score_samples` returns: the forest's percentile, the mean of
        the two percentiles (rank averaging), the larger, or the autoencoder's.

    Attributes
    ----------
    forest_ : sklearn.ensemble.IsolationForest
    autoencoder_ : lightning.pytorch.LightningModule
    center_, scale_ : numpy.ndarray
        The standardization.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(500, 4))
    >>> x[0] = 8.0
    >>> det = AnomalyDetector(device="cpu", epochs=2).fit(x)
    >>> int(np.argmax(det.score_samples(x)))
    0
    """

    def __init__(
        self, device: DeviceLike = "auto", random_state: int = 0, epochs: int = 12,
        combine: str = "forest",
    ) -> None:
        self.device = device
        self.random_state = random_state
        self.epochs = epochs
        self.combine = combine

    def fit(self, x: np.ndarray) -> AnomalyDetector:
        from nexus_lab.device import resolve_device
        from nexus_lab.errors import SchemaError

        if self.combine not in ("mean", "max", "forest", "autoencoder"):
            raise SchemaError(f"combine must be 'mean', 'max', 'forest' or 'autoencoder', got "
                              f"{self.combine!r}")
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or len(x) < 2:
            raise SchemaError(f"AnomalyDetector.fit needs a 2-D array of rows, got shape "
                              f"{x.shape}")
        if not np.isfinite(x).all():
            rows = np.flatnonzero(~np.isfinite(x).all(1))[:5].tolist()
            raise SchemaError(f"features hold NaN or infinite values at rows {rows}; fill or "
                              "drop them first", rows=rows)
        self.device_ = resolve_device(self.device)
        self.center_ = np.median(x, axis=0)
        q75, q25 = np.percentile(x, [75, 25], axis=0)
        self.scale_ = np.maximum(q75 - q25, np.maximum(x.std(axis=0), 1e-3))
        xs = self.transform(x)
        self.forest_ = fit_forest(xs, self.random_state)
        self._leaf_depths = _leaf_depths(self.forest_)
        self.autoencoder_ = fit_autoencoder(xs, self.device_, self.random_state, self.epochs)
        forest, ae, _ = self._raw(xs)
        self.forest_ref_ = np.sort(forest)
        self.ae_ref_ = np.sort(ae)
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """The standardized features the models see (float32, in one pass of copies)."""
        check_is_fitted(self, "center_", fit_call="fit(x)")
        out = np.array(x, dtype=np.float32)
        out -= self.center_.astype(np.float32)
        out /= self.scale_.astype(np.float32)
        return np.clip(out, -10, 10, out=out)

    def _raw(self, xs: np.ndarray):
        if getattr(self, "_leaf_depths", None) is None:  # loaded from an artifact
            self._leaf_depths = _leaf_depths(self.forest_)
        forest = -forest_scores(self.forest_, np.asarray(xs, dtype=np.float32),
                                self._leaf_depths)
        parts = reconstruction_errors(self.autoencoder_, xs, self.device_)
        return forest, parts.mean(1), parts

    def score_parts(self, x: np.ndarray, standardized: bool = False):
        """Forest percentile, autoencoder percentile and per-feature squared errors."""
        check_is_fitted(self, _FITTED, fit_call="fit(x)")
        xs = x if standardized else self.transform(x)
        forest, ae, parts = self._raw(xs)
        f_pct = search_sorted(self.forest_ref_, forest, "right") / len(self.forest_ref_)
        a_pct = search_sorted(self.ae_ref_, ae, "right") / len(self.ae_ref_)
        return f_pct, a_pct, parts

    def score_samples(self, x: np.ndarray) -> np.ndarray:
        """Anomaly score in [0, 1] per row (higher is stranger), as ``combine`` says."""
        f_pct, a_pct, _ = self.score_parts(x)
        if self.combine == "mean":
            return 0.5 * (f_pct + a_pct)
        if self.combine == "autoencoder":
            return a_pct
        if self.combine == "max":
            return np.maximum(f_pct, a_pct)
        return f_pct

    # ----------------------------------------------------------------- state
    def to_state(self) -> dict[str, Any]:
        """The fitted detector as plain values.

        Returns
        -------
        dict
            ``class`` and ``params`` (but ``device``, JSON); ``center``, ``scale``
            (the standardization), ``forest_ref``, ``ae_ref`` (the training rows'
            sorted raw scores, from which percentiles are read): NumPy arrays;
            ``forest``: the scikit-learn isolation forest; ``autoencoder``:
            ``{"hparams": {n_features, hidden, code, lr}, "weights": {name: array}}``
            (its ``state_dict`` as NumPy arrays).

        Raises
        ------
        NotFittedError
            When the detector is not fitted.

        Examples
        --------
        >>> import numpy as np
        >>> x = np.random.default_rng(0).normal(size=(300, 4))
        >>> det = AnomalyDetector(device="cpu", epochs=1).fit(x)
        >>> state = det.to_state()
        >>> sorted(state["autoencoder"]["hparams"])
        ['code', 'hidden', 'lr', 'n_features']
        >>> again = AnomalyDetector.from_state(state, device="cpu")
        >>> bool((again.score_samples(x) == det.score_samples(x)).all())
        True
        """
        check_is_fitted(self, _FITTED, fit_call="fit(x)")
        params = {k: v for k, v in self.get_params().items() if k != "device"}
        module = self.autoencoder_
        return {
            "class": type(self).__name__,
            "params": json_value(params, "AnomalyDetector parameters"),
            "center": self.center_, "scale": self.scale_,
            "forest_ref": self.forest_ref_, "ae_ref": self.ae_ref_,
            "forest": self.forest_,
            "autoencoder": {
                "hparams": json_value(dict(module.hparams), "the autoencoder's hparams"),
                "weights": {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()},
            },
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], device: DeviceLike = "auto") -> AnomalyDetector:
        """The fitted detector a :meth:`to_state` state describes.

        Parameters
        ----------
        state : dict
            As returned by :meth:`to_state`.
        device : {"auto", "cpu", "cuda"}
            Where the autoencoder scores.

        Returns
        -------
        AnomalyDetector

        Examples
        --------
        >>> import numpy as np
        >>> x = np.random.default_rng(1).normal(size=(200, 3))
        >>> det = AnomalyDetector(device="cpu", epochs=1).fit(x)
        >>> AnomalyDetector.from_state(det.to_state(), device="cpu").center_.shape
        (3,)
        """
        from nexus_lab.device import resolve_device

        if state.get("class", cls.__name__) != cls.__name__:
            raise IntegrityError(f"the state names the class {state.get('class')!r}, not "
                                 f"{cls.__name__}; it is refused")
        det = cls(device, **state["params"])
        det.device_ = resolve_device(device)
        det.center_, det.scale_ = state["center"], state["scale"]
        det.forest_ref_, det.ae_ref_ = state["forest_ref"], state["ae_ref"]
        det.forest_ = state["forest"]
        det._leaf_depths = None  # computed from the forest at the first score
        hp = state["autoencoder"]["hparams"]
        module = _module_class()(hp["n_features"], hidden=hp["hidden"], code=hp["code"],
                                 lr=hp["lr"])
        module.load_state_dict({k: torch.as_tensor(v) for k, v in
                                state["autoencoder"]["weights"].items()})
        det.autoencoder_ = module.eval()
        return det
