"""Profile ``installments``: a firm that finances much of what it buys.

One ledger line (the purchase, the lease, the premium, the tax due) is paid by
2-12 bank lines at a regular period: buy-now-pay-later orders in four parts a
fortnight (or a week) apart, the first at the checkout; equipment leases,
insurance premiums and tax payment plans monthly on one day of the month (moved
to the next business day); supplier payment plans weekly or fortnightly. Parts
are equal, the rounding cents on the first or on the last part; some plans start
with a down payment. The bank names the lender (``KLARNA*``, ``AFFIRM``, the
lessor), not always the merchant the ledger names. Around them: ordinary card
purchases, monthly subscriptions of one amount (which look like installments),
look-alike purchases and the usual open rows. Bank debits positive; the bank
export has no reference column.
"""

from __future__ import annotations

import numpy as np

from nexus_lab.datasets._recon_kit import (
    Book,
    add_months,
    bank_text,
    counts,
    cut,
    digits,
    join,
    keep_order,
    money,
    names_from,
    next_business_day,
    pick,
    split_equal,
    typos,
)

_WORDS = np.array((
    "Ashby Bellwood Carrow Denholm Eastgate Fenwick Galloway Hartwell Ivybridge Juniper Kestrel "
    "Larkspur Marlow Nettleton Orwell Pinewood Quarry Rosewood Saxon Tamworth Upton Verity "
    "Wexford Yardley Zephyr Bramble Coppice Dovetail Everly Foxglove Greyfriars Hawthorn Linden "
    "Moorland Northbrook Oldfield Primrose Redfern Silverdale Thistle Wavertree Amberley"
).split(), dtype=object)
_SHOPS = np.array(
    ["Furniture", "Electronics", "Dental", "Auto Repair", "Appliances", "Computers", "Optical",
     "Mattress Co", "Office Interiors", "Tyres", "Bikes", "Camera Store", "Hearing Care",
     "Home Store", "Kitchens", "Flooring", "Music", "Vet Clinic"], dtype=object
)
_LESSORS = np.array(["Leasing", "Capital", "Equipment Finance", "Fleet Leasing", "Asset Finance"],
                    dtype=object)
_INSURERS = np.array(["Mutual Insurance", "Assurance", "Casualty Co", "General Insurance"],
                     dtype=object)
_SUPPLIERS = np.array(["Builders Merchants", "Timber", "Print Works", "Signage", "Catering"],
                      dtype=object)
_BNPL = np.array(["KLARNA*", "AFFIRM *PAY ", "AFTERPAY ", "PAYPAL *PAYIN4 ", "ZIP CO ",
                  "SEZZLE INC "], dtype=object)
_BNPL_NAME = np.array(["Klarna", "Affirm", "Afterpay", "PayPal", "Zip", "Sezzle"], dtype=object)
_TAX = np.array(["IRS USATAXPYMT ", "STATE DEPT REVENUE ", "COUNTY TAX INSTALLMENT "],
                dtype=object)
_TAX_NAME = np.array(["Internal Revenue Service", "State Department of Revenue",
                      "County Treasurer"], dtype=object)
_ITEMS = np.array(["laptops", "office chairs", "printer", "desk set", "phones", "sofa",
                   "server", "camera kit", "tools", "fridge"], dtype=object)
_SAAS = np.array(["Cloud", "CRM", "Payroll", "Backup", "Analytics", "Mail", "Design Suite"],
                 dtype=object)
_FEES = np.array(["MONTHLY MAINTENANCE FEE", "LATE PAYMENT FEE", "CASH WITHDRAWAL",
                  "INTEREST CHARGED", "NSF FEE"], dtype=object)
_TYPES = np.array(["bnpl", "lease", "insurance", "supplier", "tax"], dtype=object)


