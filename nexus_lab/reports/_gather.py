"""What each kind of report reads from the store (and, for a case, its case store), as a
:class:`~nexus_lab.reports._tables.Document`; money stays integer cents until shown."""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nexus_lab.errors import IntegrityError, NexusError
from nexus_lab.reports._html import REASONS
from nexus_lab.reports._period import Period
from nexus_lab.reports._tables import Bar, Chart, Col, Document, Table, money

AGE_BANDS = ("0–30 days", "31–60 days", "61–90 days", "over 90 days")
_TOP_ITEMS = 25
_TOP_FLAGGED = 50


@dataclass(frozen=True)
class Scope:
    """What a report is asked about."""

    store: Any
    period: Period
    run_id: str | None = None
    case_id: str | None = None

    @property
    def as_of(self) -> _dt.date:
        """The day open items are aged at: the period's last day, or today."""
        today = _dt.datetime.now(_dt.timezone.utc).date()
        return min(self.period.end, today) if self.period.end else today


def _short(run_id: object) -> str:
    return str(run_id)[:8]


def _pct(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole else "–"


def _weighted_rate(runs: pd.DataFrame) -> float | None:
    rows = runs["bank_rows"].fillna(0).astype(float)
    if not len(runs) or rows.sum() == 0:
        return None
    return float((runs["rate"].fillna(0).astype(float) * rows).sum() / rows.sum())


def _abs_cents(frame: pd.DataFrame) -> pd.Series:
    return frame["amount_cents"].abs().fillna(0).astype("int64") if len(frame) else \
        pd.Series([], dtype="int64")


def _day(when: object) -> pd.Series:
    stamps = pd.to_datetime(when, utc=True, errors="coerce")
    return stamps.dt.tz_localize(None).dt.normalize()


# ---------------------------------------------------------------- reconciliation


def recon_frames(scope: Scope) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reconciliation runs of the period (or the one asked for) and their items."""
    s = scope.store
    runs = s.read("reconciliation_runs",
                  where={"run_id": scope.run_id} if scope.run_id else None,
                  order_by=["period_start", "created_at"])
    if scope.run_id and runs.empty:
        raise NexusError(f"no reconciliation run {scope.run_id!r} in {s.where}; `nexus-lab "
                         "review runs` lists them")
    first = runs["period_start"].where(runs["period_start"].notna(), runs["created_at"])
    last = runs["period_end"].where(runs["period_end"].notna(), runs["created_at"])
    runs = runs.assign(first=_day(first), last=_day(last))
    runs = runs[scope.period.overlaps(runs["first"], runs["last"])].reset_index(drop=True)
    items = s.read("open_items", where={"run_id": runs["run_id"].tolist()}, order_by="id")
    age = (pd.Timestamp(scope.as_of) - _day(items["date"])).dt.days
    items = items.assign(age=age, cents=_abs_cents(items).to_numpy(),
                         run=items["run_id"].map(_short))
    return runs, items


def _age_band(items: pd.DataFrame) -> pd.Series:
    return pd.cut(items["age"], [-np.inf, 30, 60, 90, np.inf], labels=list(AGE_BANDS))


def _by_age(items: pd.DataFrame, key: str, scope: Scope) -> Table:
    open_now = items[items["status"] == "open"]
    rows = []
    if len(open_now):
        band = _age_band(open_now)
        for name in AGE_BANDS:
            part = open_now[band == name]
            rows.append({"band": name, "items": len(part), "amount": int(part["cents"].sum())})
        undated = open_now[open_now["age"].isna()]
        if len(undated):
            rows.append({"band": "undated", "items": len(undated),
                         "amount": int(undated["cents"].sum())})
    frame = pd.DataFrame(rows, columns=["band", "items", "amount"])
    return Table(key, "Open items by age", [
        Col("band", "Age"), Col("items", "Items", "int"), Col("amount", "Amount", "money")],
        frame, note=f"Days from each item's date to {scope.as_of}; amounts are absolute.",
        footer={"band": "Total", "items": int(frame["items"].sum()),
                "amount": int(frame["amount"].sum())} if len(frame) else None)


def _largest(items: pd.DataFrame, key: str, top: int, title: str,
             accounts: pd.DataFrame | None = None) -> Table:
    """The largest open items; with the runs (``accounts``), their account instead of
    their run."""
    open_now = items[items["status"] == "open"]
    big = open_now.sort_values(["cents", "id"], ascending=[False, True], kind="stable").head(top)
    first = Col("run", "Run", "id")
    if accounts is not None:
        big = big.assign(account=big["run_id"].map(dict(zip(accounts["run_id"],
                                                           accounts["account"]))))
        first = Col("account", "Account", "account", "account")
    cols = [first, Col("side", "Side"), Col("transaction_id", "Item", "id"),
            Col("date", "Date", "date"), Col("age", "Age (days)", "int"),
            Col("amount_cents", "Amount", "money"), Col("reason", "Reason"),
            Col("description", "Description", "text", "text"),
            Col("suggested", "Suggested match", "id")]
    note = (f"The {len(big):,} largest of {len(open_now):,} open items by amount."
            if len(open_now) > len(big) else "")
    return Table(key, title, cols, big, note=note, wide=True)


def reconciliation(scope: Scope) -> Document:
    runs, items = recon_frames(scope)
    open_now = items[items["status"] == "open"]
    resolved = items[items["status"] == "resolved"]
    doc = Document("reconciliation", "Reconciliation report",
                   f"run {scope.run_id}" if scope.run_id else
                   f"{len(runs):,} reconciliation run{'s' * (len(runs) != 1)}")
    rate = _weighted_rate(runs)
    approved = int((runs["status"] == "approved").sum())
    oldest = open_now["age"].max() if len(open_now) else None
    doc.kpis = [
        ("Reconciled", "–" if rate is None else f"{rate:.1%}"),
        ("Runs", f"{len(runs):,}"), ("Approved", f"{approved:,} of {len(runs):,}"),
        ("Matched pairs", f"{int(runs['matched_pairs'].fillna(0).sum()):,}"),
        ("Open items", f"{len(open_now):,}"),
        ("Open amount", money(int(open_now["cents"].sum()))),
        ("Resolved items", f"{len(resolved):,}"),
        ("Oldest open item", "–" if oldest is None or pd.isna(oldest) else
         f"{int(oldest):,} days"),
    ]
    per_run = items.assign(open=items["status"].eq("open"),
                           resolved=items["status"].eq("resolved"))
    per_run = per_run.assign(open_cents=per_run["cents"].where(per_run["open"], 0))
    agg = per_run.groupby("run_id").agg(open=("open", "sum"), open_cents=("open_cents", "sum"),
                                        resolved=("resolved", "sum"))
    table = runs.assign(run=runs["run_id"].map(_short)).join(agg, on="run_id")
    for col in ("open", "open_cents", "resolved"):
        table[col] = table[col].fillna(0).astype("int64")
    doc.add(Table("runs", "Runs", [
        Col("run", "Run", "id"), Col("account", "Account", "account", "account"),
        Col("period_start", "From", "date"), Col("period_end", "To", "date"),
        Col("rate", "Reconciled", "pct"), Col("bank_rows", "Bank rows", "int"),
        Col("ledger_rows", "Ledger rows", "int"), Col("matched_pairs", "Matched pairs", "int"),
        Col("open", "Open items", "int"), Col("open_cents", "Open amount", "money"),
        Col("resolved", "Resolved", "int")], table,
        note="Reconciled: the share of the bank amount matched. Across runs the rate is "
        "weighted by bank rows.", wide=True))

    rows = []
    reasons = [r for r in REASONS if r in set(open_now["reason"])] + sorted(
        set(open_now["reason"]) - set(REASONS))
    for reason in reasons:
        part = open_now[open_now["reason"] == reason]
        bank, ledger = part[part["side"] == "bank"], part[part["side"] == "ledger"]
        rows.append({"reason": reason, "bank": len(bank), "bank_cents": int(bank["cents"].sum()),
                     "ledger": len(ledger), "ledger_cents": int(ledger["cents"].sum())})
    frame = pd.DataFrame(rows, columns=["reason", "bank", "bank_cents", "ledger",
                                        "ledger_cents"])
    doc.add(Table("by_reason", "Open items by reason", [
        Col("reason", "Reason"), Col("bank", "Bank items", "int"),
        Col("bank_cents", "Bank amount", "money"), Col("ledger", "Ledger items", "int"),
        Col("ledger_cents", "Ledger amount", "money")], frame,
        footer={"reason": "Total", **{c: int(frame[c].sum()) for c in frame.columns[1:]}}
        if len(frame) else None))
    doc.add(_by_age(items, "by_age", scope))
    doc.add(_largest(items, "largest", _TOP_ITEMS, "Largest open items"))
    res = resolved.sort_values(["resolved_at", "id"], kind="stable")
    doc.add(Table("resolutions", "Resolutions", [
        Col("run", "Run", "id"), Col("side", "Side"), Col("transaction_id", "Item", "id"),
        Col("amount_cents", "Amount", "money"), Col("resolution", "Resolution"),
        Col("linked_to", "Linked to", "id"), Col("resolved_by", "Resolved by", "text", "user"),
        Col("resolved_at", "When (UTC)", "datetime"), Col("note", "Note", "text", "text")],
        res, note="Open items resolved by hand, with who did it and why.", wide=True))
    doc.add(Table("approvals", "Approval", [
        Col("run", "Run", "id"), Col("status", "Status"),
        Col("created_by", "Run by", "text", "user"), Col("created_at", "Run at (UTC)", "datetime"),
        Col("approved_by", "Approved by", "text", "user"),
        Col("approved_at", "Approved at (UTC)", "datetime"),
        Col("approval_note", "Note", "text", "text")], table))
    return doc


# ---------------------------------------------------------------- fraud


def fraud_frames(scope: Scope) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The fraud runs of the period (or the one asked for) and their scores in it."""
    s = scope.store
    runs = s.read("fraud_runs", where={"run_id": scope.run_id} if scope.run_id else None,
                  order_by="created_at")
    if scope.run_id and runs.empty:
        raise NexusError(f"no fraud run {scope.run_id!r} in {s.where}; the store's fraud runs: "
                         f"{s.read('fraud_runs', columns=['run_id'])['run_id'].tolist()[:10]}")
    scores = s.read("fraud_scores", where={"run_id": runs["run_id"].tolist()}, order_by="id")
    made = scores["run_id"].map(dict(zip(runs["run_id"], runs["created_at"])))
    when = scores["date"].where(scores["date"].notna(), made)
    scores = scores[scope.period.holds(when)].reset_index(drop=True)
    if not scope.period.everything:
        runs = runs[runs["run_id"].isin(scores["run_id"])].reset_index(drop=True)
    flags = scores["flags"].map(lambda f: [str(x) for x in f] if isinstance(
        f, list | tuple | np.ndarray) else [])
    return runs, scores.assign(flags=flags, cents=_abs_cents(scores).to_numpy(),
                               run=scores["run_id"].map(_short))


def _exposure(at_risk: pd.DataFrame) -> pd.DataFrame:
    rows = at_risk[["flags", "cents"]].explode("flags").dropna(subset=["flags"])
    frame = rows.groupby("flags").agg(rows=("cents", "size"), amount=("cents", "sum"))
    frame = frame.reset_index().rename(columns={"flags": "flag"})
    return frame.sort_values(["amount", "flag"], ascending=[False, True], kind="stable")


def _exposure_table(at_risk: pd.DataFrame, key: str) -> tuple[Table, Chart]:
    frame = _exposure(at_risk)
    table = Table(key, "Amount at risk by flag", [
        Col("flag", "Flag"), Col("rows", "Transactions", "int"),
        Col("amount", "Amount at risk", "money")], frame,
        note="Flagged transactions not cleared; a transaction with two flags counts under "
        "both.")
    chart = Chart(key + "_chart", "Amount at risk by flag", tuple(
        Bar(r.flag, float(r.amount), money(int(r.amount))) for r in frame.itertuples()))
    return table, chart


def fraud(scope: Scope) -> Document:
    runs, scores = fraud_frames(scope)
    flagged = scores[scores["review_state"] != "none"]
    at_risk = flagged[flagged["review_state"] != "cleared"]
    state = flagged["review_state"].value_counts()
    doc = Document("fraud", "Fraud findings",
                   f"fraud run {scope.run_id}" if scope.run_id else
                   f"{len(runs):,} fraud run{'s' * (len(runs) != 1)}")
    doc.kpis = [
        ("Transactions scored", f"{len(scores):,}"), ("Flagged", f"{len(flagged):,}"),
        ("Risk 80 or more", f"{int((flagged['risk_score'] >= 80).sum()):,}"),
        ("Open for review", f"{int(state.get('open', 0)):,}"),
        ("Cleared", f"{int(state.get('cleared', 0)):,}"),
        ("Escalated", f"{int(state.get('escalated', 0)):,}"),
        ("Amount at risk", money(int(at_risk["cents"].sum()))),
        ("Share flagged", _pct(len(flagged), len(scores))),
    ]
    counts = scores.groupby("run_id").agg(rows=("id", "size"),
                                          flagged=("review_state", lambda s: int((s != "none")
                                                                                 .sum())))
    table = runs.drop(columns=["rows", "flagged"]).assign(run=runs["run_id"].map(_short))
    table = table.join(counts, on="run_id")
    for col in ("rows", "flagged"):
        table[col] = table[col].fillna(0).astype("int64")
    doc.add(Table("runs", "Runs", [
        Col("run", "Run", "id"), Col("model", "Model"),
        Col("created_at", "Scored at (UTC)", "datetime"),
        Col("created_by", "Scored by", "text", "user"), Col("rows", "Transactions", "int"),
        Col("flagged", "Flagged", "int")], table))
    bands = pd.cut(flagged["risk_score"], [-np.inf, 50, 80, np.inf], right=False,
                   labels=["below 50 (flags only)", "50 to 80", "80 to 100"])
    rows = []
    for name in ("80 to 100", "50 to 80", "below 50 (flags only)"):
        part = flagged[bands == name]
        st = part["review_state"].value_counts()
        rows.append({"band": name, "rows": len(part), "open": int(st.get("open", 0)),
                     "cleared": int(st.get("cleared", 0)),
                     "escalated": int(st.get("escalated", 0)),
                     "amount": int(part["cents"].sum())})
    frame = pd.DataFrame(rows) if len(flagged) else pd.DataFrame(
        columns=["band", "rows", "open", "cleared", "escalated", "amount"])
    doc.add(Table("by_risk", "Flagged transactions by risk", [
        Col("band", "Risk"), Col("rows", "Flagged", "int"), Col("open", "Open", "int"),
        Col("cleared", "Cleared", "int"), Col("escalated", "Escalated", "int"),
        Col("amount", "Amount", "money")], frame,
        note="Risk is 0 to 100. A transaction is flagged when a rule or model fired or its "
        "risk is at the run's threshold or above."))
    table, chart = _exposure_table(at_risk, "by_flag")
    doc.add(table)
    doc.charts[chart.key] = chart
    top = flagged.sort_values(["risk_score", "id"], ascending=[False, True], kind="stable")
    top = top.head(_TOP_FLAGGED)
    doc.add(Table("flagged", "Flagged transactions", [
        Col("risk_score", "Risk", "score"), Col("transaction_id", "Transaction", "id"),
        Col("date", "Date", "date"), Col("account", "Account", "account", "account"),
        Col("vendor", "Vendor", "text", "vendor"), Col("amount_cents", "Amount", "money"),
        Col("flags", "Flags", "list"), Col("review_state", "Review"),
        Col("reasons", "Reasons", "text", "text")], top, detail="reasons",
        note=(f"The {len(top):,} riskiest of {len(flagged):,} flagged transactions."
              if len(flagged) > len(top) else "Riskiest first."), wide=True))
    reviewed = flagged[flagged["review_state"].isin(["cleared", "escalated"])]
    doc.add(Table("reviews", "Cleared and escalated", [
        Col("transaction_id", "Transaction", "id"), Col("risk_score", "Risk", "score"),
        Col("amount_cents", "Amount", "money"), Col("review_state", "Decision"),
        Col("reviewed_by", "By", "text", "user"), Col("reviewed_at", "When (UTC)", "datetime"),
        Col("review_note", "Justification", "text", "text"), Col("case_id", "Case", "id")],
        reviewed.sort_values(["reviewed_at", "id"], kind="stable"), wide=True))
    return doc


# ---------------------------------------------------------------- case


def _status_history(timeline: pd.DataFrame) -> pd.DataFrame:
    """The case's statuses over time, from its timeline's case events."""
    from nexus_lab.cases import STATUSES

    rows = []
    for r in timeline[timeline["kind"] == "case"].itertuples(index=False):
        if r.event == "case opened":
            rows.append({"time": r.time, "from": "", "to": "open", "actor": r.actor,
                         "note": ""})
            continue
        change, _, note = str(r.detail).partition(": ")
        old, _, new = change.partition(" → ")
        if old in STATUSES and new in STATUSES:
            rows.append({"time": r.time, "from": old.replace("_", " "),
                         "to": new.replace("_", " "), "actor": r.actor, "note": note})
    return pd.DataFrame(rows, columns=["time", "from", "to", "actor", "note"])


def case_rows(store: Any) -> list[str]:
    return store.read("cases", columns=["case_id"])["case_id"].tolist()


def case(scope: Scope) -> Document:
    from nexus_lab.cases import CaseStore, verify

    s = scope.store
    if not scope.case_id:
        raise NexusError("a case report needs the case: give case_id= (--case CASE_ID); the "
                         f"store's cases: {case_rows(s)[:10] or 'none yet'}")
    row = s.read("cases", where={"case_id": scope.case_id})
    if row.empty:
        raise NexusError(f"no case {scope.case_id!r} in {s.where}; its cases: "
                         f"{case_rows(s)[:10] or 'none yet'}")
    row = row.iloc[0]
    if not row["path"]:
        raise NexusError(f"case {scope.case_id!r} has no case store folder (its path is empty "
                         "in the store's cases table): set it to the CaseStore folder that "
                         "holds its evidence")
    with CaseStore(row["path"]) as room:  # read-only: no key pair
        c = room.case(scope.case_id)
        facts = c.summary()
        timeline = c.timeline()
        evidence = c.evidence()
        custody = c.custody()
    check = verify(row["path"], strict=False, cases=[scope.case_id])
    doc = Document("case", f"Case {scope.case_id}", f"case {scope.case_id}")
    doc.facts = [
        ("Case", scope.case_id, None), ("Title", row["title"], "text"),
        ("Status", facts["status"].replace("_", " "), None),
        ("Opened", str(facts["opened_at"])[:19].replace("T", " ") + " UTC", None),
        ("Opened by", facts["opened_by"], "user"), ("Case store", str(row["path"]), None),
        ("Milestones", f"{facts['milestones_open']} open, {facts['milestones_overdue']} "
                       f"overdue, {facts['milestones_done']} done", None),
    ]
    if row["status"] != facts["status"]:
        doc.facts.append(("Status in the store", str(row["status"]).replace("_", " "), None))
    summary = check.summary()
    doc.kpis = [("Evidence items", f"{summary['evidence']:,}"),
                ("Verified", f"{summary['evidence_ok']:,}"),
                ("Custody events", f"{summary['custody_events']:,}"),
                ("Audit entries", f"{summary['audit_entries'] or 0:,}")]
    if check.ok:
        doc.verdict = ("ok", "Intact", str(check))
    else:
        doc.verdict = ("failed", f"Fails {len(check.problems)} check"
                       f"{'s' * (len(check.problems) != 1)}",
                       f"First broken link: {check.problems[0]}")
    doc.add(Table("verification", "Verification", [
        Col("n", "#", "int"), Col("problem", "Problem")],
        pd.DataFrame({"n": range(1, len(check.problems) + 1), "problem": check.problems}),
        note=f"nx.cases.verify of the case store, this case's evidence: {check.signer} signs "
        "it" + ("" if check.pinned else " (checked with the key bundle in the folder)")
        + ". " + ("Every check passes." if check.ok else "The first problem is the first "
                  "broken link."),
        empty="Every check passes: the evidence, its custody chain and the audit log are as "
        "they were signed."))
    doc.add(Table("status", "Status history", [
        Col("time", "When (UTC)", "datetime"), Col("from", "From"), Col("to", "To"),
        Col("actor", "By", "text", "user"), Col("note", "Note", "text", "text")],
        _status_history(timeline)))
    items = check.items[["evidence_id", "status"]].rename(columns={"status": "check"})
    evidence = evidence.merge(items, on="evidence_id", how="left")
    doc.add(Table("evidence", "Evidence", [
        Col("evidence_id", "Item", "id"), Col("name", "Name", "text", "text"),
        Col("kind", "Kind"), Col("description", "Description", "text", "text"),
        Col("size", "Bytes", "int"), Col("sha256", "SHA-256", "hash"),
        Col("received_at", "Received (UTC)", "datetime"),
        Col("received_by", "Received by", "text", "user"),
        Col("holder", "Holder", "text", "user"), Col("check", "Check")], evidence,
        empty="No evidence in this case.", wide=True))
    doc.add(Table("custody", "Chain of custody", [
        Col("evidence_id", "Item", "id"), Col("seq", "#", "int"), Col("event", "Event"),
        Col("at", "When (UTC)", "datetime"), Col("actor", "By", "text", "user"),
        Col("from", "From", "text", "user"), Col("to", "To", "text", "user"),
        Col("note", "Note", "text", "text"), Col("event_hash", "Event hash", "hash")],
        custody, note="Each event is signed and chained to the one before it.",
        empty="No custody events.", wide=True))
    shown = timeline[scope.period.holds(timeline["time"])]
    doc.add(Table("timeline", "Timeline", [
        Col("time", "When (UTC)", "datetime"), Col("kind", "Kind"), Col("event", "Event"),
        Col("item", "Item", "id"), Col("actor", "By", "text", "user"),
        Col("detail", "Detail", "text", "text")], shown,
        note="" if scope.period.everything else f"Events of {scope.period.label}.", wide=True))
    return doc


# ---------------------------------------------------------------- executive


def executive(scope: Scope) -> Document:
    from nexus_lab.cases import STATUSES

    runs, items = recon_frames(scope)
    fruns, scores = fraud_frames(scope)
    open_now = items[items["status"] == "open"]
    flagged = scores[scores["review_state"] != "none"]
    at_risk = flagged[flagged["review_state"] != "cleared"]
    cases = scope.store.read("cases")
    if not scope.period.everything:
        cases = cases[_day(cases["created_at"]) <= pd.Timestamp(scope.period.end)]
    rate = _weighted_rate(runs)
    active = cases["status"].isin(["open", "under_investigation", "in_litigation"])
    doc = Document("executive", "Executive summary",
                   f"{len(runs):,} reconciliation and {len(fruns):,} fraud runs")
    doc.kpis = [
        ("Reconciled", "–" if rate is None else f"{rate:.1%}"),
        ("Open exceptions", f"{len(open_now):,}"),
        ("Open amount", money(int(open_now["cents"].sum()))),
        ("Amount at risk", money(int(at_risk["cents"].sum()))),
        ("Flagged transactions", f"{len(flagged):,}"),
        ("Cleared or escalated",
         f"{int(flagged['review_state'].isin(['cleared', 'escalated']).sum()):,}"),
        ("Active cases", f"{int(active.sum()):,}"), ("Cases", f"{len(cases):,}"),
    ]
    month = runs["first"].dt.strftime("%Y-%m")
    per_run = items.assign(open=items["status"].eq("open"))
    open_by_run = per_run.groupby("run_id")["open"].sum()
    rec = runs.assign(month=month, open=runs["run_id"].map(open_by_run).fillna(0))
    rec = pd.DataFrame([{"month": m, "runs": len(g), "rate": _weighted_rate(g),
                         "open": int(g["open"].sum())} for m, g in rec.groupby("month")],
                       columns=["month", "runs", "rate", "open"]).set_index("month")
    when = scores["date"]
    fr = scores.assign(month=_day(when).dt.strftime("%Y-%m"),
                       flagged=scores["review_state"].ne("none"),
                       risk=scores["cents"].where(scores["review_state"].isin(
                           ["open", "escalated"]), 0))
    fr = fr.dropna(subset=["month"]).groupby("month").agg(
        scored=("id", "size"), flagged=("flagged", "sum"), at_risk=("risk", "sum"))
    trend = rec.join(fr, how="outer").sort_index().reset_index(names="month")
    for col in ("runs", "open", "scored", "flagged", "at_risk"):
        trend[col] = trend[col].fillna(0).astype("int64") if col in trend else 0
    doc.add(Table("trend", "Trends by month", [
        Col("month", "Month"), Col("runs", "Reconciliations", "int"),
        Col("rate", "Reconciled", "pct"), Col("open", "Open items", "int"),
        Col("scored", "Transactions scored", "int"), Col("flagged", "Flagged", "int"),
        Col("at_risk", "Amount at risk", "money")], trend,
        note="A reconciliation counts in the month its statement period starts; a scored "
        "transaction in the month of its date."))
    rated = trend.dropna(subset=["rate"])
    doc.charts["rate_chart"] = Chart("rate_chart", "Reconciled by month", tuple(
        Bar(r.month, float(r.rate), f"{r.rate:.0%}") for r in rated.itertuples()),
        shape="columns", scale=1.0)
    doc.add(_by_age(items, "by_age", scope))
    table, chart = _exposure_table(at_risk, "by_flag")
    doc.add(table)
    doc.charts[chart.key] = chart
    counts = cases["status"].value_counts()
    order = [st for st in STATUSES if st in counts] + sorted(set(counts.index) - set(STATUSES))
    doc.add(Table("cases", "Cases by status", [
        Col("status", "Status"), Col("cases", "Cases", "int")],
        pd.DataFrame({"status": [st.replace("_", " ") for st in order],
                      "cases": [int(counts[st]) for st in order]}),
        note="" if scope.period.everything else
        f"Cases opened by the end of {scope.period.label}, at their status now."))
    doc.add(_largest(items, "largest", 10, "Largest open exceptions", accounts=runs))
    return doc


# ---------------------------------------------------------------- audit trail


def _chain_check(store: Any) -> tuple[str, str, str]:
    from nexus_lab import audit

    chained = store.query("select count(*) as n from audit_logs where chain_seq is not null")
    n = int(chained["n"].iloc[0])
    log = audit.current()
    if log is None:
        return ("unchecked", "Not checked: no signed audit log is in use here",
                f"{n:,} of the store's entries carry an entry hash of a signed audit log; set "
                "NEXUS_LAB_AUDIT_LOG (or nx.audit.use) to the log to check them.")
    try:
        rep = log.verify(anchors=False)
        done = audit.check_store(log, store)
    except IntegrityError as err:
        return ("failed", "The audit chain fails verification", str(err))
    said = (f"{rep}. The store witnesses {done['checked']:,} entries of it"
            + (f", through entry {done['latest']:,}." if done["latest"] else "."))
    if rep.complete:
        return ("ok", "The audit chain verifies", said)
    return ("partial", "The audit chain verifies, but its end is not proven", said)


def audit_trail(scope: Scope) -> Document:
    s = scope.store
    rows = s.read("audit_logs", order_by="id")
    rows = rows[scope.period.holds(rows["created_at"])].reset_index(drop=True)
    rows = rows.assign(details=rows["details"].map(
        lambda d: "" if d in (None, {}, "") else json.dumps(d, sort_keys=True, default=str,
                                                            ensure_ascii=False)))
    doc = Document("audit_trail", "Audit trail", f"{len(rows):,} entries")
    doc.verdict = _chain_check(s)
    refused = rows[rows["outcome"] == "refused"]
    doc.kpis = [("Entries", f"{len(rows):,}"), ("Refused", f"{len(refused):,}"),
                ("Actors", f"{rows['user_id'].nunique():,}"),
                ("Chained", f"{int(rows['chain_seq'].notna().sum()):,}")]
    by = rows.groupby(["action", "outcome"]).agg(entries=("id", "size"),
                                                 actors=("user_id", "nunique")).reset_index()
    doc.add(Table("actions", "Actions", [
        Col("action", "Action"), Col("outcome", "Outcome"), Col("entries", "Entries", "int"),
        Col("actors", "Actors", "int")], by.sort_values(["entries", "action"],
                                                        ascending=[False, True])))
    doc.add(Table("refused", "Refused attempts", [
        Col("created_at", "When (UTC)", "datetime"), Col("user_id", "Who", "text", "user"),
        Col("action", "Action"), Col("resource_id", "Resource"),
        Col("details", "Details", "text", "text")], refused, wide=True, detail="details"))
    doc.add(Table("entries", "Entries", [
        Col("created_at", "When (UTC)", "datetime"), Col("user_id", "Who", "text", "user"),
        Col("action", "Action"), Col("resource_id", "Resource"),
        Col("outcome", "Outcome"), Col("chain_seq", "Chain #", "int"),
        Col("details", "Details", "text", "text")], rows, detail="details",
        note="Every row of the store's audit_logs in the period, oldest first; Chain # is the "
        "entry of the signed audit log that records the same action.", wide=True))
    return doc


GATHER = {"reconciliation": reconciliation, "fraud": fraud, "case": case,
          "executive": executive, "audit_trail": audit_trail}
