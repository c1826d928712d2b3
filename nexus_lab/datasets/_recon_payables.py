"""Profile ``payables``: an accounts-payable account that pays vendors in payment runs.

A manufacturer's operating account. Most vendors are paid in the weekly
payment run (and a month-end run) once their terms (net 30/45/60) come due: one
bank debit settles every invoice of the vendor that fell due since its last
payment, so the invoices of one debit were issued over the vendor's billing
cycle, commonly 30-60 days before the payment. The remittance text sometimes
lists the invoice numbers (cut where the bank's field ends), sometimes quotes
only a remittance id. Other vendors are paid by direct debit, company card or
cheque (cheques clear days to weeks later, and the bank prints no name). Bank
debits are negative; the ledger lists invoices (credit notes negative).
"""

from __future__ import annotations

import numpy as np
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
    names_from,
    next_business_day,
    pick,
    typos,
    weekday,
)

_FIRST = (
    "Keller Okafor Lindqvist Moreau Tanaka Brennan Castillo Dubois Eriksen Fischer Gallagher "
    "Haddad Ivanova Jansen Kowalski Larsen Mancini Novak O'Brien Petrov Quinn Romero Schmidt "
    "Takahashi Vargas Weber Yilmaz Zielinski Abbott Baxter Calloway Dunmore Everett Fairbanks "
    "Grayson Holloway Ingram Jardine Kingsley Lowell Northcott Ogden Pemberton Radcliffe "
    "Sutherland Thornbury Underhill Whitaker Northgate Riverside Westfield Hillcrest Lakeside "
    "Brookfield Ashford Kingsbridge Millbrook Oakridge Fairview Stonebridge Harbourside Elmstead "
    "Clearwater Redhill Bayview Longford Glenwood Tri-County Midstate Allied United Precision"
).split()
_TRADES = np.array([
    "Fasteners", "Steel", "Packaging", "Chemicals", "Freight", "Electrical", "Facilities Mgmt",
    "Industrial Supply", "Plastics", "Hydraulics", "Machine Tools", "Pallets", "Logistics",
    "Castings", "Coatings", "Bearings", "Welding Supplies", "Labels", "Corrugated",
    "Safety Equipment", "Staffing", "IT Services", "Waste Services", "Forklift Rental", "Tooling",
    "Abrasives", "Adhesives", "Compressors", "Valves", "Wire & Cable", "Metals", "Pneumatics",
], dtype=object)
_FORMS = np.array(
    [" Ltd", " Limited", " LLC", " Inc.", " & Co", " GmbH", " BV", " Pty Ltd", " Corp.", " plc",
     ""], dtype=object
)
_FORM_P = np.array([0.16, 0.07, 0.16, 0.16, 0.06, 0.06, 0.03, 0.03, 0.08, 0.04, 0.15])
_GL = np.array([
    "5010 Raw materials", "5020 Packaging", "5030 Subcontracting", "6100 Freight",
    "6200 Facilities", "6300 IT services", "6400 Utilities", "6500 Rent and leases",
    "6600 Professional fees", "6700 Repairs", "6800 Insurance", "6900 Temporary labour",
], dtype=object)
_INVOICE_FORMATS = np.array(["INV-%06d", "%d", "SI%05d", "25-%05d", "F%07d", "%d/25"])
_FEES = np.array(
    ["WIRE FEE", "ACH BATCH FEE", "POSITIVE PAY FEE", "ACCOUNT ANALYSIS FEE",
     "RETURNED ITEM FEE", "STOP PAYMENT FEE"], dtype=object
)
_CITIES = np.array([" CLEVELAND OH", " DETROIT MI", " TOLEDO OH", " PITTSBURGH PA", ""], object)


