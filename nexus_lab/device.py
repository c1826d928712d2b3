"""Picks the torch device: the one place that turns ``device="auto"`` into a device."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nexus_lab._typing import DeviceLike
from nexus_lab.errors import DeviceError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["resolve_device"]


def resolve_device(device: DeviceLike = "auto") -> torch.device:
    """Return the torch device to compute on.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"} or str or torch.device
        ``"auto"`` picks CUDA when a GPU is visible to torch, else the CPU.
        ``"cuda:1"`` and other torch device strings are accepted.

    Returns
    -------
    torch.device

    Raises
    ------
    DeviceError
        When CUDA is asked for and torch sees no GPU, or the name is unknown.

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    import torch

    if isinstance(device, torch.device):
        dev = device
    elif device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            dev = torch.device(str(device))
        except RuntimeError as exc:
            raise DeviceError(
                f"unknown device {device!r}: use 'auto', 'cpu' or 'cuda' (or 'cuda:N')"
            ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(
            f"device={device!r} was asked for but torch sees no CUDA GPU "
            f"(torch {torch.__version__}); use device='auto' or 'cpu', or install a CUDA "
            "build of torch (see README: TORCH_SPEC)"
        )
    if dev.type not in ("cpu", "cuda"):
        raise DeviceError(f"device {device!r} is not supported: use 'auto', 'cpu' or 'cuda'")
    return dev
