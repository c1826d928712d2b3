"""compress_frame / decompress_frame: round trips, error bounds, ratios and corruption."""

from __future__ import annotations

import hashlib
import json
import struct

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from nexus_lab.compress._columns import (
    bss_bytes,
    float_bss_decode,
    float_bss_encode,
    float_decimal_decode,
    float_decimal_encode,
    int_delta_decode,
    int_delta_encode,
)
from nexus_lab.compress._container import FORMAT_VERSION, compress_frame, decompress_frame
from nexus_lab.errors import IntegrityError, NexusError, SchemaError

LEVEL = 3  # fast; the codecs are the same at every level
RNG = np.random.default_rng(0)
SPECIALS = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 5e-324, -1.7976931348623157e308])


def roundtrip(df, **kw) -> pd.DataFrame:
    return decompress_frame(compress_frame(df, level=kw.pop("level", LEVEL), **kw))


def header(blob: bytes) -> dict:
    (length,) = struct.unpack_from("<I", blob, 6)
    return json.loads(blob[10:10 + length])


def resign(blob: bytes, head: dict) -> bytes:
    """``blob`` with its header replaced by ``head`` and a valid header checksum."""
    (length,) = struct.unpack_from("<I", blob, 6)
    text = json.dumps(head, separators=(",", ":")).encode()
    prefix = blob[:6] + struct.pack("<I", len(text))
    return prefix + text + hashlib.sha256(prefix + text).digest() + blob[10 + length + 32:]


def codecs(blob: bytes) -> dict:
    return {e["name"]: e["codec"] for e in header(blob)["columns"]}


def same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and (a.view(f"u{a.dtype.itemsize}")
                                   == b.view(f"u{b.dtype.itemsize}")).all()


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
def test_floats_round_trip_bit_exactly(dtype):
    x = np.concatenate([SPECIALS, RNG.normal(size=300), np.round(RNG.uniform(0, 99, 300), 2)])
    with np.errstate(over="ignore"):
        x = x.astype(dtype)
    nan_payload = np.array([0x7FF8DEADBEEF0001], dtype=np.uint64).view(np.float64)
    df = pd.DataFrame({"x": x, "money": np.resize(np.r_[12.34, -0.0, np.nan, 0.07], len(x)),
                       "payload": np.resize(np.r_[nan_payload, 1.0], len(x))})
    out = roundtrip(df)
    pd.testing.assert_frame_equal(out, df)
    for col in df:
        assert same_bits(out[col].to_numpy(), df[col].to_numpy()), col


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64",
                                   "uint8", "uint16", "uint32", "uint64"])
def test_integers_of_every_width_round_trip_with_extremes(dtype):
    info = np.iinfo(dtype)
    x = np.concatenate([np.array([info.min, info.max, 0, info.max, info.min], dtype=dtype),
                        RNG.integers(info.min, info.max, 200, dtype=dtype, endpoint=True)])
    df = pd.DataFrame({"x": x.astype(dtype), "sorted": np.sort(x).astype(dtype),
                       "const": np.full(len(x), info.max, dtype=dtype)})
    pd.testing.assert_frame_equal(roundtrip(df), df)


def test_int_delta_keeps_the_smallest_variant_and_removes_the_gcd():
    ts = np.cumsum(RNG.integers(1, 60, 5000)) * 10**9  # whole seconds in nanoseconds
    payload, params = int_delta_encode(ts, level=LEVEL)
    assert params["mode"].startswith("delta") and params["gcd"] % 10**9 == 0
    assert params["width"] == 1
    assert (int_delta_decode(payload, params, len(ts)) == ts).all()
    shuffled = RNG.permutation(ts)
    _, params = int_delta_encode(shuffled, level=LEVEL)
    assert params["mode"] == "for"  # unsorted: no delta
    extremes = np.array([2**64 - 1, 0, 2**63, 1], dtype=np.uint64)
    assert (int_delta_decode(*int_delta_encode(extremes), 4) == extremes).all()


