"""Anchor a 32-byte Merkle root on an Ethereum chain, and check an anchor later.

An audit-log checkpoint's Merkle root is written as the data of one plain transaction
(no contract) that an account sends to itself with value 0. Anyone with access to the
chain can then check that the root existed no later than that block's timestamp.

Transaction data, format ``NXANCHOR`` version 1 (41 bytes)::

    "NXANCHOR" (8 ASCII bytes) | u8 version = 1 | Merkle root (32 bytes)

Which chain is used:

* ``web3=None``: the URL in the environment variable ``NEXUS_LAB_WEB3_URL`` when it is
  set (read when called, through :func:`nexus_lab.config.settings`), else one
  in-process ``eth-tester`` chain per process (created on first use and reused, so
  anchors made in a process can be verified in it; it vanishes with the process, so it
  is for trying things out and for tests);
* a ``web3.Web3`` instance: used as is;
* a string: an ``http(s)://`` JSON-RPC endpoint, wrapped in ``Web3(HTTPProvider(url))``.

Private keys never appear in a receipt, a log or an exception; endpoint URLs are
recorded as ``scheme://host[:port]`` only (paths and query strings often hold API keys).
web3.py is imported only when a function here is called (``pip install 'nexus-lab[web3]'``).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from nexus_lab._html import kv
from nexus_lab.config import settings
from nexus_lab.errors import DependencyError, IntegrityError, NexusError

if TYPE_CHECKING:  # pragma: no cover
    from web3 import Web3

__all__ = ["AnchorReceipt", "anchor", "anchor_payload", "verify_anchor"]

log = logging.getLogger("nexus_lab")

MAGIC = b"NXANCHOR"
VERSION = 1
PAYLOAD_SIZE = len(MAGIC) + 1 + 32
IN_PROCESS = "in-process eth-tester"
URL_ENV = "NEXUS_LAB_WEB3_URL"
_INSTALL = "pip install 'nexus-lab[web3]'"

_HEX64 = re.compile(r"[0-9a-f]{64}")
_HASH = re.compile(r"0x[0-9a-f]{64}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")

_local_chain: Web3 | None = None
_local_lock = threading.Lock()


# -- the root and the payload ---------------------------------------------------------


def _root_bytes(root: object) -> bytes:
    """``root`` as 32 bytes; accepts bytes-like of 32 bytes or 64 hex characters."""
    if isinstance(root, (bytes, bytearray, memoryview)):
        data = bytes(root)
        if len(data) == 32:
            return data
        got = f"{type(root).__name__} of {len(data)} bytes"
    elif isinstance(root, str):
        text = root[2:] if root[:2].lower() == "0x" else root
        if _HEX64.fullmatch(text.lower()):
            return bytes.fromhex(text)
        got = (f"a str of {len(root)} characters"
               + ("" if len(text) != 64 else " that are not all hexadecimal digits"))
    else:
        got = type(root).__name__
    raise NexusError(
        f"root must be a 32-byte Merkle root: 32 bytes or a 64-character hex string; "
        f"got {got}"
    )


def anchor_payload(root: bytes | bytearray | memoryview | str) -> bytes:
    """The 41-byte transaction data that anchors ``root`` (see the module docstring).

    Parameters
    ----------
    root : bytes-like or str
        The 32-byte Merkle root, or its 64 hex characters.

    Returns
    -------
    bytes
        ``b"NXANCHOR" + bytes([1]) + root``.

    Examples
    --------
    >>> from nexus_lab.crypto._anchor import anchor_payload
    >>> data = anchor_payload("ab" * 32)
    >>> len(data), data[:9]
    (41, b'NXANCHOR\\x01')
    """
    return MAGIC + bytes([VERSION]) + _root_bytes(root)


# -- the receipt ----------------------------------------------------------------------


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise IntegrityError(
            f"anchor receipt field {name!r} must be an integer >= {minimum}; got {value!r}"
        )
    return value


def _check_hash(name: str, value: object) -> str:
    text = value.lower() if isinstance(value, str) else None
    if text is None or not _HASH.fullmatch(text):
        raise IntegrityError(
            f"anchor receipt field {name!r} must be 0x followed by 64 hex digits; "
            f"got {value!r}"
        )
    return text


@dataclass(frozen=True)
class AnchorReceipt:
    """Proof that a Merkle root was written to an Ethereum chain: keep it with the log.

    Check it with :func:`verify_anchor`; store it with :meth:`to_dict` (JSON-able).

    Attributes
    ----------
    root : str
        The anchored Merkle root, 64 lowercase hex digits.
    chain_id : int
        The chain's EIP-155 id.
    tx_hash : str
        The anchoring transaction, ``0x`` + 64 hex digits.
    block_number : int
        The block that holds the transaction.
    block_hash : str
        That block's hash, ``0x`` + 64 hex digits.
    block_timestamp : int
        That block's timestamp (seconds since 1970, UTC); see :attr:`block_time_iso`.
    sender : str
        The account that sent the transaction (to itself).
    network : str
        ``"in-process eth-tester"``, or the endpoint as ``scheme://host[:port]``.

    Examples
    --------
    >>> from nexus_lab.crypto import AnchorReceipt
    >>> r = AnchorReceipt(root="00" * 32, chain_id=1, tx_hash="0x" + "11" * 32,
    ...                   block_number=7, block_hash="0x" + "22" * 32,
    ...                   block_timestamp=1_700_000_000, sender="0x" + "33" * 20,
    ...                   network="https://rpc.example.org")
    >>> r.block_time_iso
    '2023-11-14T22:13:20Z'
    >>> AnchorReceipt.from_dict(r.to_dict()) == r
    True
    """

    root: str
    chain_id: int
    tx_hash: str
    block_number: int
    block_hash: str
    block_timestamp: int
    sender: str
    network: str

    def __post_init__(self) -> None:
        root = self.root
        if not isinstance(root, str) or not _HEX64.fullmatch(
            (root[2:] if root[:2].lower() == "0x" else root).lower()
        ):
            raise IntegrityError(
                f"anchor receipt field 'root' must be 64 hex digits; got {root!r}"
            )
        object.__setattr__(self, "root", root[-64:].lower())
        _check_int("chain_id", self.chain_id, 1)
        object.__setattr__(self, "tx_hash", _check_hash("tx_hash", self.tx_hash))
        _check_int("block_number", self.block_number, 0)
        object.__setattr__(self, "block_hash", _check_hash("block_hash", self.block_hash))
        _check_int("block_timestamp", self.block_timestamp, 0)
        if not isinstance(self.sender, str) or not _ADDRESS.fullmatch(self.sender):
            raise IntegrityError(
                f"anchor receipt field 'sender' must be 0x followed by 40 hex digits; "
                f"got {self.sender!r}"
            )
        if not isinstance(self.network, str):
            raise IntegrityError(
                f"anchor receipt field 'network' must be a string; got {self.network!r}"
            )

    @property
    def block_time_iso(self) -> str:
        """The block timestamp as ISO 8601 UTC, e.g. ``'2026-01-31T12:00:00Z'``."""
        when = datetime.fromtimestamp(self.block_timestamp, tz=timezone.utc)
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")

    def to_dict(self) -> dict[str, Any]:
        """The receipt as a JSON-able dict; :meth:`from_dict` reads it back exactly."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnchorReceipt:
        """Read a dict written by :meth:`to_dict`.

        Raises
        ------
        IntegrityError
            When a field is missing, unknown or malformed.
        """
        if not isinstance(data, Mapping):
            raise IntegrityError(
                f"an anchor receipt must be a dict; got {type(data).__name__}"
            )
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in data]
        unknown = sorted(str(k) for k in data if k not in names)
        if missing or unknown:
            raise IntegrityError(
                "malformed anchor receipt: "
                + "; ".join(
                    part for part in (
                        f"missing {missing}" if missing else "",
                        f"unknown {unknown}" if unknown else "",
                    ) if part
                )
                + f" (expected exactly {names})"
            )
        return cls(**{n: data[n] for n in names})

    def __str__(self) -> str:
        return (
            f"root {self.root[:16]}… anchored in block {self.block_number} "
            f"at {self.block_time_iso} on chain {self.chain_id} ({self.network}), "
            f"tx {self.tx_hash}"
        )

    def _repr_html_(self) -> str:
        rows = {
            "root": self.root, "block time": self.block_time_iso,
            "block": f"{self.block_number} ({self.block_hash})",
            "transaction": self.tx_hash, "sender": self.sender,
            "chain id": self.chain_id, "network": self.network,
        }
        return f"<div class='nexus-anchor'><h4>Anchor receipt</h4>{kv(rows, code=True)}</div>"


