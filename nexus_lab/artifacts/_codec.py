"""Vector codecs as JSON-ready facts and plain arrays, for files (MLflow runs, recommenders).

A codec saved this way is two things: ``info`` (JSON: ``format``, ``class``,
``params``, ``values``: the learned JSON values, ``dicts``: the learned attributes
that are dicts of arrays) and ``arrays`` (every learned array under its attribute's
name; a dict's arrays under ``"attr/key"``), written with ``np.savez`` and read with
``allow_pickle=False``. What the codec's state is, the codec decides
(:meth:`nexus_lab.compress.Codec.to_state`); this module only lays it out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from nexus_lab._typing import DeviceLike
from nexus_lab.artifacts._format import FORMAT, check_format
from nexus_lab.errors import NexusError

__all__ = ["codec_from_state", "codec_state"]


def codec_state(codec: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A fitted ``nx.compress`` codec as JSON-ready facts and plain arrays (no pickle).

    Returns ``(info, arrays)``: ``info`` holds the class, the parameters and the
    learned scalars; ``arrays`` every learned array (dicts of arrays flattened to
    ``"attr/key"``). :func:`codec_from_state` rebuilds the codec.

    Parameters
    ----------
    codec : nexus_lab.compress.Codec
        Fitted.

    Returns
    -------
    info : dict
    arrays : dict of str to numpy.ndarray

    Raises
    ------
    NexusError
        When ``codec`` is not a codec of :mod:`nexus_lab.compress`.
    NotFittedError
        When it is not fitted.

    Examples
    --------
    >>> import numpy as np, nexus_lab as nx
    >>> X = np.random.default_rng(0).normal(size=(300, 8)).astype("float32")
    >>> codec = nx.compress.PQ(m=2, nbits=4, device="cpu", random_state=0).fit(X)
    >>> info, arrays = codec_state(codec)
    >>> info["class"], sorted(arrays)
    ('PQ', ['codebooks_'])
    >>> again = codec_from_state(info, arrays)
    >>> bool((again.encode(X) == codec.encode(X)).all())
    True
    """
    from nexus_lab.compress import Codec

    if not isinstance(codec, Codec):
        raise NexusError(f"codec_state saves nexus_lab.compress codecs, not "
                         f"{type(codec).__name__}")
    state = codec.to_state()
    info: dict[str, Any] = {"format": FORMAT, "class": state["class"],
                            "params": state["params"], "values": {}, "dicts": []}
    arrays: dict[str, np.ndarray] = {}
    for attr, value in state["attributes"].items():
        if isinstance(value, np.ndarray):
            arrays[attr] = value
        elif isinstance(value, dict) and all(isinstance(v, np.ndarray) for v in value.values()):
            info["dicts"].append(attr)
            arrays.update({f"{attr}/{key}": v for key, v in value.items()})
        else:
            info["values"][attr] = value
    return info, arrays


def codec_from_state(info: Mapping[str, Any], arrays: Mapping[str, Any],
                     device: DeviceLike = "cpu") -> Any:
    """Rebuild a codec from :func:`codec_state`'s ``(info, arrays)``.

    Parameters
    ----------
    info : mapping
        The JSON facts.
    arrays : mapping of str to array
        The arrays (a dict, or the ``np.load`` of the ``.npz`` they were saved to).
    device : {"auto", "cpu", "cuda"}
        Where the codec encodes and decodes.

    Returns
    -------
    nexus_lab.compress.Codec
        Fitted.

    Raises
    ------
    NexusError
        When ``info`` was written by a newer NEXUS Lab.
    IntegrityError
        When it names a class that is not a NEXUS Lab codec.

    Examples
    --------
    >>> import numpy as np, nexus_lab as nx
    >>> X = np.random.default_rng(0).normal(size=(200, 4)).astype("float32")
    >>> codec = nx.compress.ScalarInt8(device="cpu").fit(X)
    >>> type(codec_from_state(*codec_state(codec))).__name__
    'ScalarInt8'
    """
    from nexus_lab.compress import Codec

    check_format(dict(info), "this codec")
    dicts = set(info.get("dicts", []))
    attributes: dict[str, Any] = {**info.get("values", {}), **{attr: {} for attr in dicts}}
    for key in arrays:
        attr, _, sub = key.partition("/")
        if attr in dicts:
            attributes[attr][sub] = np.asarray(arrays[key])
        else:
            attributes[attr] = np.asarray(arrays[key])
    state = {"class": info.get("class"), "params": dict(info.get("params", {})),
             "attributes": attributes}
    return Codec.from_state(state, device=device)
