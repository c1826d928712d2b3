"""A seeded bank statement and ledger with every reconciliation case planted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nexus_lab.datasets._recon_kit import counts as planted
from nexus_lab.datasets._recon_profiles import (
    RECONCILIATION_PROFILES,
    check_profile,
    generate,
)
from nexus_lab.text import encode_bytes

__all__ = ["RECONCILIATION_PROFILES", "synth_reconciliation"]

_WORDS_A = (
    "Acme Apex Atlas Aurora Beacon Birch Blue Bright Cedar Central Citrus Cobalt Coastal "
    "Copper "
    "Crescent Crown Delta Eagle Echo Elm Emerald Evergreen Falcon First Fox Frontier Global Golden "
    "Granite Green Harbor Harvest Hawk Highland Horizon Iron Island Jade Keystone Lake Liberty "
    "Lincoln Maple Meadow Metro Midland Monarch Nexa Noble North Northwind Oak Ocean Orchid "
    "Pacific Peak Pine Pioneer Prairie Prime Quantum Redwood Ridge River Rock Royal Sable Sierra "
    "Silver Summit Sun Titan Union Valley Vista Willow Zenith"
).split()
_WORDS_B = (
    "Office Supply Logistics Foods Fuel Hardware Software Cloud Telecom Print Courier Catering "
    "Cleaning Consulting Electric Water Insurance Rentals Travel Airlines Hotels Motors Medical "
    "Pharmacy Books Media Design Security Staffing Legal Accounting Marketing Analytics Networks "
    "Systems Labs Studios Outfitters Furniture Paper Packaging Freight Energy Solar Coffee Bakery "
    "Market Grocers Garage Tools Textiles Plumbing Roofing Lighting Health Dental Fitness Parking"
).split()
_SUFFIX = np.array(["", " Inc", " LLC", " Co", " Ltd", " Corp", " Group", " Services"])
_CATEGORIES = np.array(
    "office travel meals software utilities rent supplies fuel freight marketing legal "
    "insurance telecom maintenance payroll-services".split()
)
_CARD_PREFIX = np.array(
    ["POS DEBIT ", "DEBIT CARD PURCHASE ", "CHECKCARD ", "POS PURCHASE ", "PURCHASE ",
     "VISA DDA PUR "]
)
_ACH_PREFIX = np.array(["ACH DEBIT ", "ACH PMT ", "ONLINE PMT ", "WEB PMT ", "ACH "])
_BANK_ONLY = np.array(
    ["MONTHLY SERVICE FEE", "WIRE TRANSFER FEE", "OVERDRAFT FEE", "INTEREST CHARGE",
     "ATM WITHDRAWAL", "STOP PAYMENT FEE", "ANALYSIS SERVICE CHARGE"]
)
_CITIES = np.array(
    [" SEATTLE WA", " AUSTIN TX", " CHICAGO IL", " DENVER CO", " BOSTON MA", " MIAMI FL", ""]
)


def synth_reconciliation(
    n: int = 20_000,
    seed: int = 0,
    *,
    profile: str = "retail",
    start: str = "2025-01-01",
    days: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Generate a bank statement, a ledger and the true links between them.

    ``profile`` chooses the kind of books (:data:`RECONCILIATION_PROFILES`);
    each profile is a generator of its own, unlike the others in its
    counterparties, amounts, posting lags, description grammar, columns and
    sign convention, so that a reconciler tuned on some can be judged on the
    others:

    * ``"retail"`` (the default, described below): card spending of a retail
      business;
    * ``"payables"``: accounts payable paid in weekly payment runs: one bank
      debit settles invoices issued over the vendor's terms (net 30-60) before;
      remittance text lists invoice numbers or not; cheques without names;
      bank debits negative;
    * ``"installments"``: purchases, leases, premiums and taxes paid in 2-12
      parts weekly, fortnightly or monthly (rounding cents on the first or last
      part, some with a down payment), buy-now-pay-later lenders named instead
      of merchants; monthly subscriptions of one amount;
    * ``"fx"``: a multi-currency account (``currency`` on both sides; USD, EUR,
      GBP, JPY wallets; suppliers in nine currencies); conversions move amounts
      by 0.1-3%, wire and card fees flat or a percentage;
    * ``"messy"``: three accounts at three banks, each with its own description
      grammar (``POS DEBIT``, ``SEPA-LASTSCHRIFT``, ``CARD PAYMENT TO``,
      ``CHQ``), names mangled row by row and cut at 18-40 characters; a
      hand-kept ledger with no vendor and no reference column;
    * ``"signs"``: money in and out under one of three sign conventions, by
      ``seed % 3`` (bank debits negative and ledger expenses positive;
      separate ``debit``/``credit`` columns with ``amount`` unsigned; every
      amount positive with ``dc``/``type`` columns), named in
      ``bank.attrs["sign_convention"]``;
    * ``"dense"``: one fleet-card account with about 2,500 rows a day over a
      few days, few merchants, menu prices: many look-alikes a day;
    * ``"marketplace"``: an online seller's account: Amazon, Etsy, Shopify,
      eBay, Walmart, Stripe and PayPal storefronts paid out daily, weekly or
      fortnightly, one bank credit settling the sales since the last payout
      less refunds and the fee line the seller books on the payout day (an
      exact batch, tens of lines for a weekly payout); card purchases (postage
      at menu prices, packaging, threshold-billed ads, subscriptions); factory
      orders wired as deposit and balance; chargebacks; payouts on hold or not
      yet due at the period end; bank and ledger both signed by cash direction.

    The ``retail`` profile plants every case the reconciliation engine handles
    in realistic proportions: one-to-one matches with posting lags of several days and
    descriptions the bank mangles (upper case, truncation, ``POS DEBIT``
    prefixes, reference numbers, card suffixes, typos); amounts off by a card
    fee or FX rounding; look-alike decoys (same vendor and amount twice in a
    week); batch payments (one bank line paying 2-6 invoices); installments
    (one invoice paid in 2-6 bank lines); bank-only charges; outstanding ledger
    entries near the period end; bank double postings; and keying errors that
    leave an amount mismatch.

    Parameters
    ----------
    n : int
        Approximate number of bank rows.
    seed : int
        Seed; the same ``(n, seed, profile)`` always gives the same tables.
    profile : str, default "retail"
        One of :data:`RECONCILIATION_PROFILES`.
    start : str
        First day of the statement period.
    days : int, optional
        Length of the period in days: 365 by default, except ``"dense"``
        (``ceil(n / 2500)`` days, at least 2).

    Returns
    -------
    bank : pandas.DataFrame
        ``transaction_id, date, amount, description`` and, by profile,
        ``account, reference, currency, debit, credit, dc`` (``retail``:
        ``account, reference``).
    ledger : pandas.DataFrame
        ``transaction_id, date, amount, description`` and, by profile,
        ``vendor, category, account, reference, currency, type`` (``retail``:
        ``vendor, category, account, reference``; ``messy`` has neither vendor
        nor reference).
    truth : pandas.DataFrame
        ``bank_id, ledger_id, kind, group_id, reason``: one row per true link
        (kind ``one_to_one``, ``tolerance``, ``decoy``, ``batch`` or
        ``installment``) and one row per row that should stay unmatched (kind
        ``bank_only``, ``ledger_only``, ``duplicate`` or ``amount_mismatch``;
        the other id is missing, except for ``amount_mismatch``; ``reason``
        says why).

    Raises
    ------
    ValueError
        For an unknown ``profile`` (the message lists the names) or ``n < 50``.

    Examples
    --------
    >>> bank, ledger, truth = synth_reconciliation(500, seed=1)
    >>> truth["kind"].value_counts().index[0]
    'one_to_one'
    >>> bank["transaction_id"].is_unique
    True
    >>> bank, ledger, truth = synth_reconciliation(500, seed=1, profile="fx")
    >>> sorted(bank["currency"].unique())
    ['EUR', 'GBP', 'JPY', 'USD']
    >>> "reference" in synth_reconciliation(500, seed=1, profile="messy")[1]
    False
    """
    profile = check_profile(profile)
    if n < 50:
        raise ValueError("synth_reconciliation needs n >= 50 to plant every case")
    if profile != "retail":
        return generate(profile, int(n), seed, start=start, days=days)
    days = 365 if days is None else days
    rng = np.random.default_rng(seed)
    vendors = _vendors(rng, int(np.clip(n // 40, 60, 4000)))
    nv = len(vendors["name"])
    popularity = 1.0 / np.arange(1, nv + 1) ** 0.8
    popularity /= popularity.sum()

    counts = planted(n=n, share={
        "one_to_one": 0.78, "tolerance": 0.05, "decoy": 0.02, "batch": 0.03,
        "installment": 0.01, "bank_only": 0.03, "ledger_only": 0.03, "duplicate": 0.01,
        "amount_mismatch": 0.01,
    })
    last_day = days - 1
    b_parts: list[dict] = []
    l_parts: list[dict] = []
    truth_parts: list[dict] = []
    group = 0

    def amounts(v: np.ndarray) -> np.ndarray:
        cents = np.rint(vendors["median"][v] * rng.lognormal(0, 0.45, len(v)) * 100)
        round_ = rng.random(len(v)) < 0.08
        cents = np.where(round_, np.maximum(np.rint(cents / 1000) * 1000, 1000), cents)
        return np.maximum(cents, 100).astype(np.int64)

    def lags(k: int) -> np.ndarray:
        return rng.choice(
            np.array([0, 1, 2, 3, 4, 5, 6, -1, -2]), k,
            p=[0.30, 0.24, 0.18, 0.10, 0.06, 0.04, 0.02, 0.04, 0.02],
        )

    def add(kind: str, b: dict | None, lg: dict | None, bank_key, ledger_key, groups, reason=None):
        if b is not None:
            b_parts.append(b)
        if lg is not None:
            l_parts.append(lg)
        truth_parts.append(
            {"bank_key": bank_key, "ledger_key": ledger_key, "kind": kind, "group": groups,
             "reason": reason}
        )

    # one-to-one, tolerance and amount mismatch share a shape: one bank, one ledger row
    for kind in ("one_to_one", "tolerance", "amount_mismatch"):
        k = counts[kind]
        v = rng.choice(nv, k, p=popularity)
        lday = rng.integers(0, days - 7, k)
        cents = amounts(v)
        bcents = cents.copy()
        if kind == "tolerance":
            fee = np.where(
                rng.random(k) < 0.6, rng.integers(25, 300, k), rng.integers(-9, 10, k) | 1
            )
            bcents = cents + fee
        elif kind == "amount_mismatch":  # a keying error well outside any tolerance
            slip = rng.random(k) < 0.5
            cents = np.where(slip, cents * 10, cents + 900 + rng.integers(0, 9000, k))
        bday = np.clip(lday + lags(k), 0, last_day)
        gid = np.arange(group, group + k)
        group += k
        bkeys = _keys(b_parts, k)
        lkeys = _keys(l_parts, k)
        add(
            kind,
            _bank_rows(rng, vendors, v, bday, bcents, ach=rng.random(k) < 0.25),
            _ledger_rows(rng, vendors, v, lday, cents),
            bkeys, lkeys, gid,
            "amount mismatch" if kind == "amount_mismatch" else None,
        )

    # decoys: the same vendor and amount twice within a week, order preserved
    k = counts["decoy"]
    v = rng.choice(nv, k, p=popularity)
    cents = amounts(v)
    l1 = rng.integers(0, days - 14, k)
    gap = rng.integers(2, 6, k)
    lag1 = rng.integers(0, 3, k)
    lag2 = lag1 + rng.integers(-1, 2, k)
    lday = np.concatenate([l1, l1 + gap])
    bday = np.concatenate([l1 + lag1, l1 + gap + np.maximum(lag2, 0)])
    vv, cc = np.concatenate([v, v]), np.concatenate([cents, cents])
    ach = np.zeros(2 * k, bool)
    bkeys, lkeys = _keys(b_parts, 2 * k), _keys(l_parts, 2 * k)
    gid = np.concatenate([np.arange(group, group + k), np.arange(group + k, group + 2 * k)])
    group += 2 * k
    add("decoy", _bank_rows(rng, vendors, vv, bday, cc, ach=ach),
        _ledger_rows(rng, vendors, vv, lday, cc), bkeys, lkeys, gid)

    # batch payments: one bank line pays 2-6 invoices of one vendor
    k = counts["batch"]
    v = rng.choice(nv, k, p=popularity)
    size = rng.integers(2, 7, k)
    owner = np.repeat(np.arange(k), size)
    bday0 = rng.integers(6, days - 3, k)
    inv_cents = amounts(v[owner])
    inv_day = bday0[owner] - rng.integers(0, 5, len(owner))
    bcents = np.bincount(owner, weights=inv_cents, minlength=k).astype(np.int64)
    bday = bday0 + rng.integers(0, 3, k)
    bkeys = _keys(b_parts, k)
    lkeys = _keys(l_parts, len(owner))
    add("batch", _bank_rows(rng, vendors, v, bday, bcents, ach=np.ones(k, bool), batch=True),
        _ledger_rows(rng, vendors, v[owner], inv_day, inv_cents), bkeys[owner], lkeys,
        group + owner)
    group += k

    # installments: one invoice paid in 2-6 bank lines
    k = counts["installment"]
    v = rng.choice(nv, k, p=popularity)
    size = rng.integers(2, 7, k)
    owner = np.repeat(np.arange(k), size)
    total = amounts(v) * size
    cut = rng.dirichlet(np.ones(6), k)
    share = cut[owner, _rank_within(owner)]
    share = share / np.bincount(owner, weights=share, minlength=k)[owner]
    part = np.floor(total[owner] * share).astype(np.int64)
    part[_last_of(owner)] += total - np.bincount(owner, weights=part, minlength=k).astype(np.int64)
    lday = rng.integers(0, days - 8, k)
    pday = lday[owner] + rng.integers(0, 7, len(owner))
    bkeys = _keys(b_parts, len(owner))
    lkeys = _keys(l_parts, k)
    add("installment",
        _bank_rows(rng, vendors, v[owner], pday, part, ach=np.zeros(len(owner), bool)),
        _ledger_rows(rng, vendors, v, lday, total), bkeys, lkeys[owner], group + owner)
    group += k

    # bank-only charges: missing in the ledger
    k = counts["bank_only"]
    desc = rng.choice(_BANK_ONLY, k)
    b = {
        "day": rng.integers(0, days, k),
        "cents": rng.integers(500, 5000, k).astype(np.int64),
        "description": desc,
        "reference": np.full(k, None, object),
    }
    add("bank_only", b, None, _keys(b_parts, k), np.full(k, -1), np.full(k, -1),
        "missing in ledger")

    # ledger-only: outstanding near the period end (timing) or never paid (missing in bank)
    k = counts["ledger_only"]
    v = rng.choice(nv, k, p=popularity)
    late = rng.random(k) < 0.5
    lday = np.where(late, rng.integers(days - 4, days, k), rng.integers(0, days - 10, k))
    reason = np.where(late, "timing difference", "missing in bank")
    add("ledger_only", None, _ledger_rows(rng, vendors, v, lday, amounts(v)),
        np.full(k, -1), _keys(l_parts, k), np.full(k, -1), reason)

    # bank double postings of a one-to-one charge
    k = counts["duplicate"]
    src = rng.choice(counts["one_to_one"], k, replace=False)
    first = b_parts[0]
    b = {key: np.asarray(val)[src] for key, val in first.items()}
    b["day"] = np.clip(b["day"] + rng.integers(1, 3, k), 0, last_day)
    add("duplicate", b, None, _keys(b_parts, k), np.full(k, -1), np.full(k, -1),
        "possible duplicate")

    return _assemble(rng, b_parts, l_parts, truth_parts, start)


def _keys(parts: list[dict], k: int) -> np.ndarray:
    done = sum(len(p["day"]) for p in parts)
    return np.arange(done, done + k)


def _rank_within(owner: np.ndarray) -> np.ndarray:
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    return np.arange(len(owner)) - np.repeat(starts, np.diff(np.r_[starts, len(owner)]))


def _last_of(owner: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.r_[owner[1:] != owner[:-1], True])


def _vendors(rng: np.random.Generator, nv: int) -> dict[str, np.ndarray]:
    a = np.array(_WORDS_A, dtype=object)
    b = np.array(_WORDS_B, dtype=object)
    pick = rng.choice(len(a) * len(b), nv, replace=False)
    names = a[pick // len(b)] + " " + b[pick % len(b)] + rng.choice(_SUFFIX, nv)
    descriptor = pc.utf8_upper(pa.array(names.astype(str)))
    # a bank's descriptor: sometimes abbreviated (vowels after the first letter dropped)
    short = rng.random(nv) < 0.15
    abbrev = pc.replace_substring_regex(descriptor, r"\B[AEIOU]", "")
    descriptor = pc.if_else(pa.array(short), abbrev, descriptor)
    return {
        "name": names.astype(str),
        "descriptor": np.asarray(descriptor.to_pylist(), dtype=object),
        "median": np.exp(rng.normal(4.2, 1.1, nv)),
        "category": rng.choice(_CATEGORIES, nv),
        "store": rng.integers(100, 9999, nv),
    }


def _typos(rng: np.random.Generator, text: np.ndarray, rate: float) -> np.ndarray:
    """Swap, drop or replace one character in a share ``rate`` of the strings."""
    width = 48
    mat, lengths = encode_bytes(pa.array(text.astype(str)), width)
    n = len(mat)
    hit = (rng.random(n) < rate) & (lengths > 4)
    pos = np.minimum(1 + (rng.random(n) * np.maximum(lengths - 2, 1)).astype(np.int64), width - 1)
    op = rng.integers(0, 3, n)
    rows = np.flatnonzero(hit)
    p = pos[rows]
    o = op[rows]
    swap = rows[o == 0]
    ps = pos[swap]
    left = mat[swap, ps - 1].copy()
    mat[swap, ps - 1] = mat[swap, ps]
    mat[swap, ps] = left
    rep = rows[o == 2]
    mat[rep, pos[rep]] = rng.integers(65, 91, len(rep)).astype(np.uint8)
    drop = rows[o == 1]
    mat[drop, p[o == 1]] = 0
    order = np.argsort(mat == 0, axis=1, kind="stable")
    mat = np.take_along_axis(mat, order, 1)
    out = np.frombuffer(mat.tobytes(), dtype=f"S{width}")
    return np.asarray(pa.array(out).cast(pa.string()).to_pylist(), dtype=object)


def _bank_rows(rng, vendors, v, day, cents, *, ach, batch=False) -> dict:
    k = len(v)
    name = _typos(rng, vendors["descriptor"][v], 0.15)
    prefix = np.where(ach, rng.choice(_ACH_PREFIX, k), rng.choice(_CARD_PREFIX, k))
    card = np.where(
        ach | (rng.random(k) < 0.5), "", " XXXX" + rng.integers(1000, 9999, k).astype(str)
    )
    store = np.where(
        ach | (rng.random(k) < 0.5), "", " #" + vendors["store"][v].astype(str)
    )
    city = np.where(ach, "", rng.choice(_CITIES, k))
    ref_no = rng.integers(100000, 999999, k).astype(str)
    ref = np.where(ach, " REF " + ref_no, "")
    tag = " BATCH" if batch else ""
    desc = prefix.astype(object) + name + tag + store + city + card + ref
    cut = rng.random(k) < 0.3
    trunc = np.asarray(
        pc.utf8_slice_codeunits(pa.array(desc.astype(str)), 0, 32).to_pylist(), dtype=object
    )
    desc = np.where(cut, trunc, desc)
    reference = np.where(ach, ref_no, None).astype(object)
    return {"day": day, "cents": cents, "description": desc, "reference": reference,
            "_ref_digits": np.where(ach, ref_no, "")}


def _ledger_rows(rng, vendors, v, day, cents) -> dict:
    k = len(v)
    memo = np.where(
        rng.random(k) < 0.5, " - " + vendors["category"][v].astype(object), ""
    )
    return {
        "day": day,
        "cents": cents,
        "vendor": vendors["name"][v],
        "category": vendors["category"][v],
        "description": vendors["name"][v].astype(object) + memo,
        "reference": np.full(k, None, object),
    }


def _assemble(rng, b_parts, l_parts, truth_parts, start):
    def cat(parts, key, default=None):
        return np.concatenate(
            [np.asarray(p[key]) if key in p else np.full(len(p["day"]), default, object)
             for p in parts]
        )

    origin = np.datetime64(start, "D")
    # ACH invoices carry the reference the bank quotes: copy it onto the paired ledger row
    bday = cat(b_parts, "day").astype(np.int64)
    lday = cat(l_parts, "day").astype(np.int64)
    b_order = np.lexsort((rng.random(len(bday)), bday))
    l_order = np.lexsort((rng.random(len(lday)), lday))
    b_rank = np.empty_like(b_order)
    b_rank[b_order] = np.arange(len(b_order))
    l_rank = np.empty_like(l_order)
    l_rank[l_order] = np.arange(len(l_order))
    width_b = max(7, len(str(len(bday))) + 1)
    width_l = max(7, len(str(len(lday))) + 1)
    bank_ids = np.char.add("B", np.char.zfill(np.arange(1, len(bday) + 1).astype(str), width_b))
    ledger_ids = np.char.add("L", np.char.zfill(np.arange(1, len(lday) + 1).astype(str), width_l))

    truth = pd.DataFrame(
        {
            "bank_key": np.concatenate([np.broadcast_to(t["bank_key"], np.shape(t["group"]))
                                        for t in truth_parts]),
            "ledger_key": np.concatenate([np.broadcast_to(t["ledger_key"], np.shape(t["group"]))
                                          for t in truth_parts]),
            "kind": np.concatenate([np.full(np.shape(t["group"]), t["kind"], object)
                                    for t in truth_parts]),
            "group_id": np.concatenate([t["group"] for t in truth_parts]),
            "reason": np.concatenate([np.broadcast_to(np.asarray(t["reason"], object),
                                                      np.shape(t["group"]))
                                      for t in truth_parts]),
        }
    )
    linked = (truth["bank_key"] >= 0) & (truth["ledger_key"] >= 0)
    ref_digits = cat(b_parts, "_ref_digits", "")
    l_ref = cat(l_parts, "reference")
    lk = truth.loc[linked, "ledger_key"].to_numpy()
    bk = truth.loc[linked, "bank_key"].to_numpy()
    has = ref_digits[bk] != ""
    l_ref[lk[has]] = np.char.add("INV-", ref_digits[bk[has]].astype(str))

    bank = pd.DataFrame(
        {
            "transaction_id": bank_ids[b_rank],
            "date": (origin + bday).astype("datetime64[ns]"),
            "amount": cat(b_parts, "cents") / 100.0,
            "description": cat(b_parts, "description").astype(str),
            "account": "CHK-0001",
            "reference": cat(b_parts, "reference"),
        }
    ).iloc[b_order].reset_index(drop=True)
    ledger = pd.DataFrame(
        {
            "transaction_id": ledger_ids[l_rank],
            "date": (origin + lday).astype("datetime64[ns]"),
            "amount": cat(l_parts, "cents") / 100.0,
            "description": cat(l_parts, "description").astype(str),
            "vendor": cat(l_parts, "vendor").astype(str),
            "category": cat(l_parts, "category").astype(str),
            "account": "1000-Cash",
            "reference": l_ref,
        }
    ).iloc[l_order].reset_index(drop=True)
    out = pd.DataFrame(
        {
            "bank_id": np.where(truth["bank_key"] >= 0, bank_ids[b_rank][truth["bank_key"]], None),
            "ledger_id": np.where(
                truth["ledger_key"] >= 0, ledger_ids[l_rank][truth["ledger_key"]], None
            ),
            "kind": truth["kind"],
            "group_id": truth["group_id"],
            "reason": truth["reason"],
        }
    )
    return bank, ledger, out
