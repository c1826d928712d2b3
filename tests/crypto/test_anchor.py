"""Anchoring Merkle roots on a real in-process Ethereum chain (eth-tester + py-evm)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import socket
import subprocess
import sys

import pytest

pytest.importorskip("web3")
pytest.importorskip("eth_tester")

from eth_account import Account
from web3 import EthereumTesterProvider, Web3

from nexus_lab.crypto import AnchorReceipt, AuditLog, anchor, verify_anchor
from nexus_lab.crypto._anchor import IN_PROCESS, _public_url, anchor_payload  # internals
from nexus_lab.errors import DependencyError, IntegrityError, NexusError


def _root(label: str) -> bytes:
    return hashlib.sha256(f"test_crypto_anchor {label}".encode()).digest()


@pytest.fixture(autouse=True)
def _no_url_from_environment(monkeypatch):
    monkeypatch.delenv("NEXUS_LAB_WEB3_URL", raising=False)


@pytest.fixture(scope="module")
def chain() -> Web3:
    """A chain of its own, passed explicitly (not the process-wide default)."""
    return Web3(EthereumTesterProvider())


@pytest.fixture(scope="module")
def anchored(chain) -> tuple[bytes, AnchorReceipt]:
    root = _root("anchored")
    return root, anchor(root, chain)


@pytest.fixture(scope="module")
def local_account(chain):
    """A fresh key, funded from the chain's first account."""
    acct = Account.create()
    tx = chain.eth.send_transaction(
        {"from": chain.eth.accounts[0], "to": acct.address, "value": 10**18}
    )
    chain.eth.wait_for_transaction_receipt(tx)
    return acct


# -- anchor and verify ----------------------------------------------------------------


def test_default_chain_anchor_and_verify():
    root = _root("default")
    receipt = anchor(root)
    assert receipt.network == IN_PROCESS
    assert receipt.root == root.hex()
    assert verify_anchor(root, receipt) is True
    again = anchor(_root("default 2"))  # the same process-wide chain is reused
    assert again.chain_id == receipt.chain_id
    assert again.block_number > receipt.block_number
    assert verify_anchor(_root("default"), receipt) is True


def test_explicit_chain_anchor_and_verify(chain, anchored):
    root, receipt = anchored
    tx = chain.eth.get_transaction(receipt.tx_hash)
    assert bytes(tx["input"]) == b"NXANCHOR\x01" + root
    assert tx["to"] == tx["from"] == receipt.sender == chain.eth.accounts[0]
    assert tx["value"] == 0
    block = chain.eth.get_block(receipt.block_number)
    assert "0x" + bytes(block["hash"]).hex() == receipt.block_hash
    assert block["timestamp"] == receipt.block_timestamp
    assert receipt.chain_id == chain.eth.chain_id
    assert verify_anchor(root, receipt, chain) is True
    assert verify_anchor(root.hex(), receipt.to_dict(), chain) is True


def test_root_forms_are_equivalent(chain):
    root = _root("forms")
    receipt = anchor(bytearray(root), chain)
    for form in (root, bytearray(root), memoryview(root), root.hex(), root.hex().upper(),
                 "0x" + root.hex()):
        assert anchor_payload(form) == b"NXANCHOR\x01" + root
        assert verify_anchor(form, receipt, chain) is True


def test_anchor_on_another_chain_is_not_found_here(chain, anchored):
    root, receipt = anchored
    with pytest.raises(IntegrityError, match="is not on this chain") as err:
        verify_anchor(root, receipt)  # the process-wide chain: a different chain
    msg = str(err.value)
    assert receipt.tx_hash in msg
    assert f"chain id {receipt.chain_id}" in msg
    assert "lives only in the process" in msg and "persistent chain" in msg


def test_other_direction(chain):
    root = _root("made on the default chain")
    receipt = anchor(root)
    with pytest.raises(IntegrityError, match="is not on this chain"):
        verify_anchor(root, receipt, chain)