# -- connecting -----------------------------------------------------------------------


def _import_web3() -> Any:
    try:
        import web3
    except ImportError as err:
        raise DependencyError(
            f"anchoring needs web3.py ({err}); install it with: {_INSTALL}"
        ) from None
    return web3


def _public_url(url: str) -> str:
    """``scheme://host[:port]`` of ``url``: no user, password, path, query or fragment."""
    parts = urlsplit(url)
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        port = ""
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}"


def _in_process_chain() -> Web3:
    global _local_chain
    with _local_lock:
        if _local_chain is None:
            web3 = _import_web3()
            try:
                provider = web3.EthereumTesterProvider()
            except ImportError as err:
                raise DependencyError(
                    f"the in-process chain needs eth-tester with py-evm ({err}); install "
                    f"them with: {_INSTALL}, or set {URL_ENV} to a node's URL"
                ) from None
            _local_chain = web3.Web3(provider)
            log.debug("started the in-process eth-tester chain")
        return _local_chain


def _network_name(w3: Web3) -> str:
    provider = w3.provider
    if type(provider).__name__ == "EthereumTesterProvider":
        return IN_PROCESS
    uri = getattr(provider, "endpoint_uri", None)
    if isinstance(uri, str) and uri:
        return _public_url(uri)
    return type(provider).__name__


