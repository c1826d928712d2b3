"""Keys, signatures and Merkle trees: round trips, interoperability, tampering."""

from __future__ import annotations

import hashlib
import pickle

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nexus_lab as nx
from nexus_lab.crypto import _backend  # the backends themselves, checked against each other
from nexus_lab.errors import IntegrityError, NexusError
from nexus_lab.frames import frame_bytes

crypto = nx.crypto


@pytest.fixture(scope="module")
def kp():
    return crypto.generate_keypair("examiner")


@pytest.fixture(scope="module")
def other():
    return crypto.generate_keypair("someone else")


# ----------------------------------------------------------------------------- keys


def test_public_bundle_round_trip_and_sizes(kp):
    pub = crypto.PublicKey.from_bytes(kp.public.to_bytes())
    assert pub == kp.public and pub.fingerprint == kp.fingerprint
    assert (len(pub.pq_kem), len(pub.pq_sign), len(pub.x25519), len(pub.ed25519)) == \
        (1184, 1952, 32, 32)
    assert pub.fingerprint == hashlib.sha256(kp.public.to_bytes()).digest()


def test_keypair_file_round_trip_is_private_and_password_protected(kp, tmp_path):
    path = kp.save(tmp_path / "me.nxkey", password="correct horse", cost=10)
    assert path.stat().st_mode & 0o077 == 0
    back = crypto.load_keypair(path, password="correct horse")
    assert back.public == kp.public
    sig = crypto.sign(b"x", back)  # the secret keys came back
    assert crypto.verify(b"x", sig, kp.public)
    assert crypto.PublicKey.load(path) == kp.public  # the public half reads without password
    with pytest.raises(IntegrityError, match="wrong password"):
        crypto.load_keypair(path, password="wrong")
    with pytest.raises(NexusError, match="empty"):
        kp.save(tmp_path / "x.nxkey", password="")
    with pytest.raises(NexusError, match="does not exist"):
        crypto.load_keypair(tmp_path / "missing.nxkey", password="pw")


def test_saving_never_replaces_another_key_silently(kp, other, tmp_path):
    path = tmp_path / "me.nxkey"
    kp.save(path, password="pw", cost=10)
    kp.public.save(tmp_path / "me.nxpub")
    with pytest.raises(NexusError, match=r"me.nxkey' exists: it holds a private key.*"
                                         r"overwrite=True"):
        other.save(path, password="pw", cost=10)
    with pytest.raises(NexusError, match=r"me.nxpub' exists and holds another public key"):
        other.public.save(tmp_path / "me.nxpub")
    assert nx.crypto.load_keypair(path, password="pw").public == kp.public
    assert nx.crypto.PublicKey.load(tmp_path / "me.nxpub") == kp.public
    assert sorted(p.name for p in tmp_path.iterdir()) == ["me.nxkey", "me.nxpub"]
    kp.public.save(tmp_path / "me.nxpub")  # the same bundle again: nothing to lose
    other.save(path, password="pw", cost=10, overwrite=True)
    other.public.save(tmp_path / "me.nxpub", overwrite=True)
    assert nx.crypto.load_keypair(path, password="pw").public == other.public
    assert nx.crypto.PublicKey.load(tmp_path / "me.nxpub") == other.public


def test_a_public_key_given_for_the_private_one_is_named(kp, tmp_path):
    pub = kp.public
    said = rf"\({pub.fingerprint_hex}\) is a public key; {{}} needs the private key"
    with pytest.raises(NexusError, match=said.format("signing")):
        nx.crypto.sign(b"x", pub)
    blob = nx.crypto.seal(b"x", [pub])
    with pytest.raises(NexusError, match=said.format("opening a sealed object")):
        nx.crypto.open_sealed(blob, pub)
    with pytest.raises(NexusError, match=said.format("signing the audit log's checkpoints")):
        nx.crypto.AuditLog(tmp_path / "audit.db", signer=pub)
    pub.save(tmp_path / "me.nxpub")
    with pytest.raises(NexusError, match=r"me.nxpub' is a public key; signing, opening sealed "
                                         r"files and signing audit checkpoints need the "
                                         r"private key file \(.nxkey\)"):
        nx.crypto.load_keypair(tmp_path / "me.nxpub", password="pw")
    with pytest.raises(NexusError, match=r"got the path .*PublicKey.load"):
        nx.crypto.verify(b"x", nx.crypto.sign(b"x", kp), str(tmp_path / "me.nxpub"))