def test_wrong_root(chain, anchored):
    root, receipt = anchored
    other = _root("other")
    with pytest.raises(IntegrityError, match="the anchored root differs") as err:
        verify_anchor(other, receipt, chain)
    assert f"chain has {root.hex()}, expected {other.hex()}" in str(err.value)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("tx_hash", "0x" + "ab" * 32, "is not on this chain"),
        ("block_hash", "0x" + "cd" * 32, "block_hash differs"),
        ("block_number", 999, "block_number differs"),
        ("block_timestamp", 1, "block_timestamp differs"),
        ("root", "ef" * 32, "the receipt's root"),
        ("sender", "0x" + "12" * 20, "sender differs"),
        ("chain_id", 1, "chain id 1"),
    ],
)
def test_tampered_receipt(chain, anchored, field, value, match):
    root, receipt = anchored
    bad = dataclasses.replace(receipt, **{field: value})
    with pytest.raises(IntegrityError, match=match):
        verify_anchor(root, bad, chain)
    with pytest.raises(IntegrityError, match=match):
        verify_anchor(root, bad.to_dict(), chain)


def test_tampered_tx_hash_in_process_hint(chain, anchored):
    root, receipt = anchored
    bad = dataclasses.replace(receipt, tx_hash="0x" + "ab" * 32)
    with pytest.raises(IntegrityError, match="lives only in the process"):
        verify_anchor(root, bad, chain)
    remote = dataclasses.replace(bad, network="https://rpc.example.org")
    with pytest.raises(IntegrityError, match="is not on this chain") as err:
        verify_anchor(root, remote, chain)
    assert "lives only" not in str(err.value)


def test_transaction_that_is_not_an_anchor(chain, anchored):
    root, receipt = anchored
    a, b = chain.eth.accounts[:2]
    tx = chain.eth.send_transaction({"from": a, "to": b, "value": 5})
    mined = chain.eth.wait_for_transaction_receipt(tx)
    fake = dataclasses.replace(
        receipt, tx_hash="0x" + bytes(tx).hex(), block_number=mined["blockNumber"],
        block_hash="0x" + bytes(mined["blockHash"]).hex(),
    )
    with pytest.raises(IntegrityError, match="is not a NEXUS Lab anchor"):
        verify_anchor(root, fake, chain)


# -- accounts -------------------------------------------------------------------------


def test_local_private_key(chain, local_account):
    root = _root("local key")
    key = local_account.key.hex()
    receipt = anchor(root, chain, account=key)
    assert receipt.sender == local_account.address
    assert verify_anchor(root, receipt, chain) is True
    for text in (str(receipt), repr(receipt), json.dumps(receipt.to_dict()),
                 receipt._repr_html_()):
        assert key.removeprefix("0x") not in text


def test_local_account_object_and_bytes_key(chain, local_account):
    first = anchor(_root("local account 1"), chain, account=local_account)
    second = anchor(_root("local account 2"), chain, account=bytes(local_account.key))
    assert first.sender == second.sender == local_account.address
    assert second.block_number > first.block_number
    assert verify_anchor(_root("local account 1"), first, chain)
    assert verify_anchor(_root("local account 2"), second, chain)


def test_unlocked_address(chain):
    sender = chain.eth.accounts[2]
    receipt = anchor(_root("address"), chain, account=sender)
    assert receipt.sender == sender
    assert verify_anchor(_root("address"), receipt, chain)


def test_unfunded_key_is_refused(chain):
    with pytest.raises(NexusError, match="the node refused"):
        anchor(_root("unfunded"), chain, account=Account.create())


@pytest.mark.parametrize("account", ["0x1234", "not a key", b"\x01" * 5, 42, 1.5])
def test_bad_account(account):
    with pytest.raises(NexusError, match="account must be") as err:
        anchor(_root("bad account"), account=account)
    if isinstance(account, (str, bytes)):
        assert str(account) not in str(err.value)  # keys are never echoed


# -- bad inputs -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("root", "got"),
    [
        (b"short", "bytes of 5 bytes"),
        (bytearray(33), "bytearray of 33 bytes"),
        ("ab" * 31, "str of 62 characters"),
        ("zz" * 32, "not all hexadecimal"),
        (12345, "got int"),
        (None, "got NoneType"),
        ([0] * 32, "got list"),
    ],
)
def test_bad_root(root, got):
    with pytest.raises(NexusError, match="32 bytes or a 64-character hex string") as err:
        anchor(root)
    assert got in str(err.value)
    with pytest.raises(NexusError, match=got):
        anchor_payload(root)