def test_byte_stream_split_is_parquets_layout():
    x = np.array([1.0, 2.0], dtype="<f4")
    raw = x.view(np.uint8).reshape(2, 4)
    assert bss_bytes(x) == b"".join(raw[:, k].tobytes() for k in range(4))
    payload, params = float_bss_encode(SPECIALS)
    assert same_bits(float_bss_decode(payload, params, len(SPECIALS)), SPECIALS)


def test_decimal_detection_finds_the_scale_and_keeps_odd_values_raw():
    x = np.round(RNG.uniform(0, 1000, 1000), 3)
    x[[3, 70]] = [np.nan, 1e-9]
    payload, params = float_decimal_encode(x, level=LEVEL)
    assert params["scale"] == 3 and params["exceptions"] == 2
    assert same_bits(float_decimal_decode(payload, params, len(x)), x)
    assert float_decimal_encode(RNG.normal(size=1000)) is None  # not decimal


def test_bools_times_and_text_round_trip():
    n = 400
    ts = pd.Series(pd.to_datetime(np.sort(RNG.integers(0, 10**9, n)), unit="s"))
    ts[RNG.random(n) < 0.1] = pd.NaT
    text = pd.Series(RNG.choice(["alpha", "béta", "", "日本"], n), dtype=object)
    text[RNG.random(n) < 0.1] = None
    text[RNG.random(n) < 0.05] = np.nan
    df = pd.DataFrame({
        "flag": RNG.random(n) < 0.3,
        "ts_ns": ts,
        "ts_s": ts.astype("datetime64[s]"),
        "tz": pd.date_range("2024-03-30", periods=n, freq="37min", tz="Europe/Paris"),
        "wait": pd.to_timedelta(RNG.integers(0, 10**6, n), unit="ms"),
        "text": text,
        "raw": pd.Series(RNG.choice([b"\x00\xff", b"", b"abc"], n), dtype=object),
        "cat": pd.Categorical(RNG.choice(["low", "mid", None], n), categories=["low", "mid"]),
        "level": pd.Categorical(RNG.choice([3, 1, 2], n), ordered=True),
        "str": pd.array(RNG.choice(["a", None], n), dtype="string"),
        "Int": pd.array(np.where(RNG.random(n) < 0.2, None, RNG.integers(-9, 9, n)),
                        dtype="Int16"),
        "Float": pd.array(np.where(RNG.random(n) < 0.2, None, RNG.normal(size=n)),
                          dtype="Float64"),
        "boolean": pd.array(np.where(RNG.random(n) < 0.2, None, RNG.random(n) < 0.5),
                            dtype="boolean"),
    })
    out = roundtrip(df)
    pd.testing.assert_frame_equal(out, df)
    assert out["text"].map(type).equals(df["text"].map(type))  # None stays None, NaN NaN


def test_vector_columns_round_trip_and_ragged_ones_are_refused():
    mat = RNG.normal(size=(50, 16)).astype(np.float32)
    df = pd.DataFrame({"emb": list(mat), "lists": [list(r) for r in mat.astype(np.float64)]})
    df.loc[7, "emb"] = None
    out = roundtrip(df)
    pd.testing.assert_frame_equal(out, df)
    assert out["emb"][7] is None and out["emb"][0].dtype == np.float32
    assert isinstance(out["lists"][0], list)
    ragged = pd.DataFrame({"emb": [[0.1, 0.2], [0.3, 0.4], [0.5], [0.6, 0.7, 0.8]]})
    with pytest.raises(SchemaError, match=r"'emb'.*rows \[2, 3\]") as err:
        compress_frame(ragged)
    assert err.value.column == "emb" and err.value.rows == [2, 3]


