"""A seeded log of ERP events (who did what to which object, when), with segregation-of-
duties conflicts planted."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["ERP_ACTIONS", "synth_erp_events"]

#: The actions :func:`synth_erp_events` logs, and the kind of object each acts on.
ERP_ACTIONS = {
    "create_vendor": "vendor", "change_vendor_bank": "vendor", "approve_vendor": "vendor",
    "create_po": "po", "approve_po": "po", "receive_goods": "po",
    "create_invoice": "invoice", "approve_invoice": "invoice", "pay": "invoice",
    "bank_reconciliation": "bank_account",
    "create_customer": "customer", "change_price": "product",
    "create_sales_invoice": "sales_invoice", "create_credit_memo": "customer",
    "refund": "customer", "adjust_inventory": "product", "write_off_inventory": "product",
    "create_account": "account", "post_entry": "entry", "approve_entry": "entry",
    "create_user": "user", "grant_role": "user",
}
# who does what in a well-run company (no one holds two conflicting duties)
_ROLES = {
    "vendor_master": ("create_vendor",),
    "vendor_maintenance": ("change_vendor_bank",),
    "vendor_approver": ("approve_vendor",),
    "buyer": ("create_po",),
    "purchasing_manager": ("approve_po",),
    "warehouse": ("receive_goods",),
    "inventory_control": ("adjust_inventory", "write_off_inventory"),
    "ap_clerk": ("create_invoice",),
    "ap_approver": ("approve_invoice",),
    "treasury": ("pay",),
    "cash_accountant": ("bank_reconciliation",),
    "customer_master": ("create_customer",),
    "sales_admin": ("create_sales_invoice",),
    "pricing": ("change_price",),
    "ar_clerk": ("create_credit_memo",),
    "ar_manager": ("refund",),
    "gl_accountant": ("post_entry",),
    "controller": ("approve_entry",),
    "gl_admin": ("create_account",),
    "it_admin": ("create_user", "grant_role"),
}
_STAFF = {"vendor_master": 2, "vendor_maintenance": 2, "vendor_approver": 2,
          "customer_master": 2, "buyer": 6, "purchasing_manager": 2,
          "warehouse": 5, "inventory_control": 2, "ap_clerk": 5, "ap_approver": 2,
          "treasury": 2, "cash_accountant": 2, "sales_admin": 6, "pricing": 2, "ar_clerk": 3,
          "ar_manager": 2, "gl_accountant": 6, "controller": 2, "gl_admin": 1, "it_admin": 2}
# (rule, first action, second action, same object) as sod_conflicts' default rules
_CONFLICTS = (
    ("vendor_create_invoice", "create_vendor", "create_invoice", "vendor"),
    ("vendor_create_pay", "create_vendor", "pay", "vendor"),
    ("vendor_bank_pay", "change_vendor_bank", "pay", "vendor"),
    ("vendor_create_approve", "create_vendor", "approve_vendor", "vendor"),
    ("invoice_create_approve", "create_invoice", "approve_invoice", "invoice"),
    ("invoice_approve_pay", "approve_invoice", "pay", "invoice"),
    ("customer_create_invoice", "create_customer", "create_sales_invoice", "customer"),
    ("price_change_invoice", "change_price", "create_sales_invoice", None),
    ("credit_memo_refund", "create_credit_memo", "refund", "customer"),
    ("po_create_approve", "create_po", "approve_po", "po"),
    ("po_create_receive", "create_po", "receive_goods", "po"),
    ("receive_invoice", "receive_goods", "create_invoice", "po"),
    ("receive_adjust_inventory", "receive_goods", "adjust_inventory", None),
    ("receive_write_off", "receive_goods", "write_off_inventory", None),
    ("pay_reconcile", "pay", "bank_reconciliation", None),
    ("account_create_post", "create_account", "post_entry", "account"),
    ("entry_post_approve", "post_entry", "approve_entry", "entry"),
    ("role_self_grant", "grant_role", "*", "self"),
)
_HOUR = 3600


class _Log:
    """Rows of the log as lists of arrays, joined at the end."""

    def __init__(self, rng: np.random.Generator, start: int, days: int) -> None:
        self.rng, self.start, self.days = rng, start, days
        self.parts: list[dict[str, np.ndarray]] = []
        self.events = 0
        self.users = {role: np.array([f"{role.replace('_', '.')}{k + 1}" for k in range(n)])
                      for role, n in _STAFF.items()}

    def when(self, n: int, after: np.ndarray | None = None, lag: tuple[float, float] = (0, 0),
             ) -> np.ndarray:
        """Seconds: working hours of working days, or ``lag`` days after ``after``."""
        rng = self.rng
        if after is None:
            day = self.start + rng.integers(0, self.days, n)
        else:
            day = after // 86_400 + np.ceil(rng.uniform(lag[0], lag[1], n)).astype(np.int64)
        weekday = (day + 3) % 7
        day = day + np.where(weekday == 5, 2, np.where(weekday == 6, 1, 0))
        return day * 86_400 + ((8 + 9.5 * rng.beta(2, 2, n)) * _HOUR).astype(np.int64)

    def who(self, role: str, n: int) -> np.ndarray:
        pool = self.users[role]
        return pool[self.rng.integers(0, len(pool), n)]

    def add(self, user: np.ndarray, action: str,
            objects: dict[str, np.ndarray] | list[tuple[str, np.ndarray]], at: np.ndarray,
            ) -> np.ndarray:
        """One event per row of ``at``, logged once per object it touches; its numbers."""
        event = self.events + np.arange(len(at))
        self.events += len(at)
        pairs = list(objects.items()) if isinstance(objects, dict) else objects
        for kind, ids in pairs:
            self.parts.append({"user": user, "action": np.full(len(at), action),
                               "object_type": np.full(len(at), kind),
                               "object_id": np.asarray(ids), "at": at, "event": event})
        return event


def _ids(prefix: str, n: int) -> np.ndarray:
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), 6))


def synth_erp_events(
    n: int = 20_000,
    seed: int = 0,
    plant: bool = True,
    *,
    start: str = "2025-01-01",
    days: int = 365,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate an ERP's log of user events with segregation-of-duties conflicts planted.

    A year of a company's purchase-to-pay, order-to-cash, inventory, general
    ledger and user administration, each duty held by its own people (vendor
    master clerks, buyers, warehouse staff, AP clerks and approvers, treasury,
    sales admin, pricing, AR, accountants, controllers, a GL administrator, IT
    administrators): vendors are created, approved and sometimes get new bank
    details; purchase orders are created, approved and received; invoices
    against them are entered, approved and paid; customers are created and
    invoiced, prices change, credit memos are refunded; entries are posted to
    accounts and approved; users are created and granted roles. An event that
    touches several objects is logged once per object (``pay`` names the
    invoice and the vendor; ``post_entry`` the entry and its accounts;
    ``grant_role`` the user granted and the role).

    With ``plant``, people step outside their duties: for each of the common
    conflicts (those of :data:`nexus_lab.examine.DEFAULT_SOD`) a few users
    do both duties (the same vendor created and paid, an entry posted and
    approved by its poster, an administrator granting a role to themself and
    then paying...), and a few do both in the harmless order (paying a vendor,
    then changing its bank details for the next payment run's review is not
    the conflict; these are decoys, not in the truth).

    Parameters
    ----------
    n : int
        Approximate number of rows.
    seed : int
        Seed; the same arguments always give the same tables.
    plant : bool, default True
        Plant conflicts (and decoys).
    start : str
        First day.
    days : int
        Length of the log in days.

    Returns
    -------
    events : pandas.DataFrame
        ``event_id, user, action, object_type, object_id, at`` (timestamp),
        sorted by time; rows of one event share its ``event_id``.
    truth : pandas.DataFrame
        ``rule, user, object_type, object_id`` (empty for rules on any
        objects), ``event_id`` (the second, conflicting event): one row per
        planted conflict.

    Examples
    --------
    >>> events, truth = synth_erp_events(5_000, seed=0)
    >>> events.columns.tolist()
    ['event_id', 'user', 'action', 'object_type', 'object_id', 'at']
    >>> truth["rule"].nunique()
    18
    """
    if int(n) < 500:
        raise ValueError(f"n={n}: make at least 500 rows")
    rng = np.random.default_rng([int(seed), 7])
    day0 = int(np.datetime64(start, "D").astype(np.int64))
    log = _Log(rng, day0, int(days))
    m = max(int(n) // 30, 10)
    # master data
    n_vendor, n_customer = max(m // 4, 20), max(m // 4, 20)
    n_product, n_account = max(m // 100, 40), max(m // 50, 60)
    vendor, customer = _ids("V", n_vendor), _ids("C", n_customer)
    product, account = _ids("P", n_product), np.char.add("A", np.arange(1000, 1000 + n_account)
                                                        .astype(str))
    t_vendor = log.when(n_vendor)
    log.add(log.who("vendor_master", n_vendor), "create_vendor", [("vendor", vendor)], t_vendor)
    log.add(log.who("vendor_approver", n_vendor), "approve_vendor", [("vendor", vendor)],
            log.when(n_vendor, t_vendor, (0, 3)))
    bank = rng.choice(n_vendor, max(n_vendor // 10, 8), replace=False)
    log.add(log.who("vendor_maintenance", len(bank)), "change_vendor_bank",
            [("vendor", vendor[bank])], log.when(len(bank), t_vendor[bank], (20, 200)))
    t_account = log.when(n_account)
    log.add(log.who("gl_admin", n_account), "create_account", [("account", account)],
            t_account)
    t_customer = log.when(n_customer)
    log.add(log.who("customer_master", n_customer), "create_customer", [("customer", customer)],
            t_customer)
    # purchase to pay
    n_po = 2 * m
    po, po_vendor = _ids("PO", n_po), rng.integers(0, n_vendor, n_po)
    t_po = np.maximum(log.when(n_po), t_vendor[po_vendor] + 4 * 86_400)
    log.add(log.who("buyer", n_po), "create_po", {"po": po}, t_po)
    t_ok = log.when(n_po, t_po, (0, 2))
    log.add(log.who("purchasing_manager", n_po), "approve_po", {"po": po}, t_ok)
    t_recv = log.when(n_po, t_ok, (3, 20))
    log.add(log.who("warehouse", n_po), "receive_goods", {"po": po}, t_recv)
    invoice = _ids("INV", n_po)
    t_inv = log.when(n_po, t_recv, (0, 10))
    log.add(log.who("ap_clerk", n_po), "create_invoice",
            {"invoice": invoice, "vendor": vendor[po_vendor], "po": po}, t_inv)
    t_appr = log.when(n_po, t_inv, (0, 4))
    log.add(log.who("ap_approver", n_po), "approve_invoice", {"invoice": invoice}, t_appr)
    t_pay = log.when(n_po, t_appr, (5, 30))
    log.add(log.who("treasury", n_po), "pay", {"invoice": invoice, "vendor": vendor[po_vendor]},
            t_pay)
    months = max(int(days) // 30, 1)
    recs = log.when(months * 2)
    log.add(log.who("cash_accountant", months * 2), "bank_reconciliation",
            {"bank_account": np.array(["BANK1", "BANK2"])[np.arange(months * 2) % 2]}, recs)
    n_adj = max(m // 5, 2)
    log.add(log.who("inventory_control", n_adj), "adjust_inventory",
            {"product": product[rng.integers(0, n_product, n_adj)]}, log.when(n_adj))
    log.add(log.who("inventory_control", n_adj // 3 + 1), "write_off_inventory",
            {"product": product[rng.integers(0, n_product, n_adj // 3 + 1)]},
            log.when(n_adj // 3 + 1))
    # order to cash
    n_sale = 3 * m
    sale_customer = rng.integers(0, n_customer, n_sale)
    t_sale = np.maximum(log.when(n_sale), t_customer[sale_customer] + 86_400)
    log.add(log.who("sales_admin", n_sale), "create_sales_invoice",
            {"sales_invoice": _ids("SI", n_sale), "customer": customer[sale_customer]}, t_sale)
    n_price = max(m // 4, 8)
    log.add(log.who("pricing", n_price), "change_price",
            {"product": product[rng.integers(0, n_product, n_price)]}, log.when(n_price))
    n_memo = max(m // 8, 8)
    memo_customer = customer[rng.integers(0, n_customer, n_memo)]
    t_memo = log.when(n_memo)
    log.add(log.who("ar_clerk", n_memo), "create_credit_memo", {"customer": memo_customer},
            t_memo)
    log.add(log.who("ar_manager", n_memo), "refund", {"customer": memo_customer},
            log.when(n_memo, t_memo, (1, 10)))
    # general ledger
    n_entry = 3 * m
    entry = _ids("JE", n_entry)
    acc = rng.integers(0, n_account, (n_entry, 2))
    t_entry = np.maximum(log.when(n_entry), t_account[acc].max(axis=1) + 86_400)
    poster = log.who("gl_accountant", n_entry)
    log.add(poster, "post_entry", [("entry", entry), ("account", account[acc[:, 0]]),
                                   ("account", account[acc[:, 1]])], t_entry)
    log.add(log.who("controller", n_entry), "approve_entry", {"entry": entry},
            log.when(n_entry, t_entry, (0, 3)))
    # user administration
    n_user = max(m // 20, 3)
    staff = np.concatenate([u for role, u in log.users.items() if role != "it_admin"])
    grantee = staff[rng.integers(0, len(staff), n_user)]
    roles = np.array(list(_ROLES))[rng.integers(0, len(_ROLES), n_user)]
    log.add(log.who("it_admin", n_user), "grant_role", {"user": grantee, "role": roles},
            log.when(n_user))
    new = np.char.add("new.hire", np.arange(1, n_user + 1).astype(str))
    log.add(log.who("it_admin", n_user), "create_user", {"user": new}, log.when(n_user))
    truth = _plant(log, rng, max(int(n) // 4000, 2)) if plant else []
    return _frames(log, truth)


def _plant(log: _Log, rng: np.random.Generator, k: int) -> list[tuple]:
    """For each conflict, ``k`` users doing both duties and one doing them the other way
    round (a decoy); the truth rows (rule, user, object_type, object_id, event)."""
    truth = []
    for rule, first, second, same in _CONFLICTS:
        if same == "self":  # an administrator grants themself the payment role, then pays
            admins = log.who("it_admin", k)
            t = log.when(k)
            log.add(admins, "grant_role", {"user": admins, "role": np.full(k, "treasury")}, t)
            paid = log.add(admins, "pay", {"invoice": np.char.add("INV-X", np.arange(
                k).astype(str)), "vendor": np.full(k, "V000001")}, log.when(k, t, (1, 20)))
            truth += [(rule, admins[j], "", "", paid[j]) for j in range(k)]
            continue
        kind = same or ERP_ACTIONS[first]
        part = next(p for p in log.parts if p["action"][0] == first
                    and p["object_type"][0] == kind)
        pick = rng.choice(len(part["at"]), min(k + 1, len(part["at"]) // 2), replace=False)
        user, obj, t_first = part["user"][pick], part["object_id"][pick], part["at"][pick]
        when = log.when(k + 1, t_first, (1, 30))
        # the decoy: the same object, the other way round (rules on any objects have none:
        # the user's other events would make it a conflict all the same)
        when[-1] = t_first[-1] - int(rng.integers(2, 30)) * 86_400
        if not same:
            user, obj, when = user[:-1], obj[:-1], when[:-1]
        own = ERP_ACTIONS[second]
        fresh = np.char.add(f"{own[:3].upper()}-X", rng.integers(10_000, 99_999, len(user))
                            .astype(str))
        objects = {own: obj if same == own else fresh}
        if same and same != own:
            objects[same] = obj
        if second == "pay" and "vendor" not in objects:
            objects["vendor"] = np.full(len(user), "V000001")
        done = log.add(user, second, objects, when)
        truth += [(rule, user[j], same or "", obj[j] if same else "", done[j])
                  for j in range(len(pick) - 1)]
    return truth


def _frames(log: _Log, truth: list[tuple]) -> tuple[pd.DataFrame, pd.DataFrame]:
    cols = {k: np.concatenate([p[k] for p in log.parts]) for k in log.parts[0]}
    order = np.lexsort((cols["event"], cols["at"]))
    event = cols["event"][order]
    # event numbers in order of time
    rank, first_seen = pd.factorize(event)
    number = np.empty(log.events, np.int64)
    number[first_seen] = np.arange(len(first_seen))
    names = np.char.add("E", np.char.zfill((np.arange(len(first_seen)) + 1).astype(str), 7))
    events = pd.DataFrame({
        "event_id": names[rank],
        "user": cols["user"][order], "action": cols["action"][order],
        "object_type": cols["object_type"][order], "object_id": cols["object_id"][order],
        "at": (cols["at"][order] * 1_000_000_000).astype("datetime64[ns]"),
    })
    rows = [(rule, user, kind, obj, names[number[e]]) for rule, user, kind, obj, e in truth]
    return events, pd.DataFrame(rows, columns=["rule", "user", "object_type", "object_id",
                                               "event_id"])
