"""Profile ``marketplace``: an online seller's account, paid out by the marketplaces.

A small e-commerce business with several storefronts (its own brands) on
Amazon, Etsy, Shopify, eBay, Walmart, Stripe and PayPal. Each storefront is paid
out on its platform's cadence (every business day, every few days, weekly,
fortnightly, or irregular manual transfers): one bank CREDIT settles every sale
of that storefront since its previous payout, less the refunds and the
platform's fees. The seller's books (an A2X-style connector) carry each order as
a sale on its order day, each refund as a negative line, and the payout's fees
as one negative line dated on the payout day, so a payout is an exact batch:
the bank credit equals its sales, refunds and fee line (a weekly payout settles
tens of orders). Storefronts open and close during the year; the last payouts
are on hold or not yet due at the period end (their sales stay open).

The same account pays, by debit card, for postage and labels (menu prices, the
same amount many times a day), packaging, supplies, ads billed at spend
thresholds (the same round amount a few days apart), monthly software
subscriptions, and print-on-demand goods; card lines print the authorization
date, the merchant descriptor and a card number (``PURCHASE AUTHORIZED ON
03/14 ...``); international purchases carry a foreign-transaction fee and
carrier labels a surcharge the ledger's quote lacks. Inventory from overseas
factories is paid by wire in a deposit and a balance (30/70, 50/50, 30/40/30)
weeks apart against one ledger purchase order. Chargebacks and bank fees are
bank-only. Bank credits positive and debits negative; the ledger the same way
(sales positive; fees, refunds and purchases negative).
"""

from __future__ import annotations

import numpy as np

from nexus_lab.datasets._recon_kit import (
    Book,
    counts,
    cut,
    digits,
    join,
    keep_order,
    next_business_day,
    pick,
    typos,
    weekday,
)

# platform: ledger name, ACH originator, ACH entry description, short bank form,
# cadence (0: every business day, >0: every so many days, -1: irregular transfers),
# its probability, fee rate range, fee per order (cents), days from the last sale to
# the payout, free shipping share, price level
_PLATFORMS = (
    ("Amazon", "AMAZON.COM SVCS", "MKTPYMNTS", "AMZN MKTP PAYOUT", (14, 7), (0.6, 0.4),
     (0.13, 0.19), 0, 3, 0.9, 0.8),
    ("Etsy", "ETSY INC", "DEPOSIT", "ETSY DEPOSIT", (0, 7), (0.5, 0.5),
     (0.085, 0.10), 45, 1, 0.3, 1.4),
    ("Shopify", "SHOPIFY", "TRANSFER", "SHOPIFY PAYMENTS", (0, 7), (0.8, 0.2),
     (0.026, 0.031), 30, 2, 0.5, 1.2),
    ("eBay", "EBAY COMMERCE INC", "PAYOUT", "EBAY PAYOUT", (0, 7), (0.6, 0.4),
     (0.12, 0.145), 30, 1, 0.6, 0.9),
    ("Walmart", "WAL-MART ASSOC", "MKTPLCPAY", "WALMART MKTPL PAYMENT", (14,), (1.0,),
     (0.08, 0.15), 0, 4, 1.0, 0.7),
    ("Stripe", "STRIPE", "TRANSFER", "STRIPE TRANSFER", (0, 2), (0.7, 0.3),
     (0.029, 0.029), 30, 2, 0.4, 1.6),
    ("PayPal", "PAYPAL", "TRANSFER", "PAYPAL TRANSFER", (-1,), (1.0,),
     (0.0349, 0.0349), 49, 0, 0.4, 1.1),
)
_PLATFORM_P = np.array([0.24, 0.20, 0.20, 0.10, 0.06, 0.10, 0.10])
_SHIPPING = np.array([399, 450, 499, 595, 599, 795, 895, 1250])
_BRAND_A = np.array((
    "Juniper Maple Willow Fern Cedar Hazel Sparrow Wren Clover Sage Birch Poppy Acorn Meadow "
    "Harbor Copper Indigo Saffron Thistle Bramble Honey Pebble Otter Magpie Lark Fox Moss Ember"
).split(), dtype=object)
_BRAND_B = np.array([
    "& Pine", "Hollow Candle Co", "Studio", "Goods", "Paper Co", "Supply", "Ceramics",
    "Jewelry", "Apothecary", "Knits", "& Thread", "Print Shop", "Leatherworks", "Botanicals",
    "Pet Co", "Soap Co", "Home", "Outfitters", "Kids", "Tea Co",
], dtype=object)

