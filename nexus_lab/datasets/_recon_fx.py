"""Profile ``fx``: a trading company with a multi-currency account.

The bank account has wallets in USD, EUR, GBP and JPY (``account`` and
``currency`` say which); suppliers in nine countries invoice in their own
currency. An invoice in a wallet's currency is paid from that wallet (exactly,
or with a flat SEPA/SWIFT fee on top). Everything else is paid from the USD
wallet and converted: card purchases abroad at the card network's rate plus a
foreign-transaction fee, wires at the bank's rate plus its spread and a flat
wire fee, while the ledger booked the USD amount at the invoice day's reference
rate. Rates drift day to day, so the two amounts differ by a fraction of a
percent to a few percent, which on a large invoice is hundreds of dollars. Both
tables carry a ``currency`` column (the currency of ``amount``); JPY amounts are
whole yen. Bank debits are positive.
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
    pick,
    split_equal,
    typos,
)

# country: currency, surnames, trades, legal forms, cities
_COUNTRIES = {
    "DE": ("EUR", "Müller Schäfer Weiß Köhler Brandt Vogel Krüger Hoffmann Böhm Wagner",
           "Präzisionstechnik|Maschinenbau|Logistik|Druckerei|Elektrotechnik|Kunststoffe|Verpackung",
           "GmbH|AG|KG|GmbH & Co. KG", "BERLIN|HAMBURG|MUENCHEN|KOELN|STUTTGART"),
    "FR": ("EUR", "Dupont Lefèvre Moreau Girard Rousseau Benoît Fontaine Chevalier Mercier",
           "Emballages|Transports|Conseil|Électronique|Textiles|Outillage|Imprimerie",
           "SARL|SA|SAS", "PARIS|LYON|LILLE|NANTES|BORDEAUX"),
    "GB": ("GBP", "Ashworth Pembroke Whitfield Hargreaves Blackwood Ainsworth Fairclough",
           "Engineering|Print|Consulting|Fabrications|Components|Haulage|Instruments",
           "Ltd|plc|Limited|LLP", "LONDON|LEEDS|BRISTOL|MANCHESTER|GLASGOW"),
    "JP": ("JPY", "Tanaka Suzuki Yamamoto Kobayashi Nakamura Watanabe Ishikawa Fujita",
           "Shoji|Seiki|Denki|Trading|Kogyo|Seisakusho|Tsusho",
           "K.K.|Co., Ltd.|Corporation", "TOKYO|OSAKA|NAGOYA|YOKOHAMA|KOBE"),
    "CH": ("CHF", "Zürcher Huber Keller Baumann Steiner Gerber Brunner Frei",
           "Uhren|Feinmechanik|Pharma Logistik|Messtechnik|Treuhand|Sensorik",
           "AG|SA|GmbH", "ZUERICH|GENEVE|BASEL|BERN|LUGANO"),
    "SE": ("SEK", "Lindgren Nyström Åberg Sjöberg Lundqvist Holmberg Ekström",
           "Emballage|Verkstad|Trä|Konsult|Stål|Elektronik",
           "AB|Aktiebolag", "STOCKHOLM|GOTEBORG|MALMO|UPPSALA"),
    "MX": ("MXN", "Hernández García Núñez Ramírez Castañeda Olvera Treviño Zúñiga",
           "Maquiladora|Transportes|Empaques|Aceros|Plásticos|Textiles",
           "S.A. de C.V.|S. de R.L.", "MONTERREY|TIJUANA|GUADALAJARA|PUEBLA"),
    "CA": ("CAD", "Tremblay Gagnon MacLeod Bouchard Fraser Côté Pelletier",
           "Lumber|Freight|Hydro Services|Metalworks|Seafood|Maple Products",
           "Inc.|Ltée|Ltd", "TORONTO|MONTREAL|VANCOUVER|CALGARY"),
    "US": ("USD", "Garrison Holbrook Whitmore Delgado Sandoval Prescott Kowalczyk Brennan",
           "Supply|Software|Freight|Components|Staffing|Machining|Analytics",
           "Inc.|LLC|Corp.", "HOUSTON|ATLANTA|PHOENIX|DENVER|OMAHA"),
}
_RATE = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27, "JPY": 0.0067, "CHF": 1.12, "SEK": 0.095,
         "MXN": 0.055, "CAD": 0.73}
_WALLETS = ("USD", "EUR", "GBP", "JPY")
_HOSPITALITY = np.array(["Hotel", "Café", "Taxi", "Restaurant", "Parking", "Bistro"], object)
_FEES = np.array(["FX CONVERSION FEE", "SWIFT CHARGES", "INTL TXN FEE", "WALLET MAINTENANCE",
                  "CORRESPONDENT BANK FEE"], dtype=object)


def fx(n: int, seed: int, *, start: str, days: int | None):
    """Bank, ledger and truth of the ``fx`` profile (see the module docstring)."""
    rng = np.random.default_rng([seed, 0xF0E])
    days = 365 if days is None else days
    book = Book(rng, days)
    v = _vendors(rng, int(np.clip(n // 30, 40, 1200)))
    nv = len(v["name"])
    currencies = np.array(list(_RATE), dtype=object)
    cur_index = {c: i for i, c in enumerate(currencies)}
    # a daily rate of each currency in USD: a random walk around today's
    walk = np.cumsum(rng.normal(0, 0.004, (len(currencies), days + 40)), axis=1)
    rate = np.array([_RATE[c] for c in currencies])[:, None] * np.exp(walk - walk[:, :1])
    rate[cur_index["USD"]] = 1.0
    share = {"same": 0.525, "card_fx": 0.20, "wire_fx": 0.10, "fee": 0.04, "pct": 0.02,
             "decoy": 0.02, "batch": 0.03, "inst": 0.01, "bank_only": 0.04, "ledger_only": 0.03,
             "duplicate": 0.005, "mismatch": 0.01}
    count = counts(share, n)
    in_wallet = np.isin(v["currency"], _WALLETS)
    cidx = pd.Index(currencies).get_indexer(v["currency"])

    def vendor(mask, k):
        w = v["popularity"] * mask
        w = w if w.sum() > 0 else v["popularity"]  # a small book may lack a kind of vendor
        return rng.choice(nv, k, p=w / w.sum())

    def amount(vend):
        c = v["median"][vend] * rng.lognormal(0, 0.6, len(vend)) * 100
        whole = v["currency"][vend] == "JPY"
        return np.maximum(np.where(whole, np.rint(c / 100) * 100, np.rint(c)), 100).astype(
            np.int64)

    def to_usd(cents, vend, day):
        return np.rint(cents * rate[cidx[vend], day]).astype(np.int64)

    def emit(kind, vend, lday, l_cents, l_cur, b_cents, b_cur, lag, style, reason=None,
             foreign=None):
        k = len(vend)
        bday = np.minimum(lday + lag, days - 1)
        seq = rng.random(k)
        bday, bseq = keep_order(vend * 10**12 + b_cents, lday, seq, bday, seq)
        inv = join(v["prefix"][vend], digits(rng.integers(0, 10**5, k), 5))
        ref = join("FT", digits(rng.integers(0, 10**10, k), 10))
        shown = l_cents if foreign is None else foreign
        b = _bank_text(rng, v, vend, style, inv, ref, shown, b_cur, bday, rate, cidx)
        b_keys = book.bank(day=bday, seq=bseq, cents=b_cents, currency=b_cur,
                           account=join(b_cur, "-WALLET"), **b)
        l_keys = book.ledger(
            day=lday, seq=seq, cents=l_cents, currency=l_cur,
            description=np.where(v["card"][vend], join(v["name"][vend], " ", v["city_l"][vend]),
                                 join(v["name"][vend], " inv ", inv)),
            vendor=v["name"][vend], category=v["category"][vend],
            reference=np.where(v["card"][vend], None, inv), account=join("1000-", l_cur))
        book.link(kind, b_keys, l_keys, book.groups(k), reason)
        return b_keys, l_keys, {"day": bday, "cents": b_cents, "currency": b_cur,
                                "account": join(b_cur, "-WALLET"), **b}

    # ----------------------------------------- paid from the wallet of their currency
    k = count["same"]
    vend = vendor(in_wallet, k)
    lday = rng.integers(0, days - 6, k)
    cents = amount(vend)
    cur = v["currency"][vend]
    lag = np.where(v["card"][vend], rng.choice([0, 1, 2, 3], k, p=[0.2, 0.4, 0.3, 0.1]),
                   rng.choice([0, 1, 2, 4], k, p=[0.4, 0.35, 0.2, 0.05]))
    _, _, same_bank = emit("one_to_one", vend, lday, cents, cur, cents, cur, lag, "local")

    # ------------------------------ converted into USD: card purchases abroad
    k = count["card_fx"]
    vend = vendor(v["card"] & (v["currency"] != "USD"), k)
    lday = rng.integers(0, days - 6, k)
    foreign = amount(vend)
    lag = rng.choice([1, 2, 3, 4], k, p=[0.3, 0.4, 0.2, 0.1])
    markup = rng.uniform(0.001, 0.03, k)
    b_usd = np.rint(foreign * rate[cidx[vend], lday + lag] * (1 + markup)).astype(np.int64)
    emit("tolerance", vend, lday, to_usd(foreign, vend, lday), "USD", b_usd, "USD", lag,
         "card_fx", foreign=foreign)

    # ------------------------------------------- converted: wires to suppliers abroad
    k = count["wire_fx"]
    vend = vendor(~v["card"] & (v["currency"] != "USD"), k)
    lday = rng.integers(0, days - 10, k)
    foreign = amount(vend)
    lag = rng.integers(0, 8, k)
    spread = rng.uniform(0.001, 0.006, k)
    wire_fee = rng.choice([0, 1500, 2500, 3500, 4500], k)
    b_usd = np.rint(foreign * rate[cidx[vend], lday + lag] * (1 + spread)).astype(np.int64)
    emit("tolerance", vend, lday, to_usd(foreign, vend, lday), "USD", b_usd + wire_fee, "USD",
         lag, "wire_fx", foreign=foreign)

    # -------------------------------- same currency, a fee flat or a percentage on top
    k = count["fee"]
    vend = vendor(in_wallet & ~v["card"], k)
    lday = rng.integers(0, days - 6, k)
    cents = amount(vend)
    cur = v["currency"][vend]
    flat = np.where(cur == "JPY", rng.choice([150000, 250000], k),
                    rng.choice([50, 100, 500, 1500, 2500], k))
    emit("tolerance", vend, lday, cents, cur, cents + flat, cur, rng.integers(0, 3, k), "local")
    k = count["pct"]
    vend = vendor(in_wallet & v["card"], k)
    lday = rng.integers(0, days - 6, k)
    cents = amount(vend)
    cur = v["currency"][vend]
    pct = np.rint(cents * rng.uniform(0.01, 0.03, k) / np.where(cur == "JPY", 100, 1))
    pct = (pct * np.where(cur == "JPY", 100, 1)).astype(np.int64)
    emit("tolerance", vend, lday, cents, cur, cents + np.maximum(pct, 1), cur,
         rng.integers(1, 3, k), "local")

    # ------------------------------------------------ look-alikes, batches, installments
    k = count["decoy"] // 2
    vend = vendor(in_wallet, k)
    cents = amount(vend)
    l1 = rng.integers(0, days - 12, k)
    vv, cc = np.concatenate([vend, vend]), np.concatenate([cents, cents])
    cur = v["currency"][vv]
    emit("decoy", vv, np.concatenate([l1, l1 + rng.integers(2, 6, k)]), cc, cur, cc, cur,
         rng.integers(0, 3, 2 * k), "local")

    k = count["batch"]
    vend = vendor(in_wallet & ~v["card"], k)
    size = rng.integers(2, 6, k)
    owner = np.repeat(np.arange(k), size)
    inv_cents = amount(vend[owner])
    pay = rng.integers(20, days - 2, k)
    iday = pay[owner] - rng.integers(2, 20, len(owner))
    cur = v["currency"][vend]
    bank_cents = np.add.reduceat(inv_cents, np.r_[0, np.cumsum(size)[:-1]])
    inv = join(v["prefix"][vend[owner]], digits(rng.integers(0, 10**5, len(owner)), 5))
    b = _bank_text(rng, v, vend, np.full(k, "local", object), join("MULTIPLE ", size.astype(str)),
                   join("FT", digits(rng.integers(0, 10**10, k), 10)), bank_cents, cur, pay,
                   rate, cidx)
    b_keys = book.bank(day=pay, cents=bank_cents, currency=cur, account=join(cur, "-WALLET"), **b)
    l_keys = book.ledger(day=iday, cents=inv_cents, currency=cur[owner],
                         description=join(v["name"][vend[owner]], " inv ", inv),
                         vendor=v["name"][vend[owner]], category=v["category"][vend[owner]],
                         reference=inv, account=join("1000-", cur[owner]))
    gid = book.groups(k)
    book.link("batch", b_keys[owner], l_keys, gid[owner])

    k = count["inst"] // 3 + 1
    vend = vendor(in_wallet & ~v["card"], k)
    size = rng.integers(2, 5, k)
    total = amount(vend) * size
    owner, rank, part = split_equal(total, size, np.zeros(k, bool))  # rest on the last
    lday = rng.integers(0, max(days - 100, 1), k)
    pday = np.minimum(lday[owner] + 2 + 30 * rank, days - 1)
    cur = v["currency"][vend]
    b = _bank_text(rng, v, vend[owner], np.full(len(owner), "local", object),
                   join("PART ", (rank + 1).astype(str)),
                   join("FT", digits(rng.integers(0, 10**10, len(owner)), 10)), part,
                   cur[owner], pday, rate, cidx)
    b_keys = book.bank(day=pday, cents=part, currency=cur[owner],
                       account=join(cur[owner], "-WALLET"), **b)
    l_keys = book.ledger(day=lday, cents=total, currency=cur,
                         description=join(v["name"][vend], " contract (", size.astype(str),
                                          " payments)"),
                         vendor=v["name"][vend], category=v["category"][vend], reference=None,
                         account=join("1000-", cur))
    gid = book.groups(k)
    book.link("installment", b_keys, l_keys[owner], gid[owner])

    # ------------------------------------------------------------- open rows
    k = count["bank_only"]
    cur = rng.choice(np.array(_WALLETS, object), k, p=[0.6, 0.2, 0.15, 0.05])
    fee = np.where(cur == "JPY", rng.integers(5, 60, k) * 10000, rng.integers(300, 6000, k))
    b_keys = book.bank(day=rng.integers(0, days, k), cents=fee, currency=cur,
                       account=join(cur, "-WALLET"), description=pick(rng, _FEES, k))
    book.bank_only("bank_only", b_keys, "missing in ledger")
    k = count["ledger_only"]
    vend = vendor(np.ones(nv), k)
    late = rng.random(k) < 0.5
    lday = np.where(late, rng.integers(max(days - 4, 0), days, k), rng.integers(0, days - 10, k))
    usd = ~in_wallet[vend]
    cents = np.where(usd, to_usd(amount(vend), vend, lday), amount(vend))
    cur = np.where(usd, "USD", v["currency"][vend])
    l_keys = book.ledger(day=lday, cents=cents, currency=cur,
                         description=join(v["name"][vend], " inv ", v["prefix"][vend],
                                          digits(rng.integers(0, 10**5, k), 5)),
                         vendor=v["name"][vend], category=v["category"][vend], reference=None,
                         account=join("1000-", cur))
    book.ledger_only("ledger_only", l_keys, np.where(late, "timing difference",
                                                      "missing in bank"))
    k = count["duplicate"]
    book.double_post(same_bank, k, (1, 3))
    k = count["mismatch"]
    vend = vendor(in_wallet, k)
    lday = rng.integers(0, days - 6, k)
    cents = amount(vend)
    cur = v["currency"][vend]
    wrong = np.where(rng.random(k) < 0.5, cents * 10, cents // 10 * 10 + 100 * rng.integers(
        50, 500, k))
    emit("amount_mismatch", vend, lday, wrong, cur, cents, cur, rng.integers(0, 3, k), "local",
         reason="amount mismatch")

    return book.tables(
        start, bank_columns=("description", "account", "currency", "reference"),
        ledger_columns=("description", "vendor", "category", "account", "currency", "reference"),
        bank_ids="MC%07d", ledger_ids="GL-%07d",
    )


def _vendors(rng: np.random.Generator, nv: int) -> dict[str, np.ndarray]:
    parts = []
    countries = list(_COUNTRIES)
    weight = np.array([0.16, 0.12, 0.14, 0.08, 0.06, 0.05, 0.07, 0.07, 0.25])
    per = np.maximum(np.rint(weight * nv).astype(int), 4)
    for country, k in zip(countries, per):  # nine countries, not rows
        cur, surnames, trades, forms, cities = _COUNTRIES[country]
        sn = np.array(surnames.split(), dtype=object)
        tr = np.array(trades.split("|"), dtype=object)
        pair = (sn[:, None] + " & " + sn[None, :])[~np.eye(len(sn), dtype=bool)]
        firsts = np.concatenate([sn, pair])
        a, b = names_from(rng, firsts, tr, k)
        m = len(a)
        card = rng.random(m) < 0.35
        hosp = pick(rng, _HOSPITALITY, m)
        city = pick(rng, cities.split("|"), m)
        name = np.where(card, join(hosp, " ", sn[a % len(sn)]),
                        join(firsts[a], " ", tr[b], " ", pick(rng, forms.split("|"), m)))
        parts.append({
            "name": name,
            "currency": np.full(m, cur, object),
            "country": np.full(m, country, object),
            "city": city,
            "card": card,
            # B2B invoices are large (median USD 6,000 and a long tail), card spend small
            "median": np.where(card, np.exp(rng.normal(np.log(90), 0.7, m)),
                               np.exp(rng.normal(np.log(6000), 1.1, m))) / _RATE[cur],
            "category": np.where(card, pick(rng, ["travel", "meals", "lodging"], m),
                                 pick(rng, ["materials", "freight", "services", "equipment"], m)),
            "prefix": pick(rng, ["", "INV", "RE", "F", "INV-", "SI"], m),
        })
    v = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    nv = len(v["name"])
    w = rng.permutation(1.0 / np.arange(1, nv + 1) ** 0.8)
    v["popularity"] = w / w.sum()
    v["city_l"] = np.char.title(v["city"].astype(str)).astype(object)
    v["bank_name"] = bank_text(v["name"])
    return v


def _fmt(cents: np.ndarray, cur: np.ndarray) -> np.ndarray:
    whole = cur == "JPY"
    return np.where(whole, np.char.mod("%d", cents // 100).astype(object),
                    np.char.mod("%.2f", cents / 100).astype(object))


def _bank_text(rng, v, vend, style, inv, ref, shown_cents, b_cur, bday, rate, cidx) -> dict:
    """Bank descriptions: card or wire, in the wallet's or a converted currency."""
    k = len(vend)
    style = np.broadcast_to(np.asarray(style, object), (k,))
    name = typos(rng, v["bank_name"][vend], 0.05)
    fcur = v["currency"][vend]
    card = v["card"][vend]
    shown = _fmt(shown_cents, fcur)  # the amount the card or wire quoted, in its currency
    r = np.char.mod("%.4f", rate[cidx[vend], np.minimum(bday, rate.shape[1] - 1)]).astype(object)
    card_fx = join("VISA INTL ", cut(name, 22), " ", v["country"][vend], " ", fcur, " ", shown,
                   " @ ", r)
    wire_fx = np.where(rng.random(k) < 0.5,
                       join("INTL WIRE OUT ", ref, " ", cut(name, 30), " ", fcur, " ", shown),
                       join("SWIFT OUT /BNF/", cut(name, 30), "/", inv))
    local = np.select(
        [card, b_cur == "EUR", b_cur == "GBP", b_cur == "JPY"],
        [join("CARD ", cut(name, 25), " ", v["city"][vend]),
         join("SEPA CT ", cut(name, 30), " ", inv),
         join("FASTER PAYMENT ", cut(name, 18), " REF ", inv),
         join("FURIKOMI ", cut(name, 24))],
        join("ACH DEBIT ", cut(name, 22), " ", inv),
    )
    desc = np.where(style == "card_fx", card_fx, np.where(style == "wire_fx", wire_fx, local))
    reference = np.where((style == "wire_fx") | (~card & (style == "local")), ref, None)
    return {"description": desc, "reference": reference}