def test_bad_web3_argument():
    with pytest.raises(NexusError, match="got int"):
        anchor(_root("w"), 5)
    with pytest.raises(NexusError, match="scheme 'ws'"):
        anchor(_root("w"), "ws://127.0.0.1:8546")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_url_from_environment_hides_credentials(monkeypatch):
    url = f"http://alice:hunter2@127.0.0.1:{_closed_port()}/v3/APIKEY123?token=SECRET"
    monkeypatch.setenv("NEXUS_LAB_WEB3_URL", url)
    with pytest.raises(NexusError, match="cannot reach the Ethereum node") as err:
        anchor(_root("unreachable"))
    msg = str(err.value)
    assert "127.0.0.1" in msg
    for secret in ("alice", "hunter2", "APIKEY123", "SECRET"):
        assert secret not in msg
    with pytest.raises(NexusError, match="cannot reach"):
        verify_anchor(_root("x"), _receipt_dict())


def test_public_url():
    assert _public_url("https://u:p@node.example:8545/v3/key?x=1#f") == "https://node.example:8545"
    assert _public_url("http://127.0.0.1:8545") == "http://127.0.0.1:8545"
    assert _public_url("https://[::1]/path") == "https://[::1]"


def test_missing_web3_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "web3", None)
    with pytest.raises(DependencyError, match=r"pip install 'nexus-lab\[web3\]'"):
        anchor(_root("no web3"))
    with pytest.raises(DependencyError, match=r"nexus-lab\[web3\]"):
        verify_anchor(_root("no web3"), _receipt_dict())


def test_importing_nexus_lab_does_not_import_web3():
    code = ("import sys, nexus_lab, nexus_lab.crypto, nexus_lab.crypto._anchor; "
            "sys.exit(int('web3' in sys.modules or 'eth_tester' in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# -- the receipt ----------------------------------------------------------------------


def _receipt_dict() -> dict:
    return {
        "root": "00" * 32, "chain_id": 1, "tx_hash": "0x" + "11" * 32, "block_number": 7,
        "block_hash": "0x" + "22" * 32, "block_timestamp": 1_700_000_000,
        "sender": "0x" + "33" * 20, "network": "https://rpc.example.org",
    }


def test_dict_round_trip_and_json(anchored):
    _, receipt = anchored
    d = receipt.to_dict()
    text = json.dumps(d)
    back = AnchorReceipt.from_dict(json.loads(text))
    assert back == receipt
    assert back.to_dict() == d
    assert set(d) == {"root", "chain_id", "tx_hash", "block_number", "block_hash",
                      "block_timestamp", "sender", "network"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        receipt.root = "00" * 32  # type: ignore[misc]


def test_iso_time_str_and_html(anchored):
    _, receipt = anchored
    r = AnchorReceipt.from_dict(_receipt_dict())
    assert r.block_time_iso == "2023-11-14T22:13:20Z"
    line = str(receipt)
    assert "\n" not in line
    assert receipt.tx_hash in line and str(receipt.block_number) in line
    assert receipt.block_time_iso in line
    page = receipt._repr_html_()
    assert receipt.tx_hash in page and receipt.root in page and "<table>" in page


def test_from_dict_normalises_hex_case():
    d = _receipt_dict() | {"root": "0x" + "AB" * 32, "tx_hash": "0x" + "CD" * 32}
    r = AnchorReceipt.from_dict(d)
    assert r.root == "ab" * 32 and r.tx_hash == "0x" + "cd" * 32


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"root": None}, "missing"),
        ({"extra": 1}, "unknown"),
        ({"root": "ab" * 31}, "'root'"),
        ({"chain_id": True}, "'chain_id'"),
        ({"chain_id": "1"}, "'chain_id'"),
        ({"chain_id": 0}, "'chain_id'"),
        ({"tx_hash": "11" * 32}, "'tx_hash'"),
        ({"tx_hash": "0x" + "zz" * 32}, "'tx_hash'"),
        ({"block_number": -1}, "'block_number'"),
        ({"block_number": 1.0}, "'block_number'"),
        ({"block_hash": 5}, "'block_hash'"),
        ({"block_timestamp": None}, "'block_timestamp'"),
        ({"sender": "0x1234"}, "'sender'"),
        ({"network": 3}, "'network'"),
    ],
)
def test_malformed_dict(change, match):
    d = _receipt_dict()
    for key, value in change.items():
        if key == "root" and value is None:
            del d["root"]
        else:
            d[key] = value
    with pytest.raises(IntegrityError, match=match):
        AnchorReceipt.from_dict(d)
    with pytest.raises(IntegrityError, match=match):
        verify_anchor(_root("x"), d)