def _url_configured() -> bool:
    """Whether ``$NEXUS_LAB_WEB3_URL`` names a chain (read now)."""
    return settings().web3_url is not None


def _connect(web3: Web3 | str | None) -> tuple[Web3, str]:
    """The ``Web3`` to use and the network name to record for it."""
    w3mod = _import_web3()
    if web3 is None:
        web3 = settings().web3_url  # NEXUS_LAB_WEB3_URL, read by nexus_lab.config
    if web3 is None:
        return _in_process_chain(), IN_PROCESS
    if isinstance(web3, str):
        scheme = urlsplit(web3).scheme
        if scheme not in ("http", "https"):
            raise NexusError(
                "web3 must be an http(s):// JSON-RPC URL, a web3.Web3 instance or None; "
                f"got a str with scheme {scheme or 'none'!r} (for IPC or websockets pass "
                "a Web3 instance)"
            )
        return w3mod.Web3(w3mod.HTTPProvider(web3)), _public_url(web3)
    if isinstance(web3, w3mod.Web3):
        return web3, _network_name(web3)
    raise NexusError(
        f"web3 must be None, an http(s):// URL or a web3.Web3 instance; "
        f"got {type(web3).__name__}"
    )


@contextmanager
def _node(network: str, action: str) -> Iterator[None]:
    """Turn connection and node errors into a NexusError that names the network.

    Connection errors carry the full URL (which can hold an API key), so only their
    type is repeated.
    """
    from eth_utils import ValidationError
    from web3.exceptions import TimeExhausted, Web3Exception

    refused: tuple[type[BaseException], ...] = (Web3Exception, ValidationError)
    tester = sys.modules.get("eth_tester.exceptions")  # the in-process chain's own errors
    if tester is not None:
        refused += (tester.ValidationError, tester.TransactionFailed, tester.AccountLocked)
    try:
        yield
    except NexusError:
        raise
    except TimeExhausted:
        raise NexusError(
            f"{action} on {network}: the transaction was not mined in time; it may still "
            f"be mined later"
        ) from None
    except refused as err:
        raise NexusError(f"{action} on {network}: the node refused: {err}") from None
    except OSError as err:  # requests' connection errors are OSErrors
        raise NexusError(
            f"{action}: cannot reach the Ethereum node at {network} "
            f"({type(err).__name__}); check the URL and that the node is running"
        ) from None


