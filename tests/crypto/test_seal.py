"""Sealing (format NXSL v1): round trips, recipients, every kind of tampering, bad input,
property tests, and ML-KEM-768 interoperability with the pure-Python FIPS 203 kyber-py."""

from __future__ import annotations

import hashlib
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexus_lab.crypto import (
    KeyPair,
    PublicKey,
    generate_keypair,
    open_sealed,
    recipient_keys,
    seal,
    seal_with_digests,
    sealed_info,
)
from nexus_lab.crypto._backend import KEM, PQCRYPTO_ML_KEM_768  # the two ML-KEM backends
from nexus_lab.errors import IntegrityError, NexusError

CS = 1024  # the smallest chunk size: many chunks from little data
ENTRY = 32 + 1088 + 32 + 48


@pytest.fixture(scope="module")
def alice() -> KeyPair:
    return generate_keypair("alice")


@pytest.fixture(scope="module")
def bob() -> KeyPair:
    return generate_keypair("bob")


@pytest.fixture(scope="module")
def carol() -> KeyPair:
    return generate_keypair("carol")


def header_end(blob: bytes) -> int:
    return 9 + struct.unpack(">I", blob[5:9])[0]


def chunk_at(blob: bytes, j: int, cs: int = CS) -> tuple[int, int]:
    """(start, end) of sealed chunk ``j`` (not the last) in ``blob``."""
    start = header_end(blob) + j * (cs + 16)
    return start, start + cs + 16


def entries_at(blob: bytes) -> int:
    """Offset of the first recipient entry."""
    name_len = struct.unpack(">H", blob[9 + 12:9 + 14])[0]
    return 9 + 16 + name_len


def flip(blob: bytes, pos: int, mask: int = 0x01) -> bytes:
    b = bytearray(blob)
    b[pos] ^= mask
    return bytes(b)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("size", [0, 1, CS - 1, CS, CS + 1, 3 * CS, 3 * CS + 5])
