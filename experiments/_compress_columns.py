"""Lossless column compression: nexus_lab's frame codecs against zstd and Parquet, in one run.

``column_ratios(vectors)`` measures the compression ratio (raw bytes / compressed
bytes) and encode / decode seconds of each method on each column:

* ``embedding``: the float32 matrix ``vectors`` (one 384-float vector per row), raw
  bytes ``4 * n * 384``;
* ``amount``: payment amounts from ``nexus_lab.data.synth_transactions(n_rows, seed)``
  (float64 with two decimals, vendor-typical log-normal prices, in date order);
* ``price``: a tick price series (a random walk in whole cents around 100.00, float64).
  The repository's sample data has no price column, so this one is generated here;
* ``timestamp``: the ``date`` column of the same transactions (datetime64[ns], sorted,
  whole seconds).

Methods, all at the same zstd level:

* ``nexus``: ``compress_frame`` on a one-column frame (header included), lossless;
  decode includes every checksum; the output is checked bit for bit;
* ``nexus_int_cents``: the same on the amounts as int64 cents (money as the kernels
  hold it);
* ``zstd``: zstd on the raw bytes;
* ``parquet_bss_zstd``: pyarrow Parquet, ``use_byte_stream_split=True``,
  ``use_dictionary=False``, zstd (float columns);
* ``parquet_delta`` / ``parquet_delta_zstd``: Parquet ``DELTA_BINARY_PACKED`` on int64
  cents or timestamps, ``use_dictionary=False``, compression NONE / zstd;
  ``parquet_delta_zstd_seconds`` stores the timestamps at second resolution first;
* ``order0_entropy_bound_values`` / ``_deltas``: not codecs: ``64 / H`` where ``H`` is
  the empirical entropy in bits of the cents, or of their first differences (seconds for
  timestamps). No coder that treats the values (or the deltas) as independent draws
  from their observed distribution beats it.

Usage::

    python experiments/_compress_columns.py                      # random unit vectors
    python experiments/_compress_columns.py --rows 1000000 --corpus   # MiniLM embeddings
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from nexus_lab.compress import compress_frame, decompress_frame
from nexus_lab.datasets import synth_transactions

__all__ = ["column_ratios", "tick_prices"]


def tick_prices(n: int, seed: int = 0) -> np.ndarray:
    """A random walk of prices in whole cents around 100.00, as float64 (two decimals).

    Each tick moves by -3..+3 cents (0 most often), as a liquid instrument does.
    """
    rng = np.random.default_rng(seed)
    steps = rng.choice(np.arange(-3, 4), size=n, p=[0.02, 0.08, 0.2, 0.4, 0.2, 0.08, 0.02])
    cents = 10_000 + np.cumsum(steps)
    return np.round(cents / 100, 2)


def _entropy_bits(values: np.ndarray) -> float:
    _, counts = np.unique(values, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def _timed(fn: Callable[[], object]) -> tuple[object, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def _nexus(frame: pd.DataFrame, level: int) -> tuple[int, float, float]:
    blob, enc = _timed(lambda: compress_frame(frame, level=level))
    back, dec = _timed(lambda: decompress_frame(blob))
    pd.testing.assert_frame_equal(back, frame)
    return len(blob), enc, dec


def _zstd(raw: bytes, level: int) -> tuple[int, float, float]:
    packed, enc = _timed(lambda: zstandard.ZstdCompressor(level=level).compress(raw))
    back, dec = _timed(lambda: zstandard.ZstdDecompressor().decompress(packed))
    assert back == raw
    return len(packed), enc, dec


def _parquet(table: pa.Table, **options) -> tuple[int, float, float]:
    def write() -> bytes:
        buf = io.BytesIO()
        pq.write_table(table, buf, **options)
        return buf.getvalue()

    data, enc = _timed(write)
    back, dec = _timed(lambda: pq.read_table(io.BytesIO(data)))
    assert back.cast(table.schema).equals(table)  # Parquet keeps seconds as ms
    return len(data), enc, dec


def column_ratios(
    vectors: np.ndarray, seed: int = 0, *, n_rows: int = 1_000_000, level: int = 19
) -> pd.DataFrame:
    """Compression ratios of nexus_lab, zstd and Parquet on four columns, in one run.

    Parameters
    ----------
    vectors : numpy.ndarray
        Float32 embedding matrix, shape ``(n, dim)``.
    seed : int
        Seed of the transactions and the price series.
    n_rows : int
        Rows of the amount, price and timestamp columns.
    level : int
        zstd level of every method.

    Returns
    -------
    pandas.DataFrame
        One row per (column, method): ``raw_bytes, compressed_bytes, ratio, encode_s,
        decode_s``.

    Examples
    --------
    >>> vecs = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
    >>> out = column_ratios(vecs, n_rows=1_000, level=3)
    >>> sorted(out["column"].unique())
    ['amount', 'embedding', 'price', 'timestamp']
    """
    vectors = np.ascontiguousarray(vectors)
    rows: list[dict] = []

    def add(column: str, method: str, raw: int, result: tuple[float, float, float]) -> None:
        size, enc, dec = result
        rows.append({"column": column, "method": method, "raw_bytes": raw,
                     "compressed_bytes": round(size), "ratio": raw / size,
                     "encode_s": enc, "decode_s": dec})

    # (a) embeddings
    raw = vectors.nbytes
    add("embedding", "nexus", raw, _nexus(pd.DataFrame({"embedding": list(vectors)}), level))
    add("embedding", "zstd", raw, _zstd(vectors.tobytes(), level))
    flat = pa.array(vectors.reshape(-1))
    table = pa.table({"embedding": pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])})
    add("embedding", "parquet_bss_zstd", raw,
        _parquet(table, use_dictionary=False, use_byte_stream_split=True,
                 compression="zstd", compression_level=level))

    # (b) money, prices, timestamps
    tx = synth_transactions(n_rows, seed=seed)
    columns = {
        "amount": tx["amount"].to_numpy(dtype=np.float64),
        "price": tick_prices(len(tx), seed=seed),
    }
    for name, x in columns.items():
        raw = x.nbytes
        cents = np.rint(x * 100).astype(np.int64)
        assert (cents / 100 == x).all()
        add(name, "nexus", raw, _nexus(pd.DataFrame({name: x}), level))
        add(name, "nexus_int_cents", raw, _nexus(pd.DataFrame({name: cents}), level))
        add(name, "zstd", raw, _zstd(x.tobytes(), level))
        add(name, "parquet_bss_zstd", raw,
            _parquet(pa.table({name: x}), use_dictionary=False, use_byte_stream_split=True,
                     compression="zstd", compression_level=level))
        ints = pa.table({name: cents})
        delta = {"use_dictionary": False, "column_encoding": {name: "DELTA_BINARY_PACKED"}}
        add(name, "parquet_delta", raw, _parquet(ints, compression="NONE", **delta))
        add(name, "parquet_delta_zstd", raw,
            _parquet(ints, compression="zstd", compression_level=level, **delta))
        add(name, "order0_entropy_bound_values", raw,
            (len(x) * _entropy_bits(cents) / 8, 0.0, 0.0))
        add(name, "order0_entropy_bound_deltas", raw,
            (len(x) * _entropy_bits(np.diff(cents)) / 8, 0.0, 0.0))

    ts = tx["date"].to_numpy().astype("datetime64[ns]")
    raw = ts.nbytes
    add("timestamp", "nexus", raw, _nexus(pd.DataFrame({"timestamp": ts}), level))
    add("timestamp", "zstd", raw, _zstd(ts.tobytes(), level))
    delta = {"use_dictionary": False, "column_encoding": {"timestamp": "DELTA_BINARY_PACKED"}}
    table = pa.table({"timestamp": ts})
    add("timestamp", "parquet_delta", raw, _parquet(table, compression="NONE", **delta))
    add("timestamp", "parquet_delta_zstd", raw,
        _parquet(table, compression="zstd", compression_level=level, **delta))
    seconds = pa.table({"timestamp": ts.astype("datetime64[s]")})
    add("timestamp", "parquet_delta_zstd_seconds", raw,
        _parquet(seconds, compression="zstd", compression_level=level, **delta))
    gaps = np.diff(ts.view(np.int64)) // 10**9
    add("timestamp", "order0_entropy_bound_deltas", raw,
        (len(ts) * _entropy_bits(gaps) / 8, 0.0, 0.0))
    return pd.DataFrame(rows)


def _unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the money columns")
    parser.add_argument("--vectors", type=int, default=5_000, help="random unit vectors")
    parser.add_argument("--corpus", action="store_true",
                        help="use the MiniLM embeddings of experiments/stdlib_corpus.py")
    parser.add_argument("--level", type=int, default=19)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.corpus:
        sys.path.insert(0, str(Path(__file__).parent))
        import stdlib_corpus

        vectors, _, _ = stdlib_corpus.load()
    else:
        vectors = _unit_vectors(args.vectors, 384, args.seed)
    out = column_ratios(vectors, args.seed, n_rows=args.rows, level=args.level)
    with pd.option_context("display.width", 140, "display.max_rows", 100):
        print(f"vectors {vectors.shape}, {args.rows:,} rows, zstd level {args.level}")
        print(out.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return out


if __name__ == "__main__":
    main()
