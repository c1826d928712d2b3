"""Profile ``dense``: a fleet-card account with thousands of rows a day.

A trucking company's fleet cards all settle to one account: tolls, fuel,
parking, weigh-station scales and truck washes, for hundreds of vehicles. The
period is short (by default about 2,500 rows a day: ``days = ceil(n / 2500)``,
at least 2), the merchants few, and prices come from short menus (a toll
plaza charges the same few amounts all day; a scale ticket always costs the
same), so the same merchant and amount recur many times a day, often on one
card. What tells such rows apart is the card number (printed by the bank,
typed in the fleet system's description), the authorization code (on some
rows of either side) and the order of the rows. Tolls post days late, fuel the
same or the next day; fuel rebates make the bank a little cheaper; toll
authorities charge twice now and then. Bank debits positive.
"""

from __future__ import annotations

import numpy as np

from nexus_lab.datasets._recon_kit import Book, counts, digits, join, keep_order, pick, split_equal

# brand, kind, bank descriptor, price menu in cents (empty: priced per gallon)
_BRANDS = (
    ("E-ZPass NY", "toll", "E-ZPASS NY CSC", (175, 275, 450, 600, 825, 1250, 1700)),
    ("FasTrak", "toll", "FASTRAK BATA", (700, 800, 900)),
    ("SunPass", "toll", "SUNPASS*TOLL", (125, 225, 350, 525, 1090)),
    ("Illinois Tollway", "toll", "IL TOLLWAY I-PASS", (190, 380, 570, 1140)),
    ("PA Turnpike", "toll", "PA TURNPIKE TOLL BY PLT", (515, 1010, 2270, 4460)),
    ("Pilot", "fuel", "PILOT", ()),
    ("Love's", "fuel", "LOVES COUNTRY", ()),
    ("TA Petro", "fuel", "TA PETRO", ()),
    ("Flying J", "fuel", "FLYING J", ()),
    ("Shell", "fuel", "SHELL OIL", ()),
    ("SP+ Parking", "parking", "SP+ PARKING", (500, 1000, 1500, 2000, 2500)),
    ("ParkMobile", "parking", "PARKMOBILE", (250, 375, 450, 600, 900)),
    ("CAT Scale", "scale", "CAT SCALE CO", (1450, 1750)),
    ("Blue Beacon", "wash", "BLUE BEACON TRUCK WASH", (4500, 6500, 8500)),
)
_STATES = np.array([" NY", " NJ", " PA", " OH", " IN", " IL", " TX", " FL", " CA", " GA"],
                   dtype=object)
_ACCOUNT = {"toll": "6150 Tolls", "fuel": "6100 Fuel", "parking": "6160 Parking",
            "scale": "6170 Scales", "wash": "6180 Vehicle wash"}