def test_round_trip_sizes(alice, size):
    data = os.urandom(size)
    blob = seal(data, alice, chunk_size=CS)
    assert isinstance(blob, bytes)
    n_chunks = max(1, -(-size // CS))
    assert len(blob) == 9 + 16 + ENTRY + size + 16 * n_chunks
    assert open_sealed(blob, alice) == data
    info = sealed_info(blob)
    assert info["chunks"] == n_chunks and info["plaintext_size"] == size


def test_round_trip_default_chunk_and_bytes_like(alice):
    data = os.urandom((2 << 20) + 123)
    assert open_sealed(seal(data, alice), alice) == data
    assert open_sealed(seal(bytearray(data), alice), alice) == data
    assert open_sealed(bytearray(seal(memoryview(data), alice)), alice) == data
    # a memoryview of another format is sealed as its bytes
    assert open_sealed(seal(memoryview(data[:64]).cast("I"), alice), alice) == data[:64]


def test_each_seal_is_fresh(alice):
    a, b = seal(b"same", alice), seal(b"same", alice)
    assert a != b and open_sealed(a, alice) == open_sealed(b, alice) == b"same"


def test_file_to_file(alice, tmp_path):
    data = os.urandom(5 * CS + 7)
    src = tmp_path / "évidence report.bin"
    src.write_bytes(data)
    sealed = seal(str(src), alice, chunk_size=CS)
    assert sealed == tmp_path / "évidence report.bin.nxs"
    info = sealed_info(sealed)
    assert info["kind"] == "file" and info["name"] == src.name
    assert info["sealed_size"] == sealed.stat().st_size and info["plaintext_size"] == len(data)
    assert open_sealed(sealed, alice) == data
    dest = open_sealed(sealed, alice, out=tmp_path / "sub" / "opened.bin")
    assert dest == tmp_path / "sub" / "opened.bin" and dest.read_bytes() == data
    explicit = seal(src, alice, out=tmp_path / "x.nxs", chunk_size=CS)
    assert explicit == tmp_path / "x.nxs"
    assert open_sealed(str(explicit), alice) == data


@pytest.mark.parametrize("size", [0, CS, 2 * CS, 2 * CS + 1])
def test_file_sizes_at_chunk_boundaries(alice, tmp_path, size):
    data = os.urandom(size)
    src = tmp_path / "f.bin"
    src.write_bytes(data)
    from_file = seal(src, alice, chunk_size=CS).read_bytes()
    assert len(from_file) == len(seal(data, alice, chunk_size=CS)) + len("f.bin")
    assert open_sealed(from_file, alice) == data


def test_bytes_with_out(alice, tmp_path):
    path = seal(b"to disk", alice, out=tmp_path / "b.nxs")
    assert path == tmp_path / "b.nxs"
    assert open_sealed(path, alice) == b"to disk"
    assert sealed_info(path)["kind"] == "bytes"


def test_dataframe(alice, tmp_path):
    df = pd.DataFrame({"id": ["007", "008", None], "amount": [1.5, -2.0, 3.25],
                       "n": [1, 2, 3]}, index=[10, 11, 12])
    blob = seal(df, alice, chunk_size=CS)
    assert sealed_info(blob)["kind"] == "dataframe"
    pd.testing.assert_frame_equal(open_sealed(blob, alice), df)
    path = seal(df, alice, out=tmp_path / "df.nxs")
    pd.testing.assert_frame_equal(open_sealed(path, alice), df)
    parquet = open_sealed(path, alice, out=tmp_path / "df.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), df)


def test_dataframe_that_parquet_refuses(alice):
    with pytest.raises(NexusError, match=r"Parquet to seal it \(Arrow") as err:
        seal(pd.DataFrame({"a": [1, "xsecretx"]}), alice)
    assert "xsecretx" not in str(err.value)


# --------------------------------------------------------------------------- recipients


def test_several_recipients_each_open(alice, bob, carol):
    data = os.urandom(3000)
    blob = seal(data, [alice, bob.public, carol], chunk_size=CS)
    for kp in (alice, bob, carol):
        assert open_sealed(blob, kp) == data
    assert sealed_info(blob)["recipients"] == [
        k.public.fingerprint_hex for k in (alice, bob, carol)]


def test_duplicate_recipients_kept_once(alice, bob):
    blob = seal(b"x", (alice, alice.public, bob, alice))
    assert sealed_info(blob)["recipients"] == [alice.public.fingerprint_hex,
                                               bob.public.fingerprint_hex]
    assert len(blob) == 9 + 16 + 2 * ENTRY + 1 + 16


def test_recipient_keys_are_the_sealed_ones(alice, bob):
    keys = recipient_keys([alice, bob.public, alice.public])
    assert keys == [alice.public, bob.public]
    assert recipient_keys(bob) == [bob.public]
    blob = seal(b"x", [alice, bob.public, alice.public])
    assert sealed_info(blob)["recipients"] == [k.fingerprint_hex for k in keys]
    with pytest.raises(NexusError, match=r"recipients\[1\] is a str"):
        recipient_keys([alice, "bob"])
    with pytest.raises(NexusError, match="the list is empty"):
        recipient_keys([])


def test_seal_with_digests_hashes_what_it_seals(alice, bob, tmp_path):
    src = tmp_path / "ledger.csv"
    src.write_bytes(os.urandom(3 * CS + 5))
    d = seal_with_digests(src, [alice, bob], tmp_path / "ledger.nxs", chunk_size=CS)
    sealed = (tmp_path / "ledger.nxs").read_bytes()
    assert d["path"] == tmp_path / "ledger.nxs"
    assert (d["sha256"], d["size"]) == (hashlib.sha256(src.read_bytes()).hexdigest(),
                                        3 * CS + 5)
    assert (d["sealed_sha256"], d["sealed_size"]) == (hashlib.sha256(sealed).hexdigest(),
                                                      len(sealed))
    assert open_sealed(d["path"], bob) == src.read_bytes()


def test_wrong_key(alice, bob, carol):
    blob = seal(b"TOPSECRET", [alice, bob])
    with pytest.raises(NexusError, match="sealed for 2 other keys") as err:
        open_sealed(blob, carol)
    msg = str(err.value)
    assert not isinstance(err.value, IntegrityError)
    assert alice.public.fingerprint_hex in msg and bob.public.fingerprint_hex in msg
    assert "'carol'" in msg and carol.public.fingerprint_hex in msg
    assert "TOPSECRET" not in msg


def test_header_limit_on_recipients(alice):
    base = alice.public

    def twin(i: int) -> PublicKey:  # same keys, another label: another fingerprint
        return PublicKey(label=f"k{i}", pq_kem=base.pq_kem, x25519=base.x25519,
                         pq_sign=base.pq_sign, ed25519=base.ed25519)

    with pytest.raises(NexusError, match="1 MiB limit: seal for at most 873 keys"):
        seal(b"x", [twin(i) for i in range(874)])
    with pytest.raises(NexusError, match="at most 1024"):
        seal(b"x", [twin(i) for i in range(1025)])


# --------------------------------------------------------------------------- tampering


@pytest.fixture(scope="module")
def four(alice, bob):
    """Four full chunks and a 100-byte final one, for alice and bob."""
    data = os.urandom(4 * CS + 100)
    return data, seal(data, [alice, bob], chunk_size=CS)


def test_reordered_chunks(alice, four):
    _, blob = four
    (a0, a1), (b0, b1) = chunk_at(blob, 1), chunk_at(blob, 2)
    swapped = blob[:a0] + blob[b0:b1] + blob[a0:a1] + blob[b1:]
    with pytest.raises(IntegrityError, match=r"chunk 1 \(bytes 1024\.\.2047\) failed "
                       "authentication: altered, reordered or from another object"):
        open_sealed(swapped, alice)


def test_dropped_chunk(alice, four):
    _, blob = four
    a0, a1 = chunk_at(blob, 2)
    with pytest.raises(IntegrityError, match=r"chunk 2 \(bytes 2048\.\.3071\) failed"):
        open_sealed(blob[:a0] + blob[a1:], alice)


def test_chunk_from_another_object(alice, four):
    data, blob = four
    other = seal(data, alice, chunk_size=CS)
    a0, a1 = chunk_at(blob, 1)
    b0, b1 = chunk_at(other, 1)
    with pytest.raises(IntegrityError, match=r"chunk 1 .* from another object"):
        open_sealed(blob[:a0] + other[b0:b1] + blob[a1:], alice)


def test_truncated(alice, four):
    _, blob = four
    _, end3 = chunk_at(blob, 3)
    with pytest.raises(IntegrityError, match="ends after chunk 3 without its final chunk"):
        open_sealed(blob[:end3], alice)  # the final chunk dropped
    with pytest.raises(IntegrityError, match="ends after chunk 1 without its final chunk"):
        open_sealed(blob[:chunk_at(blob, 2)[0] + 9], alice)  # cut 9 bytes into chunk 2
    with pytest.raises(IntegrityError, match="chunk 4"):
        open_sealed(blob[:-1], alice)  # cut inside the final chunk
    with pytest.raises(IntegrityError, match="ends after its header without its final"):
        open_sealed(blob[:header_end(blob)], alice)
    with pytest.raises(IntegrityError, match="truncated inside its header"):
        open_sealed(blob[:header_end(blob) - 1], alice)
    with pytest.raises(IntegrityError, match="truncated"):
        open_sealed(blob[:7], alice)


def test_appended(alice):
    full = seal(os.urandom(2 * CS), alice, chunk_size=CS)  # the final chunk is full
    for extra in (b"\x00", os.urandom(15), os.urandom(16), os.urandom(CS + 16), full[-CS - 16:]):
        with pytest.raises(IntegrityError, match=f"{len(extra)} bytes after its final chunk 1"):
            open_sealed(full + extra, alice)
    short = seal(os.urandom(CS + 10), alice, chunk_size=CS)  # a short final chunk
    for extra in (b"\x00", os.urandom(40), short[-26:]):
        with pytest.raises(IntegrityError):
            open_sealed(short + extra, alice)


def test_flipped_header_byte(alice, bob, four):
    _, blob = four
    with pytest.raises(IntegrityError, match="header was altered"):
        open_sealed(flip(blob, 9 + 5 + 3), alice)  # in the nonce prefix
    with pytest.raises(IntegrityError, match="header was altered"):
        open_sealed(flip(blob, 9, 0x02), alice)  # kind 0 -> 2
    with pytest.raises(IntegrityError, match="header is corrupted: unknown content kind"):
        open_sealed(flip(blob, 9, 0x80), alice)
    with pytest.raises(IntegrityError, match="header is corrupted: chunk size"):
        open_sealed(flip(blob, 10, 0x80), alice)
    with pytest.raises(IntegrityError, match="header"):
        open_sealed(flip(blob, 9 + 16 + 2), alice)  # recipient count
    # bob's entry altered: alice still unwraps, but every chunk authenticates the header
    with pytest.raises(IntegrityError, match=r"chunk 0 .* header was altered"):
        open_sealed(flip(blob, entries_at(blob) + ENTRY + 500), alice)


def test_flipped_name(alice, tmp_path):
    src = tmp_path / "a.bin"
    src.write_bytes(b"abc")
    blob = seal(src, alice).read_bytes()
    with pytest.raises(IntegrityError, match="header"):
        open_sealed(flip(blob, 9 + 14), alice)  # a -> `
    with pytest.raises(IntegrityError, match="not UTF-8"):
        open_sealed(flip(blob, 9 + 14, 0x80), alice)


@pytest.mark.parametrize("offset", [32, 32 + 600, 32 + 1088 + 5, 32 + 1088 + 32 + 3,
                                    ENTRY - 1])
def test_flipped_key_wrap(alice, four, offset):
    """ML-KEM ciphertext, X25519 ephemeral key, wrapped key or its tag."""
    _, blob = four
    with pytest.raises(IntegrityError, match=r"recipient key wrap for this key \('alice'"):
        open_sealed(flip(blob, entries_at(blob) + offset), alice)


def test_flipped_fingerprint(alice, four):
    _, blob = four
    with pytest.raises(IntegrityError, match="carries a wrong fingerprint"):
        open_sealed(flip(blob, entries_at(blob) + 7), alice)


def test_flipped_chunk_byte_names_its_range(alice):
    data = os.urandom((4 << 20) + 1000)
    blob = seal(data, alice)
    start = header_end(blob) + 3 * ((1 << 20) + 16)
    with pytest.raises(IntegrityError, match=r"^sealed object: chunk 3 \(bytes 3145728\.\."
                       r"4194303\) failed authentication: altered, reordered or from another "
                       r"object$"):
        open_sealed(flip(blob, start + 12345), alice)
    with pytest.raises(IntegrityError, match=r"chunk 4 \(bytes 4194304\.\.4195303\)"):
        open_sealed(flip(blob, len(blob) - 1), alice)  # the final chunk's tag


def test_failed_open_leaves_no_file(alice, tmp_path):
    data = os.urandom(3 * CS)
    sealed = seal(data, alice, out=tmp_path / "s.nxs", chunk_size=CS)
    bad = tmp_path / "bad.nxs"
    bad.write_bytes(flip(sealed.read_bytes(), sealed.stat().st_size - 1))
    dest = tmp_path / "out" / "plain.bin"
    with pytest.raises(IntegrityError, match="chunk 2"):
        open_sealed(bad, alice, out=dest)
    assert not dest.exists() and list(dest.parent.iterdir()) == []
    dest.parent.rmdir()
    old = tmp_path / "old.bin"
    old.write_bytes(b"previous")
    with pytest.raises(IntegrityError):
        open_sealed(bad, alice, out=old)
    assert old.read_bytes() == b"previous"


def test_errors_hold_no_secrets(alice, four):
    data, blob = four
    for bad in (flip(blob, len(blob) - 5), blob[:-200], flip(blob, entries_at(blob) + 40)):
        with pytest.raises(IntegrityError) as err:
            open_sealed(bad, alice)
        msg = str(err.value)
        assert data[:8].hex() not in msg and alice._x_sk.hex() not in msg
        assert alice._kem_sk.hex() not in msg


# --------------------------------------------------------------------------- format


def test_not_a_sealed_object(alice):
    with pytest.raises(IntegrityError, match=r"not a NEXUS sealed object: it starts with "
                       r"b'PK\\x03\\x04', expected b'NXSL'"):
        open_sealed(b"PK\x03\x04" + bytes(2000), alice)
    with pytest.raises(IntegrityError, match="NXSL"):
        open_sealed(b"", alice)
    with pytest.raises(IntegrityError, match="NXSL"):
        sealed_info(b"NXS")


def test_unknown_version(alice):
    blob = bytearray(seal(b"x", alice))
    blob[4] = 2
    with pytest.raises(NexusError, match=r"version 2.*upgrade nexus-lab") as err:
        open_sealed(bytes(blob), alice)
    assert not isinstance(err.value, IntegrityError)
    with pytest.raises(NexusError, match="upgrade"):
        sealed_info(bytes(blob))
    blob[4] = 0
    with pytest.raises(IntegrityError, match="unknown format version 0"):
        open_sealed(bytes(blob), alice)


def test_oversized_header(alice, tmp_path):
    blob = bytearray(seal(b"x", alice))
    blob[5:9] = struct.pack(">I", (1 << 20) + 1)
    with pytest.raises(IntegrityError, match="oversized header"):
        open_sealed(bytes(blob), alice)
    path = tmp_path / "big.nxs"
    path.write_bytes(bytes(blob[:9]) + bytes(100))
    with pytest.raises(IntegrityError, match="oversized header"):
        sealed_info(path)
    blob[5:9] = struct.pack(">I", 0xFFFFFFFF)
    with pytest.raises(IntegrityError, match="oversized header"):
        open_sealed(bytes(blob), alice)


def test_header_length_off_by_some(alice):
    blob = seal(b"x", alice)
    h = header_end(blob) - 9
    for wrong in (h - 1, h + 1, 0):
        bad = blob[:5] + struct.pack(">I", wrong) + blob[9:]
        with pytest.raises(IntegrityError, match="header"):
            open_sealed(bad, alice)


def test_sealed_info(alice, bob):
    blob = seal(os.urandom(2500), [bob, alice], chunk_size=CS)
    assert sealed_info(blob) == {
        "kind": "bytes", "name": "", "chunk_size": CS,
        "recipients": [bob.public.fingerprint_hex, alice.public.fingerprint_hex],
        "sealed_size": len(blob), "chunks": 3, "plaintext_size": 2500,
    }
    info = sealed_info(blob[:header_end(blob) + 2 * (CS + 16) + 5])
    assert info["chunks"] is None and info["plaintext_size"] is None


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("data", [123, 1.5, None, ["a"], {"a": 1}, object()])
def test_bad_data(alice, data):
    with pytest.raises(NexusError, match=f"{type(data).__name__}.*bytes.*DataFrame"):
        seal(data, alice)


def test_missing_and_folder_paths(alice, tmp_path):
    with pytest.raises(NexusError, match="no such file"):
        seal(tmp_path / "nope.bin", alice)
    with pytest.raises(NexusError, match=r"to seal text, pass text\.encode\(\)"):
        seal("some text", alice)
    with pytest.raises(NexusError, match="not a file"):
        seal(tmp_path, alice)
    with pytest.raises(NexusError, match="does not exist"):
        open_sealed(tmp_path / "nope.nxs", alice)
    with pytest.raises(NexusError, match="folder"):
        open_sealed(tmp_path, alice)
    with pytest.raises(NexusError, match="does not exist"):
        sealed_info(str(tmp_path / "nope.nxs"))


@pytest.mark.parametrize("recipients", [[], (), None, "alice", b"key", 3, [None], {"a": 1}])
def test_bad_recipients(recipients):
    with pytest.raises(NexusError, match="recipients must be a PublicKey, a KeyPair"):
        seal(b"x", recipients)


def test_bad_recipient_in_list(alice):
    with pytest.raises(NexusError, match=r"recipients\[1\] is a str"):
        seal(b"x", [alice, "bob"])


@pytest.mark.parametrize("chunk_size", [0, 1023, (64 << 20) + 1, 1.5, "1024", True, None])
def test_bad_chunk_size(alice, chunk_size):
    with pytest.raises(NexusError, match=r"from 1024 \(1 KiB\) to 67108864 \(64 MiB\)"):
        seal(b"x", alice, chunk_size=chunk_size)


def test_bad_open_arguments(alice, tmp_path):
    blob = seal(b"x", alice)
    with pytest.raises(NexusError, match=r"is a public key; opening a sealed object needs "
                                         r"the private key: .*load_keypair"):
        open_sealed(blob, alice.public)
    with pytest.raises(NexusError, match="needs a KeyPair, got the path 'alice'"):
        open_sealed(blob, "alice")
    with pytest.raises(NexusError, match="cannot open a int: blob must be bytes"):
        open_sealed(42, alice)
    with pytest.raises(NexusError, match="out must be a file path"):
        open_sealed(blob, alice, out=3)
    with pytest.raises(NexusError, match="out must be a file path"):
        seal(b"x", alice, out=b"x.nxs")
    with pytest.raises(NexusError, match="is a folder"):
        seal(b"x", alice, out=tmp_path)
    with pytest.raises(NexusError, match="is a folder"):
        open_sealed(blob, alice, out=tmp_path)


# --------------------------------------------------------------------------- properties


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=4 * CS + 100))
def test_property_round_trip(alice, data):
    blob = seal(data, alice, chunk_size=CS)
    assert open_sealed(blob, alice) == data
    assert sealed_info(blob)["plaintext_size"] == len(data)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=3 * CS), where=st.data(), mask=st.integers(1, 255))