def test_empty_one_row_and_indexed_frames_round_trip():
    for df in (pd.DataFrame(), pd.DataFrame({"a": pd.Series([], dtype="float32"),
                                             "s": pd.Series([], dtype=object)}),
               pd.DataFrame(index=pd.RangeIndex(3))):
        pd.testing.assert_frame_equal(roundtrip(df), df)
    one = pd.DataFrame({"x": [1.5], "n": [7], "s": ["only"], "t": [pd.Timestamp("2024-01-01")]})
    pd.testing.assert_frame_equal(roundtrip(one), one)
    indexed = pd.DataFrame({"v": [1.0, 2.0, 3.0]},
                           index=pd.Index(["c", "a", "b"], name="key"))
    pd.testing.assert_frame_equal(roundtrip(indexed), indexed)
    multi = pd.DataFrame({"v": [1, 2]}, index=pd.MultiIndex.from_tuples(
        [("x", pd.Timestamp("2024-01-01")), ("y", pd.Timestamp("2024-01-02"))],
        names=["k", "day"]))
    pd.testing.assert_frame_equal(roundtrip(multi), multi)
    stepped = pd.DataFrame({0: [1, 2], 1: [3, 4]}, index=pd.RangeIndex(10, 30, 10, name="r"))
    pd.testing.assert_frame_equal(roundtrip(stepped), stepped)


def test_polars_and_pyarrow_frames_are_accepted():
    pl = pytest.importorskip("polars")
    data = {"amount": [12.34, 5.0, None], "n": [1, 2, 3], "s": ["a", None, "c"]}
    expected = pd.DataFrame({"amount": [12.34, 5.0, np.nan], "n": [1, 2, 3],
                             "s": ["a", None, "c"]})
    pd.testing.assert_frame_equal(roundtrip(pl.DataFrame(data)), expected)
    pd.testing.assert_frame_equal(roundtrip(pl.DataFrame(data).lazy()), expected)
    pd.testing.assert_frame_equal(roundtrip(pa.table(data)), expected)
    vectors = pa.table({"v": pa.array([[0.5, 1.5], [2.5, 3.5]], pa.list_(pa.float32(), 2))})
    out = roundtrip(vectors)
    assert np.array_equal(np.stack(out["v"]), [[0.5, 1.5], [2.5, 3.5]])


def test_unsupported_dtypes_name_the_column_and_the_fix():
    with pytest.raises(SchemaError, match=r"'z'.*complex.*\.real and \.imag") as err:
        compress_frame(pd.DataFrame({"z": [1 + 2j]}))
    assert err.value.column == "z"
    with pytest.raises(SchemaError, match=r"'mixed'.*rows \[1\].*astype\(str\)"):
        compress_frame(pd.DataFrame({"mixed": ["a", 3, "b"]}))
    with pytest.raises(SchemaError, match="period"):
        compress_frame(pd.DataFrame({"p": pd.period_range("2024-01", periods=2, freq="M")}))
    with pytest.raises(ValueError, match="level"):
        compress_frame(pd.DataFrame({"a": [1]}), level=0)


# --------------------------------------------------------------------------- error bounds


def test_max_error_holds_and_shrinks_the_output():
    x = np.cumsum(RNG.normal(size=20_000)) * 0.01
    x[[5, 9]] = [np.nan, np.inf]
    df = pd.DataFrame({"x": x, "x32": x.astype(np.float32), "n": np.arange(len(x))})
    lossless = compress_frame(df, level=LEVEL)
    for bound in (1e-2, 1e-4):
        blob = compress_frame(df, max_error=bound, level=LEVEL)
        assert len(blob) < len(lossless) / 2
        out = decompress_frame(blob)
        finite = np.isfinite(x)
        for col in ("x", "x32"):
            with np.errstate(invalid="ignore"):  # inf - inf
                err = np.abs(out[col].to_numpy(np.float64) - df[col].to_numpy(np.float64))
            assert err[finite].max() <= bound
            assert np.isnan(out[col][5]) and out[col][9] == np.inf
        assert out["n"].equals(df["n"])  # integers stay lossless
        assert codecs(blob)["x"] == "float_bounded"