def test_key_file_flips_are_detected(kp, tmp_path):
    data = kp.save(tmp_path / "k.nxkey", password="pw", cost=10).read_bytes()
    for pos in range(0, len(data), 97):
        bad = bytearray(data)
        bad[pos] ^= 0x01
        (tmp_path / "bad.nxkey").write_bytes(bytes(bad))
        with pytest.raises(NexusError):
            crypto.load_keypair(tmp_path / "bad.nxkey", password="pw")


def test_secrets_never_show(kp, tmp_path):
    secrets = [kp._kem_sk, kp._x_sk, kp._sign_sk, kp._ed_sk]
    text = repr(kp) + str(kp) + repr(kp.public)
    assert all(s.hex() not in text for s in secrets)
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(kp)
    kp.save(tmp_path / "k.nxkey", password="pw", cost=10)
    raw = (tmp_path / "k.nxkey").read_bytes()
    assert all(s not in raw for s in secrets)  # encrypted at rest
    try:
        crypto.load_keypair(tmp_path / "k.nxkey", password="nope")
    except IntegrityError as err:
        assert "nope" not in str(err)


def test_newer_or_foreign_formats_are_named(kp):
    data = bytearray(kp.public.to_bytes())
    data[4] = 9
    with pytest.raises(NexusError, match="upgrade"):
        crypto.PublicKey.from_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="not a NEXUS public key bundle"):
        crypto.PublicKey.from_bytes(b"PK\x03\x04 a zip file")
    with pytest.raises(IntegrityError, match="truncated"):
        crypto.PublicKey.from_bytes(kp.public.to_bytes()[:-5])
    with pytest.raises(NexusError, match="unknown signature algorithm"):
        crypto.generate_keypair(sign_algorithm="RSA-2048")


# ----------------------------------------------------------------------------- signatures


def test_signing_input_is_documented_encoding(tmp_path):
    data = b"ledger 2026-11"
    want = b"NEXUS-Lab signature v1\x00" + hashlib.sha512(data).digest()
    assert crypto.signing_input(data) == want
    f = tmp_path / "ledger.csv"
    f.write_bytes(data)
    assert crypto.signing_input(f) == want and crypto.signing_input(str(f)) == want
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    assert crypto.signing_input(df) == (b"NEXUS-Lab signature v1\x00"
                                        + hashlib.sha512(frame_bytes(df)).digest())
    assert crypto.signing_input(df) == crypto.signing_input(df.copy())
    assert crypto.signing_input(df) != crypto.signing_input(df.assign(a=[1, 3]))
    with pytest.raises(NexusError, match="no such file"):
        crypto.signing_input("not a file.txt")
    with pytest.raises(NexusError, match="cannot sign a int"):
        crypto.signing_input(3)


def test_signature_verifies_with_dilithium_py(kp):
    """Interoperability: plain FIPS 204, checked by an independent implementation."""
    from dilithium_py.ml_dsa import ML_DSA_65

    data = b"match results, run 42"
    sig = crypto.sign(data, kp)
    assert ML_DSA_65.verify(kp.public.pq_sign, crypto.signing_input(data), sig.pq)
    assert not ML_DSA_65.verify(kp.public.pq_sign, crypto.signing_input(b"other"), sig.pq)
    # and the other way: dilithium-py's signature under our key encoding is accepted by
    # the backend (same FIPS 204 bytes)
    pk, sk = ML_DSA_65.keygen()
    m = crypto.signing_input(data)
    assert _backend.SIGNERS["ML-DSA-65"].verify(pk, m, ML_DSA_65.sign(sk, m))
    # the Ed25519 half is RFC 8032 over the same bytes
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    Ed25519PublicKey.from_public_bytes(kp.public.ed25519).verify(sig.classical, m)