def test_property_any_flipped_byte_is_detected(alice, bob, data, where, mask):
    blob = seal(data, [bob, alice], chunk_size=CS)
    body = header_end(blob)
    pos = where.draw(st.one_of(st.integers(0, len(blob) - 1),   # anywhere
                               st.integers(body, len(blob) - 1)))  # in the chunks
    bad = flip(blob, pos, mask)
    with pytest.raises(NexusError) as err:
        open_sealed(bad, alice)
    if pos != 4:  # a version byte above 1 asks for an upgrade instead
        assert isinstance(err.value, IntegrityError)


# --------------------------------------------------------------------------- ML-KEM interop


def test_kyber_py_encapsulates_to_our_key(alice):
    from kyber_py.ml_kem import ML_KEM_768

    key, ct = ML_KEM_768.encaps(alice.public.pq_kem)
    assert KEM.decaps(alice._kem_sk, ct) == key


def test_we_encapsulate_to_kyber_py_key():
    from kyber_py.ml_kem import ML_KEM_768

    ek, dk = ML_KEM_768.keygen()
    key, ct = KEM.encaps(ek)
    assert ML_KEM_768.decaps(dk, ct) == key
    key2, ct2 = PQCRYPTO_ML_KEM_768.encaps(ek)
    assert ML_KEM_768.decaps(dk, ct2) == key2