def test_max_error_per_column_and_on_vectors():
    x = RNG.normal(size=500)
    vecs = RNG.normal(size=(500, 8)).astype(np.float32)
    df = pd.DataFrame({"a": x, "b": x, "v": list(vecs)})
    blob = compress_frame(df, max_error={"a": 0.05, "v": 0.01}, level=LEVEL)
    out = decompress_frame(blob)
    assert np.abs(out["a"] - df["a"]).max() <= 0.05
    assert out["b"].equals(df["b"])  # no bound: bit-exact
    assert np.abs(np.stack(out["v"]) - vecs).max() <= 0.01
    assert header(blob)["columns"][0]["lossy"] and not header(blob)["columns"][1]["lossy"]
    with pytest.raises(SchemaError, match="'nope'"):
        compress_frame(df, max_error={"nope": 0.1})
    with pytest.raises(SchemaError, match="positive"):
        compress_frame(df, max_error=-1.0)
    with pytest.raises(SchemaError, match="float"):
        compress_frame(pd.DataFrame({"n": [1, 2]}), max_error={"n": 0.5})


# --------------------------------------------------------------------------- ratios


def test_money_compresses_five_times_losslessly():
    # Card payments of a small-ticket merchant: log-normal around $12 (sigma 0.6), to the
    # cent. Their cents carry about 11.5 bits of entropy, so no lossless coder of
    # independent values beats ~5.6x on them; wider amount distributions cannot reach 5x.
    rng = np.random.default_rng(7)
    amount = np.round(np.exp(rng.normal(np.log(12.0), 0.6, 100_000)), 2)
    blob = compress_frame(pd.DataFrame({"amount": amount}))  # default level
    assert codecs(blob)["amount"] == "float_decimal"
    assert amount.nbytes / len(blob) >= 5.0
    assert same_bits(decompress_frame(blob)["amount"].to_numpy(), amount)


def test_wide_amounts_beat_parquet_delta_and_zstd():
    # The generator's amounts (vendor-typical log-normal prices, in date order) carry
    # about 15 bits each: no lossless coder gets them to 5x (experiments/_compress_columns.py
    # measures 4.08x against an order-0 entropy bound of 4.19x at 1M rows).
    import io

    import pyarrow.parquet as pq
    import zstandard

    from nexus_lab.datasets import synth_transactions

    amount = synth_transactions(20_000, seed=1)["amount"].to_numpy()
    cents = np.rint(amount * 100).astype(np.int64)
    ours = len(compress_frame(pd.DataFrame({"amount": amount})))
    buf = io.BytesIO()
    pq.write_table(pa.table({"cents": cents}), buf, use_dictionary=False,
                   column_encoding={"cents": "DELTA_BINARY_PACKED"}, compression="zstd",
                   compression_level=19)
    assert ours < len(buf.getvalue()) / 1.15
    assert ours < len(zstandard.ZstdCompressor(level=19).compress(amount.tobytes())) / 1.3


def test_sorted_timestamps_compress_far_better_than_zstd():
    import zstandard

    ts = pd.to_datetime("2025-01-01") + pd.to_timedelta(
        np.cumsum(RNG.exponential(15, 100_000)).astype(np.int64), unit="s")
    blob = compress_frame(pd.DataFrame({"t": ts}), level=LEVEL)
    raw = ts.to_numpy().tobytes()
    assert len(raw) / len(blob) >= 5.0
    assert len(blob) < len(zstandard.ZstdCompressor(level=LEVEL).compress(raw)) / 2


# --------------------------------------------------------------------------- corruption


@pytest.fixture(scope="module")
def sample() -> tuple[pd.DataFrame, bytes]:
    n = 200
    df = pd.DataFrame({
        "amount": np.round(RNG.uniform(1, 500, n), 2),
        "x": RNG.normal(size=n),
        "t": pd.date_range("2025-01-01", periods=n, freq="min"),
        "s": RNG.choice(["a", "b", None], n),
        "v": list(RNG.normal(size=(n, 4)).astype(np.float32)),
    }, index=pd.Index(np.arange(n) * 2, name="id"))
    return df, compress_frame(df, level=LEVEL)


