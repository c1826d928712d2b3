"""Profile ``messy``: a small business with three bank accounts and a hand-kept ledger.

The three accounts are at three banks, and each bank writes descriptions its
own way (a US bank: ``POS DEBIT 03/14 ...``, ``CHECKCARD``, ``ACH DEBIT ... WEB
ID``; a German one: ``SEPA-LASTSCHRIFT ... MREF``, ``KARTENZAHLUNG``; a British
one: ``CARD PAYMENT TO ... ON 14-03``, ``DD``, ``FPO``, ``CHQ``). Any vendor is
paid from any account, so one vendor appears in several styles. Names are
printed upper case and mangled per row: apostrophes and dots dropped, ``&``
spelled ``AND``, dropped or squeezed, ``LTD``/``CO`` dropped or spelled out,
digits split from letters (``A 1 PLUMBING``, ``24 HOUR``) or joined, vowels
dropped, letters transposed, dropped, doubled or replaced, the whole line cut
at 18-40 characters. Cheques print no name at all. The ledger is typed by a
bookkeeper: free-form descriptions, no vendor column and no reference column
(the bank has one, with its own ids). Bank debits positive.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nexus_lab.datasets._recon_kit import (
    Book,
    bank_text,
    counts,
    cut,
    digits,
    join,
    keep_order,
    money,
    next_business_day,
    pick,
    split_equal,
    typos,
)

_GIVEN = np.array("Joe Maria Sam Rita Tony Lena Vic Dee Raj Kim Ana Bo Luca Nina Omar Pat "
                  "Rosa Ted Uma Zoe".split(), dtype=object)
_SURNAMES = np.array("Smith Jones Patel Nguyen Garcia Kim O'Neil McKay D'Souza Rossi Cohen "
                     "Murphy Alvarez Chen Novak Berg Silva Walsh Dunn Ortiz Haas Bell".split(),
                     dtype=object)
_WORDS = np.array("Copper Kettle Golden Anchor Blue Door Red Barn Green Leaf Old Mill Corner "
                  "Harbor Lantern Sparrow Maple Oak Union Main Street Sunrise Northside "
                  "Eastside Riverside Hilltop".split(), dtype=object)
_TRADES = np.array(["Plumbing", "Bakery", "Print Shop", "Hardware", "Diner", "Florist",
                    "Auto Body", "Cleaning", "Electric", "Deli", "Pharmacy", "Tailors",
                    "Coffee", "Pizza", "Landscaping", "Locksmith", "Office Supply", "Signs",
                    "Laundry", "Grocery", "Catering", "Tire & Lube", "Pet Supply", "Books"],
                   dtype=object)
_NUMBERED = np.array(["A1", "24 Hour", "7 Seas", "3 Rivers", "A2Z", "Route 66", "Studio 54",
                      "4Ever", "B2B", "1st Choice", "99 Cent", "360", "Zone 5", "Pier 39",
                      "Top 10", "K9", "U2U", "Club 21"], dtype=object)
_FORMS = np.array(["", "", " Ltd", " Ltd.", " Co", " Co.", " & Co", " Inc", " LLC",
                   " Company", " Limited"], dtype=object)
_MEMOS = np.array(["supplies", "repairs", "lunch w/ client", "staff coffee", "materials",
                   "monthly service", "printing", "deposit", "parts", "misc"], dtype=object)
_CATEGORIES = np.array(["Supplies", "Repairs & Maintenance", "Meals", "Cost of Goods",
                        "Advertising", "Utilities", "Vehicle", "Office"], dtype=object)
_US_CITY = np.array([" AUSTIN TX", " ROUND ROCK TX", " SAN MARCOS TX", " BUDA TX", ""], object)
_DE_CITY = np.array([" BERLIN", " KOELN", " MAINZ", ""], dtype=object)
_ACCOUNTS = np.array(["FNB-CHK-0192", "SPK-GIRO-4471", "HSBX-CUR-8830"], dtype=object)
_FEES = np.array(["SERVICE CHARGE", "KONTOFUEHRUNGSGEBUEHR", "NON-STERLING TXN FEE",
                  "PAPER STATEMENT FEE", "ENTGELT", "OVERDRAFT INTEREST"], dtype=object)


def messy(n: int, seed: int, *, start: str, days: int | None):
    """Bank, ledger and truth of the ``messy`` profile (see the module docstring)."""
    rng = np.random.default_rng([seed, 0x3E55])
    days = 365 if days is None else days
    origin = np.datetime64(start, "D")
    book = Book(rng, days)
    v = _vendors(rng, int(np.clip(n // 20, 50, 2000)))
    nv = len(v["name"])
    share = {"one": 0.835, "tolerance": 0.04, "decoy": 0.03, "batch": 0.025, "inst": 0.015,
             "bank_only": 0.035, "ledger_only": 0.03, "duplicate": 0.01, "mismatch": 0.01}
    count = counts(share, n)
    cheque_counter = [1001]

    def amounts(vend):
        c = v["median"][vend] * rng.lognormal(0, 0.7, len(vend)) * 100
        round_ = rng.random(len(vend)) < 0.12
        return np.maximum(np.where(round_, np.rint(c / 500) * 500, np.rint(c)), 100).astype(
            np.int64)

    def pairs(kind, vend, lday, l_cents, b_cents=None, reason=None, seq=None):
        k = len(vend)
        b_cents = l_cents if b_cents is None else b_cents
        channel = np.where(rng.random(k) < v["cheque"][vend] * 0.6, 2,
                           np.where(rng.random(k) < v["ach"][vend], 1, 0))
        lag = np.select(
            [channel == 0, channel == 1],
            [rng.choice([0, 1, 2, 3, 4, 5], k, p=[0.15, 0.35, 0.25, 0.12, 0.08, 0.05]),
             rng.choice([0, 1, 2], k, p=[0.5, 0.35, 0.15])],
            3 + np.minimum(rng.geometric(0.12, k), 27))
        bday = np.minimum(next_business_day(origin, lday + lag), days - 1)
        seq = rng.random(k) if seq is None else seq
        bday, bseq = keep_order(vend * 10**12 + b_cents, lday, seq, bday, seq)
        chq = digits(cheque_counter[0] + np.argsort(np.argsort(lday + seq)), 4)
        cheque_counter[0] += k
        acct = rng.integers(0, 3, k)
        b = _bank_rows(rng, v, vend, channel, acct, bday, b_cents, chq, origin)
        b_keys = book.bank(day=bday, seq=bseq, cents=b_cents, **b)
        l_keys = book.ledger(day=lday, seq=seq, cents=l_cents,
                             **_ledger_rows(rng, v, vend, np.where(channel == 2, chq, None)))
        book.link(kind, b_keys, l_keys, book.groups(k), reason)
        return b, bday, b_cents

    k = count["one"]
    vend = rng.choice(nv, k, p=v["popularity"])
    one_b, one_day, one_cents = pairs("one_to_one", vend, rng.integers(0, days - 6, k),
                                      amounts(vend))

    # card surcharges, convenience fees and tips
    k = count["tolerance"]
    vend = rng.choice(nv, k, p=v["popularity"])
    cents = amounts(vend)
    extra = np.select(
        [rng.random(k) < 0.4, rng.random(k) < 0.5],
        [rng.choice([30, 95, 150, 195, 250, 395], k),
         np.rint(cents * rng.uniform(0.015, 0.04, k)).astype(np.int64) + 1],
        np.rint(cents * rng.choice([0.1, 0.15, 0.18, 0.2], k)).astype(np.int64),
    )
    pairs("tolerance", vend, rng.integers(0, days - 6, k), cents, cents + extra)

    k = count["decoy"] // 2
    vend = rng.choice(nv, k, p=v["popularity"])
    cents = amounts(vend)
    l1 = rng.integers(0, days - 12, k)
    pairs("decoy", np.concatenate([vend, vend]),
          np.concatenate([l1, l1 + rng.integers(2, 7, k)]), np.concatenate([cents, cents]))

    # a supplier paid for several bills at once; a bill paid in parts
    k = count["batch"]
    vend = rng.choice(nv, k, p=v["popularity"])
    size = rng.integers(2, 5, k)
    owner = np.repeat(np.arange(k), size)
    bills = amounts(vend[owner])
    pay = rng.integers(15, days - 1, k)
    bday = np.minimum(next_business_day(origin, pay), days - 1)
    bcents = np.add.reduceat(bills, np.r_[0, np.cumsum(size)[:-1]])
    b = _bank_rows(rng, v, vend, np.ones(k, np.int64), rng.integers(0, 3, k), bday, bcents,
                   digits(np.zeros(k), 4), origin)
    b_keys = book.bank(day=bday, cents=bcents, **b)
    l_keys = book.ledger(day=pay[owner] - rng.integers(1, 25, len(owner)), cents=bills,
                         **_ledger_rows(rng, v, vend[owner], None))
    gid = book.groups(k)
    book.link("batch", b_keys[owner], l_keys, gid[owner])

    k = max(1, count["inst"] // 3)
    vend = rng.choice(nv, k, p=v["popularity"])
    size = rng.integers(2, 5, k)
    total = amounts(vend) * size
    owner, rank, part = split_equal(total, size, np.zeros(k, bool))  # rest on the last
    lday = rng.integers(0, max(days - 60, 1), k)
    pday = np.minimum(next_business_day(origin, lday[owner] + rng.integers(0, 4, len(owner))
                                        + 14 * rank), days - 1)
    b = _bank_rows(rng, v, vend[owner], np.zeros(len(owner), np.int64),
                   rng.integers(0, 3, len(owner)), pday, part, digits(np.zeros(len(owner)), 4),
                   origin)
    b_keys = book.bank(day=pday, cents=part, **b)
    l_keys = book.ledger(day=lday, cents=total, **_ledger_rows(rng, v, vend, None))
    gid = book.groups(k)
    book.link("installment", b_keys, l_keys[owner], gid[owner])

    # -------------------------------------------------------------- open rows
    k = count["bank_only"]
    acct = rng.integers(0, 3, k)
    b_keys = book.bank(day=rng.integers(0, days, k), cents=rng.integers(200, 4000, k),
                       description=pick(rng, _FEES, k), account=_ACCOUNTS[acct], reference=None)
    book.bank_only("bank_only", b_keys, "missing in ledger")
    k = count["ledger_only"]
    vend = rng.choice(nv, k, p=v["popularity"])
    late = rng.random(k) < 0.5
    lday = np.where(late, rng.integers(max(days - 4, 0), days, k), rng.integers(0, days - 10, k))
    l_keys = book.ledger(day=lday, cents=amounts(vend), **_ledger_rows(rng, v, vend, None))
    book.ledger_only("ledger_only", l_keys, np.where(late, "timing difference",
                                                      "missing in bank"))
    k = count["duplicate"]
    src = rng.choice(len(one_day), k, replace=False)
    dup = {key: np.asarray(val)[src] for key, val in one_b.items()}
    b_keys = book.bank(day=np.minimum(one_day[src] + rng.integers(1, 3, k), days - 1),
                       cents=one_cents[src], **dup)
    book.bank_only("duplicate", b_keys, "possible duplicate")
    k = count["mismatch"]
    vend = rng.choice(nv, k, p=v["popularity"])
    cents = amounts(vend)
    wrong = np.where(rng.random(k) < 0.5, cents * 10, cents + rng.integers(900, 9000, k))
    pairs("amount_mismatch", vend, rng.integers(0, days - 6, k), wrong, cents, "amount mismatch")

    return book.tables(
        start, bank_columns=("description", "account", "reference"),
        ledger_columns=("description", "category", "account"),
        bank_ids="%09d", ledger_ids="QB%05d",
    )


def _vendors(rng: np.random.Generator, nv: int) -> dict[str, np.ndarray]:
    t = rng.choice(5, nv, p=[0.22, 0.2, 0.28, 0.15, 0.15])
    given, sur = pick(rng, _GIVEN, nv), pick(rng, _SURNAMES, nv)
    trade, word = pick(rng, _TRADES, nv), pick(rng, _WORDS, nv)
    form = pick(rng, _FORMS, nv)
    name = np.select(
        [t == 0, t == 1, t == 2, t == 3],
        [join(given, "'s ", trade), join(sur, " & ", pick(rng, _SURNAMES, nv), form),
         join(word, " ", trade, form), join(pick(rng, _NUMBERED, nv), " ", trade)],
        join("The ", word, " ", trade),
    )
    name, first = np.unique(name, return_index=True)
    name = name[np.argsort(first)]
    w = rng.permutation(1.0 / np.arange(1, len(name) + 1) ** 0.85)
    k = len(name)
    return {
        "name": name,
        "category": pick(rng, _CATEGORIES, k),
        "median": np.exp(rng.normal(np.log(45), 0.9, k)),
        "popularity": w / w.sum(),
        "cheque": (rng.random(k) < 0.12).astype(float),
        "ach": np.where(rng.random(k) < 0.25, 0.8, 0.05),
        "abbreviated": rng.random(k) < 0.1,
        "store": rng.integers(10, 9999, k),
    }


def _mangle(rng: np.random.Generator, names: np.ndarray, abbreviated: np.ndarray) -> np.ndarray:
    """The many ways a bank prints one name (chosen row by row)."""
    k = len(names)
    arr = pa.array(bank_text(names).astype(str))

    def mix(current, variants, probs):
        r = rng.random(k)
        out = np.asarray(current.to_pylist(), dtype=object)
        edge = 0.0
        for variant, p in zip(variants, probs):  # a handful of variants, not rows
            sel = (r >= edge) & (r < edge + p)
            out = np.where(sel, np.asarray(variant.to_pylist(), dtype=object), out)
            edge += p
        return pa.array(out.astype(str))

    rep = pc.replace_substring
    rx = pc.replace_substring_regex
    arr = mix(arr, [rep(arr, "'", ""), rep(arr, "'", " ")], [0.6, 0.35])
    arr = mix(arr, [rep(arr, " & ", " AND "), rep(arr, " & ", " "), rep(arr, " & ", "&"),
                    rep(arr, " & ", " + ")], [0.3, 0.25, 0.15, 0.05])
    arr = mix(arr, [rx(arr, r" (LTD|LIMITED|CO|COMPANY|INC|LLC)\.?$", ""),
                    rx(rx(arr, r" LTD\.?$", " LIMITED"), r" CO\.?$", " COMPANY")],
              [0.45, 0.2])
    arr = pc.replace_substring(arr, ".", "")
    arr = mix(arr, [rx(arr, r"^THE ", ""), rx(arr, r"^THE (.*)$", r"\1 THE")], [0.5, 0.1])
    split = rx(rx(arr, r"([A-Z])(\d)", r"\1 \2"), r"(\d)([A-Z])", r"\1 \2")
    arr = mix(arr, [split, rx(arr, r"(\d) ", r"\1")], [0.35, 0.15])
    abbrev = rx(arr, r"\B[AEIOU]", "")
    arr = pc.if_else(pa.array(abbreviated | (rng.random(k) < 0.05)), abbrev, arr)
    return typos(rng, np.asarray(arr.to_pylist(), dtype=object), 0.2)


def _bank_rows(rng, v, vend, channel, acct, bday, cents, chq, origin) -> dict:
    """Descriptions in the style of the bank of each row's account; references."""
    k = len(vend)
    name = _mangle(rng, v["name"][vend], v["abbreviated"][vend])
    date = origin + np.asarray(bday, np.int64)
    month = date.astype("datetime64[M]")
    mm = digits(month.astype(np.int64) % 12 + 1, 2)
    dd = digits((date - month.astype("datetime64[D]")).astype(np.int64) + 1, 2)
    mmdd, ddmm = join(mm, "/", dd), join(dd, "-", mm)
    store = join(" #", v["store"][vend].astype(str))
    trace = digits(rng.integers(0, 10**9, k), 9)
    mref = join(" MREF ", digits(rng.integers(0, 10**6, k), 6), " CRED DE",
                digits(rng.integers(0, 100, k), 2), "ZZZ", digits(rng.integers(0, 10**8, k), 8))
    us = np.select(
        [channel == 2, channel == 1, rng.random(k) < 0.5],
        [join("CHECK ", chq), join("ACH DEBIT ", name, " WEB ID ", trace),
         join("POS DEBIT ", mmdd, " ", name, pick(rng, _US_CITY, k))],
        join("CHECKCARD ", mm, dd, " ", name,
             store, " ", digits(rng.integers(0, 10**11, k), 11)),
    )
    de = np.select(
        [channel == 2, channel == 1],
        [join("SCHECK ", chq), join("SEPA-LASTSCHRIFT ", name, mref)],
        join("KARTENZAHLUNG ", name, pick(rng, _DE_CITY, k), " ", ddmm),
    )
    uk = np.select(
        [channel == 2, channel == 1, rng.random(k) < 0.5],
        [join("CHQ ", chq), join(pick(rng, ["DD ", "FPO "], k), name, " REF ", trace),
         join("CARD PAYMENT TO ", name, ",", money(cents), " ON ", ddmm)],
        join("WIRE OUT ", name),
    )
    desc = np.select([acct == 0, acct == 1], [us, de], uk)
    # exports cut the line: often at 18-40 characters, at least a few letters of the name
    prefix = np.select([acct == 0, acct == 1], [10, 17], 16)
    length = np.where(rng.random(k) < 0.55, np.maximum(rng.integers(18, 41, k), prefix + 6), 999)
    desc = cut(desc, length)
    ref = np.select([channel == 2, (channel == 1) & (acct != 1)], [chq, trace], None)
    ref = np.where(pd.isna(ref) & (rng.random(k) < 0.3), join("TRN", trace), ref)
    return {"description": desc, "account": _ACCOUNTS[acct], "reference": ref}


def _ledger_rows(rng, v, vend, chq) -> dict:
    """What a bookkeeper types: the name in several forms, with a memo or not."""
    k = len(vend)
    name = v["name"][vend]
    style = rng.integers(0, 6, k)
    memo = pick(rng, _MEMOS, k)
    inv = rng.integers(100, 99999, k).astype(str)
    lower = np.asarray(pc.utf8_lower(pa.array(name.astype(str))).to_pylist(), dtype=object)
    desc = np.select(
        [style == 0, style == 1, style == 2, style == 3, style == 4],
        [name, join(lower, " - ", memo), join(np.char.capitalize(memo.astype(str)).astype(object),
                                              " (", name, ")"),
         join("Pd ", name, " inv#", inv), join(name, " #", v["store"][vend].astype(str))],
        join(name, " ", memo),
    )
    if chq is not None:
        chq = np.asarray(chq, dtype=object)
        has = pd.notna(chq)
        desc = np.where(has, join("Check ", np.where(has, chq, ""), " - ", name), desc)
    desc = typos(rng, desc, 0.05)
    return {"description": desc, "category": v["category"][vend],
            "account": np.where(rng.random(k) < 0.5, "Checking", "Operating")}
