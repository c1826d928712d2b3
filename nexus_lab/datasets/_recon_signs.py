"""Profile ``signs``: money in and out, under one of three sign conventions.

A consulting firm's account: clients pay invoices in (ACH credits, wires net of
the incoming-wire fee, cheques deposited one by one or several on one deposit
slip that the bank prints without a name), suppliers and payroll are paid out
(cards, ACH, a monthly rent), suppliers refund now and then (the same vendor and
amount back a few days later), and the bank pays interest. About a quarter of
the rows are money in.

How the sign is written depends on the seed (``seed % 3``) and is recorded in
``bank.attrs["sign_convention"]`` (and the ledger's):

* ``0``, ``"negative_debits"``: the bank writes money out negative and money in
  positive; the ledger writes expenses positive and receipts negative.
* ``1``, ``"debit_credit_columns"``: the bank has separate ``debit`` and
  ``credit`` columns (one of them empty) and ``amount`` holds the figure
  unsigned; the ledger writes expenses positive and receipts negative.
* ``2``, ``"both_positive"``: every amount on both sides is positive; the bank
  says which way in a ``dc`` column (``D``/``C``), the ledger in ``type``
  (``expense``/``receipt``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nexus_lab.datasets._recon_kit import (
    Book,
    bank_text,
    counts,
    cut,
    digits,
    join,
    keep_order,
    names_from,
    next_business_day,
    pick,
    split_equal,
    typos,
)

CONVENTIONS = ("negative_debits", "debit_credit_columns", "both_positive")
_TOWNS = np.array("Arden Bexley Corwin Dalton Elgin Fulton Granby Hollis Irving Jasper Kent Lorain "
                  "Medina Newark Orono Perry Quincy Salem Troy Vernon Warren Yates".split(),
                  dtype=object)
_CLIENT_KINDS = np.array(["School District", "Dental Group", "Property Management", "Credit Union",
                          "Medical Center", "Public Library", "Water Authority", "Law Offices",
                          "Housing Trust", "Chamber of Commerce"], dtype=object)
_SUPPLY_WORDS = np.array("Vector Quill Beacon Ledger Orbit Slate Pixel Anchor Summit Keystone "
                         "Lumen Cobalt".split(), dtype=object)
_SUPPLY_KINDS = np.array(["Office Supply", "Software", "Telecom", "Couriers", "IT Rentals",
                          "Travel", "Print", "Cloud Hosting", "Coworking", "Research"],
                         dtype=object)
_FEES_OUT = np.array(["MONTHLY SERVICE FEE", "WIRE IN FEE", "ACH RETURN FEE", "RDC FEE"], object)


def signs(n: int, seed: int, *, start: str, days: int | None):
    """Bank, ledger and truth of the ``signs`` profile (see the module docstring)."""
    rng = np.random.default_rng([seed, 0x5165])
    days = 365 if days is None else days
    origin = np.datetime64(start, "D")
    book = Book(rng, days)
    c = _parties(rng, int(np.clip(n // 60, 20, 600)), _TOWNS, _CLIENT_KINDS, "client")
    s = _parties(rng, int(np.clip(n // 40, 20, 120)), _SUPPLY_WORDS, _SUPPLY_KINDS, "supplier")
    share = {"pay": 0.60, "recv": 0.13, "deposit": 0.035, "wire_net": 0.02,
             "refund": 0.03, "surcharge": 0.02, "inst": 0.015, "bank_only": 0.035,
             "ledger_only": 0.03, "duplicate": 0.008, "mismatch": 0.01, "payroll": 0.02,
             "batch_recv": 0.03}
    count = counts(share, n)

    def supplier_pairs(kind, vend, lday, cents, bcents=None, direction=1, reason=None, lag=None):
        k = len(vend)
        bcents = cents if bcents is None else bcents
        ach = rng.random(k) < s["ach"][vend]
        if lag is None:
            lag = np.where(ach, rng.integers(0, 2, k), rng.choice([1, 2, 3], k, p=[.5, .35, .15]))
        bday = np.minimum(next_business_day(origin, lday + lag), days - 1)
        seq = rng.random(k)
        bday, bseq = keep_order(vend * 10**12 + bcents * 2 + (direction > 0), lday, seq, bday,
                                seq)
        name = typos(rng, s["bank"][vend], 0.06)
        if direction > 0:
            desc = np.where(ach, join("ACH DEBIT ", name, " ", s["ach_id"][vend]),
                            join("DEBIT CARD ", cut(name, 20), " ", s["city"][vend]))
        else:
            desc = join("CARD REFUND ", cut(name, 20))
        b_keys = book.bank(day=bday, seq=bseq, cents=bcents, description=desc,
                           dir=np.full(k, direction), account="OPS-7781")
        l_keys = book.ledger(
            day=lday, seq=seq, cents=cents, dir=np.full(k, direction),
            description=np.where(direction > 0, join(s["name"][vend], " - ", s["what"][vend]),
                                 join("Refund ", s["name"][vend])),
            vendor=s["name"][vend], category=s["category"][vend], reference=None)
        book.link(kind, b_keys, l_keys, book.groups(k), reason)
        return b_keys

    # ------------------------------------------------------------- money out
    k = count["pay"]
    vend = rng.choice(len(s["name"]), k, p=s["popularity"])
    cents = np.rint(s["median"][vend] * rng.lognormal(0, 0.6, k) * 100).astype(np.int64)
    pay_keys_day = rng.integers(0, days - 5, k)
    supplier_pairs("one_to_one", vend, pay_keys_day, cents)
    pay_vend, pay_cents = vend, cents

    months = max(1, days // 31)
    rent_day = np.minimum(next_business_day(origin, np.arange(months) * 30 + 1), days - 1)
    b_keys = book.bank(day=rent_day, cents=np.full(months, 1_250_000), dir=np.ones(months),
                       description="ACH DEBIT HOLLIS PROPERTY MGMT RENT", account="OPS-7781")
    l_keys = book.ledger(day=np.maximum(rent_day - 1, 0), cents=np.full(months, 1_250_000),
                         dir=np.ones(months), description="Office rent", vendor="Hollis Property "
                         "Management", category="Rent", reference=None)
    book.link("one_to_one", b_keys, l_keys, book.groups(months))

    k = count["payroll"]
    pday = np.minimum(next_business_day(origin, rng.integers(0, days - 3, k)), days - 1)
    cents = np.rint(rng.lognormal(np.log(4200), 0.5, k) * 100).astype(np.int64)
    b_keys = book.bank(day=pday, cents=cents, dir=np.ones(k), account="OPS-7781",
                       description=join("PAYROLL DIR DEP ", digits(rng.integers(0, 10**6, k), 6)))
    l_keys = book.ledger(day=np.maximum(pday - rng.integers(0, 2, k), 0), cents=cents,
                         dir=np.ones(k), description=join("Payroll run ", digits(
                             rng.integers(1, 27, k), 2)), vendor="Payroll", category="Wages",
                         reference=None)
    book.link("one_to_one", b_keys, l_keys, book.groups(k))

    # refunds: the purchase, then the same amount back a few days later (look-alikes)
    k = count["refund"] // 2
    vend = rng.choice(len(s["name"]), k, p=s["popularity"])
    cents = np.rint(s["median"][vend] * rng.lognormal(0, 0.5, k) * 100).astype(np.int64)
    l1 = rng.integers(0, days - 14, k)
    supplier_pairs("decoy", vend, l1, cents)
    supplier_pairs("decoy", vend, l1 + rng.integers(2, 8, k), cents, direction=-1)

    k = count["surcharge"]
    vend = rng.choice(len(s["name"]), k, p=s["popularity"])
    cents = np.rint(s["median"][vend] * rng.lognormal(0, 0.6, k) * 100).astype(np.int64)
    fee = np.where(rng.random(k) < 0.5, rng.choice([99, 150, 299, 395], k),
                   np.rint(cents * 0.03).astype(np.int64) + 1)
    supplier_pairs("tolerance", vend, rng.integers(0, days - 5, k), cents, cents + fee)

    # -------------------------------------------------------------- money in
    nc = len(c["name"])

    def invoices(vend):
        return np.rint(c["median"][vend] * rng.lognormal(0, 0.4, len(vend)) * 100).astype(
            np.int64)

    def inv_numbers(k):
        return join("INV-", digits(rng.integers(10000, 99999, k), 5))

    k = count["recv"]
    vend = rng.choice(nc, k, p=c["popularity"])
    cents = invoices(vend)
    inv = inv_numbers(k)
    lday = rng.integers(2, days - 4, k)
    bday = np.minimum(next_business_day(origin, lday + rng.integers(-2, 3, k)), days - 1)
    seq = rng.random(k)
    bday, bseq = keep_order(vend * 10**12 + cents, lday, seq, bday, seq)
    b_keys = book.bank(day=bday, seq=bseq, cents=cents, dir=-np.ones(k), account="OPS-7781",
                       description=join("ACH CREDIT ", c["bank"][vend], " ",
                                        np.where(rng.random(k) < 0.5, inv, "PAYMENT")))
    l_keys = book.ledger(day=lday, seq=seq, cents=cents, dir=-np.ones(k),
                         description=join("Receipt ", c["name"][vend], " ", inv),
                         vendor=c["name"][vend], category="Revenue", reference=inv)
    book.link("one_to_one", b_keys, l_keys, book.groups(k))

    # a client paying several invoices at once
    k = count["batch_recv"]
    vend = rng.choice(nc, k, p=c["popularity"])
    size = rng.integers(2, 6, k)
    owner = np.repeat(np.arange(k), size)
    cents = invoices(vend[owner])
    inv = inv_numbers(len(owner))
    pay = rng.integers(20, days - 2, k)
    bday = np.minimum(next_business_day(origin, pay), days - 1)
    b_keys = book.bank(day=bday, cents=np.add.reduceat(cents, np.r_[0, np.cumsum(size)[:-1]]),
                       dir=-np.ones(k), account="OPS-7781",
                       description=join("WIRE IN ", cut(c["bank"][vend], 24), " REMITTANCE"))
    l_keys = book.ledger(day=pay[owner] - rng.integers(0, 3, len(owner)), cents=cents,
                         dir=-np.ones(len(owner)),
                         description=join("Receipt ", c["name"][vend[owner]], " ", inv),
                         vendor=c["name"][vend[owner]], category="Revenue", reference=inv)
    gid = book.groups(k)
    book.link("batch", b_keys[owner], l_keys, gid[owner])

    # cheques on one deposit slip (the bank prints no name), or deposited one by one
    k = count["deposit"]
    size = np.where(rng.random(k) < 0.5, 1, rng.integers(2, 5, k))
    owner = np.repeat(np.arange(k), size)
    vend = rng.choice(nc, len(owner), p=c["popularity"])
    cents = invoices(vend)
    dday = rng.integers(1, days - 4, k)
    bday = np.minimum(next_business_day(origin, dday + rng.integers(0, 3, k)), days - 1)
    slip = digits(rng.integers(0, 10**7, k), 7)
    b_keys = book.bank(day=bday, cents=np.add.reduceat(cents, np.r_[0, np.cumsum(size)[:-1]]),
                       dir=-np.ones(k), account="OPS-7781",
                       description=np.where(rng.random(k) < 0.5, join("MOBILE DEPOSIT ", slip),
                                            join("DEPOSIT ", slip)))
    chk = digits(rng.integers(1000, 99999, len(owner)), 5)
    l_keys = book.ledger(day=dday[owner], cents=cents, dir=-np.ones(len(owner)),
                         description=join("Receipt ", c["name"][vend], " chk ", chk),
                         vendor=c["name"][vend], category="Revenue", reference=None)
    gid = book.groups(k)
    single = size[owner] == 1
    book.link("one_to_one", b_keys[owner][single], l_keys[single], gid[owner][single])
    book.link("batch", b_keys[owner][~single], l_keys[~single], gid[owner][~single])

    # wires in, net of the bank's incoming-wire fee
    k = count["wire_net"]
    vend = rng.choice(nc, k, p=c["popularity"])
    cents = invoices(vend)
    inv = inv_numbers(k)
    lday = rng.integers(0, days - 5, k)
    bday = np.minimum(next_business_day(origin, lday + rng.integers(0, 3, k)), days - 1)
    b_keys = book.bank(day=bday, cents=cents - rng.choice([1000, 1500, 2500], k), dir=-np.ones(k),
                       account="OPS-7781",
                       description=join("INCOMING WIRE ", cut(c["bank"][vend], 24), " ", inv))
    l_keys = book.ledger(day=lday, cents=cents, dir=-np.ones(k),
                         description=join("Receipt ", c["name"][vend], " ", inv),
                         vendor=c["name"][vend], category="Revenue", reference=inv)
    book.link("tolerance", b_keys, l_keys, book.groups(k))

    # a client paying a large invoice in monthly parts
    k = max(1, count["inst"] // 3)
    vend = rng.choice(nc, k, p=c["popularity"])
    size = rng.integers(2, 5, k)
    total = invoices(vend) * size
    owner, rank, part = split_equal(total, size, np.zeros(k, bool))  # rest on the last
    lday = rng.integers(0, max(days - 130, 1), k)
    pday = np.minimum(next_business_day(origin, lday[owner] + 5 + 30 * rank), days - 1)
    inv = inv_numbers(k)
    b_keys = book.bank(day=pday, cents=part, dir=-np.ones(len(owner)), account="OPS-7781",
                       description=join("ACH CREDIT ", c["bank"][vend[owner]], " ", inv[owner]))
    l_keys = book.ledger(day=lday, cents=total, dir=-np.ones(k), vendor=c["name"][vend],
                         description=join("Receipt ", c["name"][vend], " ", inv, " (plan)"),
                         category="Revenue", reference=inv)
    gid = book.groups(k)
    book.link("installment", b_keys, l_keys[owner], gid[owner])

    # -------------------------------------------------------------- open rows
    k = count["bank_only"]
    interest = rng.random(k) < 0.3
    b_keys = book.bank(day=rng.integers(0, days, k), cents=rng.integers(100, 4000, k),
                       dir=np.where(interest, -1, 1), account="OPS-7781",
                       description=np.where(interest, "INTEREST PAID", pick(rng, _FEES_OUT, k)))
    book.bank_only("bank_only", b_keys, "missing in ledger")
    k = count["ledger_only"]
    late = rng.random(k) < 0.6
    vend = rng.choice(nc, k, p=c["popularity"])
    lday = np.where(late, rng.integers(max(days - 3, 0), days, k), rng.integers(0, days - 10, k))
    l_keys = book.ledger(day=lday, cents=invoices(vend), dir=-np.ones(k),
                         description=join("Receipt ", c["name"][vend], " deposit in transit"),
                         vendor=c["name"][vend], category="Revenue", reference=None)
    book.ledger_only("ledger_only", l_keys, np.where(late, "timing difference",
                                                      "missing in bank"))
    k = count["duplicate"]
    src = rng.choice(len(pay_vend), k, replace=False)
    b_keys = book.bank(day=np.minimum(pay_keys_day[src] + rng.integers(2, 5, k), days - 1),
                       cents=pay_cents[src], dir=np.ones(k), account="OPS-7781",
                       description=join("DEBIT CARD ", cut(s["bank"][pay_vend[src]], 20), " ",
                                        s["city"][pay_vend[src]]))
    book.bank_only("duplicate", b_keys, "possible duplicate")
    k = count["mismatch"]
    vend = rng.choice(len(s["name"]), k, p=s["popularity"])
    cents = np.rint(s["median"][vend] * rng.lognormal(0, 0.6, k) * 100).astype(np.int64)
    supplier_pairs("amount_mismatch", vend, rng.integers(0, days - 5, k),
                   np.where(rng.random(k) < 0.5, cents * 10, cents + 1900), cents,
                   reason="amount mismatch")

    bank, ledger, truth = book.tables(
        start, bank_columns=("description", "account", "dir"),
        ledger_columns=("description", "vendor", "category", "reference", "dir"),
        bank_ids="OPS%07d", ledger_ids="CB-%06d",
    )
    return (*_write_signs(bank, ledger, seed % 3), truth)


def _write_signs(bank: pd.DataFrame, ledger: pd.DataFrame, convention: int):
    """Amounts as the convention writes them (both frames come in unsigned, with ``dir``)."""
    out_b = bank.pop("dir").to_numpy(float) > 0  # money out of the bank account
    exp_l = ledger.pop("dir").to_numpy(float) > 0  # an expense in the ledger
    if convention == 0:
        bank["amount"] = np.where(out_b, -bank["amount"], bank["amount"])
    elif convention == 1:
        bank["debit"] = np.where(out_b, bank["amount"], np.nan)
        bank["credit"] = np.where(out_b, np.nan, bank["amount"])
    else:
        bank["dc"] = np.where(out_b, "D", "C")
        ledger["type"] = np.where(exp_l, "expense", "receipt")
    if convention in (0, 1):
        ledger["amount"] = np.where(exp_l, ledger["amount"], -ledger["amount"])
    bank.attrs["sign_convention"] = CONVENTIONS[convention]
    ledger.attrs["sign_convention"] = CONVENTIONS[convention]
    return bank, ledger


def _parties(rng, k, words, kinds, role) -> dict[str, np.ndarray]:
    a, b = names_from(rng, words, kinds, k)
    k = len(a)
    name = join(words[a], " ", kinds[b])
    bank = bank_text(name)
    w = rng.permutation(1.0 / np.arange(1, k + 1) ** 0.8)
    supplier = role == "supplier"
    return {
        "name": name,
        "bank": np.where(rng.random(k) < 0.3, cut(bank, 16), bank),
        "popularity": w / w.sum(),
        "median": np.exp(rng.normal(np.log(180 if supplier else 2400), 0.8, k)),
        "ach": np.where(rng.random(k) < 0.4, 0.9, 0.1),
        "ach_id": join("ID", digits(rng.integers(0, 10**9, k), 9)),
        "city": pick(rng, ["COLUMBUS OH", "AKRON OH", "DAYTON OH", "888-555-0100"], k),
        "what": pick(rng, ["monthly", "licence", "supplies", "services", "travel"], k),
        "category": pick(rng, ["Office", "Software", "Travel", "Telecom", "Subcontractors"], k),
    }