def dense(n: int, seed: int, *, start: str, days: int | None):
    """Bank, ledger and truth of the ``dense`` profile (see the module docstring)."""
    rng = np.random.default_rng([seed, 0xD5])
    days = max(2, -(-n // 2500)) if days is None else days
    book = Book(rng, days)
    name = np.array([b[0] for b in _BRANDS], dtype=object)
    kind = np.array([b[1] for b in _BRANDS], dtype=object)
    descriptor = np.array([b[2] for b in _BRANDS], dtype=object)
    gl = np.array([_ACCOUNT[b[1]] for b in _BRANDS], dtype=object)
    menus = [np.asarray(b[3], np.int64) for b in _BRANDS]
    brand_p = np.where(kind == "toll", 0.09, np.where(kind == "fuel", 0.06,
                       np.where(kind == "parking", 0.045, 0.025)))
    brand_p = brand_p / brand_p.sum()
    n_cards = int(np.clip(n // 30, 20, 800))
    card = digits(rng.choice(9000, n_cards, replace=False) + 1000, 4)
    vehicle = digits(rng.choice(900, n_cards, replace=False) + 100, 3)
    # each brand has stores (plazas, stations) with numbers and states
    store_no = rng.integers(10, 9999, (len(name), 40))
    store_state = rng.integers(0, len(_STATES), (len(name), 40))
    share = {"one": 0.84, "tolerance": 0.05, "decoy": 0.03, "batch": 0.02, "inst": 0.005,
             "bank_only": 0.02, "ledger_only": 0.02, "duplicate": 0.015, "mismatch": 0.01}
    count = counts(share, n)

    def draw(k):
        b = rng.choice(len(name), k, p=brand_p)
        price = _menu_price(rng, menus, b)
        fuel = kind[b] == "fuel"
        gallons = rng.uniform(15, 160, k)
        ppg = rng.choice([3.799, 3.899, 3.959, 4.019, 4.099, 4.159], k)
        price = np.where(fuel, np.rint(gallons * ppg * 100), price).astype(np.int64)
        return b, rng.integers(0, 40, k), rng.integers(0, n_cards, k), price, gallons

    def lags(b, k):
        return np.where(kind[b] == "toll", rng.choice([0, 1, 2, 3], k, p=[.2, .4, .3, .1]),
                        rng.choice([0, 1], k, p=[.6, .4]))

    def emit(kind_, b, store, cd, lday, l_cents, b_cents, reason=None):
        k = len(b)
        lag = np.minimum(lags(b, k), days - 1)
        lday = np.minimum(lday, days - 1 - lag)  # both sides inside the period
        bday = lday + lag
        seq = rng.random(k)
        key = (b * 10_000 + cd) * 10**9 + b_cents
        bday, bseq = keep_order(key, lday, seq, bday, seq)
        auth = digits(rng.integers(0, 10**6, k), 6)
        bank = _bank(rng, descriptor, b, store, store_no, store_state, card[cd], auth)
        b_keys = book.bank(day=bday, seq=bseq, cents=b_cents, account="FLEET-SETTLE", **bank)
        led = _ledger(rng, name, kind, gl, b, vehicle[cd], card[cd], auth)
        l_keys = book.ledger(day=lday, seq=seq, cents=l_cents, **led)
        kinds = np.broadcast_to(np.asarray(kind_, dtype=object), (k,))
        groups = book.groups(k)
        for one_kind in dict.fromkeys(kinds):  # one or two kinds, not rows
            sel = kinds == one_kind
            book.link(one_kind, b_keys[sel], l_keys[sel], groups[sel], reason)
        return {"day": bday, "cents": b_cents, **bank}

    # single charges, and the same card through the same plaza again a day or two later
    # (look-alikes); one call, so that alike pairs keep one order on both sides
    k = count["one"]
    b, store, cd, cents, _ = draw(k)
    lday = rng.integers(0, days, k)
    k2 = count["decoy"] // 2
    tolls = np.flatnonzero(kind == "toll")
    b2 = rng.choice(tolls, k2)
    _, store2, cd2, _, _ = draw(k2)
    cents2 = _menu_price(rng, menus, b2)
    l1 = rng.integers(0, max(days - 2, 1), k2)
    l2 = np.minimum(l1 + rng.integers(1, 3, k2), days - 1)
    kinds = np.r_[np.full(k, "one_to_one", object), np.full(2 * k2, "decoy", object)]
    one_bank = emit(kinds, np.r_[b, b2, b2], np.r_[store, store2, store2], np.r_[cd, cd2, cd2],
                    np.r_[lday, l1, l2], np.r_[cents, cents2, cents2],
                    np.r_[cents, cents2, cents2])
    one_bank = {key: np.asarray(val)[:k] for key, val in one_bank.items()}

    # fuel rebates: the bank charges a few cents a gallon less than the pump said
    k = count["tolerance"]
    fuel = np.flatnonzero(kind == "fuel")
    b = rng.choice(fuel, k)
    _, store, cd, _, _ = draw(k)
    gallons = rng.uniform(15, 160, k)
    cents = np.rint(gallons * rng.choice([3.799, 3.959, 4.099], k) * 100).astype(np.int64)
    rebate = np.maximum(np.rint(gallons * rng.choice([2, 4, 6, 10], k)), 1).astype(np.int64)
    emit("tolerance", b, store, cd, rng.integers(0, days, k), cents, cents - rebate)

    # one card's fuel stops of a day, settled as one charge
    k = count["batch"]
    b = rng.choice(fuel, k)
    _, store, cd, _, _ = draw(k)
    size = rng.integers(2, 5, k)
    owner = np.repeat(np.arange(k), size)
    cents = np.rint(rng.uniform(15, 160, len(owner)) * 3.899 * 100).astype(np.int64)
    lday = rng.integers(0, days, k)
    bday = np.minimum(lday + 1, days - 1)
    auth = digits(rng.integers(0, 10**6, k), 6)
    bank = _bank(rng, descriptor, b, store, store_no, store_state, card[cd], auth)
    bank["description"] = join("CONSOLIDATED ", bank["description"])
    b_keys = book.bank(day=bday, cents=np.add.reduceat(cents, np.r_[0, np.cumsum(size)[:-1]]),
                       account="FLEET-SETTLE", **bank)
    led = _ledger(rng, name, kind, gl, b[owner], vehicle[cd[owner]], card[cd[owner]],
                  digits(rng.integers(0, 10**6, len(owner)), 6))
    l_keys = book.ledger(day=lday[owner], cents=cents, **led)
    gid = book.groups(k)
    book.link("batch", b_keys[owner], l_keys, gid[owner])

    # a wash-bay contract paid in parts on consecutive days
    k = max(1, count["inst"] // 2)
    wash = np.flatnonzero(kind == "wash")
    b = rng.choice(wash, k)
    _, store, cd, _, _ = draw(k)
    size = rng.integers(2, 4, k)
    total = rng.integers(200, 900, k) * 100 + rng.integers(0, 100, k)
    owner, rank, part = split_equal(total, size, np.zeros(k, bool))  # rest on the last
    lday = rng.integers(0, max(days - 3, 1), k)
    auth = digits(rng.integers(0, 10**6, len(owner)), 6)
    bank = _bank(rng, descriptor, b[owner], store[owner], store_no, store_state,
                 card[cd[owner]], auth)
    b_keys = book.bank(day=np.minimum(lday[owner] + rank, days - 1), cents=part,
                       account="FLEET-SETTLE", **bank)
    led = _ledger(rng, name, kind, gl, b, vehicle[cd], card[cd], digits(np.zeros(k), 6))
    led["description"] = join(led["description"], " (contract)")
    l_keys = book.ledger(day=lday, cents=total, **led)
    gid = book.groups(k)
    book.link("installment", b_keys, l_keys[owner], gid[owner])

    # ------------------------------------------------------------- open rows
    k = count["bank_only"]
    b_keys = book.bank(day=rng.integers(0, days, k), cents=rng.integers(100, 2500, k),
                       account="FLEET-SETTLE", reference=None,
                       description=pick(rng, ["FLEET CARD FEE", "CARD REPLACEMENT FEE",
                                              "LATE PAYMENT FEE", "TRANSACTION FEE"], k))
    book.bank_only("bank_only", b_keys, "missing in ledger")
    k = count["ledger_only"]
    b, store, cd, cents, _ = draw(k)
    late = rng.random(k) < 0.5
    lday = np.where(late, days - 1, rng.integers(0, days, k))
    auth = digits(rng.integers(0, 10**6, k), 6)
    led = _ledger(rng, name, kind, gl, b, vehicle[cd], card[cd], auth)
    l_keys = book.ledger(day=lday, cents=cents, **led)
    book.ledger_only("ledger_only", l_keys, np.where(late, "timing difference",
                                                      "missing in bank"))
    k = count["duplicate"]
    book.double_post(one_bank, k, (0, 2), account="FLEET-SETTLE")
    k = count["mismatch"]
    b, store, cd, cents, _ = draw(k)
    emit("amount_mismatch", b, store, cd, rng.integers(0, days, k),
         np.where(rng.random(k) < 0.5, cents * 10, cents + 1000), cents, "amount mismatch")

    return book.tables(
        start, bank_columns=("description", "account", "reference"),
        ledger_columns=("description", "vendor", "category", "account", "reference"),
        bank_ids="FC%09d", ledger_ids="TRX-%08d",
    )


def _menu_price(rng, menus, b) -> np.ndarray:
    price = np.zeros(len(b), np.int64)
    for i, menu in enumerate(menus):  # fourteen brands, not rows
        sel = b == i
        if len(menu) and sel.any():
            price[sel] = rng.choice(menu, sel.sum())
    return price


def _bank(rng, descriptor, b, store, store_no, store_state, card4, auth) -> dict:
    k = len(b)
    show_auth = rng.random(k) < 0.5
    desc = join(descriptor[b], " #", store_no[b, store].astype(str), _STATES[store_state[b, store]],
                " CARD ", card4, np.where(show_auth, join(" AUTH ", auth), ""))
    return {"description": desc, "reference": np.where(rng.random(k) < 0.5, auth, None)}


def _ledger(rng, name, kind, gl, b, veh, card4, auth) -> dict:
    k = len(b)
    desc = join(name[b], " ", kind[b], " veh ", veh, " card ", card4)
    return {
        "description": desc,
        "vendor": name[b],
        "category": kind[b],
        "account": gl[b],
        "reference": np.where(rng.random(k) < 0.7, auth, None),
    }