# -- anchoring ------------------------------------------------------------------------


def _signer(account: object) -> tuple[str | None, Any]:
    """``(address, local_account)``: exactly one is set; None for both means default."""
    if account is None:
        return None, None
    if hasattr(account, "address") and hasattr(account, "sign_transaction"):
        return None, account
    if isinstance(account, str) and _ADDRESS.fullmatch(account):
        return account, None
    if isinstance(account, (str, bytes, bytearray)):
        from eth_account import Account

        try:
            return None, Account.from_key(account)
        except Exception:  # the error text could quote the key: say nothing of it
            pass
    got = (f"a {type(account).__name__} of {len(account)} characters/bytes"
           if isinstance(account, (str, bytes, bytearray)) else type(account).__name__)
    raise NexusError(
        "account must be None (the node's first account), an address (0x + 40 hex "
        "digits) the node has unlocked, a private key (32 bytes or 64 hex digits) or an "
        f"eth_account LocalAccount; got {got}"
    )


def _send_signed(w3: Web3, local: Any, payload: bytes) -> Any:
    address = local.address
    tx: dict[str, Any] = {
        "from": address, "to": address, "value": 0, "data": payload,
        "nonce": w3.eth.get_transaction_count(address, "pending"),
        "chainId": w3.eth.chain_id,
    }
    tx["gas"] = w3.eth.estimate_gas(tx)
    base_fee = w3.eth.get_block("latest").get("baseFeePerGas")
    if base_fee is not None:
        tip = w3.eth.max_priority_fee
        tx["maxPriorityFeePerGas"] = tip
        tx["maxFeePerGas"] = 2 * base_fee + tip
    else:
        tx["gasPrice"] = w3.eth.gas_price
    signed = local.sign_transaction(tx)
    return w3.eth.send_raw_transaction(signed.raw_transaction)


def anchor(
    root: bytes | bytearray | memoryview | str,
    web3: Web3 | str | None = None,
    *,
    account: object = None,
    timeout: float = 120.0,
) -> AnchorReceipt:
    """Write a 32-byte Merkle root to an Ethereum chain and wait until it is mined.

    Parameters
    ----------
    root : bytes-like or str
        The Merkle root: 32 bytes or 64 hex characters (``0x`` optional).
    web3 : web3.Web3, str or None
        The chain: a ``Web3`` instance, an ``http(s)://`` JSON-RPC URL, or None for
        ``$NEXUS_LAB_WEB3_URL`` if set, else this process's in-process chain.
    account : None, str, bytes or eth_account LocalAccount, keyword-only
        None sends from the node's first unlocked account; an address sends from that
        unlocked account; a private key (hex or 32 bytes) or a ``LocalAccount`` signs
        the transaction here and sends it raw. The key is never logged or stored.
    timeout : float, keyword-only
        Seconds to wait for the transaction to be mined.

    Returns
    -------
    AnchorReceipt
        Where and when the root was anchored; keep it to :func:`verify_anchor` later.

    Raises
    ------
    NexusError
        A malformed root or account, an unreachable node, a refused or failed
        transaction. :class:`~nexus_lab.errors.DependencyError` when web3.py is missing.

    Examples
    --------
    >>> import hashlib
    >>> from nexus_lab.crypto import anchor, verify_anchor
    >>> root = hashlib.sha256(b"checkpoint 1").digest()
    >>> receipt = anchor(root)                  # the in-process chain
    >>> receipt.network, receipt.root == root.hex()
    ('in-process eth-tester', True)
    >>> verify_anchor(root, receipt)
    True
    """
    root_bytes = _root_bytes(root)
    payload = anchor_payload(root_bytes)
    address, local = _signer(account)
    w3, network = _connect(web3)
    with _node(network, "anchoring the root"):
        if local is not None:
            tx_hash = _send_signed(w3, local, payload)
        else:
            if address is None:
                accounts = w3.eth.accounts
                if not accounts:
                    raise NexusError(
                        f"the node at {network} has no unlocked account; pass account= "
                        "a private key or an eth_account LocalAccount"
                    )
                address = accounts[0]
            tx_hash = w3.eth.send_transaction(
                {"from": address, "to": address, "value": 0, "data": payload}
            )
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
        if receipt["status"] != 1:
            raise NexusError(
                f"the anchor transaction 0x{bytes(tx_hash).hex()} failed on {network} "
                f"(status {receipt['status']})"
            )
        block = w3.eth.get_block(receipt["blockHash"])
        chain_id = w3.eth.chain_id
    result = AnchorReceipt(
        root=root_bytes.hex(), chain_id=int(chain_id),
        tx_hash="0x" + bytes(receipt["transactionHash"]).hex(),
        block_number=int(receipt["blockNumber"]),
        block_hash="0x" + bytes(receipt["blockHash"]).hex(),
        block_timestamp=int(block["timestamp"]), sender=str(receipt["from"]),
        network=network,
    )
    log.info("anchored root %s in tx %s, block %d of chain %d (%s)", result.root,
             result.tx_hash, result.block_number, result.chain_id, network)
    return result


