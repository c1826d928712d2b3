"""Hybrid post-quantum key pairs, their public bundles and password-protected key files.

A key pair holds four keys: ML-KEM-768 and X25519 for encryption (a sealed object is
safe while either holds), ML-DSA-65 (or an SLH-DSA set) and Ed25519 for signing.

Public bundle, format ``NXPK`` version 1 (all integers big-endian)::

    "NXPK" | u8 version = 1 | u8 signature algorithm id (1 = ML-DSA-65, 16.. = SLH-DSA)
    | u16 len + label (UTF-8) | u16 len + ML-KEM-768 public key (1184 bytes)
    | X25519 public key (32) | u16 len + ML-DSA / SLH-DSA public key | Ed25519 public key (32)

Its fingerprint is the SHA-256 of those bytes.

Key file, format ``NXKY`` version 1::

    "NXKY" | u8 version = 1 | u8 log2(scrypt N) | u8 scrypt r | u8 scrypt p | salt (16)
    | nonce (12) | u32 len + public bundle | u32 len + AES-256-GCM ciphertext

The AES key is scrypt(password, salt, N, r, p); the additional authenticated data is
every byte before the ciphertext. The plaintext holds the secret keys as
``u16 len + ML-KEM seed (64) | X25519 (32) | u32 len + signing secret key | Ed25519 (32)``.
Secret keys never appear in a repr, a log or an exception.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from nexus_lab.crypto._backend import KEM, Signer, signer
from nexus_lab.crypto._format import Reader, check_magic, lp16, lp32
from nexus_lab.errors import IntegrityError, NexusError

__all__ = ["KeyPair", "PublicKey", "generate_keypair", "load_keypair"]

_PUB_MAGIC = b"NXPK"
_KEY_MAGIC = b"NXKY"
_VERSION = 1
_SCRYPT_LOG2_N = 17  # 128 MiB, about 0.4 s: OWASP's interactive-login floor is 2**17
_MAX_LABEL = 1024


class PublicKey:
    """The shareable half of a :class:`KeyPair`: give it to whoever seals for you or
    verifies your signatures.

    Attributes
    ----------
    label : str
        Who the key belongs to (free text, part of the fingerprint).
    pq_kem : bytes
        The raw ML-KEM-768 encapsulation key (FIPS 203, 1184 bytes).
    pq_sign : bytes
        The raw ML-DSA-65 (FIPS 204) or SLH-DSA (FIPS 205) public key.
    x25519, ed25519 : bytes
        The raw classical public keys (32 bytes each).
    sign_algorithm : str
        ``"ML-DSA-65"`` or an SLH-DSA parameter set.

    Examples
    --------
    >>> import nexus_lab as nx
    >>> pub = nx.crypto.generate_keypair(label="examiner").public
    >>> nx.crypto.PublicKey.from_bytes(pub.to_bytes()) == pub
    True
    >>> len(pub.pq_kem), len(pub.pq_sign)
    (1184, 1952)
    """

    __slots__ = ("_bytes", "ed25519", "label", "pq_kem", "pq_sign", "sign_algorithm", "x25519")

    def __init__(self, *, label: str, pq_kem: bytes, x25519: bytes, pq_sign: bytes,
                 ed25519: bytes, sign_algorithm: str = "ML-DSA-65") -> None:
        if len(label.encode()) > _MAX_LABEL:
            raise NexusError(f"key label is longer than {_MAX_LABEL} bytes; shorten it")
        self.label = label
        self.pq_kem = bytes(pq_kem)
        self.x25519 = bytes(x25519)
        self.pq_sign = bytes(pq_sign)
        self.ed25519 = bytes(ed25519)
        self.sign_algorithm = signer(sign_algorithm).name
        self._bytes = b"".join([
            _PUB_MAGIC, bytes([_VERSION, signer(sign_algorithm).ident]),
            lp16(label.encode()), lp16(self.pq_kem), self.x25519, lp16(self.pq_sign),
            self.ed25519,
        ])

    def to_bytes(self) -> bytes:
        """The public bundle in format ``NXPK`` v1 (see the module docstring)."""
        return self._bytes

    @classmethod
    def from_bytes(cls, data: bytes) -> PublicKey:
        """Read a public bundle written by :meth:`to_bytes`.

        Raises
        ------
        IntegrityError
            When ``data`` is not a well-formed bundle.
        """
        r = Reader(data, "public key bundle")
        check_magic(r, _PUB_MAGIC, _VERSION, "public key bundle")
        alg = signer(r.u8())
        try:
            label = r.lp16().decode()
        except UnicodeDecodeError:
            raise IntegrityError("public key bundle is corrupted: its label is not UTF-8") \
                from None
        kem, x, sig, ed = r.lp16(), r.take(32), r.lp16(), r.take(32)
        r.done()
        if len(kem) != KEM.public_key_size:
            raise IntegrityError(
                f"public key bundle is corrupted: its ML-KEM-768 key has {len(kem)} bytes, "
                f"expected {KEM.public_key_size}"
            )
        return cls(label=label, pq_kem=kem, x25519=x, pq_sign=sig, ed25519=ed,
                   sign_algorithm=alg.name)

    @property
    def fingerprint(self) -> bytes:
        """SHA-256 of the bundle: names this key in sealed files and signatures."""
        return hashlib.sha256(self._bytes).digest()

    @property
    def fingerprint_hex(self) -> str:
        """The first 16 bytes of :attr:`fingerprint` in hex, for people to compare."""
        return self.fingerprint[:16].hex()

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
        """Write the bundle to a file (atomically); read it back with :meth:`load`.

        A file already at ``path`` is left alone when it holds this same bundle, and
        refused when it holds anything else (another key's bundle), unless
        ``overwrite=True``.
        """
        p = Path(path)
        if not overwrite and p.is_file():
            try:
                same = p.read_bytes() == self._bytes
            except OSError:
                same = False
            if same:
                return p
            raise NexusError(f"{str(p)!r} exists and holds another public key (or other "
                             "data): choose another path, or pass overwrite=True to replace "
                             "it")
        _write(p, self._bytes, private=False, overwrite=overwrite, what="a public key")
        return p

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> PublicKey:
        """Read a bundle written by :meth:`save` (or a key file: its public half)."""
        data = _read(path, "public key")
        if data[:4] == _KEY_MAGIC:
            return _parse_key_file(data)[0]
        return cls.from_bytes(data)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other._bytes == self._bytes

    def __hash__(self) -> int:
        return hash(self._bytes)

    def __repr__(self) -> str:
        return (f"PublicKey(label={self.label!r}, fingerprint={self.fingerprint_hex!r}, "
                f"kem='ML-KEM-768+X25519', sign='{self.sign_algorithm}+Ed25519')")


class KeyPair:
    """A hybrid post-quantum key pair: decrypts what is sealed for it and signs.

    Make one with :func:`generate_keypair`, keep it with :meth:`save` and read it back
    with :func:`load_keypair`. Share :attr:`public`, never the pair.

    Examples
    --------
    >>> import nexus_lab as nx
    >>> kp = nx.crypto.generate_keypair(label="examiner")
    >>> kp.label, kp.public.sign_algorithm
    ('examiner', 'ML-DSA-65')
    """

    __slots__ = ("_ed_sk", "_kem_sk", "_sign_sk", "_x_sk", "public")

    def __init__(self, public: PublicKey, *, kem_sk: bytes, x25519_sk: bytes, sign_sk: bytes,
                 ed25519_sk: bytes) -> None:
        self.public = public
        self._kem_sk = bytes(kem_sk)
        self._x_sk = bytes(x25519_sk)
        self._sign_sk = bytes(sign_sk)
        self._ed_sk = bytes(ed25519_sk)

    @property
    def label(self) -> str:
        return self.public.label

    @property
    def fingerprint(self) -> bytes:
        """The public bundle's fingerprint (:attr:`PublicKey.fingerprint`)."""
        return self.public.fingerprint

    @property
    def signer(self) -> Signer:
        return signer(self.public.sign_algorithm)

    def save(self, path: str | os.PathLike[str], *, password: str | bytes,
             cost: int = _SCRYPT_LOG2_N, overwrite: bool = False) -> Path:
        """Write the key pair encrypted with ``password`` (scrypt, AES-256-GCM).

        Parameters
        ----------
        path : str or path-like
            The key file, written atomically and readable by its owner only. A file
            already there is refused (replacing a private key loses it, and leaves its
            ``.nxpub`` naming another key) unless ``overwrite``.
        password : str or bytes
            Not empty. Lose it and the keys are lost.
        cost : int, default 17
            log2 of scrypt's N (memory 128 * 2**cost bytes). Lower it only for tests.
        overwrite : bool, default False
            Replace a file at ``path``.

        Returns
        -------
        pathlib.Path

        Raises
        ------
        NexusError
            ``path`` exists (and not ``overwrite``), or cannot be written.

        Examples
        --------
        >>> import nexus_lab as nx, tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "me.nxkey"
        >>> _ = nx.crypto.generate_keypair("me").save(path, password="pw", cost=10)
        >>> nx.crypto.generate_keypair("other").save(path, password="pw", cost=10)
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        nexus_lab.errors.NexusError: '...me.nxkey' exists: it holds a private key ...
        """
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        p = Path(path)
        if not overwrite and (p.exists() or p.is_symlink()):
            raise NexusError(_EXISTS.format(path=str(p)))
        if not 10 <= int(cost) <= 22:
            raise NexusError(f"cost={cost}: scrypt's log2 N must be between 10 and 22")
        salt, nonce = os.urandom(16), os.urandom(12)
        head = b"".join([_KEY_MAGIC, bytes([_VERSION, int(cost), 8, 1]), salt, nonce,
                         lp32(self.public.to_bytes())])
        secret = b"".join([lp16(self._kem_sk), self._x_sk, lp32(self._sign_sk), self._ed_sk])
        key = _scrypt(password, salt, int(cost), 8, 1)
        body = AESGCM(key).encrypt(nonce, secret, head)
        _write(p, head + lp32(body), private=True, overwrite=overwrite, what="a private key")
        return p

    def __repr__(self) -> str:
        return (f"KeyPair(label={self.label!r}, fingerprint={self.public.fingerprint_hex!r}, "
                f"sign='{self.public.sign_algorithm}+Ed25519')")

    def __reduce__(self):
        raise TypeError("a KeyPair is not picklable: save it with .save(path, password=...)")


def generate_keypair(label: str = "", *, sign_algorithm: str = "ML-DSA-65") -> KeyPair:
    """Make a fresh hybrid key pair.

    Parameters
    ----------
    label : str, optional
        Who the key is for ("examiner@agency"); shown beside the fingerprint.
    sign_algorithm : str, default "ML-DSA-65"
        ``"ML-DSA-65"`` (FIPS 204) or a FIPS 205 set such as ``"SLH-DSA-SHA2-128s"``
        (hash-based: slower, larger signatures, the most conservative assumption).

    Returns
    -------
    KeyPair
        ML-KEM-768 + X25519 for sealing, the signature algorithm + Ed25519 for signing.

    Examples
    --------
    >>> import nexus_lab as nx
    >>> kp = nx.crypto.generate_keypair("judge", sign_algorithm="SLH-DSA-SHA2-128f")
    >>> kp.public.sign_algorithm
    'SLH-DSA-SHA2-128f'
    """
    from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

    alg = signer(sign_algorithm)
    kem_pk, kem_sk = KEM.keygen()
    sign_pk, sign_sk = alg.keygen()
    x_sk, ed_sk = x25519.X25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    public = PublicKey(label=label, pq_kem=kem_pk, x25519=x_sk.public_key().public_bytes_raw(),
                       pq_sign=sign_pk, ed25519=ed_sk.public_key().public_bytes_raw(),
                       sign_algorithm=alg.name)
    return KeyPair(public, kem_sk=kem_sk, x25519_sk=x_sk.private_bytes_raw(), sign_sk=sign_sk,
                   ed25519_sk=ed_sk.private_bytes_raw())


def load_keypair(
    path: str | os.PathLike[str], *, password: str | bytes | Callable[[], str | bytes]
) -> KeyPair:
    """Read a key pair written by :meth:`KeyPair.save`.

    Parameters
    ----------
    path : str or path-like
        The key file (``.nxkey``).
    password : str, bytes or callable
        Its password, or a function that returns it: called only once the file is
        known to be a private key file, so that nobody is asked for a password for a
        missing file or a public key.

    Raises
    ------
    IntegrityError
        Wrong password, or the file was altered (the two cannot be told apart).
    NexusError
        The file is missing, or is not a NEXUS key file.

    Examples
    --------
    >>> import nexus_lab as nx, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "me.nxkey"
    >>> _ = nx.crypto.generate_keypair("me").save(path, password="correct horse", cost=10)
    >>> nx.crypto.load_keypair(path, password="correct horse").label
    'me'
    """
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    data = _read(path, "key file")
    if data[:4] == _PUB_MAGIC:
        raise NexusError(f"{str(path)!r} is a public key; signing, opening sealed files and "
                         "signing audit checkpoints need the private key file (.nxkey) it "
                         "was made with")
    public, params, nonce, head, body = _parse_key_file(data)
    if callable(password):
        password = password()
    try:
        secret = AESGCM(_scrypt(password, *params)).decrypt(nonce, body, head)
    except InvalidTag:
        raise IntegrityError(
            f"cannot open the key file {str(path)!r}: wrong password, or the file was altered"
        ) from None
    r = Reader(secret, "key file's secret keys")
    kem_sk, x_sk, sign_sk, ed_sk = r.lp16(), r.take(32), r.lp32(), r.take(32)
    r.done()
    alg = signer(public.sign_algorithm)
    match = (
        KEM.public_from_secret(kem_sk) == public.pq_kem
        and alg.public_from_secret(sign_sk) == public.pq_sign
        and x25519.X25519PrivateKey.from_private_bytes(x_sk).public_key().public_bytes_raw()
        == public.x25519
        and ed25519.Ed25519PrivateKey.from_private_bytes(ed_sk).public_key().public_bytes_raw()
        == public.ed25519
    )
    if not match:
        raise IntegrityError(f"the key file {str(path)!r} holds secret keys that do not match "
                             "its public keys; it is corrupted")
    return KeyPair(public, kem_sk=kem_sk, x25519_sk=x_sk, sign_sk=sign_sk, ed25519_sk=ed_sk)


def _parse_key_file(data: bytes):
    r = Reader(data, "key file")
    check_magic(r, _KEY_MAGIC, _VERSION, "key file")
    log2n, rr, pp = r.u8(), r.u8(), r.u8()
    if not (10 <= log2n <= 22 and 1 <= rr <= 32 and 1 <= pp <= 16):
        raise IntegrityError("key file is corrupted: its scrypt parameters are out of range")
    salt, nonce = r.take(16), r.take(12)
    public = PublicKey.from_bytes(r.lp32())
    head_end = r.pos
    body = r.lp32()
    r.done()
    return public, (salt, log2n, rr, pp), nonce, bytes(data[:head_end]), body


def _scrypt(password: str | bytes, salt: bytes, log2n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    pw = password.encode() if isinstance(password, str) else bytes(password)
    if not pw:
        raise NexusError("the password is empty; choose a passphrase")
    return Scrypt(salt=salt, length=32, n=2**log2n, r=r, p=p).derive(pw)


def need_keypair(key: object, doing: str) -> KeyPair:
    """``key`` when it is a :class:`KeyPair`; else a NexusError saying what ``doing``
    needs (a public key given for a private one is named as such).

    Examples
    --------
    >>> kp = generate_keypair("examiner")
    >>> need_keypair(kp, "signing") is kp
    True
    """
    if isinstance(key, KeyPair):
        return key
    if isinstance(key, PublicKey):
        raise NexusError(f"{key.label or 'the key'} ({key.fingerprint_hex}) is a public key; "
                         f"{doing} needs the private key: load its key file (.nxkey) with "
                         "nx.crypto.load_keypair(path, password=...)")
    if isinstance(key, (str, os.PathLike)):
        raise NexusError(f"{doing} needs a KeyPair, got the path {os.fspath(key)!r}: load "
                         "the key file with nx.crypto.load_keypair(path, password=...)")
    raise NexusError(f"{doing} needs a KeyPair (nx.crypto.generate_keypair() or "
                     f"load_keypair), got {type(key).__name__}")


_EXISTS = ("{path!r} exists: it holds a private key (or other data) that would be lost, "
           "and its .nxpub would no longer match; choose another path, or pass "
           "overwrite=True to replace it")


def _write(path: Path, data: bytes, *, private: bool, overwrite: bool, what: str) -> None:
    """Write ``data`` to ``path`` whole or not at all; unless ``overwrite``, only as a
    new file (a file that appears there meanwhile is not replaced either)."""
    from nexus_lab.files import atomic_file

    if overwrite:
        with atomic_file(path, private=private) as tmp:
            tmp.write_bytes(data)
        return
    side = path.with_name(f".{path.name}.new")
    with atomic_file(side, private=private) as tmp:
        tmp.write_bytes(data)
    try:
        os.link(side, path)  # fails when path exists: never replaces it
    except FileExistsError:
        raise NexusError(_EXISTS.format(path=str(path)) if private else
                         f"{str(path)!r} exists; choose another path, or pass "
                         "overwrite=True to replace it") from None
    except OSError as err:
        raise NexusError(f"cannot write {what} to {str(path)!r}: {err.strerror or err}") \
            from None
    finally:
        side.unlink(missing_ok=True)


def _read(path: str | os.PathLike[str], what: str) -> bytes:
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise NexusError(f"{what} {str(p)!r} does not exist") from None
    except OSError as err:
        raise NexusError(f"cannot read {what} {str(p)!r}: {err.strerror or err}") from None

