"""Segregation of duties: users who did two things one person should not do both of."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from nexus_lab.errors import SchemaError
from nexus_lab.examine._result import Examination, params_of, warn
from nexus_lab.frames import parse_timestamps, select_columns, to_pandas

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from nexus_lab._typing import FrameLike

__all__ = ["DEFAULT_SOD", "SodRule", "sod_conflicts"]


class SodRule(NamedTuple):
    """One conflict of duties: the same user doing ``first`` and then ``second``.

    ``same_object`` is True when both must act on the same object (the same
    ``object_type`` and ``object_id``: the vendor created and then paid), False
    when any objects will do (prices changed, customers invoiced), or
    ``"self"`` when the first event acts on the user's own account (a role
    granted to themself: ``object_type`` ``"user"``, ``object_id`` the user)
    and the second is any later action of theirs (``second="*"``: any action
    other than ``first``).
    """

    name: str
    first: str
    second: str
    same_object: bool | str
    description: str


#: The common conflicts: HighBond's twelve and those the other tools add.
DEFAULT_SOD: tuple[SodRule, ...] = (
    SodRule("vendor_create_invoice", "create_vendor", "create_invoice", True,
            "creates a vendor and enters an invoice of that vendor"),
    SodRule("vendor_create_pay", "create_vendor", "pay", True,
            "creates a vendor and pays it"),
    SodRule("vendor_bank_pay", "change_vendor_bank", "pay", True,
            "changes a vendor's bank details and pays the vendor"),
    SodRule("vendor_create_approve", "create_vendor", "approve_vendor", True,
            "creates a vendor and approves it"),
    SodRule("invoice_create_approve", "create_invoice", "approve_invoice", True,
            "enters an invoice and approves it"),
    SodRule("invoice_approve_pay", "approve_invoice", "pay", True,
            "approves an invoice and pays it"),
    SodRule("customer_create_invoice", "create_customer", "create_sales_invoice", True,
            "creates a customer and invoices that customer"),
    SodRule("price_change_invoice", "change_price", "create_sales_invoice", False,
            "changes selling prices and invoices customers"),
    SodRule("credit_memo_refund", "create_credit_memo", "refund", True,
            "issues a customer a credit memo and refunds the customer"),
    SodRule("po_create_approve", "create_po", "approve_po", True,
            "creates a purchase order and approves it"),
    SodRule("po_create_receive", "create_po", "receive_goods", True,
            "creates a purchase order and receives its goods"),
    SodRule("receive_invoice", "receive_goods", "create_invoice", True,
            "receives the goods of a purchase order and enters its invoice"),
    SodRule("receive_adjust_inventory", "receive_goods", "adjust_inventory", False,
            "receives goods and adjusts inventory levels"),
    SodRule("receive_write_off", "receive_goods", "write_off_inventory", False,
            "receives goods and writes off inventory"),
    SodRule("pay_reconcile", "pay", "bank_reconciliation", False,
            "pays vendors and reconciles the bank"),
    SodRule("account_create_post", "create_account", "post_entry", True,
            "creates a general-ledger account and posts an entry to it"),
    SodRule("entry_post_approve", "post_entry", "approve_entry", True,
            "posts a journal entry and approves it"),
    SodRule("role_self_grant", "grant_role", "*", "self",
            "grants themself a role (or creates their own access) and then acts"),
)
_COLUMNS = ["rule", "user", "object_type", "object_id", "objects", "first_action",
            "first_at", "second_action", "second_at", "first_event", "second_event", "pairs",
            "description"]


def _rules(rules: Sequence[Any]) -> list[SodRule]:
    out, seen = [], set()
    if isinstance(rules, (str, bytes)) or not isinstance(rules, Sequence):
        raise SchemaError("rules must be a sequence of (name, first action, second action, "
                          "same_object, description) tuples, e.g. DEFAULT_SOD",
                          table="rules")
    for k, rule in enumerate(rules):
        if not isinstance(rule, Sequence) or isinstance(rule, str) or len(rule) != 5:
            raise SchemaError(f"rules[{k}] = {rule!r}: give (name, first action, second "
                              "action, same_object, description)", table="rules", rows=[k])
        name, first, second, same, text = rule
        if not all(isinstance(x, str) and x.strip() for x in (name, first, second)):
            raise SchemaError(f"rules[{k}]: name and actions must be non-empty text "
                              f"({rule!r})", table="rules", rows=[k])
        if same not in (True, False, "self"):
            raise SchemaError(f"rules[{k}] ({name}): same_object is {same!r}; give True, "
                              "False or 'self'", table="rules", rows=[k])
        if second == "*" and same != "self":
            raise SchemaError(f"rules[{k}] ({name}): second='*' (any action) needs "
                              "same_object='self'", table="rules", rows=[k])
        if _norm(first) == _norm(second):
            raise SchemaError(f"rules[{k}] ({name}): first and second are the same action "
                              f"{first!r}", table="rules", rows=[k])
        if name in seen:
            raise SchemaError(f"rules[{k}]: the name {name!r} is used twice", table="rules",
                              rows=[k])
        seen.add(name)
        out.append(SodRule(name, first, second, same, str(text)))
    return out


def _norm(text: str) -> str:
    return str(text).strip().lower()


def _within(within: Any) -> int | None:
    """``within`` as nanoseconds (a number is days)."""
    if within is None:
        return None
    try:
        if isinstance(within, (int, float)) and not isinstance(within, bool):
            delta = pd.Timedelta(days=float(within))
        else:
            delta = pd.Timedelta(within)
    except (ValueError, TypeError):
        raise SchemaError(f"within={within!r} is not a time span; give days (30), text "
                          "('30D', '12h') or a timedelta", table="arguments",
                          column="within") from None
    if pd.isna(delta) or delta < pd.Timedelta(0):
        raise SchemaError(f"within={within!r}: give a span of zero or more",
                          table="arguments", column="within")
    return int(delta.value)


def sod_conflicts(
    events: FrameLike,
    rules: Sequence[Any] = DEFAULT_SOD,
    *,
    columns: Mapping[str, str] | None = None,
    within: float | str | _dt.timedelta | None = None,
) -> Examination:
    """Find users who did two things one person should not do both of.

    Each rule (:data:`DEFAULT_SOD`, or your own ``(name, first action, second
    action, same_object, description)`` tuples) names a first and a second
    action; a conflict is a user who did the first and then (at the same
    time or later, within ``within`` when given) the second: on the same
    object (``same_object=True``: the same ``object_type`` and
    ``object_id``), on any objects (False), or, for ``"self"``, after acting
    on their own account (a role granted to themself). An event that touches
    several objects is logged once per object (a payment names the invoice
    and the vendor), so that each rule can match on the object it is about.
    Actions are compared ignoring case and surrounding blanks.

    The default rules, HighBond's twelve and the others the audit tools list
    (a user who ...): creates a vendor and enters its invoice, creates a
    vendor and pays it, changes a vendor's bank details and pays it, creates
    a vendor and approves it, enters an invoice and approves it, approves an
    invoice and pays it, creates a customer and invoices it, changes prices
    and invoices customers, issues a credit memo and refunds the customer,
    creates a purchase order and approves it, creates one and receives its
    goods, receives goods and enters the invoice, receives goods and adjusts
    or writes off inventory, pays and reconciles the bank, creates a general
    ledger account and posts to it, posts an entry and approves it, grants
    themself a role and acts.

    Parameters
    ----------
    events : DataFrame
        ``user, action, object_type, object_id, at`` (timestamp), optionally
        ``event_id`` (rows of one event share it; the row number otherwise).
    rules : sequence of tuples, default DEFAULT_SOD
        ``(name, first, second, same_object, description)``.
    columns : mapping, optional
        ``{our_name: your_column}``.
    within : float, str or timedelta, optional
        Only pairs whose second action follows the first within this span
        (a number is days).

    Returns
    -------
    Examination
        Tables ``conflicts`` (one row per rule, user and object: ``rule, user,
        object_type, object_id`` (blank for rules on any objects),
        ``objects`` (how many objects the second action touched),
        ``first_action, first_at, second_action, second_at`` and
        ``first_event, second_event`` of the earliest pair, ``pairs``,
        ``description``) and ``by_rule`` (conflicts, users and pairs per rule).
        Facts: ``events``, ``users``, ``rules``, ``conflicts``,
        ``users_in_conflict``, ``by_rule``. Verdict ``findings`` or ``clean``.

    Raises
    ------
    SchemaError
        For missing columns, blank users or actions, unreadable times, or
        malformed rules.

    Examples
    --------
    >>> import pandas as pd
    >>> events = pd.DataFrame({
    ...     "user": ["ann", "ann", "bob", "ann"],
    ...     "action": ["create_vendor", "pay", "pay", "pay"],
    ...     "object_type": ["vendor", "vendor", "vendor", "invoice"],
    ...     "object_id": ["V1", "V1", "V2", "I9"],
    ...     "at": ["2025-01-02 09:00", "2025-01-20 10:00", "2025-01-21 10:00",
    ...            "2025-01-20 10:00"],
    ...     "event_id": [1, 2, 3, 2]})
    >>> r = sod_conflicts(events)
    >>> r["conflicts"][["rule", "user", "object_id", "second_event"]].values.tolist()
    [['vendor_create_pay', 'ann', 'V1', 2]]
    """
    params = params_of(locals())
    checked = _rules(rules)
    limit = _within(within)
    df = to_pandas(events, "events")
    sel = select_columns(df, name="events",
                         required=["user", "action", "object_type", "object_id", "at"],
                         optional=["event_id"], columns=columns)
    for col in ("user", "action"):
        blank = (sel[col].isna() | (sel[col].astype(str).str.strip() == "")).to_numpy()
        if blank.any():
            rows = np.flatnonzero(blank)[:5].tolist()
            raise SchemaError(f"events.{col}: blank at rows {rows}; every event needs a "
                              f"{col} (fill or drop those rows)", table="events", column=col,
                              rows=rows)
    at = parse_timestamps(sel["at"], table="events", column="at")[0].astype(np.int64)
    user, users = pd.factorize(sel["user"].astype(str).str.strip())
    action = sel["action"].astype(str).str.strip().str.lower().to_numpy()
    kind = sel["object_type"].astype(str).str.strip().str.lower().to_numpy()
    obj = sel["object_id"].astype(str).str.strip().to_numpy()
    event = sel["event_id"].to_numpy() if "event_id" in sel else np.arange(len(sel))
    ev_code = pd.factorize(event)[0]
    obj_code = pd.factorize(pd.Series(kind) + "\x1f" + pd.Series(obj))[0]
    notes: list[str] = []
    present = set(pd.unique(action))
    usable = [r.name for r in checked if _norm(r.first) in present
              and (r.second == "*" or _norm(r.second) in present)]
    if not usable:
        named = sorted({_norm(a) for r in checked for a in (r.first, r.second) if a != "*"})
        notes.append(f"sod_conflicts: no rule has both its actions in the events, so none can "
                     f"find a conflict; the rules name {named[:12]}..., the events have "
                     f"{sorted(present)[:12]}; rename the actions or give rules in yours")
    base = pd.DataFrame({"at": at, "user": user, "obj": obj_code, "ev": ev_code,
                         "row": np.arange(len(sel))})
    found = []
    for rule in checked:
        first = action == _norm(rule.first)
        second = (action != _norm(rule.first)) if rule.second == "*" else (
            action == _norm(rule.second))
        if rule.same_object == "self":  # acts on their own account
            first &= (kind == "user") & (obj == users.to_numpy()[user])
        if not first.any() or not second.any():
            continue
        same = rule.same_object is True
        f, s = base[first], base[second]
        if not same:  # one row per event
            f = f.drop_duplicates("ev")
            s = s.drop_duplicates("ev")
        key = ["user", "obj"] if same else ["user"]
        f = f.assign(_k=_key(f, key)).sort_values("at", kind="stable")
        s = s.assign(_k=_key(s, key)).sort_values("at", kind="stable")
        pairs = pd.merge_asof(s, f[["at", "_k", "row"]].rename(columns={"row": "first_row"})
                              .assign(first_at=f["at"].to_numpy()),
                              on="at", by="_k", direction="backward", tolerance=limit,
                              allow_exact_matches=True)
        pairs = pairs.dropna(subset=["first_row"])
        if len(pairs):
            found.append(_conflicts(rule, pairs, same, sel, kind, obj, action, event, users))
    table = (pd.concat(found, ignore_index=True) if found
             else pd.DataFrame({c: pd.Series(dtype=object) for c in _COLUMNS}))
    by_rule = _by_rule(checked, table)
    for message in notes:
        warn(message, [])
    facts = {
        "events": len(pd.unique(ev_code)),
        "rows": len(sel),
        "users": len(users),
        "rules": len(checked),
        "rules_applicable": len(usable),
        "conflicts": len(table),
        "users_in_conflict": int(table["user"].nunique()),
        "by_rule": {r: int(n) for r, n in zip(by_rule["rule"], by_rule["conflicts"],
                                              strict=True) if n},
    }
    return Examination("sod_conflicts", params, {"conflicts": table, "by_rule": by_rule},
                       facts, verdict="findings" if len(table) else "clean",
                       notes=tuple(notes), plotter=_plot)


def _key(frame: pd.DataFrame, key: list[str]) -> np.ndarray:
    if len(key) == 1:
        return frame["user"].to_numpy().astype(np.int64)
    return frame["user"].to_numpy().astype(np.int64) * np.int64(2**31) + frame["obj"].to_numpy()


def _conflicts(rule: SodRule, pairs: pd.DataFrame, same: bool, sel: pd.DataFrame,
               kind: np.ndarray, obj: np.ndarray, action: np.ndarray, event: np.ndarray,
               users: pd.Index) -> pd.DataFrame:
    """One row per user and object (per user for rules on any objects)."""
    pairs = pairs.sort_values(["at", "first_at"], kind="stable")
    group = ["user", "obj"] if same else ["user"]
    first = pairs.groupby(group, sort=False).head(1)
    count = pairs.groupby(group, sort=False).size().to_numpy()
    n_objects = (pairs.assign(o=obj[pairs["row"].to_numpy()]).groupby(group, sort=False)["o"]
                 .nunique().to_numpy())
    second_row = first["row"].to_numpy()
    first_row = first["first_row"].to_numpy().astype(np.int64)
    out = pd.DataFrame({
        "rule": rule.name,
        "user": users.to_numpy()[first["user"].to_numpy()],
        "object_type": kind[second_row] if same else "",
        "object_id": obj[second_row] if same else "",
        "objects": n_objects,
        "first_action": sel["action"].to_numpy()[first_row],
        "first_at": pd.to_datetime(first["first_at"].to_numpy()),
        "second_action": sel["action"].to_numpy()[second_row],
        "second_at": pd.to_datetime(first["at"].to_numpy()),
        "first_event": event[first_row],
        "second_event": event[second_row],
        "pairs": count,
        "description": rule.description,
    })
    return out


def _by_rule(rules: list[SodRule], table: pd.DataFrame) -> pd.DataFrame:
    g = table.groupby("rule")
    conflicts = g.size()
    users = g["user"].nunique()
    pairs = g["pairs"].sum()
    names = [r.name for r in rules]
    return pd.DataFrame({
        "rule": names,
        "description": [r.description for r in rules],
        "conflicts": conflicts.reindex(names, fill_value=0).to_numpy().astype(int),
        "users": users.reindex(names, fill_value=0).to_numpy().astype(int),
        "pairs": pairs.reindex(names, fill_value=0).to_numpy().astype(int),
    })


def _plot(result: Examination, ax: Axes) -> None:
    t = result.tables["by_rule"]
    ax.barh(t["rule"], t["conflicts"], color="#a8322d")
    ax.invert_yaxis()
    ax.set_xlabel("conflicts")
    ax.set_title("segregation of duties")