# -- verifying ------------------------------------------------------------------------


def verify_anchor(
    root: bytes | bytearray | memoryview | str,
    receipt: AnchorReceipt | Mapping[str, Any],
    web3: Web3 | str | None = None,
) -> bool:
    """Check on the chain that ``receipt`` anchors ``root``.

    Checks that the chain id matches, the transaction is on the chain, its data is the
    anchor payload of ``root``, the receipt names the same root and sender, the block
    number, hash and timestamp match the chain's, and the transaction succeeded.

    Parameters
    ----------
    root : bytes-like or str
        The Merkle root you expect (recomputed from the log).
    receipt : AnchorReceipt or dict
        What :func:`anchor` returned, or its :meth:`~AnchorReceipt.to_dict`.
    web3 : web3.Web3, str or None
        The chain, resolved as in :func:`anchor`.

    Returns
    -------
    bool
        True; any mismatch raises.

    Raises
    ------
    IntegrityError
        Naming the check that failed.

    Examples
    --------
    >>> from nexus_lab.crypto import anchor, verify_anchor
    >>> receipt = anchor("0x" + "5a" * 32)
    >>> verify_anchor("5a" * 32, receipt.to_dict())
    True
    """
    root_bytes = _root_bytes(root)
    if not isinstance(receipt, AnchorReceipt):
        receipt = AnchorReceipt.from_dict(receipt)
    w3, network = _connect(web3)
    from web3.exceptions import TransactionNotFound

    with _node(network, "verifying the anchor"):
        chain_id = int(w3.eth.chain_id)
        if chain_id != receipt.chain_id:
            raise IntegrityError(
                f"the anchor was made on chain id {receipt.chain_id} ({receipt.network}) "
                f"but {network} is chain id {chain_id}; verify against the chain the "
                f"anchor was made on"
            )
        try:
            tx = w3.eth.get_transaction(receipt.tx_hash)
        except TransactionNotFound:
            tx = None
        hint = ""
        if receipt.network == IN_PROCESS:
            hint = (
                "; the receipt was made on the in-process eth-tester chain, which "
                "lives only in the process that made the anchor: anchor on a "
                f"persistent chain (pass web3= or set {URL_ENV}) to verify later"
            )
        if tx is None:
            raise IntegrityError(
                f"transaction {receipt.tx_hash} is not on this chain "
                f"(chain id {chain_id}, {network}){hint}"
            )
        if tx.get("blockNumber") is None:
            raise IntegrityError(f"transaction {receipt.tx_hash} is not mined yet")
        data = bytes(tx.get("input", tx.get("data", b"")))
        if len(data) != PAYLOAD_SIZE or data[:len(MAGIC)] != MAGIC:
            raise IntegrityError(
                f"transaction {receipt.tx_hash} is not a NEXUS Lab anchor: its data is "
                f"{len(data)} bytes starting {data[:9]!r}, expected {PAYLOAD_SIZE} bytes "
                f"starting {MAGIC + bytes([VERSION])!r}"
            )
        if data[len(MAGIC)] != VERSION:
            raise IntegrityError(
                f"transaction {receipt.tx_hash} holds an anchor of version "
                f"{data[len(MAGIC)]}; this version of nexus-lab reads version {VERSION}"
            )
        if data[len(MAGIC) + 1:] != root_bytes:
            raise IntegrityError(
                f"the anchored root differs: chain has {data[len(MAGIC) + 1:].hex()}, "
                f"expected {root_bytes.hex()}"
            )
        if receipt.root != root_bytes.hex():
            raise IntegrityError(
                f"the receipt's root {receipt.root} differs from the root being verified "
                f"{root_bytes.hex()} (which the chain does hold): the receipt was altered"
            )
        if str(tx["from"]).lower() != receipt.sender.lower():
            raise IntegrityError(
                f"sender differs: chain has {tx['from']}, receipt says {receipt.sender}"
            )
        chain_block = int(tx["blockNumber"])
        chain_hash = "0x" + bytes(tx["blockHash"]).hex()
        for field, theirs, ours in (("block_number", chain_block, receipt.block_number),
                                    ("block_hash", chain_hash, receipt.block_hash)):
            if theirs != ours:
                raise IntegrityError(
                    f"{field} differs: chain has {theirs}, receipt says {ours} (a chain "
                    f"reorganisation moved the transaction, the receipt was altered, or "
                    f"this is another chain with the same id){hint}"
                )
        block = w3.eth.get_block(chain_hash)
        if int(block["timestamp"]) != receipt.block_timestamp:
            raise IntegrityError(
                f"block_timestamp differs: chain has {block['timestamp']}, receipt says "
                f"{receipt.block_timestamp} (the receipt was altered)"
            )
        status = w3.eth.get_transaction_receipt(receipt.tx_hash)["status"]
        if status != 1:
            raise IntegrityError(
                f"transaction {receipt.tx_hash} failed on the chain (status {status})"
            )
    log.debug("verified anchor of root %s in tx %s", receipt.root, receipt.tx_hash)
    return True


