"""Signed reports for every point of view: :func:`make_report` and :class:`SignedReport`."""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import logging
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nexus_lab import audit, auth, config
from nexus_lab._html import badge, escape, kv
from nexus_lab.errors import NexusError, PermissionDenied
from nexus_lab.reports import _render
from nexus_lab.reports._gather import GATHER, Scope
from nexus_lab.reports._mask import CLEAR, mask_value
from nexus_lab.reports._period import parse_period
from nexus_lab.store import connect

log = logging.getLogger("nexus_lab")

#: The kinds of report, and the permissions (any one of them) that read what each shows.
REPORT_KINDS: dict[str, tuple[str, ...]] = {
    "reconciliation": ("financial.read",),
    "fraud": ("financial.read",),
    "case": ("case.read",),
    "executive": ("strategic.read", "financial.read"),
    "audit_trail": ("audit.read",),
}

#: The formats, and the extension of each file.
REPORT_FORMATS: dict[str, str] = {"html": "html", "pdf": "pdf", "xlsx": "xlsx", "csv": "csv.zip"}

_MASKED = {"account": "account numbers are shown as ••••1234",
           "person": "counterparties who are people are shown as •••••",
           "user": "the workbench's users are shown as •••••",
           "text": "descriptions, notes and reasons are withheld"}


@dataclass(frozen=True)
class SignedReport:
    """A report written, signed and recorded by :func:`make_report`.

    Attributes
    ----------
    report_id : str
        Its row in the store's ``reports`` table.
    kind, role, period, fmt : str
        What was asked for (``period`` is ``"all"`` when none was given).
    path : pathlib.Path
        The report.
    signature : pathlib.Path
        Its detached signature, ``path`` + ``.sig``.
    sha256 : str
        SHA-256 of the report's bytes.
    public : pathlib.Path
        The signer's public bundle (``.nxpub``) in the same folder.
    signer : str
        The signing key, ``label (fingerprint)``.
    created_by : str
        Who asked for it.
    sections : tuple of str
        The sections the role's template showed (the Excel sheets, the CSV files).
    """

    report_id: str
    kind: str
    role: str
    period: str
    fmt: str
    path: Path
    signature: Path
    sha256: str
    public: Path
    signer: str
    created_by: str
    sections: tuple[str, ...]

    @property
    def verify_command(self) -> str:
        """The command that checks the report's signature."""
        return f"nexus-lab verify {self.path} --sig {self.signature} --pub {self.public}"

    def verify(self) -> bool:
        """Check the report's bytes against its signature and the signer's bundle.

        Raises
        ------
        IntegrityError
            The report or its signature was altered.
        """
        from nexus_lab.crypto import PublicKey, verify

        return verify(self.path, self.signature.read_bytes(), PublicKey.load(self.public))

    def summary(self) -> dict:
        """What the report is, where it lies and how to check it."""
        return {"report": self.report_id, "kind": self.kind, "role": self.role,
                "period": self.period, "format": self.fmt, "file": str(self.path),
                "sha256": self.sha256, "signed by": self.signer,
                "signature": str(self.signature), "public key": str(self.public),
                "sections": ", ".join(self.sections), "check": self.verify_command}

    def _repr_html_(self) -> str:
        return (f"<div class='nexus-report'><h4>Signed report: {escape(self.path.name)} "
                f"{badge('done')}</h4>{kv(self.summary())}</div>")


def _refuse(s: Any, who: str, held: list[str], what: str, resource: str, hint: str) -> None:
    audit.record("permission.denied", resource, {"permission": what, "roles": held},
                 actor=who, store=s, resource_type="permission", outcome="refused")
    raise PermissionDenied(who, held, what, hint)