def test_a_flipped_payload_byte_names_its_column(sample):
    _, blob = sample
    head = header(blob)
    start = len(blob) - head["payload_bytes"]
    for e in head["index"]["columns"] + head["columns"]:
        for pos in (0, e["length"] // 2, e["length"] - 1):
            bad = bytearray(blob)
            bad[start + e["offset"] + pos] ^= 0x10
            with pytest.raises(IntegrityError, match=f"'{e['name']}'.*checksum"):
                decompress_frame(bytes(bad))


def test_header_corruption_truncation_and_foreign_blobs(sample):
    _, blob = sample
    for pos in (12, 40, len(json.dumps(header(blob))) // 2, 10 + len(
            json.dumps(header(blob), separators=(",", ":"))) + 5):
        bad = bytearray(blob)
        bad[pos] ^= 0x01
        with pytest.raises(IntegrityError, match="header"):
            decompress_frame(bytes(bad))
    for cut in (3, 8, 200, len(blob) - 1):
        with pytest.raises(IntegrityError, match=r"truncated|NEXUS"):
            decompress_frame(blob[:cut])
    with pytest.raises(IntegrityError, match=r"truncated: expected \d+ bytes, got \d+"):
        decompress_frame(blob[:-1])
    with pytest.raises(IntegrityError, match="trailing"):
        decompress_frame(blob + b"\x00")
    with pytest.raises(IntegrityError, match="not a NEXUS Lab frame container"):
        decompress_frame(b"PAR1" + blob[4:])
    with pytest.raises(IntegrityError, match="64 MiB"):
        decompress_frame(blob[:6] + struct.pack("<I", 65 << 20) + blob[10:])
    with pytest.raises(SchemaError, match="bytes"):
        decompress_frame("not bytes")


def test_a_newer_container_asks_for_an_upgrade(sample):
    _, blob = sample
    newer = blob[:4] + struct.pack("<H", FORMAT_VERSION + 1) + blob[6:]
    with pytest.raises(NexusError, match=r"newer NEXUS Lab.*upgrade nexus-lab") as err:
        decompress_frame(newer)
    assert not isinstance(err.value, IntegrityError)


def test_forged_headers_are_caught_by_structure_and_decoded_checksums(sample):
    _, blob = sample
    head = header(blob)
    head["columns"][1]["offset"] += 1  # payloads no longer line up
    with pytest.raises(IntegrityError, match="header: malformed"):
        decompress_frame(resign(blob, head))
    head = header(blob)
    amount = head["columns"][0]
    assert amount["codec"] == "float_decimal"
    amount["params"]["scale"] += 1  # a valid payload decoded the wrong way
    with pytest.raises(IntegrityError, match=r"'amount'.*decoded values"):
        decompress_frame(resign(blob, head))


# --------------------------------------------------------------------------- properties


hypothesis = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")


@hypothesis.settings(max_examples=40, deadline=None, database=None)
@hypothesis.given(st.binary(min_size=0, max_size=8 * 64).map(
    lambda b: np.frombuffer(b[: len(b) // 8 * 8], dtype=np.float64)))
def test_any_float64_array_round_trips_bit_exactly(x):
    out = decompress_frame(compress_frame(pd.DataFrame({"x": x}), level=1))
    assert same_bits(out["x"].to_numpy(), x)


@hypothesis.settings(max_examples=60, deadline=None, database=None)
@hypothesis.given(st.data())
def test_any_single_byte_corruption_is_detected(sample, data):
    _, blob = sample
    pos = data.draw(st.integers(0, len(blob) - 1))
    flip = data.draw(st.integers(1, 255))
    bad = bytearray(blob)
    bad[pos] ^= flip
    with pytest.raises(NexusError):
        decompress_frame(bytes(bad))
