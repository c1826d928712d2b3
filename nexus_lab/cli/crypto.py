"""``nexus-lab keys|seal|open|sign|verify``: keys, sealed files and signatures.

Commands::

    nexus-lab keys new KEYFILE [--label TEXT] [--algorithm ML-DSA-65]
    nexus-lab keys show FILE
    nexus-lab seal FILE --to PUB [--to PUB ...] [--out FILE.nxs]
    nexus-lab open FILE.nxs --key KEYFILE [--out FILE]
    nexus-lab sign FILE --key KEYFILE [--out FILE.sig]
    nexus-lab verify FILE --pub PUB [--sig FILE.sig]

A key file's password comes from the ``NEXUS_LAB_KEY_PASSWORD`` environment variable,
else it is asked for on the terminal. A public key (``PUB``) is a ``.nxpub`` bundle
or a key file (its public half is read without the password).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nexus_lab.cli._common import PASSWORD_ENV, fresh, load_key, load_public, password
from nexus_lab.errors import NexusError


def register(sub: Any) -> None:
    """Register ``keys``, ``seal``, ``open``, ``sign`` and ``verify``."""
    keys = sub.add_parser("keys", help="make and inspect post-quantum key pairs")
    keys_sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    new = keys_sub.add_parser(
        "new", help="make a key pair",
        description="Make a hybrid key pair (ML-KEM-768 + X25519 to open sealed files, "
        "ML-DSA-65 or SLH-DSA + Ed25519 to sign). Writes KEYFILE, encrypted with a password "
        f"(from ${PASSWORD_ENV} or asked for), and KEYFILE's public bundle beside it with "
        "the suffix .nxpub, to share.")
    new.add_argument("keyfile", help="the key file to write (e.g. me.nxkey)")
    new.add_argument("--label", default="", help="who the key is for (e.g. examiner@agency)")
    new.add_argument("--algorithm", default="ML-DSA-65",
                     help="signature algorithm: ML-DSA-65 (default) or an SLH-DSA set, "
                     "e.g. SLH-DSA-SHA2-128s")
    new.set_defaults(func=_cmd_keys_new)
    show = keys_sub.add_parser("show", help="show a key's label, fingerprint and algorithms")
    show.add_argument("file", help="a key file or a public bundle")
    show.set_defaults(func=_cmd_keys_show)

    seal = sub.add_parser(
        "seal", help="encrypt a file for named recipients",
        description="Encrypt FILE for every --to public key (ML-KEM-768 + X25519, "
        "AES-256-GCM in authenticated chunks); any of them can open it.")
    seal.add_argument("file", help="the file to encrypt")
    seal.add_argument("--to", action="append", required=True, metavar="PUB",
                      help="a recipient's public bundle or key file (repeatable)")
    seal.add_argument("--out", default=None, help="the sealed file (default FILE.nxs)")
    seal.set_defaults(func=_cmd_seal)

    opn = sub.add_parser("open", help="decrypt a sealed file",
                         description="Decrypt a sealed file with your key file; nothing is "
                         "written unless every chunk authenticates.")
    opn.add_argument("file", help="the sealed file (.nxs)")
    opn.add_argument("--key", required=True, help="your key file")
    opn.add_argument("--out", default=None,
                     help="where to write (default: FILE without .nxs; never overwritten)")
    opn.set_defaults(func=_cmd_open)

    sign = sub.add_parser("sign", help="sign a file (ML-DSA-65 + Ed25519)")
    sign.add_argument("file", help="the file to sign")
    sign.add_argument("--key", required=True, help="your key file")
    sign.add_argument("--out", default=None, help="the signature (default FILE.sig)")
    sign.set_defaults(func=_cmd_sign)

    ver = sub.add_parser("verify", help="check a file's signature",
                         description="Check FILE against its signature and the signer's "
                         "public key; exit status 1 when it does not verify.")
    ver.add_argument("file", help="the signed file")
    ver.add_argument("--pub", required=True, help="the signer's public bundle or key file")
    ver.add_argument("--sig", default=None, help="the signature (default FILE.sig)")
    ver.set_defaults(func=_cmd_verify)



# ----------------------------------------------------------------------------- commands


def _cmd_keys_new(args: argparse.Namespace) -> int:
    from nexus_lab.crypto import generate_keypair

    key = fresh(Path(args.keyfile))
    pub = fresh(key.with_suffix(".nxpub"))
    kp = generate_keypair(args.label, sign_algorithm=args.algorithm)
    pw = password(f"password for {key}: ", confirm=True)
    kp.save(key, password=pw)
    kp.public.save(pub)
    print(f"wrote {key} (keep it; password-protected) and {pub} (share it)")
    print(f"  fingerprint {kp.public.fingerprint_hex}  {kp.public.sign_algorithm}+Ed25519, "
          "ML-KEM-768+X25519")
    return 0


def _cmd_keys_show(args: argparse.Namespace) -> int:
    pub = load_public(args.file)
    print(f"label:       {pub.label or '(none)'}")
    print(f"fingerprint: {pub.fingerprint.hex()}")
    print("sealing:     ML-KEM-768 + X25519")
    print(f"signing:     {pub.sign_algorithm} + Ed25519")
    return 0


def _cmd_seal(args: argparse.Namespace) -> int:
    from nexus_lab.crypto import seal

    recipients = [load_public(p) for p in args.to]
    out = fresh(Path(args.out) if args.out else Path(args.file + ".nxs"))
    seal(args.file, recipients, out=out)
    print(f"sealed {args.file} -> {out} ({out.stat().st_size:,} bytes) for "
          + ", ".join(f"{r.label or '?'} ({r.fingerprint_hex})" for r in recipients))
    return 0


def _cmd_open(args: argparse.Namespace) -> int:
    from nexus_lab.crypto import open_sealed

    src = Path(args.file)
    default = src.with_suffix("") if src.suffix == ".nxs" else Path(args.file + ".opened")
    out = fresh(Path(args.out) if args.out else default)
    kp = load_key(args.key)
    open_sealed(src, kp, out=out)
    print(f"opened {src} -> {out} ({out.stat().st_size:,} bytes); every chunk authenticated")
    return 0


def _cmd_sign(args: argparse.Namespace) -> int:
    from nexus_lab.crypto import sign
    from nexus_lab.files import atomic_file

    out = Path(args.out) if args.out else Path(args.file + ".sig")
    kp = load_key(args.key)
    sig = sign(args.file, kp)
    with atomic_file(out) as tmp:
        tmp.write_bytes(sig.to_bytes())
    print(f"signed {args.file} -> {out} ({sig.algorithm}+Ed25519, key {kp.public.fingerprint_hex})")
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from nexus_lab.crypto import Signature, verify

    sig_path = Path(args.sig) if args.sig else Path(args.file + ".sig")
    try:
        raw = sig_path.read_bytes()
    except OSError as err:
        raise NexusError(f"cannot read the signature {str(sig_path)!r}: "
                         f"{err.strerror or err}") from None
    pub = load_public(args.pub)
    sig = Signature.from_bytes(raw)
    verify(args.file, sig, pub)
    print(f"OK: {args.file} is signed by {pub.label or 'the key'} ({pub.fingerprint_hex}), "
          f"{sig.algorithm} and Ed25519 both verify")
    return 0