@pytest.mark.parametrize("bad", [None, [], "receipt", 7])
def test_receipt_not_a_dict(bad):
    with pytest.raises(IntegrityError, match="must be a dict"):
        AnchorReceipt.from_dict(bad)


def test_identical_fresh_chains_are_told_apart_by_block_hash():
    # Fresh eth-tester chains share keys, genesis and chain id: the same first anchor
    # gets the same transaction hash on both, only the block (its time) differs.
    first, second = Web3(EthereumTesterProvider()), Web3(EthereumTesterProvider())
    for w3, ahead in ((first, 30), (second, 60)):  # one block each, at different times
        w3.provider.ethereum_tester.time_travel(w3.eth.get_block("latest")["timestamp"] + ahead)
    root = _root("twins")
    a, b = anchor(root, first), anchor(root, second)
    assert a.tx_hash == b.tx_hash and a.block_hash != b.block_hash
    with pytest.raises(IntegrityError, match="block_hash differs") as err:
        verify_anchor(root, a, second)
    assert "lives only in the process" in str(err.value)


# -- an audit log's anchors: a chain as a witness ---------------------------------------


@pytest.fixture(scope="module")
def kp():
    from nexus_lab.crypto import generate_keypair

    return generate_keypair("audit service")


def _anchor_lines(path) -> list[dict]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [line for line in lines if line.get("kind") == "anchor"]