def test_seed_expands_the_same_in_all_three(alice):
    from kyber_py.ml_kem import ML_KEM_768

    ek, dk = ML_KEM_768.key_derive(alice._kem_sk)
    assert ek == alice.public.pq_kem
    key, ct = KEM.encaps(alice.public.pq_kem)
    assert PQCRYPTO_ML_KEM_768.decaps(dk, ct) == key
    assert ML_KEM_768.decaps(dk, ct) == key


def test_frames_with_list_columns_round_trip():
    """Scored fraud frames hold Arrow list columns (flags, reasons)."""
    import pyarrow as pa

    kp = generate_keypair("lists")
    df = pd.DataFrame({"transaction_id": ["T1", "T2"], "risk_score": [91.5, 12.0]})
    df["flags"] = pd.Series([["duplicate", "round amount"], []],
                            dtype=pd.ArrowDtype(pa.list_(pa.string())))
    back = open_sealed(seal(df, [kp]), kp)
    assert back["flags"].tolist() == [["duplicate", "round amount"], []]
    pd.testing.assert_frame_equal(back.drop(columns="flags"), df.drop(columns="flags"))


_SECRET = b"PLAINTEXT-SECRET-LEDGER-LINE;"
_OPENER = """
import sys
import nexus_lab as nx
kp = nx.crypto.load_keypair(sys.argv[1], password="pw")
nx.crypto.open_sealed(sys.argv[2], kp, out=sys.argv[3])
"""


