"""Post-quantum crypto: keys, sealing, signatures, Merkle trees, audit logs, anchoring.

A kernel. Its writers (sealed files, key files, the audit log's SQLite file) take the
path or connection they are given; which log is current and who acts is the audit
service's business (:mod:`nexus_lab.audit`).

Everything an examiner produces can be sealed for named recipients, signed, logged
in a tamper-evident audit trail and anchored on a blockchain, with post-quantum
algorithms paired with classical ones (safe while either holds):

* keys: ML-KEM-768 + X25519 (sealing), ML-DSA-65 or SLH-DSA + Ed25519 (signing);
* :func:`seal` / :func:`open_sealed`: envelope encryption, AES-256-GCM in chunks
  (:func:`seal_with_digests` also hashes what it seals; :func:`recipient_keys` checks
  recipients);
* :func:`sign` / :func:`verify`: plain FIPS 204 signatures over :func:`signing_input`;
  :func:`sign_batch` signs a million records with one signature;
* :class:`MerkleTree`, :class:`AuditLog` (hash-chained, signed checkpoints published
  to witnesses outside the log file),
  :func:`anchor` (a root written to an Ethereum chain).

Every format is versioned and documented in its module's docstring.

Examples
--------
>>> import nexus_lab as nx
>>> examiner, judge = nx.crypto.generate_keypair("examiner"), nx.crypto.generate_keypair("judge")
>>> blob = nx.crypto.seal(b"ledger extract", recipients=[examiner.public, judge.public])
>>> nx.crypto.open_sealed(blob, judge)
b'ledger extract'
>>> sig = nx.crypto.sign(b"ledger extract", examiner)
>>> nx.crypto.verify(b"ledger extract", sig, examiner.public)
True
"""

from nexus_lab.crypto._anchor import AnchorReceipt, anchor, verify_anchor
from nexus_lab.crypto._audit import AuditEntry, AuditLog, AuditReport
from nexus_lab.crypto._keys import (
    KeyPair,
    PublicKey,
    generate_keypair,
    load_keypair,
    need_keypair,
)
from nexus_lab.crypto._merkle import MerkleProof, MerkleTree, verify_proof
from nexus_lab.crypto._seal import (
    open_sealed,
    recipient_keys,
    seal,
    seal_with_digests,
    sealed_info,
)
from nexus_lab.crypto._sign import (
    BatchSignature,
    Signature,
    sign,
    sign_batch,
    signing_input,
    verify,
    verify_batch,
)

__all__ = [
    "AnchorReceipt",
    "AuditEntry",
    "AuditLog",
    "AuditReport",
    "BatchSignature",
    "KeyPair",
    "MerkleProof",
    "MerkleTree",
    "PublicKey",
    "Signature",
    "anchor",
    "generate_keypair",
    "load_keypair",
    "need_keypair",
    "open_sealed",
    "recipient_keys",
    "seal",
    "seal_with_digests",
    "sealed_info",
    "sign",
    "sign_batch",
    "signing_input",
    "verify",
    "verify_anchor",
    "verify_batch",
    "verify_proof",
]