def test_anchor_receipts_are_published_to_every_witness(kp, chain, tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    log = AuditLog(tmp_path / "audit.db", signer=kp, witnesses=[share])
    first = log.append("alice", "evidence.added", "case/C-1/evidence/1").entry_hash
    receipt = log.anchor(chain)
    expected = {"v": 2, "kind": "anchor", "log": first.hex(), "upto": 1,
                "root": receipt.root, "receipt": receipt.to_dict()}
    (shared,) = share.iterdir()
    for witness in (tmp_path / "audit.db.witness", shared):
        assert _anchor_lines(witness) == [expected]
    # heads are still written as version 1 lines
    head = json.loads((tmp_path / "audit.db.witness").read_text().splitlines()[0])
    assert head["v"] == 1 and "kind" not in head
    log.close()


def test_a_witness_line_of_a_later_format_is_named(kp, tmp_path):
    path = tmp_path / "audit.db"
    with AuditLog(path, signer=kp) as log:
        first = log.append("alice", "evidence.added", "case/C-1/evidence/1").entry_hash
    with open(tmp_path / "audit.db.witness", "a") as f:
        f.write(json.dumps({"v": 3, "kind": "anchor", "log": first.hex()}) + "\n")
    with pytest.raises(NexusError, match=r"line 2, is of witness format version 3; this "
                                         r"version of nexus-lab reads up to version 2"):
        AuditLog(path).verify()


def _anchored_log(path, kp, chain, n: int = 6, **kw) -> AnchorReceipt:
    with AuditLog(path, signer=kp, **kw) as log:
        for i in range(n):
            log.append("alice", "evidence.added", f"case/C-1/evidence/{i}", {"i": i})
        return log.anchor(chain)


def _sql(path, *statements) -> None:
    import sqlite3

    db = sqlite3.connect(path)
    for q in statements:
        db.execute(*q) if isinstance(q, tuple) else db.execute(q)
    db.commit()
    db.close()


def _roll_back(path, keep: int) -> None:
    """Drop the newest entries and every checkpoint (with its receipt) that signed them."""
    _sql(path, ("DELETE FROM audit_log WHERE seq > ?", (keep,)),
         ("DELETE FROM audit_checkpoint WHERE upto > ?", (keep,)))


def test_receipts_are_checked_on_the_chain_even_when_gone_from_the_log(kp, chain, tmp_path):
    path = tmp_path / "audit.db"
    receipt = _anchored_log(path, kp, chain)
    report = AuditLog(path).verify(kp.public, web3=chain)
    what = (f"entries 1..6: tx {receipt.tx_hash}, block {receipt.block_number} at "
            f"{receipt.block_time_iso} on chain {receipt.chain_id} (in-process eth-tester)")
    assert (report.anchored, report.chain_checked, report.chain_unchecked) == (1, [what], [])
    assert "1 anchored (1 checked on a chain, 0 not)" in str(report)
    _sql(path, "UPDATE audit_checkpoint SET anchor = NULL")  # the witness still holds it
    report = AuditLog(path).verify(kp.public, web3=chain)
    assert (report.anchored, report.chain_checked) == (1, [what])


def test_rollback_with_its_receipts_is_caught_by_a_witness_held_receipt(kp, chain, tmp_path):
    path = tmp_path / "audit.db"
    receipt = _anchored_log(path, kp, chain)
    _roll_back(path, 4)
    # the heads after entry 4 are gone from the witness too: only the receipt tells
    witness = tmp_path / "audit.db.witness"
    kept = [line for line in witness.read_text().splitlines()
            if json.loads(line).get("kind") == "anchor" or json.loads(line)["upto"] <= 4]
    witness.write_text("\n".join(kept) + "\n")
    with pytest.raises(IntegrityError, match=(
            rf"entries 5\.\.6 were removed: witness .*audit\.db\.witness \(line 5\) holds "
            rf"the receipt of an anchor of entries 1\.\.6 \(tx {receipt.tx_hash}, block "
            rf"{receipt.block_number} at {receipt.block_time_iso}\), and the log ends at "
            r"entry 4")) as info:
        AuditLog(path).verify(kp.public, web3=chain)
    assert info.value.entry == 5
    with pytest.raises(IntegrityError, match=r"entries 5\.\.6 were removed"):
        AuditLog(path).verify(kp.public, anchors=False)  # no chain needed to see it


def test_a_tampered_root_is_caught(kp, chain, tmp_path):
    path = tmp_path / "audit.db"
    receipt = _anchored_log(path, kp, chain)
    forged = dict(receipt.to_dict(), root="ab" * 32)
    _sql(path, ("UPDATE audit_checkpoint SET anchor = ? WHERE upto = 6", (json.dumps(forged),)))
    with pytest.raises(IntegrityError, match=(
            rf"entries 1\.\.6 differ from what was anchored in tx {receipt.tx_hash} at "
            rf"{receipt.block_time_iso} \(checkpoint 6 in the log\): their Merkle root is "
            r"[0-9a-f]{16}…, the anchored root abababababababab…")):
        AuditLog(path).verify(kp.public, web3=chain)


def test_a_rewritten_tail_is_caught_by_the_anchor_and_a_forged_receipt_by_the_chain(
        kp, chain, tmp_path):
    path = tmp_path / "audit.db"
    receipt = _anchored_log(path, kp, chain)
    _roll_back(path, 4)
    with AuditLog(path, signer=kp) as log:  # someone holding the key writes a new tail
        for i in range(2):
            log.append("mallory", "evidence.added", f"case/C-1/evidence/x{i}")
        new_root = log.checkpoints()[-1]["root"].hex()
    (tmp_path / "audit.db.witness").unlink()  # and removes the witness's heads
    keep = tmp_path / "keep.witness"  # a copy of the receipt kept elsewhere
    line = {"v": 2, "kind": "anchor", "log": AuditLog(path).entries()["entry_hash"][0],
            "upto": 6, "root": receipt.root, "receipt": receipt.to_dict()}
    keep.write_text(json.dumps(line) + "\n")
    with pytest.raises(IntegrityError, match=rf"entries 1\.\.6 differ from what was "
                                             rf"anchored in tx {receipt.tx_hash}"):
        AuditLog(path).verify(kp.public, web3=chain, witnesses=[keep])
    # the receipt forged to name the new root: the chain says otherwise
    keep.write_text(json.dumps(dict(line, root=new_root,
                                    receipt=dict(receipt.to_dict(), root=new_root))) + "\n")
    with pytest.raises(IntegrityError, match=r"the anchor of entries 1\.\.6 \(witness .*"
                                             r"keep\.witness \(line 1\)\) fails on the chain: "
                                             r"the anchored root differs"):
        AuditLog(path).verify(kp.public, web3=chain, witnesses=[keep])


def test_an_unreachable_chain_is_reported_unchecked_not_passed(kp, chain, tmp_path):
    path = tmp_path / "audit.db"
    receipt = _anchored_log(path, kp, chain)
    url = f"http://127.0.0.1:{_closed_port()}"
    report = AuditLog(path).verify(kp.public, web3=url)
    assert report.anchored == 1 and report.chain_checked == []
    (unchecked,) = report.chain_unchecked
    assert unchecked.startswith(f"entries 1..6: tx {receipt.tx_hash}, block ")
    assert f"cannot reach the Ethereum node at {url}" in unchecked
    assert "1 anchored (0 checked on a chain, 1 not)" in str(report)
    assert report.summary()["chain_unchecked"] == [unchecked]
    with pytest.raises(NexusError, match=r"could not be checked on a chain: .*cannot reach"):
        AuditLog(path).verify(kp.public, anchors=True, web3=url)
    # without web3: a receipt of another in-process chain cannot be asked about here
    (unchecked,) = AuditLog(path).verify(kp.public).chain_unchecked
    assert "in-process chain" in unchecked
    (unchecked,) = AuditLog(path).verify(kp.public, anchors=False).chain_unchecked
    assert unchecked.endswith("the chain was not asked (anchors=False)")


def test_auto_anchoring_anchors_and_verifies(kp, chain, tmp_path):
    path = tmp_path / "audit.db"
    with AuditLog(path, signer=kp, anchor_every=3, web3=chain) as log:
        for i in range(7):
            log.append("alice", "evidence.added", f"case/C-1/evidence/{i}")
        assert [c["upto"] for c in log.checkpoints() if c["anchor"]] == [3, 6]
    # a configured chain anchors on closing by default: entry 7 is anchored too
    log = AuditLog(path)
    assert [c["upto"] for c in log.checkpoints() if c["anchor"]] == [3, 6, 7]
    report = log.verify(kp.public, web3=chain)
    assert (report.anchored, len(report.chain_checked), report.chain_unchecked,
            report.not_anchored) == (3, 3, [], [])
    lines = (tmp_path / "audit.db.witness").read_text().splitlines()
    assert [json.loads(x)["upto"] for x in lines if '"kind":"anchor"' in x] == [3, 6, 7]


def test_without_a_chain_nothing_is_anchored_and_with_one_closing_anchors(
        kp, chain, tmp_path, monkeypatch):
    with AuditLog(tmp_path / "a.db", signer=kp) as log:
        log.append("alice", "evidence.added", "case/C-1/evidence/1")
    assert AuditLog(tmp_path / "a.db").verify().anchored == 0
    with AuditLog(tmp_path / "b.db", signer=kp, anchor_on_close=False, web3=chain) as log:
        log.append("alice", "evidence.added", "case/C-1/evidence/1")
    assert AuditLog(tmp_path / "b.db").verify().anchored == 0
    # NEXUS_LAB_WEB3_URL set: closing anchors (here it fails: the node is not there)
    monkeypatch.setenv("NEXUS_LAB_WEB3_URL", f"http://127.0.0.1:{_closed_port()}")
    with AuditLog(tmp_path / "c.db", signer=kp) as log:
        log.append("alice", "evidence.added", "case/C-1/evidence/1")
    (failed,) = AuditLog(tmp_path / "c.db").verify().not_anchored
    assert failed.startswith("entries 1..1: anchoring failed at ")


def test_a_failed_anchoring_keeps_the_entry_and_is_reported(kp, chain, tmp_path, caplog):
    path = tmp_path / "audit.db"
    url = f"http://127.0.0.1:{_closed_port()}"
    log = AuditLog(path, signer=kp, anchor_every=1, web3=url)
    entry = log.append("alice", "evidence.added", "case/C-1/evidence/1")
    assert entry.seq == 1 and len(log) == 1 and log.checkpoints()[0]["anchor"] is None
    assert "entries 1..1 are not anchored" in caplog.text and "cannot reach" in caplog.text
    report = log.verify(kp.public)
    (failed,) = report.not_anchored
    assert "cannot reach the Ethereum node at " + url in failed
    assert "1 not anchored (anchoring failed)" in str(report)
    log.append("alice", "evidence.added", "case/C-1/evidence/2")  # fails again
    assert len(log.verify(kp.public).not_anchored) == 2
    log.anchor(chain)  # a later anchor covers every entry before it
    assert log.verify(kp.public, web3=chain).not_anchored == []
    log._db.close()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"anchor_every": 0}, r"anchor_every=0: give a positive count of entries, or None"),
    ({"anchor_every": "3"}, r"anchor_every='3': give a positive count"),
    ({"web3": "ftp://node"}, r"web3 must be an http\(s\):// JSON-RPC URL.*'ftp'"),
    ({"checkpoint_every": "x"}, r"checkpoint_every='x': give a positive count of entries$"),
    ({"checkpoint_every": 2.5}, r"checkpoint_every=2.5: give a positive count"),
])
def test_bad_anchoring_options(kp, tmp_path, kwargs, match):
    with pytest.raises(NexusError, match=match):
        AuditLog(tmp_path / "audit.db", signer=kp, **kwargs)
    assert not (tmp_path / "audit.db").exists()