def test_both_backends_make_the_same_kind_of_signature(kp):
    m = crypto.signing_input(b"x")
    sig = crypto.sign(b"x", kp)
    assert _backend.PQCRYPTO_ML_DSA_65.verify(kp.public.pq_sign, m, sig.pq)
    pk, sk = _backend.PQCRYPTO_ML_DSA_65.keygen()
    assert _backend.SIGNERS["ML-DSA-65"].verify(pk, m, _backend.PQCRYPTO_ML_DSA_65.sign(sk, m))


def test_sign_verify_round_trips_and_names_failures(kp, other, tmp_path):
    sig = crypto.sign(b"report", kp)
    assert crypto.verify(b"report", crypto.Signature.from_bytes(sig.to_bytes()), kp.public)
    assert crypto.verify(b"report", sig.to_bytes(), kp)
    with pytest.raises(IntegrityError, match="ML-DSA-65 signature does not verify"):
        crypto.verify(b"report!", sig, kp.public)
    with pytest.raises(IntegrityError, match="made by key"):
        crypto.verify(b"report", sig, other.public)
    forged = crypto.Signature(sig.algorithm, sig.signer, sig.pq, bytes(64))
    with pytest.raises(IntegrityError, match="Ed25519"):
        crypto.verify(b"report", forged, kp.public)
    f = tmp_path / "evidence.pdf"
    f.write_bytes(b"%PDF-1.7 ..." * 1000)
    assert crypto.verify(f, crypto.sign(f, kp), kp.public)
    with pytest.raises(NexusError, match="is a public key; signing needs the private key"):
        crypto.sign(b"x", kp.public)


def test_slh_dsa_option(kp):
    slh = crypto.generate_keypair("archive", sign_algorithm="SLH-DSA-SHA2-128f")
    sig = crypto.sign(b"archive", slh)
    assert sig.algorithm == "SLH-DSA-SHA2-128f" and len(sig.pq) == 17088
    assert crypto.verify(b"archive", crypto.Signature.from_bytes(sig.to_bytes()), slh.public)
    with pytest.raises(IntegrityError, match="SLH-DSA-SHA2-128f signature does not verify"):
        crypto.verify(b"archivE", sig, slh.public)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300), where=st.floats(0, 1, exclude_max=True),
       bit=st.integers(0, 7))
def test_any_flipped_signature_byte_fails(kp, data, where, bit):
    blob = bytearray(crypto.sign(data, kp).to_bytes())
    pos = int(where * len(blob))
    blob[pos] ^= 1 << bit
    with pytest.raises(NexusError):  # IntegrityError, or an "upgrade" for the version byte
        crypto.verify(data, bytes(blob), kp.public)


# ----------------------------------------------------------------------------- Merkle


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 63, 64, 65, 511, 513, 1000])
def test_every_proof_verifies_and_no_other_record_does(n):
    records = [f"record {i}" for i in range(n)]
    tree = crypto.MerkleTree(records)
    for i in range(n):
        p = tree.proof(i)
        assert crypto.verify_proof(records[i], p, tree.root, n)
        assert crypto.verify_proof(records[i], p.to_bytes(), tree.root_hex, n)
        if n > 1:
            with pytest.raises(IntegrityError, match="does not lead to root"):
                crypto.verify_proof(records[(i + 1) % n], p, tree.root, n)


def test_merkle_layout_is_the_documented_one():
    h = hashlib.sha256
    recs = [bytes([65 + i]) for i in range(9)]
    leaves = [h(b"\x00" + r).digest() for r in recs]
    node = h(b"\x01" + b"".join(leaves[:8])).digest()
    assert crypto.MerkleTree(recs).root == h(b"\x01" + node + leaves[8]).digest()
    assert crypto.MerkleTree(recs[:3]).root == h(b"\x01" + b"".join(leaves[:3])).digest()
    assert crypto.MerkleTree([b"A"]).root == leaves[0]