# card merchants: ledger vendor, bank descriptor, where (None: the seller's city),
# category, GL account, amount kind, median or price (cents), spread
_MERCHANTS = (
    ("USPS", "USPS PO {d7}", None, "Postage", "5110 Postage", "label", 0, 0),
    ("USPS", "USPS.COM CLICKNSHIP", "800-344-7779 DC", "Postage", "5110 Postage", "label", 0, 0),
    ("Pirate Ship", "PIRATE SHIP POSTAGE", "PIRATESHIP.COM WA", "Shipping labels",
     "5110 Postage", "labels", 4500, 0.7),
    ("ShipStation", "SHIPSTATION LABELS", "512-4858600 TX", "Shipping labels",
     "5110 Postage", "labels", 6500, 0.7),
    ("UPS", "UPS*{d10}", "800-811-1648 GA", "Shipping labels", "5110 Postage", "labels",
     3800, 0.6),
    ("FedEx", "FEDEX {d9}", "MEMPHIS TN", "Shipping labels", "5110 Postage", "label", 0, 0),
    ("The UPS Store", "THE UPS STORE {d4}", None, "Postage", "5110 Postage", "label", 0, 0),
    ("Uline", "ULINE *SHIP SUPPLIES", "800-295-5510 WI", "Packaging", "5200 Packaging",
     "supplies", 14000, 0.6),
    ("EcoEnclose", "ECOENCLOSE LLC", "LONGMONT CO", "Packaging", "5200 Packaging", "supplies",
     9000, 0.5),
    ("noissue", "NOISSUE*ORDER", "NOISSUE.CO NY", "Packaging", "5200 Packaging", "supplies",
     16000, 0.4),
    ("Sticker Mule", "STICKER MULE", "AMSTERDAM NY", "Packaging", "5200 Packaging", "supplies",
     7500, 0.5),
    ("Staples", "STAPLES {d5}", None, "Office supplies", "6100 Office supplies", "supplies",
     3800, 0.7),
    ("Amazon Business", "AMZN MKTP US*{a9}", "AMZN.COM/BILL WA", "Supplies",
     "6100 Office supplies", "supplies", 4200, 0.8),
    ("Michaels", "MICHAELS STORES {d4}", None, "Materials", "5010 Materials", "supplies", 5500,
     0.7),
    ("Printful", "PRINTFUL INC", "CHARLOTTE NC", "Print on demand", "5000 Cost of goods",
     "supplies", 2200, 0.5),
    ("Etsy", "ETSY, INC.", "BROOKLYN NY", "Marketplace fees", "6150 Marketplace fees",
     "supplies", 2500, 0.6),
    ("Meta Platforms", "FACEBK *{a10}", "FB.ME/ADS CA", "Advertising", "6300 Advertising", "ads",
     0, 0),
    ("Google Ads", "GOOGLE *ADS{d10}", "CC@GOOGLE.COM CA", "Advertising", "6300 Advertising",
     "ads", 0, 0),
    ("Pinterest", "PINTEREST ADS", "SAN FRANCISCO CA", "Advertising", "6300 Advertising", "ads",
     0, 0),
    ("TikTok", "TIKTOK ADS", "LOS ANGELES CA", "Advertising", "6300 Advertising", "ads", 0, 0),
)
_MERCHANT_P = np.array([14, 5, 12, 5, 6, 4, 3, 4, 2, 1, 2, 3, 6, 3, 5, 2, 6, 4, 2, 2], float)
# monthly subscriptions: ledger vendor, bank descriptor, where, price choices (cents)
_SUBSCRIPTIONS = (
    ("Shopify", "SHOPIFY* {d9}", "SHOPIFY.COM CA", (3900, 10500)),
    ("Canva", "CANVA* {d8}", "CANVA.COM DE", (1499, 11999)),
    ("Adobe", "ADOBE *CREATIVE CLD", "408-536-6000 CA", (5999, 2299)),
    ("Klaviyo", "KLAVIYO INC.", "BOSTON MA", (4500, 6000, 10000)),
    ("Intuit", "INTUIT *QBOOKS ONLINE", "CL.INTUIT.COM CA", (3500, 6500)),
    ("Mailchimp", "MAILCHIMP *MONTHLY", "MAILCHIMP.COM GA", (2000, 4500)),
    ("ShipStation", "SHIPSTATION SUBSCRIP", "512-4858600 TX", (2999, 5999)),
    ("Google Workspace", "GOOGLE *GSUITE_{a6}", "CC@GOOGLE.COM CA", (1400, 2800)),
)
_ADS = np.array([2500, 5000, 10000, 25000, 50000, 75000, 90000])
_LABELS = np.array([475, 550, 595, 640, 735, 780, 895, 960, 1085, 1240, 1395, 1660, 2055])
_CITIES = np.array(["BROOKLYN NY", "PORTLAND OR", "AUSTIN TX", "ASHEVILLE NC", "DENVER CO",
                    "PROVIDENCE RI", "MADISON WI", "TUCSON AZ"], dtype=object)