def payables(n: int, seed: int, *, start: str, days: int | None):
    """Bank, ledger and truth of the ``payables`` profile (see the module docstring)."""
    rng = np.random.default_rng([seed, 0x0A9])
    days = 365 if days is None else days
    origin = np.datetime64(start, "D")
    book = Book(rng, days)
    v = _vendors(rng, int(np.clip(n // 25, 40, 1500)))
    nv = len(v["name"])
    share = {"run": 0.33, "direct": 0.565, "decoy": 0.015, "tolerance": 0.03,
             "bank_only": 0.03, "duplicate": 0.005, "mismatch": 0.01, "open": 0.04,
             "cheque_open": 0.005, "unpaid": 0.01}
    count = counts(share, n)

    def vendor_of(mode_mask, k):
        w = v["popularity"] * mode_mask
        w = w if w.sum() > 0 else v["popularity"]  # a small book may lack a kind of vendor
        return rng.choice(nv, k, p=w / w.sum())

    def invoice_cents(vend, k):
        c = np.rint(v["median"][vend] * rng.lognormal(0, 0.55, k))
        return np.where(v["fixed"][vend], np.rint(v["median"][vend]), c).astype(np.int64)

    is_run = v["mode"] == "run"
    is_direct = ~is_run
    # ---------------------------------------------------------- the run calendar
    all_days = np.arange(days)
    run_wd = rng.integers(1, 5)
    month_end = (origin + all_days).astype("datetime64[M]") != (
        origin + all_days + 3).astype("datetime64[M]")
    wd = weekday(origin, all_days)
    run_days = all_days[(wd == run_wd) | (month_end & (wd < 5) & (wd >= 2))]

    # ---------------------------------------------------------- payment runs
    g = count["run"]
    gv = vendor_of(is_run, g)
    size = np.where(rng.random(g) < 0.4, 1, 1 + np.minimum(rng.geometric(0.33, g), 11))
    earliest = v["terms"][gv] + 6
    first = np.searchsorted(run_days, earliest)
    first = np.minimum(first, len(run_days) - 1)
    run = run_days[first + (rng.random(g) * (len(run_days) - first)).astype(np.int64)]
    owner = np.repeat(np.arange(g), size)
    iv = gv[owner]
    lag = v["terms"][iv] - (rng.random(len(iv)) * v["cycle"][iv]).astype(np.int64) + rng.integers(
        0, 6, len(iv))
    inv_day = run[owner] - np.maximum(lag, 1)
    inv_cents = invoice_cents(iv, len(iv))
    last = np.r_[owner[1:] != owner[:-1], True]
    credit = last & (size[owner] >= 3) & (rng.random(len(iv)) < 0.12)
    inv_cents[credit] = -np.rint(inv_cents[credit] * rng.uniform(0.05, 0.4, credit.sum()))
    starts = np.r_[0, np.cumsum(size)[:-1]]
    pay_cents = np.add.reduceat(inv_cents, starts)
    pay_day = np.minimum(run + (rng.random(g) < 0.3), days - 1)

    # --------------------------------------------------- invoice numbers (all rows)
    # ledger rows of the other blocks are drawn first so that numbers follow dates
    d = count["direct"]
    dv = vendor_of(is_direct, d)
    d_day = rng.integers(0, days - 4, d)
    d_cents = invoice_cents(dv, d)
    k_dec = count["decoy"]
    dec_v = vendor_of(is_direct & ~v["fixed"], k_dec)
    dec_cents = invoice_cents(dec_v, k_dec)
    dec_l1 = rng.integers(0, days - 14, k_dec)
    dec_day = np.concatenate([dec_l1, dec_l1 + rng.integers(3, 11, k_dec)])
    k_tol = count["tolerance"]
    tol_v = vendor_of(np.ones(nv), k_tol)
    tol_day = rng.integers(0, days - 5, k_tol)
    tol_cents = invoice_cents(tol_v, k_tol)
    k_open = count["open"]
    open_v = vendor_of(is_run, k_open)
    open_day = days - 1 - (rng.random(k_open) * v["terms"][open_v]).astype(np.int64)
    k_unpaid = count["unpaid"]
    unpaid_v = vendor_of(is_run, k_unpaid)
    unpaid_day = rng.integers(0, days - 90 if days > 120 else days, k_unpaid)
    k_mis = count["mismatch"]
    mis_v = vendor_of(is_direct, k_mis)
    mis_day = rng.integers(0, days - 4, k_mis)
    mis_cents = invoice_cents(mis_v, k_mis)
    blocks = [iv, dv, np.concatenate([dec_v, dec_v]), tol_v, open_v, unpaid_v, mis_v]
    block_days = [inv_day, d_day, dec_day, tol_day, open_day, unpaid_day, mis_day]
    numbers = _invoice_numbers(rng, v, np.concatenate(blocks), np.concatenate(block_days))
    cuts = np.cumsum([len(b) for b in blocks])[:-1]
    inv_no, d_no, dec_no, tol_no, open_no, unpaid_no, mis_no = np.split(numbers, cuts)

    # the run's bank debit
    mode = rng.choice(4, g, p=[0.35, 0.35, 0.15, 0.15])
    listed = np.add.reduceat(join(" ", inv_no), starts)
    runid = join("PR", np.char.replace(
        np.datetime_as_string(origin + pay_day, unit="D"), "-", "").astype(object))
    remit = join("RM", digits(rng.integers(0, 10**7, g), 7))
    bn = v["bank_name"][gv]
    desc = np.where(
        mode == 0, join("ACH CREDIT TRANSFER ", bn, " REMIT ", remit),
        np.where(mode == 1, join("BACS PMT ", bn, " INV", listed),
                 np.where(mode == 2, join("WIRE OUT ", bn, " PMT RUN ", runid),
                          join("OUTGOING PMT ", cut(bn, 16)))))
    desc = cut(typos(rng, desc, 0.04, start=12), np.where(mode == 1, rng.choice([80, 140], g), 200))
    b_keys = book.bank(day=pay_day, cents=pay_cents, description=desc,
                       reference=np.where(mode == 0, remit, runid), account="OPER-4410")
    l_keys = book.ledger(day=inv_day, cents=inv_cents, **_ledger_text(rng, v, iv, inv_no))
    gid = book.groups(g)
    single = size[owner] == 1
    book.link("one_to_one", b_keys[owner][single], l_keys[single], gid[owner][single])
    book.link("batch", b_keys[owner][~single], l_keys[~single], gid[owner][~single])

    # ----------------------------------------- direct debit, card and cheque payments
    kind = v["mode"][dv]
    lag = np.where(
        kind == "dd", rng.choice([0, 1, 2, 3, 5, 7], d, p=[0.3, 0.25, 0.2, 0.1, 0.1, 0.05]),
        np.where(kind == "card", rng.choice([0, 1, 2, 3], d, p=[0.1, 0.45, 0.3, 0.15]),
                 2 + np.minimum(rng.geometric(0.15, d), 28)))
    b_day = np.minimum(next_business_day(origin, d_day + lag), days - 1)
    l_seq = rng.random(d)
    b_day, b_seq = keep_order(dv * 10**12 + d_cents, d_day, l_seq, b_day, l_seq)
    cheque_no = digits(100200 + np.argsort(np.argsort(d_day + l_seq)), 6)
    d_bank = _direct_bank(rng, v, dv, kind, cheque_no)
    b_keys = book.bank(day=b_day, seq=b_seq, cents=d_cents, account="OPER-4410", **d_bank)
    lt = _ledger_text(rng, v, dv, d_no)
    lt["description"] = np.where(kind == "cheque", join("Chq ", cheque_no, " ", v["name"][dv]),
                                 lt["description"])
    lt["reference"] = np.where(kind == "cheque", cheque_no, lt["reference"])
    l_keys = book.ledger(day=d_day, seq=l_seq, cents=d_cents, **lt)
    book.link("one_to_one", b_keys, l_keys, book.groups(d))
    direct_bank = {"day": b_day, "cents": d_cents, **d_bank}

    # ------------------------------------------------ look-alikes: same debit twice
    vv = np.concatenate([dec_v, dec_v])
    cc = np.concatenate([dec_cents, dec_cents])
    lag = rng.integers(0, 3, 2 * k_dec)
    b_day = np.minimum(next_business_day(origin, dec_day + lag), days - 1)
    seq = rng.random(2 * k_dec)
    b_day, b_seq = keep_order(vv * 10**12 + cc, dec_day, seq, b_day, seq)
    dd = np.full(2 * k_dec, "dd", object)
    b_keys = book.bank(day=b_day, seq=b_seq, cents=cc, account="OPER-4410",
                       **_direct_bank(rng, v, vv, dd, digits(np.zeros(2 * k_dec), 6)))
    l_keys = book.ledger(day=dec_day, seq=seq, cents=cc, **_ledger_text(rng, v, vv, dec_no))
    book.link("decoy", b_keys, l_keys, book.groups(2 * k_dec))

    # ----------------------------- wires with the sender's charges; card surcharges
    wire = rng.random(k_tol) < 0.5
    fee = np.where(wire, rng.choice([1500, 2000, 2500, 3000, 3500, 4500], k_tol),
                   np.rint(np.abs(tol_cents) * rng.uniform(0.015, 0.03, k_tol)).astype(np.int64))
    fee = np.maximum(fee, 1)
    b_day = np.minimum(next_business_day(origin, tol_day + rng.integers(0, 3, k_tol)), days - 1)
    bn = v["bank_name"][tol_v]
    desc = np.where(wire, join("WIRE OUT ", bn, " INV ", tol_no),
                    join("CARD PURCHASE ", bn, pick(rng, _CITIES, k_tol)))
    b_keys = book.bank(day=b_day, cents=np.abs(tol_cents) + fee, description=desc,
                       account="OPER-4410")
    l_keys = book.ledger(day=tol_day, cents=np.abs(tol_cents),
                         **_ledger_text(rng, v, tol_v, tol_no))
    book.link("tolerance", b_keys, l_keys, book.groups(k_tol))

    # ------------------------------------------------------------- open rows
    k = count["bank_only"]
    payroll = rng.random(k) < 0.25
    desc = np.where(payroll, join("TRANSFER TO PAYROLL ACCT ", digits(rng.integers(0, 9999, k),
                                                                      4)),
                    pick(rng, _FEES, k))
    cents = np.where(payroll, rng.integers(2_000_000, 9_000_000, k), rng.integers(500, 7500, k))
    b_keys = book.bank(day=next_business_day(origin, rng.integers(0, days - 2, k)), cents=cents,
                       description=desc, account="OPER-4410")
    book.bank_only("bank_only", b_keys, "missing in ledger")

    open_cents = invoice_cents(open_v, k_open)
    l_keys = book.ledger(day=open_day, cents=open_cents,
                         **_ledger_text(rng, v, open_v, open_no))
    book.ledger_only("ledger_only", l_keys, "timing difference")
    k = count["cheque_open"]
    cv = vendor_of(v["mode"] == "cheque", k)
    chq = digits(900000 + np.arange(k), 6)
    l_keys = book.ledger(day=rng.integers(days - 8, days, k), cents=invoice_cents(cv, k),
                         description=join("Chq ", chq, " ", v["name"][cv]), vendor=v["name"][cv],
                         category=v["gl"][cv], reference=chq, account="2000-AP")
    book.ledger_only("ledger_only", l_keys, "timing difference")
    l_keys = book.ledger(day=unpaid_day, cents=invoice_cents(unpaid_v, k_unpaid),
                         **_ledger_text(rng, v, unpaid_v, unpaid_no))
    book.ledger_only("ledger_only", l_keys, "missing in bank")

    # a direct debit taken twice
    k = count["duplicate"]
    book.double_post(direct_bank, k, (1, 3), move=lambda day: next_business_day(origin, day),
                     account="OPER-4410")

    # keying errors: two digits transposed (or a slipped decimal point) in the ledger
    wrong = _transpose_digits(rng, mis_cents)
    b_day = np.minimum(next_business_day(origin, mis_day + rng.integers(0, 3, k_mis)), days - 1)
    b_keys = book.bank(day=b_day, cents=mis_cents, account="OPER-4410",
                       **_direct_bank(rng, v, mis_v, v["mode"][mis_v],
                                      digits(700000 + np.arange(k_mis), 6)))
    l_keys = book.ledger(day=mis_day, cents=wrong, **_ledger_text(rng, v, mis_v, mis_no))
    book.link("amount_mismatch", b_keys, l_keys, book.groups(k_mis), "amount mismatch")

    return book.tables(
        start, bank_columns=("description", "account", "reference"),
        ledger_columns=("description", "vendor", "category", "account", "reference"),
        bank_ids="TX%08d", ledger_ids="AP-%06d", bank_sign=-1,
    )


def _vendors(rng: np.random.Generator, nv: int) -> dict[str, np.ndarray]:
    first = np.array(_FIRST, dtype=object)
    a, b = names_from(rng, first, _TRADES, nv)
    nv = len(a)
    partner = rng.random(nv) < 0.12
    other = first[rng.integers(0, len(first), nv)]
    stem = np.where(partner, join(first[a], " & ", other, " ", _TRADES[b]),
                    join(first[a], " ", _TRADES[b]))
    name = join(stem, pick(rng, _FORMS, nv, p=_FORM_P / _FORM_P.sum()))
    # the name a bank prints: upper case, punctuation gone, sometimes the legal form or the
    # ampersand dropped, often cut to the 22 characters of an ACH name field
    up = pa.array(bank_text(name).astype(str))
    up = pc.replace_substring_regex(up, r"[.,']", "")
    no_amp = pc.replace_substring(up, " & ", " ")
    no_form = pc.replace_substring_regex(no_amp, r" (LTD|LIMITED|LLC|INC|CORP|PLC|GMBH|BV)$", "")
    r = rng.random(nv)
    bank = np.where(r < 0.35, np.asarray(up.to_pylist(), object),
                    np.where(r < 0.7, np.asarray(no_amp.to_pylist(), object),
                             np.asarray(no_form.to_pylist(), object)))
    bank = np.where(rng.random(nv) < 0.4, cut(bank, 22), bank)
    mode = rng.choice(np.array(["run", "dd", "card", "cheque"], object), nv,
                      p=[0.55, 0.25, 0.12, 0.08])
    fixed = (mode == "dd") & (rng.random(nv) < 0.3)  # rent, leases, telecom: one amount
    weights = rng.permutation(1.0 / np.arange(1, nv + 1) ** 0.7)
    return {
        "name": name,
        "bank_name": bank,
        "mode": mode,
        "fixed": fixed,
        "terms": rng.choice([30, 45, 60], nv, p=[0.45, 0.3, 0.25]),
        "cycle": rng.choice([14, 30], nv, p=[0.35, 0.65]),
        "median": np.exp(rng.normal(np.log(900), 1.0, nv)) * 100,
        "gl": pick(rng, _GL, nv),
        "popularity": weights / weights.sum(),
        "format": rng.integers(0, len(_INVOICE_FORMATS), nv),
        "base": rng.integers(1000, 90000, nv),
        "step": rng.integers(1, 4, nv),
        "mandate": join("MD", digits(rng.integers(0, 10**8, nv), 8)),
    }


def _invoice_numbers(rng, v, vendor: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Each vendor's own numbering, rising with the invoice date."""
    order = np.lexsort((rng.random(len(day)), day, vendor))
    sv = vendor[order]
    first = np.r_[True, sv[1:] != sv[:-1]]
    starts = np.flatnonzero(first)
    rank = np.arange(len(sv)) - np.repeat(starts, np.diff(np.r_[starts, len(sv)]))
    number = np.empty(len(day), np.int64)
    number[order] = v["base"][sv] + rank * v["step"][sv]
    out = np.empty(len(day), object)
    fmt = v["format"][vendor]
    for f, pattern in enumerate(_INVOICE_FORMATS):  # six formats, not rows
        sel = fmt == f
        out[sel] = np.char.mod(pattern, number[sel]).astype(object)
    return out


def _ledger_text(rng, v, vend: np.ndarray, inv_no: np.ndarray) -> dict:
    k = len(vend)
    style = rng.integers(0, 3, k)
    name = v["name"][vend]
    desc = np.where(style == 0, join(name, " - ", inv_no),
                    np.where(style == 1, join("Invoice ", inv_no, " ", name),
                             join(v["gl"][vend], ": ", name)))
    return {"description": desc, "vendor": name, "category": v["gl"][vend],
            "reference": inv_no, "account": "2000-AP"}


def _direct_bank(rng, v, vend: np.ndarray, kind: np.ndarray, cheque_no: np.ndarray) -> dict:
    k = len(vend)
    bn = typos(rng, v["bank_name"][vend], 0.05)
    desc = np.where(kind == "dd", join("DIRECT DEBIT ", bn, " ", v["mandate"][vend]),
                    np.where(kind == "card", join("CARD PURCHASE ", bn, pick(rng, _CITIES, k)),
                             join("CHEQUE ", cheque_no)))
    ref = np.where(kind == "dd", v["mandate"][vend],
                   np.where(kind == "cheque", cheque_no, None))
    return {"description": desc, "reference": ref}


def _transpose_digits(rng, cents: np.ndarray) -> np.ndarray:
    """A keying error: two neighbouring digits (from the units up) swapped, else x10."""
    cents = np.abs(cents)
    j = rng.integers(2, 5, len(cents))
    p = 10 ** j
    a = (cents // (p * 10)) % 10
    b = (cents // p) % 10
    swapped = cents + (b - a) * p * 10 + (a - b) * p
    ok = (a != b) & (cents >= p * 10)
    return np.where(ok, swapped, cents * 10)