def test_merkle_bad_input():
    with pytest.raises(NexusError, match="at least one"):
        crypto.MerkleTree([])
    with pytest.raises(NexusError, match="record 1 is a int"):
        crypto.MerkleTree([b"a", 3])
    with pytest.raises(NexusError, match="out of range"):
        crypto.MerkleTree([b"a"]).proof(1)
    tree = crypto.MerkleTree([b"a", b"b", b"c"])
    short = crypto.MerkleProof(0, 3, tree.proof(0).siblings[:1])
    with pytest.raises(IntegrityError, match="malformed"):
        crypto.verify_proof(b"a", short, tree.root, 3)


def test_a_proof_is_bound_to_the_record_count():
    """Record 0 of 9 and of 11 records takes the same path: a proof that claims 11 for
    the 9-record root must fail, in a bare proof and in a batch record's signature."""
    records = [f"record {i}".encode() for i in range(9)]
    tree = crypto.MerkleTree(records)
    forged = crypto.MerkleProof(0, 11, tree.proof(0).siblings)
    with pytest.raises(IntegrityError, match=r"the proof is for a tree of 11 records, the "
                                             r"root is of 9"):
        crypto.verify_proof(records[0], forged, tree.root, 9)
    with pytest.raises(IntegrityError, match="11 records"):
        crypto.verify_proof(records[0], forged.to_bytes(), tree.root, tree.count)
    with pytest.raises(NexusError, match="count must be a positive"):
        crypto.verify_proof(records[0], tree.proof(0), tree.root, 0)
    kp = crypto.generate_keypair()
    batch = crypto.sign_batch(records, kp)
    s = batch.record(0)
    lying = crypto.Signature(s.algorithm, s.signer, s.pq, s.classical, forged)
    with pytest.raises(IntegrityError, match="does not verify"):
        crypto.verify(records[0], lying, kp.public)


# The records are distinct: with two equal records, the proof of one with its position
# flipped is the (valid) proof of the other, which is the same record. Every byte counts,
# the record count (bytes 5-12) too: it must be the count the root was given with.


@settings(max_examples=80, deadline=None)
@given(records=st.lists(st.binary(max_size=40), min_size=2, max_size=40, unique=True),
       data=st.data())
def test_any_flipped_proof_byte_fails(records, data):
    tree = crypto.MerkleTree(records)
    i = data.draw(st.integers(0, len(records) - 1))
    blob = bytearray(tree.proof(i).to_bytes())
    pos = data.draw(st.integers(0, len(blob) - 1))
    blob[pos] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(NexusError):
        crypto.verify_proof(records[i], bytes(blob), tree.root, len(records))


# ----------------------------------------------------------------------------- batches


def test_batch_signature_each_record_alone_and_all_at_once(kp, other):
    records = [f"flag {i}: cleared by alice".encode() for i in range(2_000)]
    batch = crypto.sign_batch(records, kp)
    assert crypto.verify_batch(records, batch, kp.public)
    assert crypto.verify_batch(records, crypto.BatchSignature.from_bytes(batch.to_bytes()),
                               kp.public)
    one = crypto.Signature.from_bytes(batch.record(1234).to_bytes())
    assert crypto.verify(records[1234], one, kp.public)
    # FIPS 204 contract: the pq part signs signing_input(statement)
    from dilithium_py.ml_dsa import ML_DSA_65

    assert ML_DSA_65.verify(kp.public.pq_sign, crypto.signing_input(batch.statement), one.pq)
    with pytest.raises(IntegrityError, match="does not verify"):
        crypto.verify(records[1235], one, kp.public)
    changed = [*records[:10], b"flag 10: not cleared", *records[11:]]
    with pytest.raises(IntegrityError, match="records differ"):
        crypto.verify_batch(changed, batch, kp.public)
    with pytest.raises(IntegrityError, match="2000 records, 1999"):
        crypto.verify_batch(records[:-1], batch, kp.public)
    with pytest.raises(IntegrityError, match="made by key"):
        crypto.verify_batch(records, batch, other.public)