_FOREIGN = (
    ("AliExpress", "ALIEXPRESS.COM", "HANGZHOU CN"),
    ("Packhelp", "PACKHELP SA", "WARSZAWA PL"),
    ("Etsy UK sellers", "ETSY UK*", "LONDON GB"),
    ("Creative Market", "CREATIVEMARKET", "TORONTO CA"),
    ("Washi Tape Japan", "MT MASKING TAPE", "OKAYAMA JP"),
)
_FACTORIES = np.array([
    "Yiwu Huaxin Packaging Co., Ltd.", "Shenzhen Topwell Crafts Co., Ltd.",
    "Dongguan Meiyi Garment Co., Ltd.", "Ningbo Sunrise Candle Co., Ltd.",
    "Guangzhou Jiali Printing Co., Ltd.", "Xiamen Greenleaf Ceramics Co., Ltd.",
    "Hangzhou Silkroad Textiles Co., Ltd.", "Qingdao Oceanview Leather Co., Ltd.",
], dtype=object)
_ALNUM = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", np.uint8)
_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)


def marketplace(n: int, seed: int, *, start: str, days: int | None):
    """Bank, ledger and truth of the ``marketplace`` profile (see the module docstring)."""
    rng = np.random.default_rng([seed, 0x3A7E])
    days = 365 if days is None else days
    origin = np.datetime64(start, "D")
    book = Book(rng, days)
    share = {"payout": 0.12, "one": 0.66, "subs": 0.05, "tolerance": 0.04, "decoy": 0.03,
             "plans": 0.006, "bank_only": 0.035, "duplicate": 0.01, "mismatch": 0.01,
             "unpaid": 0.005}
    count = counts(share, n)
    city = _CITIES[rng.integers(0, len(_CITIES))]
    cards = digits(rng.choice(9000, 3, replace=False) + 1000, 4)
    cards_p = np.array([0.7, 0.25, 0.05])

    _payouts(rng, book, origin, days, count["payout"])

    # ------------------------------------------------- card purchases, one to one
    m = {key: np.array([row[i] for row in _MERCHANTS], dtype=object)
         for i, key in enumerate(("vendor", "descriptor", "where", "category", "gl", "amount",
                                  "median", "spread"))}
    mp = _MERCHANT_P / _MERCHANT_P.sum()
    # ordinary purchases, and ads billed at a spend threshold: the same round amount
    # again a few days later (look-alikes); one call, so that alike pairs keep one order
    k = count["one"]
    mv = rng.choice(len(mp), k, p=mp)
    cents = _purchase_cents(rng, m, mv)
    lday = rng.integers(0, max(days - 3, 1), k)
    k2 = count["decoy"] // 2
    av = rng.choice(np.flatnonzero(m["amount"] == "ads"), k2)
    a_cents = rng.choice(_ADS[:5], k2)
    a_day = rng.integers(0, max(days - 12, 1), k2)
    kinds = np.r_[np.full(k, "one_to_one", object), np.full(2 * k2, "decoy", object)]
    both = np.r_[cents, a_cents, a_cents]
    one_bank = _card_pairs(rng, book, origin, days, kinds, m, np.r_[mv, av, av],
                           np.r_[lday, a_day, a_day + rng.integers(1, 7, k2)], both, both,
                           city, cards, cards_p)
    one_bank = {key: np.asarray(val)[:k] for key, val in one_bank.items()}

    # monthly subscriptions: a vendor's plan on one day of each month
    s = {key: np.array([row[i] for row in _SUBSCRIPTIONS], dtype=object)
         for i, key in enumerate(("vendor", "descriptor", "where", "prices"))}
    ns = len(s["vendor"])
    months = max(1, days // 31)
    k = min(count["subs"], ns * months)
    cell = rng.choice(ns * months, k, replace=False)
    sv, month = cell // months, cell % months
    price = np.array([rng.choice(p) for p in s["prices"]], np.int64)  # eight plans, not rows
    dom = rng.integers(0, 28, ns)
    sday = np.minimum(month * 31 + dom[sv], max(days - 4, 0))
    sm = {"vendor": s["vendor"], "descriptor": s["descriptor"], "where": s["where"],
          "category": np.full(ns, "Software", object), "gl": np.full(ns, "6400 Software",
                                                                      object)}
    _card_pairs(rng, book, origin, days, "one_to_one", sm, sv, sday, price[sv], price[sv], city,
                cards, cards_p, recurring=True)

    # tolerance: a foreign-transaction fee, or a carrier's surcharge after the quote
    k = count["tolerance"]
    foreign = rng.random(k) < 0.5
    f = {key: np.array([row[i] for row in _FOREIGN], dtype=object)
         for i, key in enumerate(("vendor", "descriptor", "where"))}
    fm = {"vendor": np.r_[m["vendor"], f["vendor"]],
          "descriptor": np.r_[m["descriptor"], f["descriptor"]],
          "where": np.r_[m["where"], f["where"]],
          "category": np.r_[m["category"], np.full(len(_FOREIGN), "Materials", object)],
          "gl": np.r_[m["gl"], np.full(len(_FOREIGN), "5010 Materials", object)]}
    labels = np.flatnonzero(np.isin(m["amount"], ["labels"]))
    tv = np.where(foreign, len(_MERCHANTS) + rng.integers(0, len(_FOREIGN), k),
                  rng.choice(labels, k))
    quote = np.where(foreign, np.rint(rng.lognormal(np.log(6000), 0.8, k)),
                     np.rint(rng.lognormal(np.log(4500), 0.6, k))).astype(np.int64)
    extra = np.where(foreign, np.rint(quote * rng.uniform(0.01, 0.03, k)),
                     rng.integers(20, 450, k)).astype(np.int64)
    extra = np.maximum(extra, 1)
    _card_pairs(rng, book, origin, days, "tolerance", fm, tv, rng.integers(0, max(days - 3, 1), k),
                quote, quote + extra, city, cards, cards_p, intl=foreign)

    # factory orders paid by wire: a deposit, then the balance before shipping
    _factory_orders(rng, book, origin, days, count["plans"])

    # ------------------------------------------------------------- open rows
    k = count["bank_only"]
    kind = rng.choice(3, k, p=[0.6, 0.25, 0.15])
    monthly = np.flatnonzero(kind == 1)
    kind[monthly[months:]] = 2  # one service fee a month
    month_end = np.minimum(np.cumsum(kind == 1) * 31 - 3, days - 1)
    plat = rng.choice(len(_PLATFORMS), k, p=_PLATFORM_P)
    co = np.array([p[1] for p in _PLATFORMS], dtype=object)[plat]
    disputed = np.rint(rng.lognormal(np.log(4200), 0.6, k)).astype(np.int64)
    cents = np.where(kind == 0, disputed + np.where(rng.random(k) < 0.6, 1500, 0),
                     np.where(kind == 1, rng.choice([1000, 1500, 2500], k),
                              rng.choice([1500, 3000, 500], k)))
    any_day = rng.integers(0, max(days - 3, 1), k)
    bday = next_business_day(origin, np.where(kind == 1, month_end, any_day))
    desc = np.where(
        kind == 0, join("ORIG CO NAME:", co, " CO ENTRY DESCR:CHARGEBACK SEC:CCD IND ID:",
                        _alnum(rng, k, 10)),
        np.where(kind == 1, "MONTHLY SERVICE FEE",
                 pick(rng, ["INTL PURCHASE TRANSACTION FEE", "INCOMING WIRE FEE",
                            "RETURNED ITEM CHARGEBACK FEE"], k)))
    b_keys = book.bank(day=bday, cents=cents, sign=-1.0, description=desc,
                       reference=None, transaction_type=np.where(kind == 0, "ACH DEBIT",
                                                                 "SERVICE CHARGE"))
    book.bank_only("bank_only", b_keys, "missing in ledger")

    # a card charge posted twice
    k = count["duplicate"]
    book.double_post(one_bank, k, (0, 2))

    # keying errors on purchases: a digit dropped or doubled, a slipped decimal point
    k = count["mismatch"]
    mv = rng.choice(np.flatnonzero(m["amount"] == "supplies"), k)
    cents = np.maximum(_purchase_cents(rng, m, mv), 700)
    wrong = np.where(cents >= 10000, np.where(rng.random(k) < 0.5, cents // 10, cents * 10),
                     np.where(rng.random(k) < 0.5, cents * 10, cents + 100 * rng.integers(
                         10, 90, k)))
    _card_pairs(rng, book, origin, days, "amount_mismatch", m, mv,
                rng.integers(0, max(days - 3, 1), k), wrong, cents, city, cards, cards_p,
                reason="amount mismatch")

    # purchases booked but never charged (the order was cancelled)
    k = count["unpaid"]
    mv = rng.choice(len(mp), k, p=mp)
    l_keys = book.ledger(day=rng.integers(0, max(days - 30, 1), k),
                         cents=_purchase_cents(rng, m, mv), sign=-1.0,
                         **_purchase_ledger(rng, m, mv))
    book.ledger_only("ledger_only", l_keys, "missing in bank")

    return book.tables(
        start, bank_columns=("description", "transaction_type", "reference"),
        ledger_columns=("description", "vendor", "channel", "category", "account", "reference"),
        bank_ids="MP%08d", ledger_ids="SO-%07d",
    )


# ------------------------------------------------------------------- payouts

def _payouts(rng, book: Book, origin, days: int, target: int) -> None:
    """Storefronts, their payout calendars and the sales, refunds and fees of each payout."""
    ns = int(np.clip(round(target / 45), 3, 60))
    sp = rng.choice(len(_PLATFORMS), ns, p=_PLATFORM_P / _PLATFORM_P.sum())
    every = min(ns, len(_PLATFORMS))
    sp[:every] = rng.permutation(len(_PLATFORMS))[:every]  # each platform once, if room
    cadence = np.array([rng.choice(_PLATFORMS[p][4], p=_PLATFORMS[p][5]) for p in sp])  # stores
    lag = np.array([p[8] for p in _PLATFORMS])[sp]
    brand = join(_BRAND_A[rng.integers(0, len(_BRAND_A), ns)], " ",
                 _BRAND_B[rng.integers(0, len(_BRAND_B), ns)])
    long_form = rng.random(ns) < 0.5

    # every store's calendar as a (store, step) grid, then a window of it
    horizon = days + 40
    gap = np.broadcast_to(np.where(cadence > 0, cadence, 1)[:, None], (ns, horizon)).copy()
    irregular = cadence < 0
    gap[irregular] = rng.integers(2, 11, (int(irregular.sum()), horizon))
    gap[:, 0] = rng.integers(0, np.maximum(cadence, 1) + 1)
    day = np.cumsum(gap, axis=1) - 1
    ok = day < horizon
    ok &= ~((cadence[:, None] <= 2) & (weekday(origin, day) >= 5))  # business days only
    day = np.where(cadence[:, None] >= 7, next_business_day(origin, day), day)
    have = (ok & (day < days)).sum(1)
    want = np.maximum(3, rng.multinomial(target, rng.dirichlet(np.full(ns, 1.5))))
    want = np.minimum(want, have)
    to_end = rng.random(ns) < 0.75
    first = np.where(to_end, have - want, rng.integers(0, have - want + 1))
    last = np.where(to_end, have + 1, first + want)  # open at the end: the next one, unpaid
    rank = np.cumsum(ok, axis=1) - 1
    store, col = np.nonzero(ok & (rank >= first[:, None]) & (rank < last[:, None]))
    pday = day[store, col]
    new = np.r_[True, store[1:] != store[:-1]]
    prev = np.where(new, pday - np.maximum(cadence[store], 1), np.r_[0, pday[:-1]])
    span = np.maximum(pday - prev, 1)
    # a payout whose sales began before the period settles last year's books: not here
    inside = prev - lag[store] + 1 >= 0
    store, pday, span = store[inside], pday[inside], span[inside]
    # not paid in the period: due after it, or the store's payouts held from a late day on
    hold_from = np.where(rng.random(ns) < 0.25, days - rng.integers(1, 22, ns), days)
    held = pday >= hold_from[store]
    g = len(pday)

    # the sales since the previous payout, from the store's catalogue
    level = np.array([p[10] for p in _PLATFORMS])[sp] * rng.lognormal(0, 0.3, ns)
    base = np.where(cadence == 0, 2.2, np.where(cadence >= 7, 1.4, 1.8))
    rate = rng.lognormal(np.log(base), 0.5)
    size = 1 + np.minimum(rng.poisson(rate[store] * span), 150)
    owner = np.repeat(np.arange(g), size)
    st = store[owner]
    sday = pday[owner] - lag[st] - (rng.random(len(owner)) * span[owner]).astype(np.int64)
    catalog = _catalog(rng, ns)
    sku = rng.integers(0, catalog.shape[1], len(owner))
    qty = rng.choice([1, 2, 3, 4, 6], len(owner), p=[0.72, 0.16, 0.06, 0.04, 0.02])
    free = rng.random(len(owner)) < np.array([p[9] for p in _PLATFORMS])[sp][st]
    ship = np.where(free, 0, _SHIPPING[rng.integers(0, len(_SHIPPING), len(owner))])
    sale = np.maximum(np.rint(catalog[st, sku] * level[st]) * qty + ship, 300).astype(np.int64)
    starts = np.r_[0, np.cumsum(size)[:-1]]
    gross = np.add.reduceat(sale, starts)
    # a refund of (part of) the cheapest order, so the payout stays positive
    refund = (size >= 3) & (rng.random(g) < 0.2)
    cheapest = np.minimum.reduceat(sale, starts)
    r_cents = np.where(rng.random(g) < 0.6, cheapest,
                       np.rint(cheapest * rng.uniform(0.2, 0.8, g))).astype(np.int64)
    r_day = pday - lag[store] - (rng.random(g) * span).astype(np.int64)
    fee_rate = rng.uniform(np.array([p[6][0] for p in _PLATFORMS])[sp],
                           np.array([p[6][1] for p in _PLATFORMS])[sp])
    per_order = np.array([p[7] for p in _PLATFORMS])[sp]
    fee = np.maximum(np.rint(gross * fee_rate[store] + size * per_order[store]), 1)
    fee = fee.astype(np.int64)
    net = gross - np.where(refund, r_cents, 0) - fee

    name = np.array([p[0] for p in _PLATFORMS], dtype=object)
    order_id = _order_ids(rng, sp[st], st, sday)
    payout_id = _payout_ids(rng, sp[store])
    gid = book.groups(g)

    # the ledger: sales and refunds booked in the period, fee lines of the paid payouts
    lines = np.flatnonzero(sday < days)  # sales after the period end are not booked yet
    lp = sp[st[lines]]
    s_keys = book.ledger(
        day=sday[lines], cents=sale[lines], description=join(_sale_text(lp), order_id[lines]),
        vendor=name[lp], channel=join(name[lp], " - ", brand[st[lines]]), category="Sales",
        account=join("4010 Sales - ", name[lp]), reference=order_id[lines])
    ri = np.flatnonzero(refund & (r_day < days))
    rp = sp[store[ri]]
    r_order = _order_ids(rng, rp, store[ri] + ns, r_day[ri])  # older orders: other numbers
    r_keys = book.ledger(
        day=r_day[ri], cents=r_cents[ri], sign=-1.0,
        description=join("Refund ", _sale_text(rp), r_order), vendor=name[rp],
        channel=join(name[rp], " - ", brand[store[ri]]), category="Refunds",
        account="4900 Refunds and returns", reference=r_order)
    paid = np.flatnonzero(~held)
    pp = sp[store[paid]]
    f_keys = book.ledger(
        day=pday[paid], cents=fee[paid], sign=-1.0,
        description=_fee_text(pp, payout_id[paid], origin, pday[paid]), vendor=name[pp],
        channel=join(name[pp], " - ", brand[store[paid]]), category="Merchant fees",
        account="6150 Marketplace fees", reference=payout_id[paid])

    # the bank credit, a day later for some (ACH that posts overnight)
    bday = next_business_day(origin, pday[paid] + (rng.random(len(paid)) < 0.35))
    b_keys = book.bank(day=np.minimum(bday, days - 1), cents=net[paid],
                       **_payout_bank(rng, pp, brand[store[paid]], payout_id[paid], origin,
                                      pday[paid], long_form[store[paid]]))
    bk = np.full(g, -1)
    bk[paid] = b_keys
    for keys, payout in ((s_keys, owner[lines]), (r_keys, ri)):
        on = ~held[payout]
        book.link("batch", bk[payout][on], keys[on], gid[payout][on])
        book.ledger_only("ledger_only", keys[~on], "timing difference")
    book.link("batch", b_keys, f_keys, gid[paid])


def _catalog(rng, ns: int, skus: int = 12) -> np.ndarray:
    """Each store's list prices in cents: whole dollars and .99, .95, .50 or .00."""
    dollars = np.floor(rng.lognormal(np.log(19), 0.55, (ns, skus)))
    ending = rng.choice([99, 95, 50, 0], (ns, skus), p=[0.5, 0.2, 0.1, 0.2])
    return np.maximum(dollars, 4) * 100 + ending


def _alnum(rng, k: int, width: int, alphabet: np.ndarray = _ALNUM) -> np.ndarray:
    """``k`` random strings of ``width`` characters from ``alphabet``."""
    mat = alphabet[rng.integers(0, len(alphabet), (k, width))]
    return np.frombuffer(np.ascontiguousarray(mat).tobytes(), dtype=f"S{width}").astype(
        str).astype(object)


def _rand_digits(rng, k: int, width: int) -> np.ndarray:
    return _alnum(rng, k, width, _ALNUM[:10])


def _order_ids(rng, plat: np.ndarray, store: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Order numbers as each platform prints them (Shopify's count up per store)."""
    k = len(plat)
    order = np.lexsort((day, store))
    pos = np.empty(k, np.int64)
    pos[order] = np.arange(k)
    first = np.r_[True, store[order][1:] != store[order][:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(k), 0))
    seq = np.empty(k, np.int64)
    seq[order] = np.arange(k) - start + 1001 + (store[order] * 37) % 400
    d = lambda w: _rand_digits(rng, k, w)  # noqa: E731
    forms = [
        join("11", d(1), "-", d(7), "-", d(7)),  # Amazon
        join("3", d(9)),  # Etsy
        join("#", seq.astype(str).astype(object)),  # Shopify
        join(d(2), "-", d(5), "-", d(5)),  # eBay
        join("10", d(13)),  # Walmart
        join("pi_3", _alnum(rng, k, 14, np.r_[_ALNUM, _HEX[10:]])),  # Stripe
        _alnum(rng, k, 17),  # PayPal
    ]
    return np.choose(plat, forms)


def _payout_ids(rng, plat: np.ndarray) -> np.ndarray:
    k = len(plat)
    forms = [
        join("1", _rand_digits(rng, k, 10)),  # Amazon settlement
        join("DEP", _rand_digits(rng, k, 9)),  # Etsy deposit
        join("8", _rand_digits(rng, k, 10)),  # Shopify payout
        join("6", _rand_digits(rng, k, 9)),  # eBay
        join("WMT", _rand_digits(rng, k, 9)),  # Walmart settlement
        join("po_1", _alnum(rng, k, 20)),  # Stripe
        _alnum(rng, k, 13),  # PayPal transfer
    ]
    return np.choose(plat, forms)


def _sale_text(plat: np.ndarray) -> np.ndarray:
    return np.array(["Amazon.com order ", "Etsy order ", "Shopify order ", "eBay order ",
                     "Walmart.com PO ", "Stripe payment ", "PayPal payment "], object)[plat]


def _yymmdd(origin, day) -> np.ndarray:
    date = origin + np.asarray(day, np.int64)
    month = date.astype("datetime64[M]").astype(np.int64)
    d = (date - date.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    return join(digits((month // 12 + 70) % 100, 2), digits(month % 12 + 1, 2), digits(d, 2))


def _mmdd(origin, day) -> np.ndarray:
    date = origin + np.asarray(day, np.int64)
    month = date.astype("datetime64[M]")
    m = month.astype(np.int64) % 12 + 1
    d = (date - month.astype("datetime64[D]")).astype(np.int64) + 1
    return join(digits(m, 2), "/", digits(d, 2))


def _fee_text(plat, pid, origin, pday) -> np.ndarray:
    iso = np.datetime_as_string(origin + np.asarray(pday, np.int64), unit="D").astype(object)
    lead = np.array(["Amazon selling fees, settlement ", "Etsy fees and taxes, deposit ",
                     "Shopify Payments fees, payout ", "eBay fees, payout ",
                     "Walmart commission, settlement ", "Stripe fees, payout ",
                     "PayPal fees, transfer "], object)[plat]
    return join(lead, np.where(plat == 1, iso, pid))


def _payout_bank(rng, plat, brand, pid, origin, pday, long_form) -> dict:
    k = len(plat)
    co = np.array([p[1] for p in _PLATFORMS], object)[plat]
    entry = np.array([p[2] for p in _PLATFORMS], object)[plat]
    short = np.array([p[3] for p in _PLATFORMS], object)[plat]
    orig_id = np.array(["9" + str(x) for x in rng.integers(10**8, 10**9, len(_PLATFORMS))],
                       object)[plat]
    date = _yymmdd(origin, pday)
    trace = _rand_digits(rng, k, 15)
    name = np.char.upper(brand.astype(str)).astype(object)
    long = join("ORIG CO NAME:", co, " ORIG ID:", orig_id, " DESC DATE:", date,
                " CO ENTRY DESCR:", entry, " SEC:CCD TRACE#:", trace, " EED:", date,
                " IND ID:", cut(pid, 15), " IND NAME:", name, " TRN: ",
                _rand_digits(rng, k, 10), "TC")
    shows_id = np.isin(plat, [0, 2, 5, 6])
    brief = join(short, " ", np.where(shows_id, pid, cut(name, 16)))
    return {"description": np.where(long_form, long, brief),
            "transaction_type": np.where(long_form, "ACH CREDIT", "DEPOSIT"),
            "reference": np.where(long_form, trace, None)}


# ----------------------------------------------------------------- purchases

def _purchase_cents(rng, m: dict, mv: np.ndarray) -> np.ndarray:
    k = len(mv)
    kind = m["amount"][mv]
    median = m["median"][mv].astype(float)
    spread = m["spread"][mv].astype(float)
    drawn = np.rint(np.maximum(median, 1) * rng.lognormal(0, np.maximum(spread, 0.01)))
    label = _LABELS[rng.integers(0, len(_LABELS), k)]
    ads = np.where(rng.random(k) < 0.7, rng.choice(_ADS, k),
                   np.rint(rng.lognormal(np.log(8000), 0.8, k)))
    out = np.where(kind == "label", label, np.where(kind == "ads", ads, drawn))
    return np.maximum(out, 99).astype(np.int64)


def _descriptor(rng, template: np.ndarray) -> np.ndarray:
    """Fill each descriptor's ``{d7}`` (digits) or ``{a9}`` (letters and digits) tail."""
    text = template.astype(str)
    brace = np.char.find(text, "{")
    out = template.copy()
    for code in np.unique(np.where(brace >= 0, np.char.partition(text, "{")[:, 2], "")):
        if not code:
            continue  # a few placeholder kinds, not rows
        sel = np.flatnonzero(np.char.partition(text, "{")[:, 2] == code)
        width = int(code[1:-1])
        fill = _rand_digits(rng, len(sel), width) if code[0] == "d" else _alnum(
            rng, len(sel), width)
        out[sel] = join(np.char.partition(text[sel], "{")[:, 0].astype(object), fill)
    return out


def _purchase_ledger(rng, m: dict, mv: np.ndarray) -> dict:
    k = len(mv)
    vendor = m["vendor"][mv]
    receipt = np.where(rng.random(k) < 0.4, join("rcpt ", _rand_digits(rng, k, 6)), None)
    form = rng.random(k)
    desc = np.where(form < 0.5, join(m["category"][mv], " - ", vendor),
                    np.where(form < 0.8, vendor, join(vendor, " ", np.char.lower(
                        m["category"][mv].astype(str)).astype(object))))
    return {"description": desc, "vendor": vendor, "channel": None,
            "category": m["category"][mv], "account": m["gl"][mv], "reference": receipt}


def _card_pairs(rng, book, origin, days, kind, m, mv, lday, l_cents, b_cents, city, cards,
                cards_p, *, recurring=False, intl=None, reason=None) -> dict:
    """Card purchases: ledger rows on the purchase day, bank rows posted 0-3 days later."""
    k = len(mv)
    lday = np.minimum(lday, days - 1)
    lag = rng.choice([0, 1, 2, 3], k, p=[0.15, 0.45, 0.3, 0.1])
    bday = np.minimum(next_business_day(origin, lday + lag), days - 1)
    seq = rng.random(k)
    bday, bseq = keep_order(mv * 10**12 + b_cents, lday, seq, bday, seq)
    where = np.where(m["where"][mv] == None, city, m["where"][mv])  # noqa: E711
    intl = np.zeros(k, bool) if intl is None else intl
    lead = np.where(intl, "PURCHASE INTL AUTHORIZED ON ",
                    "RECURRING PAYMENT AUTHORIZED ON " if recurring
                    else "PURCHASE AUTHORIZED ON ")
    card = cards[rng.choice(len(cards), k, p=cards_p)]
    desc = join(lead, _mmdd(origin, lday), " ", _descriptor(rng, m["descriptor"][mv]), " ",
                where, " S", _rand_digits(rng, k, 15), " CARD ", card)
    desc = typos(rng, desc, 0.02, start=32)
    bank = {"description": desc, "transaction_type": "DEBIT CARD", "reference": None}
    b_keys = book.bank(day=bday, seq=bseq, cents=b_cents, sign=-1.0, **bank)
    l_keys = book.ledger(day=lday, seq=seq, cents=l_cents, sign=-1.0,
                         **_purchase_ledger(rng, m, mv))
    kinds = np.broadcast_to(np.asarray(kind, dtype=object), (k,))
    groups = book.groups(k)
    for one in dict.fromkeys(kinds):  # one or two kinds, not rows
        sel = kinds == one
        book.link(one, b_keys[sel], l_keys[sel], groups[sel], reason)
    return {"day": bday, "seq": bseq, "cents": b_cents, "sign": np.full(k, -1.0),
            "transaction_type": np.full(k, "DEBIT CARD", object),
            "reference": np.full(k, None, object), "description": desc}


def _factory_orders(rng, book: Book, origin, days: int, k: int) -> None:
    """Overseas inventory orders wired in a deposit and a balance (or three parts)."""
    pattern = rng.choice(3, k, p=[0.5, 0.3, 0.2])
    pct = np.array([[30, 70, 0], [50, 50, 0], [30, 40, 30]])
    size = np.where(pattern == 2, 3, 2)
    total = (np.rint(rng.lognormal(np.log(4500), 0.7, k)) * 100).astype(np.int64)
    owner = np.repeat(np.arange(k), size)
    starts = np.r_[0, np.cumsum(size)[:-1]]
    rank = np.arange(len(owner)) - np.repeat(starts, size)
    part = np.rint(total[owner] * pct[pattern[owner], rank] / 100).astype(np.int64)
    part[starts + size - 1] += total - np.add.reduceat(part, starts)  # the last part squares
    lday = rng.integers(0, max(days - 100, 1), k)
    step = np.where(rank == 0, rng.integers(0, 3, len(owner)), rng.integers(14, 46, len(owner)))
    bday = lday[owner] + np.cumsum(step) - np.repeat(np.cumsum(step)[starts] - step[starts], size)
    bday = np.minimum(next_business_day(origin, bday), days - 1)
    factory = rng.integers(0, len(_FACTORIES), k)
    pi = join("PI-", _rand_digits(rng, k, 6))
    po = join("PO-", digits(2000 + np.argsort(np.argsort(lday)), 5))
    label = np.array(["DEPOSIT", "BALANCE", "2ND PMT"], object)[
        np.where(rank == 0, 0, np.where(rank == size[owner] - 1, 1, 2))]
    bnf = np.char.upper(_FACTORIES[factory].astype(str)).astype(object)
    desc = join("WT SEQ#", _rand_digits(rng, len(owner), 6), " INTL WIRE OUT /BNF=",
                cut(bnf[owner], 30), " /REF=", pi[owner], " ", label)
    b_keys = book.bank(day=bday, cents=part, sign=-1.0, description=desc,
                       transaction_type="WIRE OUT", reference=pi[owner])
    l_desc = join("Inventory ", po, np.where(rng.random(k) < 0.5, join(" (", pi, ")"), ""),
                  " - ", _FACTORIES[factory])
    l_keys = book.ledger(day=lday, cents=total, sign=-1.0, description=l_desc,
                         vendor=_FACTORIES[factory], channel=None, category="Inventory",
                         account="1300 Inventory", reference=po)
    gid = book.groups(k)
    book.link("installment", b_keys, l_keys[owner], gid[owner])
