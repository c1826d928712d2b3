"""Speed of nexus_lab.crypto against the primitives it is built on, in the same process.

* Seal / open a file (1 GiB by default) against raw AES-256-GCM from ``cryptography``
  over the same file in the same 1 MiB chunks (read, encrypt, write, fsync: a sealed
  file is on disk before it is renamed into place, so the raw loop syncs too), and in
  memory against AES-GCM writing its output into one new buffer (what sealing bytes must
  produce) and AES-GCM discarding its output (the cipher alone). One core: one thread.
* Merkle root over 1M records (audit-entry-like, about 200 bytes) against hashing each
  record once with hashlib SHA-256 (the least any Merkle tree must do).
* Batch-sign 1M records and verify them all (``sign_batch`` / ``verify_batch``), and
  one record alone with its proof.
* ML-KEM-768 and ML-DSA-65 operations per second from both libraries (``cryptography``
  / OpenSSL and ``pqcrypto``), SLH-DSA from ``pqcrypto``, next to the same operation
  through nexus_lab (hybrid: the classical half included).

Usage::

    python experiments/bench_crypto.py [--size-mb 1024] [--records 1000000] [--only seal]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import nexus_lab as nx
from nexus_lab.crypto import _backend

cr = nx.crypto
MiB = 1 << 20


def _best(fn, repeat: int = 3) -> tuple[object, float]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def _rate(fn, seconds: float = 1.0) -> float:
    """Calls per second of ``fn`` over about ``seconds``."""
    fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - t0)


# ----------------------------------------------------------------------------- seal


def _raw_aes_file(src: Path, dst: Path, key: bytes) -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aes, nonce = AESGCM(key), bytearray(12)
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        i = 0
        while block := fi.read(MiB):
            nonce[4:] = i.to_bytes(8, "big")
            fo.write(aes.encrypt(bytes(nonce), block, None))
            i += 1
        fo.flush()
        os.fsync(fo.fileno())


def _raw_aes_memory(buf: bytes, key: bytes, keep: bool) -> None:
    """AES-GCM over ``buf`` in 1 MiB chunks, into one new buffer (``keep``) or discarded."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aes, mv = AESGCM(key), memoryview(buf)
    out = memoryview(bytearray(len(buf) + 16 * (-(-len(buf) // MiB)))) if keep else None
    for i, lo in enumerate(range(0, len(buf), MiB)):
        chunk = mv[lo:lo + MiB]
        if keep:
            at = lo + 16 * i
            aes.encrypt_into(i.to_bytes(12, "big"), chunk, None, out[at:at + len(chunk) + 16])
        else:
            aes.encrypt(i.to_bytes(12, "big"), chunk, None)


def bench_seal(size_mb: int, folder: Path) -> dict:
    kp = cr.generate_keypair("bench")
    src, sealed, opened, raw = (folder / n for n in ("data.bin", "data.nxs", "data.out",
                                                       "data.raw"))
    with open(src, "wb") as fh:
        for _ in range(size_mb // 64):
            fh.write(os.urandom(64 * MiB))
        fh.write(os.urandom((size_mb % 64) * MiB))
    size = src.stat().st_size
    key = os.urandom(32)

    def clean(*paths):
        for p in paths:
            p.unlink(missing_ok=True)

    _, t_raw = _best(lambda: (clean(raw), _raw_aes_file(src, raw, key)))
    _, t_seal = _best(lambda: (clean(sealed), cr.seal(src, [kp.public], out=sealed)))
    _, t_open = _best(lambda: (clean(opened), cr.open_sealed(sealed, kp, out=opened)))
    same = hashlib.sha256(src.read_bytes()).digest() == hashlib.sha256(opened.read_bytes()).digest()
    mem = os.urandom(min(size, 256 * MiB))
    _, t_mem = _best(lambda: _raw_aes_memory(mem, key, keep=False))
    _, t_keep = _best(lambda: _raw_aes_memory(mem, key, keep=True))
    blob, t_seal_mem = _best(lambda: cr.seal(mem, [kp.public]))
    _, t_open_mem = _best(lambda: cr.open_sealed(blob, kp))
    clean(src, sealed, opened, raw)
    gb = size / 1e9
    return {
        "file_bytes": size, "round_trip_identical": same,
        "raw_aes_gcm_file_GBps": gb / t_raw, "seal_file_GBps": gb / t_seal,
        "open_file_GBps": gb / t_open,
        "seal_vs_raw_file": t_seal / t_raw, "open_vs_raw_file": t_open / t_raw,
        "raw_aes_gcm_memory_discarded_GBps": len(mem) / 1e9 / t_mem,
        "raw_aes_gcm_memory_kept_GBps": len(mem) / 1e9 / t_keep,
        "seal_memory_GBps": len(mem) / 1e9 / t_seal_mem,
        "open_memory_GBps": len(mem) / 1e9 / t_open_mem,
        "seal_vs_raw_memory_kept": t_seal_mem / t_keep,
        "open_vs_raw_memory_kept": t_open_mem / t_keep,
        "seal_vs_raw_memory_discarded": t_seal_mem / t_mem,
    }


# ----------------------------------------------------------------------------- Merkle


def _records(n: int) -> list[bytes]:
    """Audit-entry-like records of about 200 bytes."""
    return [json.dumps({"seq": i, "actor": f"user{i % 97}", "action": "evidence.added",
                        "resource": f"case/C-{i % 1000}/evidence/{i}",
                        "sha256": hashlib.sha256(i.to_bytes(8, "big")).hexdigest()},
                       separators=(",", ":")).encode() for i in range(n)]


def bench_merkle(records: list[bytes]) -> dict:
    sha = hashlib.sha256
    _, t_hash = _best(lambda: [sha(r).digest() for r in records])
    tree, t_tree = _best(lambda: cr.MerkleTree(records))
    joined = b"".join(records)
    _, t_stream = _best(lambda: sha(joined).digest())
    return {"records": len(records), "mean_record_bytes": len(joined) / len(records),
            "hashlib_each_record_s": t_hash, "merkle_root_s": t_tree,
            "merkle_vs_hashlib": t_tree / t_hash,
            "hashlib_one_stream_s": t_stream, "root": tree.root_hex}


def bench_batch(records: list[bytes]) -> dict:
    kp = cr.generate_keypair("bench")
    batch, t_sign = _best(lambda: cr.sign_batch(records, kp), 1)
    _, t_verify = _best(lambda: cr.verify_batch(records, batch, kp.public), 1)
    one = batch.record(len(records) // 2)
    single = _rate(lambda: cr.verify(records[len(records) // 2], one, kp.public))
    return {"records": len(records), "sign_batch_s": t_sign, "verify_batch_s": t_verify,
            "sign_plus_verify_s": t_sign + t_verify,
            "record_signature_bytes": len(one.to_bytes()),
            "single_record_verifies_per_s": single}


# ----------------------------------------------------------------------------- primitives


def bench_ops(seconds: float) -> list[dict]:
    rows = []
    msg = cr.signing_input(b"a report to sign")
    for lib, kem in (("cryptography", _backend.KEM), ("pqcrypto", _backend.PQCRYPTO_ML_KEM_768)):
        pk, sk = kem.keygen()
        _, ct = kem.encaps(pk)
        rows += [{"op": "ML-KEM-768 keygen", "library": lib, "per_s": _rate(kem.keygen, seconds)},
                 {"op": "ML-KEM-768 encaps", "library": lib,
                  "per_s": _rate(lambda k=kem, p=pk: k.encaps(p), seconds)},
                 {"op": "ML-KEM-768 decaps", "library": lib,
                  "per_s": _rate(lambda k=kem, s=sk, c=ct: k.decaps(s, c), seconds)}]
    for s in (_backend.SIGNERS["ML-DSA-65"], _backend.PQCRYPTO_ML_DSA_65,
              _backend.SIGNERS["SLH-DSA-SHA2-128f"], _backend.SIGNERS["SLH-DSA-SHA2-128s"]):
        pk, sk = s.keygen()
        sig = s.sign(sk, msg)
        rows += [{"op": f"{s.name} keygen", "library": s.library,
                  "per_s": _rate(s.keygen, seconds)},
                 {"op": f"{s.name} sign", "library": s.library,
                  "per_s": _rate(lambda a=s, k=sk: a.sign(k, msg), seconds)},
                 {"op": f"{s.name} verify", "library": s.library,
                  "per_s": _rate(lambda a=s, p=pk, g=sig: a.verify(p, msg, g), seconds)}]
    kp = cr.generate_keypair("bench")
    sig = cr.sign(b"a report to sign", kp)
    blob = cr.seal(b"k" * 32, [kp.public])
    rows += [
        {"op": "hybrid keygen (4 key pairs)", "library": "nexus_lab",
         "per_s": _rate(lambda: cr.generate_keypair("b"), seconds)},
        {"op": "hybrid sign (ML-DSA-65 + Ed25519)", "library": "nexus_lab",
         "per_s": _rate(lambda: cr.sign(b"a report to sign", kp), seconds)},
        {"op": "hybrid verify (ML-DSA-65 + Ed25519)", "library": "nexus_lab",
         "per_s": _rate(lambda: cr.verify(b"a report to sign", sig, kp.public), seconds)},
        {"op": "seal 32 B for 1 recipient (ML-KEM + X25519 + HKDF)", "library": "nexus_lab",
         "per_s": _rate(lambda: cr.seal(b"k" * 32, [kp.public]), seconds)},
        {"op": "open 32 B", "library": "nexus_lab",
         "per_s": _rate(lambda: cr.open_sealed(blob, kp), seconds)},
    ]
    return rows


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024, help="file size for seal/open")
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--seconds", type=float, default=1.0, help="time per primitive")
    ap.add_argument("--only", nargs="*", default=["seal", "merkle", "batch", "ops"])
    ap.add_argument("--dir", default=None, help="folder for the test file (default: a temp)")
    args = ap.parse_args(argv)
    out: dict = {"machine": f"{platform.processor() or platform.machine()}, "
                 f"{os.cpu_count()} cores", "python": platform.python_version()}
    if "seal" in args.only:
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            out["seal"] = bench_seal(args.size_mb, Path(tmp))
        print(json.dumps(out["seal"], indent=1))
    if "merkle" in args.only or "batch" in args.only:
        records = _records(args.records)
        if "merkle" in args.only:
            out["merkle"] = bench_merkle(records)
            print(json.dumps(out["merkle"], indent=1))
        if "batch" in args.only:
            out["batch"] = bench_batch(records)
            print(json.dumps(out["batch"], indent=1))
    if "ops" in args.only:
        out["ops"] = bench_ops(args.seconds)
        for r in out["ops"]:
            print(f"{r['op']:<55} {r['library']:<13} {r['per_s']:>10,.0f} /s")
    return out


if __name__ == "__main__":
    main()