def installments(n: int, seed: int, *, start: str, days: int | None):
    """Bank, ledger and truth of the ``installments`` profile (see the module docstring)."""
    rng = np.random.default_rng([seed, 0x1457])
    days = 365 if days is None else days
    origin = np.datetime64(start, "D")
    book = Book(rng, days)
    m = _merchants(rng, int(np.clip(n // 30, 30, 800)))
    nm = len(m["name"])
    pop = m["popularity"]
    share = {"parts": 0.40, "one": 0.435, "subs": 0.07, "decoy": 0.02, "tolerance": 0.02,
             "batch": 0.01, "bank_only": 0.025, "ledger_only": 0.02, "duplicate": 0.005,
             "mismatch": 0.01}
    count = counts(share, n)

    # ------------------------------------------------------------ the plans
    ptype = rng.choice(_TYPES, max(4, round(count["parts"] / 6.5)),
                       p=[0.35, 0.2, 0.15, 0.15, 0.15])
    g = len(ptype)
    size = np.select(
        [ptype == "bnpl", ptype == "lease", ptype == "insurance", ptype == "supplier"],
        [rng.choice([3, 4, 6], g, p=[0.1, 0.8, 0.1]), rng.integers(6, 13, g),
         rng.choice([10, 12], g), rng.integers(2, 9, g)],
        rng.integers(2, 7, g),
    )
    monthly = np.isin(ptype, ["lease", "insurance", "tax"]) | (
        (ptype == "bnpl") & (size == 6))
    period = np.where(monthly, 0, np.where(
        ptype == "bnpl", rng.choice([7, 14], g, p=[0.3, 0.7]), rng.choice([7, 14], g)))
    down = ((ptype == "lease") | (ptype == "supplier")) & (rng.random(g) < 0.3)
    # shorten plans that would not end inside the period
    span = np.where(monthly, 31, period) * (size - 1) + 16
    fit = np.maximum((days - 17) // np.where(monthly, 31, period) + 1, 2)
    size = np.where(span > days - 1, np.minimum(size, fit), size)
    span = np.where(monthly, 31, period) * (size - 1) + 16
    l_day = (rng.random(g) * np.maximum(days - span, 1)).astype(np.int64)
    total = np.rint(np.select(
        [ptype == "bnpl", ptype == "lease", ptype == "insurance", ptype == "supplier"],
        [np.exp(rng.normal(np.log(220), 0.8, g)), np.exp(rng.normal(np.log(450), 0.7, g)) * size,
         np.exp(rng.normal(np.log(3600), 0.6, g)), np.exp(rng.normal(np.log(4000), 0.9, g))],
        np.exp(rng.normal(np.log(2500), 0.8, g)),
    ) * 100).astype(np.int64)
    total = np.where(ptype == "lease", np.rint(total / 100) * 100, total).astype(np.int64)
    total = np.maximum(total, 100 * size)
    down_cents = np.where(down, np.rint(total * rng.uniform(0.1, 0.35, g) / 100) * 100, 0)
    down_cents = down_cents.astype(np.int64)
    equal_n = size - down
    owner, step, part = split_equal(total - down_cents, equal_n, rng.random(g) < 0.5)
    step = step + down[owner]  # after a down payment the parts start one period on
    d_owner = np.flatnonzero(down)
    owner = np.concatenate([owner, d_owner])
    step = np.concatenate([step, np.zeros(len(d_owner), np.int64)])
    part = np.concatenate([part, down_cents[d_owner]])
    is_down = np.r_[np.zeros(len(step) - len(d_owner), bool), np.ones(len(d_owner), bool)]
    order = np.lexsort((step, owner))
    owner, step, part, is_down = owner[order], step[order], part[order], is_down[order]
    rank = step
    first = l_day + np.select(
        [ptype == "bnpl", down],
        [rng.integers(0, 2, g), rng.integers(0, 3, g)],
        rng.integers(3, 12, g),
    )
    p_day = np.where(
        monthly[owner], add_months(origin, first[owner], step), first[owner] + period[owner] * step)
    card_lag = (ptype[owner] == "bnpl") * rng.choice([0, 1, 2], len(owner), p=[0.5, 0.35, 0.15])
    p_day = np.minimum(next_business_day(origin, p_day + card_lag), days - 1)

    merchant = rng.choice(nm, g, p=pop)
    provider = rng.integers(0, len(_BNPL), g)
    tax = rng.integers(0, len(_TAX), g)
    contract = join(pick(rng, ["LC", "AGR", "K"], g), digits(rng.integers(0, 10**6, g), 6))
    lender = np.select(
        [ptype == "bnpl", ptype == "lease", ptype == "insurance", ptype == "supplier"],
        [_BNPL_NAME[provider], m["lessor"][merchant], m["insurer"][merchant],
         m["supplier"][merchant]], _TAX_NAME[tax])
    lb = bank_text(lender)
    kk = join(digits(rank + 1, 2), "/", digits(size[owner], 2))
    o = owner
    b_desc = np.select(
        [ptype[o] == "bnpl", ptype[o] == "lease", ptype[o] == "insurance", ptype[o] == "supplier"],
        [join(_BNPL[provider[o]], np.where(rng.random(len(o)) < 0.6,
                                           cut(m["bank_name"][merchant[o]], 12), "")),
         join(lb[o], " LEASE ", contract[o], np.where(rng.random(len(o)) < 0.5,
                                                     join(" ", kk), "")),
         join("DD ", lb[o], " POL ", contract[o]),
         join("ACH PMT ", lb[o], " PLAN ", np.where(is_down, "DEPOSIT", kk))],
        join(_TAX[tax[o]], contract[o]),
    )
    b_keys = book.bank(day=p_day, cents=part, description=typos(rng, b_desc, 0.04, start=6),
                       account="CHK-2231")
    item = pick(rng, _ITEMS, g)
    via = np.where(rng.random(g) < 0.5, join(" via ", _BNPL_NAME[provider]), "")
    l_desc = np.select(
        [ptype == "bnpl", ptype == "lease", ptype == "insurance", ptype == "supplier"],
        [join(m["name"][merchant], " - ", item, via),
         join(lender, " lease ", contract, " - ", item, " (", size.astype(str), " months)"),
         join(lender, " annual premium ", contract),
         join(lender, " invoice, payment plan")],
        join(lender, " installment agreement ", contract),
    )
    vendor = np.where(ptype == "bnpl", m["name"][merchant], lender)
    category = np.select([ptype == "bnpl", ptype == "lease", ptype == "insurance",
                          ptype == "supplier"],
                         ["equipment", "leases", "insurance", "materials"], "taxes")
    l_keys = book.ledger(day=l_day, cents=total, description=l_desc, vendor=vendor,
                         category=category, reference=contract)
    gid = book.groups(g)
    book.link("installment", b_keys, l_keys[owner], gid[owner])

    # ------------------------------------------------- plain card purchases
    k = count["one"]
    v = rng.choice(nm, k, p=pop)
    cents = _amounts(rng, m, v)
    lday = rng.integers(0, days - 5, k)
    _purchase(rng, book, m, origin, v, "one_to_one", lday, cents)

    # monthly subscriptions: one amount every month, a month apart
    k_sub = max(1, count["subs"] // max(1, min(12, days // 30)))
    sv = rng.choice(nm, k_sub, p=pop)
    price = rng.choice([999, 1499, 2900, 4900, 9900, 19900, 29900], k_sub)
    months = max(1, min(12, (days - 5) // 31))
    s_owner = np.repeat(np.arange(k_sub), months)
    s_day = add_months(origin, rng.integers(0, 28, k_sub)[s_owner],
                       np.tile(np.arange(months), k_sub))
    s_day = np.minimum(s_day, days - 3)
    name = join(m["word"][sv], " ", pick(rng, _SAAS, k_sub))
    bday = np.minimum(s_day + rng.choice([0, 1, 2], len(s_day), p=[0.5, 0.35, 0.15]), days - 1)
    b_keys = book.bank(day=bday, cents=price[s_owner],
                       description=join("RECURRING ", cut(bank_text(name), 18)[s_owner], " ",
                                        digits(rng.integers(0, 10**4, k_sub), 4)[s_owner]),
                       account="CHK-2231")
    l_keys = book.ledger(day=s_day, cents=price[s_owner],
                         description=join(name[s_owner], " subscription"),
                         vendor=name[s_owner], category="software",
                         reference=None)
    book.link("one_to_one", b_keys, l_keys, book.groups(len(s_owner)))

    # look-alikes: one merchant, one amount, days apart
    k = count["decoy"] // 2
    v = rng.choice(nm, k, p=pop)
    cents = _amounts(rng, m, v)
    l1 = rng.integers(0, days - 12, k)
    vv, cc = np.concatenate([v, v]), np.concatenate([cents, cents])
    _purchase(rng, book, m, origin, vv, "decoy", np.concatenate([l1, l1 + rng.integers(2, 7, k)]),
              cc)

    # card fees and surcharges
    k = count["tolerance"]
    v = rng.choice(nm, k, p=pop)
    cents = _amounts(rng, m, v)
    fee = np.where(rng.random(k) < 0.5, rng.integers(30, 400, k),
                   np.rint(cents * rng.uniform(0.01, 0.03, k)).astype(np.int64) + 1)
    _purchase(rng, book, m, origin, v, "tolerance", rng.integers(0, days - 5, k), cents,
              cents + fee)

    # a few invoices paid together
    k = max(1, count["batch"])
    v = rng.choice(nm, k, p=pop)
    size_b = rng.integers(2, 5, k)
    bo = np.repeat(np.arange(k), size_b)
    inv = _amounts(rng, m, v[bo])
    pay = np.minimum(rng.integers(10, days, k), days - 1)
    iday = pay[bo] - rng.integers(1, 10, len(bo))
    b_keys = book.bank(day=next_business_day(origin, pay), cents=np.add.reduceat(
        inv, np.r_[0, np.cumsum(size_b)[:-1]]),
        description=join("ONLINE PMT ", cut(m["bank_name"][v], 20), " MULTIPLE INV"),
        account="CHK-2231")
    l_keys = book.ledger(day=iday, cents=inv, description=join(m["name"][v[bo]], " invoice"),
                         vendor=m["name"][v[bo]], category=m["category"][v[bo]], reference=None)
    gid = book.groups(k)
    book.link("batch", b_keys[bo], l_keys, gid[bo])

    # ------------------------------------------------------------ open rows
    k = count["bank_only"]
    b_keys = book.bank(day=rng.integers(0, days, k), cents=rng.integers(300, 6000, k),
                       description=pick(rng, _FEES, k), account="CHK-2231")
    book.bank_only("bank_only", b_keys, "missing in ledger")
    k = count["ledger_only"]
    v = rng.choice(nm, k, p=pop)
    late = rng.random(k) < 0.5
    lday = np.where(late, rng.integers(max(days - 4, 0), days, k), rng.integers(0, days - 10, k))
    l_keys = book.ledger(day=lday, cents=_amounts(rng, m, v),
                         description=join(m["name"][v], " - ", pick(rng, _ITEMS, k)),
                         vendor=m["name"][v], category=m["category"][v], reference=None)
    book.ledger_only("ledger_only", l_keys, np.where(late, "timing difference",
                                                      "missing in bank"))
    # a lease part taken twice
    k = count["duplicate"]
    lease_rows = np.flatnonzero(~is_down)
    src = rng.choice(lease_rows, min(k, len(lease_rows)), replace=False)
    b_keys = book.bank(day=np.minimum(p_day[src] + rng.integers(1, 3, len(src)), days - 1),
                       cents=part[src], description=b_desc[src], account="CHK-2231")
    book.bank_only("duplicate", b_keys, "possible duplicate")
    k = count["mismatch"]
    v = rng.choice(nm, k, p=pop)
    cents = _amounts(rng, m, v)
    wrong = np.where(rng.random(k) < 0.5, cents * 10, cents + rng.integers(1000, 20000, k))
    _purchase(rng, book, m, origin, v, "amount_mismatch", rng.integers(0, days - 5, k), cents,
              seq=None, ledger_cents=wrong)

    return book.tables(
        start, bank_columns=("description", "account"),
        ledger_columns=("description", "vendor", "category", "reference"),
        bank_ids="STMT-%06d", ledger_ids="JE%06d",
    )


def _merchants(rng: np.random.Generator, nm: int) -> dict[str, np.ndarray]:
    a, b = names_from(rng, _WORDS, _SHOPS, nm)
    nm = len(a)
    name = join(_WORDS[a], " ", _SHOPS[b])
    up = bank_text(name)
    short = rng.random(nm) < 0.3
    w = rng.permutation(1.0 / np.arange(1, nm + 1) ** 0.9)
    other = _WORDS[rng.integers(0, len(_WORDS), nm)]
    return {
        "word": _WORDS[a],
        "name": name,
        "bank_name": np.where(short, cut(up, 14), up),
        "median": np.exp(rng.normal(np.log(85), 0.9, nm)),
        "category": np.where(np.isin(_SHOPS[b], ["Dental", "Optical", "Hearing Care",
                                                 "Vet Clinic"]), "medical", "equipment"),
        "popularity": w / w.sum(),
        "lessor": join(other, " ", pick(rng, _LESSORS, nm)),
        "insurer": join(_WORDS[rng.integers(0, len(_WORDS), nm)], " ", pick(rng, _INSURERS, nm)),
        "supplier": join(_WORDS[rng.integers(0, len(_WORDS), nm)], " ",
                         pick(rng, _SUPPLIERS, nm)),
        "city": pick(rng, [" PORTLAND OR", " SALEM OR", " EUGENE OR", " BEND OR", ""], nm),
    }


def _amounts(rng, m, v) -> np.ndarray:
    c = np.rint(m["median"][v] * rng.lognormal(0, 0.5, len(v)) * 100)
    return np.maximum(c, 150).astype(np.int64)


def _purchase(rng, book, m, origin, v, kind, lday, cents, bcents=None, seq=None,
              ledger_cents=None):
    """One-to-one card purchases of merchants ``v``: ledger and bank rows and their links."""
    k = len(v)
    bcents = cents if bcents is None else bcents
    lag = rng.choice([0, 1, 2, 3, 4], k, p=[0.2, 0.4, 0.25, 0.1, 0.05])
    bday = np.minimum(lday + lag, book.days - 1)
    seq = rng.random(k) if seq is None else seq
    bday, bseq = keep_order(v * 10**12 + bcents, lday, seq, bday, seq)
    desc = join(pick(rng, ["DEBIT ", "POS ", "CARD "], k),
                typos(rng, m["bank_name"][v], 0.08), m["city"][v],
                np.where(rng.random(k) < 0.3, join(" ", money(bcents)), ""))
    b_keys = book.bank(day=bday, seq=bseq, cents=bcents, description=desc, account="CHK-2231")
    l_keys = book.ledger(day=lday, seq=seq, cents=cents if ledger_cents is None else ledger_cents,
                         description=join(m["name"][v], np.where(rng.random(k) < 0.5,
                                                                  " - receipt", "")),
                         vendor=m["name"][v], category=m["category"][v], reference=None)
    reason = "amount mismatch" if kind == "amount_mismatch" else None
    book.link(kind, b_keys, l_keys, book.groups(k), reason)
