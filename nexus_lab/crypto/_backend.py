"""The post-quantum primitives and which library provides each.

NEXUS Lab writes no primitive. Two libraries provide the post-quantum ones:

* ``cryptography`` (OpenSSL 3.5): ML-KEM-768 and ML-DSA-65, keys kept as their FIPS
  seeds (64 bytes for ML-KEM, 32 for ML-DSA);
* ``pqcrypto`` (Rust): ML-KEM, ML-DSA and SLH-DSA, keys kept expanded.

They are chosen per algorithm by ``experiments/bench_crypto.py`` (figures in
experiments/RESULTS.md; 2 cores, 2026-11-25):

* ML-DSA-65: OpenSSL signs 8.7x faster (1,231 against 142 signatures/s) and verifies
  as fast (6,842 against 6,608/s); its keys come from 32-byte seeds: ``cryptography``.
* ML-KEM-768: OpenSSL encapsulates faster (29,589 against 17,598/s, one per recipient
  when sealing); ``pqcrypto`` decapsulates faster (14,006 against 10,165/s) but needs the
  expanded 2,400-byte secret key, which OpenSSL does not export from a seed. Sealing is
  the common operation and seeds are what FIPS 203 recommends keeping: ``cryptography``.
* SLH-DSA: only ``pqcrypto`` has it.

The ``pqcrypto`` versions of ML-KEM-768 and ML-DSA-65 stay here for the benchmark and
the interoperability tests: they produce and accept the same bytes.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from nexus_lab.errors import DependencyError, IntegrityError, NexusError

__all__ = ["KEM", "SIGNERS", "Signer", "signer"]


class _OpenSSLMLKEM768:
    """ML-KEM-768 (FIPS 203) from ``cryptography``; the secret key is the 64-byte seed."""

    name = "ML-KEM-768"
    library = "cryptography"
    public_key_size = 1184
    ciphertext_size = 1088

    @staticmethod
    def keygen() -> tuple[bytes, bytes]:
        from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey

        sk = MLKEM768PrivateKey.generate()
        return sk.public_key().public_bytes_raw(), sk.private_bytes_raw()

    @staticmethod
    def public_from_secret(sk: bytes) -> bytes:
        from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey

        return MLKEM768PrivateKey.from_seed_bytes(sk).public_key().public_bytes_raw()

    @staticmethod
    def encaps(pk: bytes) -> tuple[bytes, bytes]:
        """Return ``(shared_secret, ciphertext)``."""
        from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PublicKey

        return MLKEM768PublicKey.from_public_bytes(pk).encapsulate()

    @staticmethod
    def decaps(sk: bytes, ct: bytes) -> bytes:
        from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey

        return MLKEM768PrivateKey.from_seed_bytes(sk).decapsulate(ct)


class _PQCryptoMLKEM768:
    """ML-KEM-768 from ``pqcrypto`` (expanded 2400-byte secret key)."""

    name = "ML-KEM-768"
    library = "pqcrypto"
    public_key_size = 1184
    ciphertext_size = 1088

    @staticmethod
    def keygen() -> tuple[bytes, bytes]:
        return _pqcrypto("kem", "ml_kem_768").keygen()

    @staticmethod
    def encaps(pk: bytes) -> tuple[bytes, bytes]:
        ct, ss = _pqcrypto("kem", "ml_kem_768").encaps(pk)
        return ss, ct

    @staticmethod
    def decaps(sk: bytes, ct: bytes) -> bytes:
        return _pqcrypto("kem", "ml_kem_768").decaps(sk, ct)


@dataclass(frozen=True)
class Signer:
    """One signature algorithm: its name, one-byte id in NEXUS formats and library."""

    name: str
    ident: int
    library: str
    module: str = ""  # pqcrypto submodule

    def keygen(self) -> tuple[bytes, bytes]:
        """Return ``(public_key, secret_key)``."""
        if self.library == "cryptography":
            from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA65PrivateKey

            sk = MLDSA65PrivateKey.generate()
            return sk.public_key().public_bytes_raw(), sk.private_bytes_raw()
        return _pqcrypto("sign", self.module).keygen()

    def public_from_secret(self, sk: bytes) -> bytes:
        """The public key of a secret key (SLH-DSA secret keys end with it)."""
        if self.library == "cryptography":
            from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA65PrivateKey

            return MLDSA65PrivateKey.from_seed_bytes(sk).public_key().public_bytes_raw()
        return sk[len(sk) // 2:]

    def sign(self, sk: bytes, message: bytes) -> bytes:
        """Pure (not pre-hashed) signature with an empty context string."""
        if self.library == "cryptography":
            from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA65PrivateKey

            return MLDSA65PrivateKey.from_seed_bytes(sk).sign(message)
        return _pqcrypto("sign", self.module).sign(sk, message)

    def verify(self, pk: bytes, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is valid; malformed keys or signatures are False."""
        if self.library == "cryptography":
            from cryptography.exceptions import InvalidSignature
            from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA65PublicKey

            try:
                MLDSA65PublicKey.from_public_bytes(pk).verify(signature, message)
            except (InvalidSignature, ValueError):
                return False
            return True
        try:
            _pqcrypto("sign", self.module).verify(pk, message, signature)
        except Exception:  # pqcrypto raises InvalidSignatureError or ValueError
            return False
        return True


def _slh(ident: int, variant: str) -> Signer:
    return Signer(f"SLH-DSA-{variant}", ident, "pqcrypto",
                  "slh_dsa_" + variant.lower().replace("-", "_"))


SIGNERS: dict[str, Signer] = {
    s.name: s
    for s in [
        Signer("ML-DSA-65", 1, "cryptography"),
        *(_slh(16 + i, v) for i, v in enumerate(
            f"{h}-{b}{s}" for h in ("SHA2", "SHAKE") for b in (128, 192, 256) for s in "sf"
        )),
    ]
}
_BY_ID = {s.ident: s for s in SIGNERS.values()}

#: The pqcrypto build of ML-DSA-65, for the benchmark and interoperability tests.
PQCRYPTO_ML_DSA_65 = Signer("ML-DSA-65", 1, "pqcrypto", "ml_dsa_65")
KEM = _OpenSSLMLKEM768
PQCRYPTO_ML_KEM_768 = _PQCryptoMLKEM768


def signer(name_or_id: str | int) -> Signer:
    """The :class:`Signer` for an algorithm name (``"ML-DSA-65"``) or format id."""
    if isinstance(name_or_id, int):
        try:
            return _BY_ID[name_or_id]
        except KeyError:
            raise IntegrityError(
                f"unknown signature algorithm id {name_or_id}: the data was made by a newer "
                "NEXUS Lab or is corrupted"
            ) from None
    try:
        return SIGNERS[name_or_id]
    except KeyError:
        raise NexusError(
            f"unknown signature algorithm {name_or_id!r}; choose one of {sorted(SIGNERS)}"
        ) from None


def _pqcrypto(kind: str, module: str) -> Any:
    try:
        return importlib.import_module(f"pqcrypto.{kind}.{module}")
    except ImportError as exc:  # pragma: no cover - pqcrypto is a dependency
        raise DependencyError(
            "SLH-DSA needs pqcrypto 1.x: pip install 'pqcrypto>=1,<2'"
        ) from exc