def _writing(pid: int, folder: Path) -> bool:
    """Whether process ``pid`` holds a non-empty file of ``folder`` open for writing
    (a named or an unnamed one), read from /proc."""
    fds = Path(f"/proc/{pid}/fd")
    try:
        entries = list(fds.iterdir())
    except OSError:
        return False
    for fd in entries:
        try:
            target = os.readlink(fd)
            if target.startswith(str(folder)) and fd.stat().st_size > 0:
                return True
        except OSError:
            continue
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_killed_open_leaves_no_plaintext_on_disk(tmp_path, sig):
    kp = generate_keypair("me")
    key = kp.save(tmp_path / "me.nxkey", password="pw", cost=10)
    src = tmp_path / "ledger.csv"
    with open(src, "wb") as f:
        for _ in range(64):
            f.write(_SECRET * 36000)
    sealed = seal(src, [kp.public], out=tmp_path / "ledger.nxs", chunk_size=1024)
    src.unlink()
    folder = tmp_path / "out"
    folder.mkdir()
    child = subprocess.Popen([sys.executable, "-c", _OPENER, str(key), str(sealed),
                              str(folder / "ledger.csv")],
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        while child.poll() is None and not _writing(child.pid, folder):
            time.sleep(0.001)
        assert child.poll() is None, "the child finished before it could be stopped"
        os.kill(child.pid, signal.SIGSTOP)  # mid-way, with plaintext written
        assert _writing(child.pid, folder)
        os.kill(child.pid, sig)
        os.kill(child.pid, signal.SIGCONT)
        assert child.wait() == -sig
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    for path in folder.rglob("*"):
        assert _SECRET not in path.read_bytes(), f"{path} holds plaintext"
    assert list(folder.iterdir()) == []


def test_seal_refuses_to_replace_an_existing_file(tmp_path):
    from nexus_lab.crypto import generate_keypair, seal, seal_with_digests
    from nexus_lab.errors import NexusError

    kp = generate_keypair("examiner")
    out = tmp_path / "evidence.nxs"
    seal(b"first", kp, out=out)
    before = out.read_bytes()
    for call in (lambda: seal(b"second", kp, out=out),
                 lambda: seal_with_digests(b"second", kp, out)):
        with pytest.raises(NexusError, match=r"already exists.*overwrite=True"):
            call()
        assert out.read_bytes() == before
    seal(b"second", kp, out=out, overwrite=True)
    assert out.read_bytes() != before
