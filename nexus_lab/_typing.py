"""Type aliases of the public signatures (for readers and type checkers; nothing is
imported for them at run time).

* ``FrameLike``: a table: a pandas, polars or cuDF DataFrame, or a pyarrow Table.
* ``DeviceLike``: where a kernel runs: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or
  a :class:`torch.device`.
* ``PathLike``: a file or folder: a ``str`` or an :class:`os.PathLike`.
* ``VectorsLike``: a 2-D float array: NumPy, a torch tensor, or anything
  ``numpy.asarray`` takes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:  # pragma: no cover
    import os

    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import torch

__all__ = ["DeviceLike", "FrameLike", "PathLike", "VectorsLike"]

# polars and cuDF frames are accepted too (and typed as Any: neither is required)
FrameLike: TypeAlias = "pd.DataFrame | pa.Table | Any"
DeviceLike: TypeAlias = "str | torch.device"
PathLike: TypeAlias = "str | os.PathLike[str]"
VectorsLike: TypeAlias = "np.ndarray | torch.Tensor | Any"
