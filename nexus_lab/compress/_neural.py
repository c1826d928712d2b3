"""A learned neural codec: an autoencoder whose latent is finite-scalar quantized (FSQ).

The encoder maps a vector to ``latent_dim`` numbers, each bounded and rounded to
one of ``2**nbits`` levels (Mentzer et al., 2023, "Finite Scalar Quantization"; the
rounding passes gradients straight through while training); the code is those
level indices, bit-packed. The decoder maps the levels back to a vector. It is
trained per dataset with PyTorch Lightning, on the CPU or on CUDA with the same code.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np
import torch

from nexus_lab._lightning import quiet_lightning
from nexus_lab._typing import DeviceLike
from nexus_lab.compress._base import Codec
from nexus_lab.compress._quantizers import pack, unpack
from nexus_lab.errors import SchemaError

__all__ = ["Neural"]

log = logging.getLogger("nexus_lab")

_WARMUP = 0.05  # share of the steps over which the learning rate rises to ``lr``


class _Net(torch.nn.Module):
    """Encoder, FSQ bound and decoder; every path has a linear skip beside its MLP."""

    def __init__(self, dim: int, hidden: int, latent: int, levels: int) -> None:
        super().__init__()
        self.levels = levels
        self.encoder = torch.nn.Sequential(
            torch.nn.Linear(dim, hidden), torch.nn.GELU(), torch.nn.Linear(hidden, latent))
        self.decoder = torch.nn.Sequential(
            torch.nn.Linear(latent, hidden), torch.nn.GELU(), torch.nn.Linear(hidden, dim))
        self.enc_skip = torch.nn.Linear(dim, latent, bias=False)
        self.dec_skip = torch.nn.Linear(latent, dim, bias=False)

    def bounded(self, x: torch.Tensor) -> torch.Tensor:
        """The latent in ``(-0.5, levels - 0.5)``: rounding gives equal-width bins."""
        return torch.sigmoid(self.encoder(x) + self.enc_skip(x)) * self.levels - 0.5

    def indices(self, x: torch.Tensor) -> torch.Tensor:
        return self.bounded(x).round().clamp_(0, self.levels - 1).long()

    def decode(self, level: torch.Tensor) -> torch.Tensor:
        v = level * (2.0 / max(self.levels - 1, 1)) - 1.0  # levels to [-1, 1]
        return self.decoder(v) + self.dec_skip(v)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.bounded(x)
        r = b.detach().round().clamp(0, self.levels - 1)
        return self.decode(b + (r - b).detach())  # straight-through rounding


def _lightning_module(net: _Net, lr: float, scale: float) -> Any:
    import lightning.pytorch as pl

    class _Fit(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = net
            self.history: list[float] = []
            self._sum: torch.Tensor | float = 0.0  # a tensor: no device sync per step
            self._count = 0

        def training_step(self, batch: tuple[torch.Tensor], _index: int) -> torch.Tensor:
            (x,) = batch
            sq = (self.net(x) - x).pow(2).sum(1).mean()
            self._sum = self._sum + sq.detach() * len(x)
            self._count += len(x)
            return sq / x.shape[1]

        def on_train_epoch_end(self) -> None:
            # per-vector squared error of the quantized reconstructions, in X's units
            self.history.append(float(self._sum) / max(self._count, 1) * scale ** 2)
            self._sum, self._count = 0.0, 0

        def configure_optimizers(self) -> Any:
            opt = torch.optim.Adam(self.net.parameters(), lr=lr)
            total = max(1, int(self.trainer.estimated_stepping_batches))
            warm = max(1, int(_WARMUP * total))

            def factor(step: int) -> float:
                if step < warm:
                    return (step + 1) / warm
                return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / (total - warm))))

            sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    return _Fit()


class Neural(Codec):
    """A neural codec: an MLP autoencoder with a finite-scalar-quantized latent.

    Each vector becomes ``latent_dim = bytes_per_vector * 8 // nbits`` integers of
    ``nbits`` bits, bit-packed into ``bytes_per_vector`` bytes. The encoder (``dim ->
    hidden -> latent_dim``, plus a linear path) is squashed to ``2**nbits`` levels
    per latent dimension and rounded; the decoder (``latent_dim -> hidden -> dim``,
    plus a linear path) maps the levels back. Training minimizes the squared
    reconstruction error with Adam (warm-up, then cosine decay) under
    :class:`lightning.pytorch.Trainer`; rounding passes gradients straight through.

    Unlike PQ and RQ the code is not additive, so a search decodes the codes
    (no inner-product tables). The network's weights are part of the codec: about
    ``8 * ((dim + latent_dim) * hidden + dim * latent_dim)`` bytes (2 MB for 384
    dimensions at 16 bytes per vector), which only pays off on large collections.

    On 21,930 sentence embeddings (384-d, unit norm), fitted and measured on them,
    16 bytes give 10-recall@10 0.603 and MSE 0.251 (RQ(m=16): 0.757 and 0.129),
    32 bytes 0.724 and 0.148 (RQ(m=32): 0.871 and 0.054): below RQ, about level
    with OPQ on recall and better than OPQ on MSE. 2 bits per latent dimension
    measured best at both sizes (1, 3 and 4 bits were worse at 16 bytes).

    Parameters
    ----------
    bytes_per_vector : int
        Size of one code in bytes.
    nbits : int
        Bits per latent dimension (1 to 8): ``2**nbits`` levels.
    hidden : int
        Width of the encoder's and the decoder's hidden layer.
    epochs : int
        Passes over the training vectors.
    batch_size : int
        Vectors per optimizer step.
    lr : float
        Peak learning rate.
    device : {"auto", "cpu", "cuda"}
    random_state : int, optional
        Seeds the weights' initialization and the batches' order.

    Attributes
    ----------
    state_ : dict of str to ndarray
        The network's weights (``torch.nn.Module.state_dict``), as NumPy arrays.
    mean_ : ndarray of shape (dim,)
        Subtracted before encoding.
    scale_ : ndarray of shape (1,)
        The vectors' RMS per dimension after centering; divides them before encoding.
    latent_dim_ : int
    history_ : list of float
        Per epoch, the mean squared error per vector (in the units of ``X``) of the
        quantized reconstructions of the training batches.
    fit_seconds_ : float

    Examples
    --------
    >>> import numpy as np
    >>> from nexus_lab.compress._neural import Neural
    >>> X = np.random.default_rng(0).normal(size=(1000, 32)).astype("float32")
    >>> codec = Neural(bytes_per_vector=8, hidden=64, epochs=3, device="cpu",
    ...                random_state=0).fit(X)
    >>> codes = codec.encode(X)
    >>> codes.shape, codes.dtype.name, codec.decode(codes).shape, len(codec.history_)
    ((1000, 8), 'uint8', (1000, 32), 3)
    """

    def __init__(self, bytes_per_vector: int = 32, nbits: int = 2, hidden: int = 512,
                 epochs: int = 30, batch_size: int = 256, lr: float = 3e-3,
                 device: DeviceLike = "auto", random_state: int | None = None) -> None:
        self.bytes_per_vector = bytes_per_vector
        self.nbits = nbits
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.device = device
        self.random_state = random_state

    # ``Codec.bytes_per_vector`` is a read-only property; here it is also the parameter.
    @property
    def bytes_per_vector(self) -> int:  # type: ignore[override]
        """Bytes one vector's code takes (the parameter; ``code_size_`` once fitted)."""
        return self._bytes_per_vector

    @bytes_per_vector.setter
    def bytes_per_vector(self, value: int) -> None:
        self._bytes_per_vector = value

    def _validate(self, dim: int) -> None:
        def whole(name: str, low: int, high: int | None = None, hint: str = "") -> int:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer) \
                    or value < low or (high is not None and value > high):
                span = f"from {low} to {high}" if high is not None else f"of at least {low}"
                raise SchemaError(f"{name} must be an integer {span}, got {value!r}{hint}")
            return int(value)

        whole("nbits", 1, 8, ": 2**nbits levels per latent dimension (more bits per vector "
              "come from a larger bytes_per_vector)")
        nbytes = whole("bytes_per_vector", 1, hint=": one byte holds 8 // nbits latent "
                       "dimensions")
        if nbytes >= 4 * dim:
            raise SchemaError(
                f"bytes_per_vector={nbytes} is not smaller than the {4 * dim} bytes of a "
                f"float32 vector of {dim} dimensions: choose fewer than {4 * dim}")
        for name in ("hidden", "epochs", "batch_size"):
            whole(name, 1)
        lr = self.lr
        if isinstance(lr, bool) or not isinstance(lr, int | float | np.floating) \
                or not math.isfinite(lr) or lr <= 0:
            raise SchemaError(f"lr must be a positive number (e.g. 3e-3), got {lr!r}")

    # training ----------------------------------------------------------------------------
    def _fit(self, X: torch.Tensor, gen: torch.Generator) -> None:
        import lightning.pytorch as pl

        started = time.perf_counter()
        dev = X.device
        levels = 1 << int(self.nbits)
        latent = int(self.bytes_per_vector) * 8 // int(self.nbits)
        mean = X.mean(0)
        scale = float((X - mean).pow(2).mean().sqrt().clamp_min(1e-12))
        Z = (X - mean) / scale
        seed = int(torch.randint(0, 2**62, (1,), generator=gen))
        forked = [dev.index or 0] if dev.type == "cuda" else []
        with torch.random.fork_rng(devices=forked):  # leave the caller's random state alone
            torch.manual_seed(seed)
            net = _Net(Z.shape[1], int(self.hidden), latent, levels)
            model = _lightning_module(net, float(self.lr), scale)
            order = torch.utils.data.RandomSampler(
                range(len(Z)), generator=torch.Generator().manual_seed(seed))
            batches = torch.utils.data.BatchSampler(order, int(self.batch_size), drop_last=False)
            loader = torch.utils.data.DataLoader(  # one tensor index per batch: no collation
                torch.utils.data.TensorDataset(Z), sampler=batches, batch_size=None)
            with quiet_lightning():
                trainer = pl.Trainer(
                    max_epochs=int(self.epochs),
                    accelerator="gpu" if dev.type == "cuda" else "cpu",
                    devices=[dev.index or 0] if dev.type == "cuda" else 1,
                    logger=False, enable_checkpointing=False, enable_progress_bar=False,
                    enable_model_summary=False, num_sanity_val_steps=0)
                trainer.fit(model, loader)
        net = net.to(dev).eval()
        self._net = net
        self.state_ = {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}
        self.mean_ = mean.cpu().numpy()
        self.scale_ = np.array([scale], dtype=np.float32)
        self.latent_dim_ = latent
        self.history_ = [float(v) for v in model.history]
        self.code_size_ = math.ceil(latent * int(self.nbits) / 8)
        self.fit_seconds_ = time.perf_counter() - started
        log.info("Neural codec: %d epochs in %.1f s, last training error %.4g",
                 len(self.history_), self.fit_seconds_,
                 self.history_[-1] if self.history_ else float("nan"))

    # coding --------------------------------------------------------------------------------
    def _network(self) -> _Net:
        net = getattr(self, "_net", None)
        dev = self._device()
        if net is None or next(net.parameters()).device != dev:
            hidden = self.state_["encoder.0.weight"].shape[0]
            net = _Net(self.dim_, hidden, self.latent_dim_, 1 << int(self.nbits))
            net.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in
                                 self.state_.items()})
            net = self._net = net.to(dev).eval()
        return net

    @torch.no_grad()
    def _encode(self, X: torch.Tensor) -> torch.Tensor:
        mean = torch.from_numpy(self.mean_).to(X.device)
        idx = self._network().indices((X - mean) / float(self.scale_[0]))
        return pack(idx, int(self.nbits))

    @torch.no_grad()
    def _decode(self, codes: torch.Tensor) -> torch.Tensor:
        idx = unpack(codes, self.latent_dim_, int(self.nbits))
        out = self._network().decode(idx.float()) * float(self.scale_[0])
        return out + torch.from_numpy(self.mean_).to(out.device)

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_net"}