def test_anchoring_needs_a_signer(tmp_path):
    with pytest.raises(NexusError, match="anchoring needs a signer: open the log with "
                                         "AuditLog"):
        AuditLog(tmp_path / "audit.db", anchor_every=5)


def test_cli_prints_the_chain_checks(kp, tmp_path, capsys):
    from nexus_lab.cli import main

    path = tmp_path / "audit.db"
    with AuditLog(path, signer=kp) as log:
        log.append("alice", "evidence.added", "case/C-1/evidence/1")
        receipt = log.anchor()  # this process's in-process chain
    assert main(["audit", "verify", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: audit log intact: 1 entries") and "1 anchored (1 checked" in out
    assert (f"\n  anchor checked on its chain: entries 1..1: tx {receipt.tx_hash}, block "
            f"{receipt.block_number}") in out
    url = f"http://127.0.0.1:{_closed_port()}"
    assert main(["audit", "verify", str(path), "--web3", url]) == 0
    out = capsys.readouterr().out
    assert f"\n  anchor NOT checked on a chain: entries 1..1: tx {receipt.tx_hash}" in out
    assert "cannot reach the Ethereum node at " + url in out
    assert main(["audit", "verify", str(path), "--web3", url, "--anchors"]) == 1
    assert main(["audit", "verify", str(path), "--web3", "ftp://node"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: web3 must be an http(s):// JSON-RPC URL") and \
        err.count("\n") == 1
    with AuditLog(tmp_path / "b.db", signer=kp, anchor_every=1, web3=url) as log:
        log.append("alice", "evidence.added", "case/C-1/evidence/1")
    assert main(["audit", "verify", str(tmp_path / "b.db")]) == 0
    out = capsys.readouterr().out
    assert "\n  NOT ANCHORED: entries 1..1: anchoring failed at " in out


def test_anchor_uses_the_chain_the_log_was_opened_with(kp, chain, tmp_path):
    log = AuditLog(tmp_path / "audit.db", signer=kp, web3=chain, anchor_on_close=False)
    log.append("alice", "evidence.added", "case/C-1/evidence/1")
    receipt = log.anchor()
    assert verify_anchor(log.checkpoints()[-1]["root"], receipt, chain)
    log.close()


def test_an_altered_witness_anchor_line_is_named(kp, chain, tmp_path):
    path = tmp_path / "audit.db"
    _anchored_log(path, kp, chain, n=2)
    witness = tmp_path / "audit.db.witness"
    lines = witness.read_text().splitlines()
    line = json.loads(lines[-1])
    line["receipt"]["block_number"] = "seven"
    witness.write_text("\n".join([*lines[:-1], json.dumps(line)]) + "\n")
    with pytest.raises(IntegrityError, match=r"witness .*audit\.db\.witness \(line 3\): its "
                                             r"anchor receipt is malformed .*block_number"):
        AuditLog(path).verify(kp.public, web3=chain)