def _allow(s: Any, who: str, role: str, kind: str) -> None:
    """Go on only if ``who`` holds ``role`` (any role while no one holds one; any role for
    an administrator of schedules, who distributes reports), may read reports, and the
    role reads what a ``kind`` report shows."""
    resource = f"reports/{kind}"
    held = auth.roles(who, store=s)
    anyone = s.read("role_assignments", columns=["user_id"], limit=1).empty
    # an administrator of schedules distributes every point of view's reports (and reads
    # what each kind shows: the check below still applies to them)
    distributes = bool(held) and "schedules.manage" in auth.permissions(who, store=s)
    if not anyone and role not in held and not distributes:
        _refuse(s, who, held, f"read reports as {role}", resource,
                f"{who} does not hold the role {role}; choose one of their roles "
                f"({', '.join(held) or 'none'}), or an administrator grants it with: "
                f"nexus-lab users grant {who} {role}")
    auth.require("reports.read", store=s, user=who, resource=resource)
    wanted = REPORT_KINDS[kind]
    auth.require(wanted, store=s, user=who, resource=resource)
    grants = s.read("role_permissions")
    if grants[(grants["role"] == role) & grants["permission"].isin(wanted)].empty:
        able = sorted(set(grants.loc[grants["permission"].isin(wanted), "role"]))
        _refuse(s, who, held, f"{' or '.join(wanted)} as {role}", resource,
                f"a {kind.replace('_', ' ')} report shows what only {', '.join(able)} may "
                f"read; the {role} role may not: choose one of those roles")


def _masking(role: str, title: str) -> str:
    hidden = [text for cls, text in _MASKED.items() if role not in CLEAR[cls]]
    if not hidden:
        return f"Nothing is masked for the {title.lower()}."
    if role in CLEAR["text"] and role not in CLEAR["account"]:
        hidden.append("long numbers in free text are masked like account numbers")
    return f"Masked for the {title.lower()}: " + "; ".join(hidden) + "."