def _check_on_chain(
    root: bytes, receipt: AnchorReceipt, web3: Web3 | str | None = None
) -> str | None:
    """Check ``receipt`` on its chain as :func:`verify_anchor` does, if it can be asked.

    Returns None when the chain confirmed the anchor, or why it could not be asked
    (no chain configured for it, the node unreachable or refusing, another chain id,
    web3.py missing); raises :class:`IntegrityError` when the chain contradicts it.
    With ``web3=None`` and no ``$NEXUS_LAB_WEB3_URL``, only a receipt made on this
    process's in-process chain can be checked (the chain of the receipt's
    ``network`` is never contacted unasked: its address is recorded without the
    path or key it needs).
    """
    if web3 is None and not _url_configured():
        if receipt.network != IN_PROCESS:
            return (f"no chain to ask: pass web3= (--web3) a node of {receipt.network} "
                    f"(chain id {receipt.chain_id}) or set {URL_ENV}")
        if _local_chain is None:
            return ("made on an in-process chain, which lived only in the process that "
                    "made it")
        from web3.exceptions import BlockNotFound

        try:
            _local_chain.eth.get_block(receipt.block_hash)
        except BlockNotFound:
            return ("made on another in-process chain (one lives only in the process "
                    "that made it): this process's has no block " + receipt.block_hash)
        web3 = _local_chain
    try:
        w3, network = _connect(web3)
    except DependencyError as err:
        return str(err)
    try:
        with _node(network, "verifying the anchor"):
            chain_id = int(w3.eth.chain_id)
    except NexusError as err:
        return str(err)
    if chain_id != receipt.chain_id:
        return (f"made on chain id {receipt.chain_id} ({receipt.network}), and {network} "
                f"is chain id {chain_id}: pass web3= (--web3) a node of the chain it was "
                "made on")
    try:
        verify_anchor(root, receipt, w3)
    except IntegrityError:
        raise
    except NexusError as err:  # unreachable or refusing since: not a verdict
        return str(err)
    return None
