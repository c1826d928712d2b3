"""``nexus-lab case ...``: case stores from the command line.

Commands::

    nexus-lab case init STORE --key KEYFILE
    nexus-lab case new STORE --title TEXT [--number N] [--description TEXT] --key KEYFILE
    nexus-lab case list STORE
    nexus-lab case show STORE NUMBER
    nexus-lab case add STORE NUMBER FILE --description TEXT [--to PUB ...] --key KEYFILE
    nexus-lab case transfer STORE NUMBER EVIDENCE --to NAME --reason TEXT --key KEYFILE
    nexus-lab case open STORE NUMBER EVIDENCE --purpose TEXT --out FILE --key KEYFILE
    nexus-lab case status STORE NUMBER STATUS [--note TEXT] --key KEYFILE
    nexus-lab case timeline STORE [NUMBER]
    nexus-lab case verify STORE [--pub PUB] [--key KEYFILE]

``--key`` is the store's key file (its password from ``NEXUS_LAB_KEY_PASSWORD`` or the
terminal); reading and verifying need no key. Actions are recorded as ``--actor``,
else ``NEXUS_LAB_ACTOR``, else the login name.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nexus_lab.cli._common import fresh, load_key, load_public


def register(sub: Any) -> None:
    """Register ``case`` and its actions."""
    case = sub.add_parser("case", help="cases, evidence and chain of custody")
    cs = case.add_subparsers(dest="case_command", metavar="ACTION", required=True)

    def action(name: str, help: str, func: Any, *, key: bool = False, number: bool = True):
        p = cs.add_parser(name, help=help, description=help)
        p.add_argument("store", help="the case store folder")
        if number:
            p.add_argument("number", help="the case number")
        if key:
            p.add_argument("--key", required=True, help="the store's key file")
            p.add_argument("--actor", default=None, help="who acts (default: login name)")
        p.set_defaults(func=func)
        return p

    action("init", "make a case store whose key signs everything in it", _init, key=True,
           number=False)
    new = action("new", "open a case", _new, key=True, number=False)
    new.add_argument("--title", required=True, help="what the case is about")
    new.add_argument("--number", default=None, help="default: C-<year>-<nnnn>")
    new.add_argument("--description", default="", help="a longer account (default: none)")
    action("list", "list the cases", _list, number=False)
    action("show", "a case's summary, evidence and custody", _show)
    add = action("add", "seal, hash and sign a file as evidence", _add, key=True)
    add.add_argument("file", help="the file to take in as evidence")
    add.add_argument("--description", required=True, help="what the evidence is")
    add.add_argument("--to", action="append", default=[], metavar="PUB",
                     help="another recipient's public key (repeatable)")
    tr = action("transfer", "hand an evidence item to someone", _transfer, key=True)
    tr.add_argument("evidence", help="the evidence id (E-0001)")
    tr.add_argument("--to", required=True, dest="holder", help="the new holder")
    tr.add_argument("--reason", required=True, help="why it changes hands")
    op = action("open", "decrypt an evidence item (logged as an access)", _open, key=True)
    op.add_argument("evidence", help="the evidence id (E-0001)")
    op.add_argument("--purpose", required=True, help="why it is opened (recorded)")
    op.add_argument("--out", required=True, help="the file to write (never overwritten)")
    st = action("status", "move a case along its lifecycle", _status, key=True)
    st.add_argument("status", help="under_investigation, in_litigation, closed, archived")
    st.add_argument("--note", default="", help="a note recorded with the change")
    tl = cs.add_parser("timeline", help="every event of the store or of one case")
    tl.add_argument("store", help="the case store folder")
    tl.add_argument("number", nargs="?", default=None,
                    help="the case number (default: every case of the store)")
    tl.set_defaults(func=_timeline)
    ver = action("verify", "check every case from the folder's files alone", _verify,
                 number=False)
    ver.add_argument("--pub", default=None, help="the key that must have signed")
    ver.add_argument("--key", default=None,
                     help="a recipient's key file: also open each seal and check the plaintext")


def _store(args: argparse.Namespace, *, key: bool = False, create: bool = False) -> Any:
    from nexus_lab.cases import CaseStore

    kp = load_key(args.key) if key else None
    return CaseStore(args.store, kp, create=create)


def _init(args: argparse.Namespace) -> int:
    with _store(args, key=True, create=True) as store:
        s = store.summary()
        print(f"made case store {store.folder}, signed by {s['signer'] or 'its key'} "
              f"({s['signer_fingerprint']})")
    return 0


def _new(args: argparse.Namespace) -> int:
    with _store(args, key=True) as store:
        case = store.new_case(args.title, number=args.number, description=args.description,
                              actor=args.actor)
        print(f"opened case {case.number}: {case.title}")
    return 0


def _list(args: argparse.Namespace) -> int:
    with _store(args) as store:
        print(_table(store.cases()))
    return 0


def _show(args: argparse.Namespace) -> int:
    with _store(args) as store:
        case = store.case(args.number)
        for k, v in case.summary().items():
            print(f"{k + ':':<16}{v}")
        print("\nevidence:\n" + _table(case.evidence()))
        print("\ncustody:\n" + _table(case.custody()))
    return 0


def _add(args: argparse.Namespace) -> int:
    with _store(args, key=True) as store:
        item = store.case(args.number).add_evidence(
            Path(args.file), description=args.description, actor=args.actor,
            recipients=[load_public(p) for p in args.to] or None, name=Path(args.file).name)
        print(f"took in {args.file} as {item.evidence_id} of case {args.number}: sealed, "
              f"hashed (sha256 {item.sha256[:16]}...) and signed")
    return 0


def _transfer(args: argparse.Namespace) -> int:
    with _store(args, key=True) as store:
        store.case(args.number).transfer(args.evidence, to=args.holder, actor=args.actor,
                                         reason=args.reason)
        print(f"{args.evidence} of case {args.number} is now held by {args.holder}")
    return 0


def _open(args: argparse.Namespace) -> int:
    from nexus_lab.cases import CaseStore

    out = fresh(Path(args.out))
    kp = load_key(args.key)

    with CaseStore(args.store, kp) as store:
        store.case(args.number).open_evidence(args.evidence, kp, actor=args.actor,
                                              purpose=args.purpose, out=out)
        print(f"opened {args.evidence} -> {out}; the access is in its chain of custody")
    return 0


def _status(args: argparse.Namespace) -> int:
    with _store(args, key=True) as store:
        case = store.case(args.number)
        case.set_status(args.status, actor=args.actor, note=args.note)
        print(f"case {args.number} is now {case.status}")
    return 0


def _timeline(args: argparse.Namespace) -> int:
    with _store(args) as store:
        frame = store.case(args.number).timeline() if args.number else store.timeline()
        print(_table(frame))
    return 0


def _verify(args: argparse.Namespace) -> int:
    from nexus_lab.cases import verify

    pub = load_public(args.pub) if args.pub else None
    kp = load_key(args.key) if args.key else None
    report = verify(args.store, public=pub, keypair=kp)
    print(f"OK: {report}" if report.complete else f"NOT PROVEN COMPLETE: {report}")
    return 0


def _table(frame: Any) -> str:
    if frame is None or len(frame) == 0:
        return "  (none)"
    return frame.to_string(index=False, max_colwidth=48)