def _write_pending(folder: Path, data: bytes) -> Path:
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".report-", suffix=".pending")
    except OSError as err:
        raise NexusError(f"cannot write in {str(folder)!r}: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(name, 0o666 & ~mask)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def _publish(pending: Path, final: Path) -> None:
    try:
        os.link(pending, final)  # never replaces a file that is there
    except FileExistsError:
        raise NexusError(f"{str(final)!r} exists; reports are never overwritten: move it "
                         "away or choose another out folder") from None
    except OSError as err:
        raise NexusError(f"cannot write {str(final)!r}: {err.strerror or err}") from None


def file_signed(s: Any, folder: Path, name: str, data: bytes, signature: bytes, kp: Any, *,
                report_id: str, kind: str, subject: str, who: str, details: dict[str, Any],
                final_folder: Path | None = None) -> tuple[Path, Path, Path]:
    """Write a signed report's bytes as ``folder/name``, its detached signature beside it
    (``name.sig``) and the signer's public bundle (``<fingerprint>.nxpub``), and record it in
    the store's ``reports`` table and the audit log, in one unit of work.

    Nothing is overwritten; when anything fails, nothing is left (the files placed are
    removed, the record is undone). ``final_folder`` is where the files will lie once
    ``folder`` (a folder being built, :func:`nexus_lab.files.atomic_dir`'s) is in place:
    the record names the files there.

    Returns
    -------
    path, signature, public : pathlib.Path
        Where they will lie (in ``final_folder``, else ``folder``).
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NexusError(f"cannot make the reports folder {str(folder)!r}: "
                         f"{err.strerror or err}") from None
    public_name = f"{kp.public.fingerprint_hex}.nxpub"
    path, sig_path, public = folder / name, folder / f"{name}.sig", folder / public_name
    where = final_folder if final_folder is not None else folder
    recorded = where / name
    new_public = not public.exists()
    digest = hashlib.sha256(data).hexdigest()
    pending = [_write_pending(folder, data), _write_pending(folder, signature)]
    placed: list[Path] = []
    try:
        with audit.change(s, "report.signed", f"reports/{report_id}",
                          {**details, "sha256": digest, "path": str(recorded)}, actor=who,
                          resource_type="report"):
            s.execute("insert into reports (report_id, kind, subject, path, sha256, signature, "
                      "created_by) values (:i, :k, :s, :p, :h, :g, :w)",
                      {"i": report_id, "k": kind, "s": subject, "p": str(recorded),
                       "h": digest, "g": base64.b64encode(signature).decode("ascii"),
                       "w": who})
            for tmp, final in zip(pending, (path, sig_path), strict=True):
                _publish(tmp, final)
                placed.append(final)
            kp.public.save(public)  # the same bundle there already is left as it is
    except BaseException:
        for p in [*placed, *([public] if new_public else [])]:
            p.unlink(missing_ok=True)
        raise
    finally:
        for tmp in pending:
            tmp.unlink(missing_ok=True)
    return recorded, where / f"{name}.sig", where / public_name


def make_report(kind: str, *, role: str, period: str | None = None, store: Any = None,
                run_id: str | None = None, case_id: str | None = None, fmt: str = "html",
                out: str | os.PathLike[str] | None = None, key: Any = None) -> SignedReport:
    """Write a signed report of ``kind`` as ``role`` sees it, and record it.

    The report is rendered from the store (one Jinja2 template per kind chooses the
    sections a role sees; :data:`~nexus_lab.reports.MASKING` masks the fields a role
    may not read), written under ``out`` as ``<kind>-<role>-<period>-<id8>.<ext>`` with
    its detached signature ``<file>.sig`` and the signer's public bundle
    ``<fingerprint>.nxpub`` beside it, and recorded in the store's ``reports`` table
    and audit log in one unit of work. Nothing is overwritten; when anything fails,
    nothing is left.

    Parameters
    ----------
    kind : str
        ``"reconciliation"``, ``"fraud"``, ``"case"``, ``"executive"`` or
        ``"audit_trail"`` (see the module docstring).
    role : str
        The point of view; one the acting user holds (any role while no one in the store
        holds one).
    period : str, optional
        ``"2025-11"``, ``"2025-Q4"``, ``"2025"`` or ``"2025-11-01..2025-11-30"``;
        everything when left out.
    store : Store or str, optional
        Default: :func:`nexus_lab.store.connect`'s.
    run_id : str, optional
        One reconciliation run (``kind="reconciliation"``) or fraud run
        (``kind="fraud"``) instead of the period's.
    case_id : str, optional
        The case of a ``"case"`` report (a row of the store's ``cases`` table whose
        ``path`` is its case store).
    fmt : str, default "html"
        ``"html"`` (self-contained, printable), ``"pdf"`` (laid out from the same HTML),
        ``"xlsx"`` (a summary sheet and one sheet per section) or ``"csv"`` (a zip of
        ``summary.csv`` and one CSV per section).
    out : str or path-like, optional
        The folder (default: :func:`nexus_lab.config.reports_folder`).
    key : KeyPair, optional
        The signing key (default: the workbench key,
        :func:`nexus_lab.audit.workbench_keypair` of
        :func:`nexus_lab.config.signing_key`, opened with ``NEXUS_LAB_KEY_PASSWORD``).

    Returns
    -------
    SignedReport

    Raises
    ------
    PermissionDenied
        The user does not hold ``role``, may not read reports, or the role may not read
        what the kind shows (recorded as refused).
    NexusError
        An unknown kind, role or format, a period in no accepted form, a run or case the
        store does not hold.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import workflows
    >>> from nexus_lab.reports import make_report
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> store = nx.store.connect(folder / "books.db"); _ = store.migrate()
    >>> bank, ledger, _ = nx.data.synth_reconciliation(100, seed=0)
    >>> run = workflows.save_reconciliation(nx.reconcile(bank, ledger, device="cpu"),
    ...                                     store=store, start="2025-01-01", end="2025-12-31")
    >>> key = nx.crypto.generate_keypair("workbench")
    >>> report = make_report("reconciliation", role="examiner", period="2025", store=store,
    ...                      out=folder / "reports", key=key)
    >>> report.path.name.startswith("reconciliation-examiner-2025-"), report.verify()
    (True, True)
    >>> store.read("reports")["kind"].tolist()
    ['reconciliation']
    """
    from nexus_lab import __version__
    from nexus_lab.crypto import need_keypair, sign

    if kind not in REPORT_KINDS:
        raise NexusError(f"unknown report kind {kind!r}; the kinds are "
                         f"{', '.join(REPORT_KINDS)}")
    if role not in auth.ROLES:
        raise NexusError(f"unknown role {role!r}; the roles are {', '.join(auth.ROLES)}")
    if fmt not in REPORT_FORMATS:
        raise NexusError(f"unknown report format {fmt!r}; the formats are "
                         f"{', '.join(REPORT_FORMATS)}")
    if run_id is not None and kind not in ("reconciliation", "fraud"):
        raise NexusError(f"run_id (--run) picks a reconciliation or fraud run; a {kind} "
                         "report takes none: leave it out")
    if case_id is not None and kind != "case":
        raise NexusError(f"case_id (--case) is for case reports; a {kind} report takes "
                         "none: leave it out")
    when = parse_period(period)
    s = connect(store)
    who = auth.current_user()
    _allow(s, who, role, kind)

    doc = GATHER[kind](Scope(s, when, run_id, case_id))
    kp = need_keypair(key, "signing a report") if key is not None else \
        audit.workbench_keypair(config.signing_key(), "workbench")
    report_id = uuid.uuid4().hex
    titles = s.read("roles", where={"role": role})["title"].tolist()
    title = titles[0] if titles else role.replace("_", " ")
    folder = Path(os.path.abspath(out if out is not None else config.reports_folder()))
    name = f"{kind}-{role}-{when.slug}-{report_id[:8]}.{REPORT_FORMATS[fmt]}"
    public_name = f"{kp.public.fingerprint_hex}.nxpub"
    now = _dt.datetime.now(_dt.timezone.utc)
    context = {
        "version": __version__, "role_title": title,
        "period": "everything" if when.everything else when.label,
        "generated": now.strftime("%Y-%m-%d %H:%M UTC"),
        "generated_by": mask_value(who, "user", role), "report_id": report_id,
        "store": s.where, "signer": kp.label or "the workbench key",
        "fingerprint": kp.public.fingerprint_hex, "public": public_name,
        "masking": _masking(role, title),
    }
    shown_doc = doc.masked(role)
    page, shown = _render.html(shown_doc, role, context)
    if fmt == "html":
        data = page.encode("utf-8")
    elif fmt == "pdf":
        data = _render.pdf(page)
    elif fmt == "xlsx":
        data = _render.xlsx(shown_doc, shown, {**context, "role": role})
    else:
        data = _render.csv_zip(shown_doc, shown, {**context, "role": role})
    digest = hashlib.sha256(data).hexdigest()
    signature = sign(data, kp).to_bytes()

    subject = f"{doc.title} for the {title.lower()}, {context['period']}: {doc.scope}"
    path, sig_path, public = file_signed(
        s, folder, name, data, signature, kp, report_id=report_id, kind=kind, subject=subject,
        who=who, details={"kind": kind, "role": role, "period": when.label, "format": fmt,
                          "run_id": run_id, "case_id": case_id,
                          "signer": kp.public.fingerprint_hex, "sections": shown})
    log.info("signed report %s (%s as %s, %s) at %s", report_id, kind, role, when.label, path)
    return SignedReport(report_id, kind, role, when.label, fmt, path, sig_path, digest, public,
                        f"{kp.label or 'workbench'} ({kp.public.fingerprint_hex})", who,
                        tuple(shown))
