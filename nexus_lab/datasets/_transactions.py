"""A seeded stream of card and expense transactions with every fraud pattern planted."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nexus_lab.datasets._reconciliation import _CATEGORIES, _SUFFIX, _WORDS_A, _WORDS_B

#: The patterns :func:`synth_transactions` plants, in the ``pattern`` column.
PATTERNS = (
    "duplicate",
    "velocity",
    "threshold",
    "round_amount",
    "off_hours",
    "new_vendor",
    "benford",
    "outlier",
    "anomaly",
)
_THRESHOLD = 10_000.0  # the approval limit planted cases cross or stay just under
_BURST = (8, 13)  # transactions in a velocity burst (low, high exclusive)
_BURST_MINUTES = 40
_BENFORD_ROWS = 60  # invoices of a vendor whose amounts are made up


def synth_transactions(
    n: int = 20_000,
    seed: int = 0,
    fraud_rate: float = 0.02,
    *,
    start: str = "2025-01-01",
    days: int = 180,
) -> pd.DataFrame:
    """Generate transactions of many accounts with every fraud pattern planted.

    Legitimate activity: each account pays mostly a handful of favourite
    vendors, on working days and hours, amounts log-normal around each
    vendor's typical price. On top of it, ``fraud_rate`` of the rows are
    planted, evenly over :data:`PATTERNS`:

    * ``duplicate``: a payment repeated minutes to two days later (exact, or
      within 0.5% of the amount);
    * ``velocity``: a burst of 8-12 payments of one account within 40 minutes;
    * ``threshold``: amounts just under the 10,000 approval limit, or over it;
    * ``round_amount``: whole hundreds and thousands;
    * ``off_hours``: payments between 01:00 and 05:00 or on a Sunday;
    * ``new_vendor``: an account's first payment to a vendor nobody paid before;
    * ``benford``: a vendor whose invoices (tens to thousands) are made up:
      leading digits 5-9 only, far from Benford's law;
    * ``outlier``: 15-40 times the vendor's typical amount;
    * ``anomaly``: several mild oddities at once (an unusual vendor for the
      account, at night, 4-8 times the usual amount).

    Parameters
    ----------
    n : int
        Approximate number of rows.
    seed : int
        Seed; the same arguments always give the same table.
    fraud_rate : float
        Share of planted rows, in [0, 0.5].
    start : str
        First day.
    days : int
        Length of the period in days.

    Returns
    -------
    pandas.DataFrame
        ``transaction_id, date`` (timestamp), ``amount, account, vendor,
        category, is_fraud, pattern`` (``""`` for legitimate rows), sorted by
        date.

    Examples
    --------
    >>> tx = synth_transactions(2_000, seed=0)
    >>> sorted(set(tx["pattern"]) - {""}) == sorted(PATTERNS)
    True
    """
    if not 0 <= fraud_rate <= 0.5:
        raise ValueError(f"fraud_rate must be in [0, 0.5], got {fraud_rate!r}")
    if n < 200:
        raise ValueError(f"n must be at least 200 to plant every pattern, got {n!r}")
    rng = np.random.default_rng(seed)
    n_acct = max(20, n // 150)
    n_vend = max(40, n // 60)
    # vendors: a name, a category and a typical price
    a = rng.integers(0, len(_WORDS_A), n_vend)
    b = rng.integers(0, len(_WORDS_B), n_vend)
    s = rng.integers(0, len(_SUFFIX), n_vend)
    names = pd.Series(np.array(_WORDS_A)[a]) + " " + pd.Series(np.array(_WORDS_B)[b])
    names = (names + pd.Series(_SUFFIX[s])).to_numpy()
    names = _distinct(names)
    vend_cat = _CATEGORIES[rng.integers(0, len(_CATEGORIES), n_vend)]
    vend_median = np.exp(rng.normal(np.log(90.0), 1.0, n_vend)).clip(3, 4_000)
    popularity = 1.0 / np.arange(1, n_vend + 1) ** 0.8
    popularity /= popularity.sum()
    # accounts: an activity level and favourite vendors
    weight = np.exp(rng.normal(0, 0.6, n_acct))
    weight /= weight.sum()
    n_fav = 8
    fav = np.stack([rng.choice(n_vend, n_fav, replace=False, p=popularity) for _ in
                    range(n_acct)])

    planted = round(n * fraud_rate)
    per = max(1, planted // len(PATTERNS)) if planted else 0
    n_legit = n - per * len(PATTERNS)
    acct = rng.choice(n_acct, n_legit, p=weight)
    use_fav = rng.random(n_legit) < 0.85
    vendor = np.where(
        use_fav, fav[acct, rng.integers(0, n_fav, n_legit)],
        rng.choice(n_vend, n_legit, p=popularity),
    )
    t0 = np.datetime64(pd.Timestamp(start).to_datetime64(), "s")
    day = _working_days(rng, n_legit, days, t0)
    hours = rng.normal(13.0, 2.4, n_legit)
    outside = (hours < 8.0) | (hours > 19.5)
    hours[outside] = rng.uniform(8.0, 19.5, outside.sum())
    secs = hours * 3600
    evening = rng.random(n_legit) < 0.06
    secs[evening] = rng.uniform(19.5, 22.0, evening.sum()) * 3600
    when = t0 + (day * 86400 + secs).astype("timedelta64[s]")
    amount = _price(rng, vend_median[vendor], 0.35)

    rows = {
        "account": acct, "vendor": vendor, "when": when, "amount": amount,
        "pattern": np.full(n_legit, "", dtype=object),
    }
    parts = [rows]
    if per:
        parts += _plant(rng, per, rows, fav, vend_median, popularity, n_vend, days, t0)
    extra_vendors = [name for p in parts for name in p.pop("new_names", [])]
    account = np.concatenate([p["account"] for p in parts])
    vendor = np.concatenate([p["vendor"] for p in parts])
    when = np.concatenate([p["when"] for p in parts])
    amount = np.concatenate([p["amount"] for p in parts])
    pattern = np.concatenate([p["pattern"] for p in parts])
    all_names = np.concatenate([names, np.array(extra_vendors, dtype=object)])
    all_cats = np.concatenate([vend_cat, np.full(len(extra_vendors), "consulting")])

    order = np.argsort(when, kind="stable")
    df = pd.DataFrame({
        "date": pd.to_datetime(when[order]),
        "amount": np.round(amount[order], 2),
        "account": np.char.add("ACCT-", np.char.zfill(account[order].astype(str), 5)),
        "vendor": all_names[vendor[order]],
        "category": all_cats[vendor[order]],
        "is_fraud": pattern[order] != "",
        "pattern": pattern[order],
    })
    df.insert(0, "transaction_id", [f"TX{k:08d}" for k in range(len(df))])
    return df


def _distinct(names: np.ndarray) -> np.ndarray:
    """Number repeated vendor names so that every vendor has its own name."""
    s = pd.Series(names)
    k = s.groupby(s).cumcount()
    return np.where(k > 0, s + " " + (k + 1).astype(str), s).astype(object)


def _working_days(rng: np.random.Generator, size: int, days: int, t0: np.datetime64):
    """Day offsets on Monday-Saturday (Saturdays rarer); Sundays are for planted rows."""
    day = rng.integers(0, days, size * 2)
    weekday = (np.datetime64(t0, "D") + day).astype("datetime64[D]").view("int64")
    weekday = (weekday + 3) % 7  # 1970-01-01 was a Thursday: 0 = Monday
    keep = (weekday < 5) | ((weekday == 5) & (rng.random(len(day)) < 0.3))
    day = day[keep]
    while len(day) < size:  # pragma: no cover - two draws per row are plenty
        day = np.concatenate([day, _working_days(rng, size, days, t0)])
    return day[:size]


def _price(rng: np.random.Generator, median: np.ndarray, sigma: float) -> np.ndarray:
    return np.round(median * np.exp(rng.normal(0, sigma, len(median))), 2).clip(0.5, None)


def _plant(rng, per, legit, fav, vend_median, popularity, n_vend, days, t0) -> list[dict]:
    n_acct = len(fav)
    out = []

    def part(account, vendor, when, amount, pattern, **extra):
        d = {"account": np.asarray(account), "vendor": np.asarray(vendor),
             "when": np.asarray(when, dtype="datetime64[s]"), "amount": np.asarray(amount),
             "pattern": np.full(len(account), pattern, dtype=object)}
        d.update(extra)
        return d

    # duplicate: a legitimate payment repeated (exact, or within 0.5% of the amount)
    src = rng.choice(len(legit["account"]), per, replace=False)
    lag = rng.uniform(5 * 60, 48 * 3600, per).astype("timedelta64[s]")
    near = rng.random(per) < 0.4
    amt = legit["amount"][src] * np.where(near, 1 + rng.choice([-1, 1], per) *
                                           rng.uniform(0.001, 0.005, per), 1.0)
    out.append(part(legit["account"][src], legit["vendor"][src], legit["when"][src] + lag,
                    np.round(amt, 2), "duplicate"))

    # velocity: bursts of one account within 40 minutes
    want = max(per, _BURST[0])  # a burst is never shorter than the low end
    sizes = []
    while sum(sizes) < want:
        sizes.append(int(rng.integers(*_BURST)))
    sizes[-1] -= sum(sizes) - want
    if sizes[-1] < _BURST[0] and len(sizes) > 1:  # fold a short tail into the one before
        tail = sizes.pop()
        sizes[-1] += tail
    sizes = np.array(sizes)
    burst_acct = rng.choice(n_acct, len(sizes), replace=False) if len(sizes) <= n_acct else \
        rng.choice(n_acct, len(sizes))
    start = t0 + (rng.integers(0, days, len(sizes)) * 86400 +
                  rng.integers(10 * 3600, 17 * 3600, len(sizes))).astype("timedelta64[s]")
    g = np.repeat(np.arange(len(sizes)), sizes)
    offs = rng.uniform(0, _BURST_MINUTES * 60, len(g)).astype("timedelta64[s]")
    v = rng.choice(n_vend, len(g), p=popularity)
    out.append(part(burst_acct[g], v, start[g] + offs, _price(rng, vend_median[v], 0.35),
                    "velocity"))

    # threshold: just under the approval limit, or over it
    acc = rng.integers(0, n_acct, per)
    v = fav[acc, rng.integers(0, fav.shape[1], per)]
    under = rng.random(per) < 0.6
    amt = np.where(under, rng.uniform(0.95, 0.9999, per), rng.uniform(1.0, 2.5, per)) * _THRESHOLD
    out.append(part(acc, v, _day_time(rng, per, days, t0), np.round(amt, 2), "threshold"))

    # round amounts: whole hundreds and thousands
    acc = rng.integers(0, n_acct, per)
    v = fav[acc, rng.integers(0, fav.shape[1], per)]
    amt = rng.choice([500, 1_000, 1_500, 2_000, 2_500, 3_000, 4_000, 5_000], per).astype(float)
    out.append(part(acc, v, _day_time(rng, per, days, t0), amt, "round_amount"))

    # off hours: 01:00-05:00, or a Sunday afternoon
    acc = rng.integers(0, n_acct, per)
    v = fav[acc, rng.integers(0, fav.shape[1], per)]
    day = rng.integers(0, days, per)
    night = rng.random(per) < 0.6
    wd = ((np.datetime64(t0, "D") + day).astype("datetime64[D]").view("int64") + 3) % 7
    day = np.where(night, day, day + (6 - wd))  # move to that week's Sunday
    secs = np.where(night, rng.uniform(1, 5, per), rng.uniform(12, 17, per)) * 3600
    out.append(part(acc, v, t0 + (day * 86400 + secs).astype("timedelta64[s]"),
                    _price(rng, vend_median[v], 0.35), "off_hours"))

    # new vendor: a vendor nobody paid before, paid once by an active account
    acc = rng.integers(0, n_acct, per)
    first = n_vend
    new_names = [f"{w} Advisory {k + 1}" for k, w in enumerate(
        np.array(_WORDS_A)[rng.integers(0, len(_WORDS_A), per)])]
    late = rng.integers(days // 3, days, per)  # after the account has a history
    when = t0 + (late * 86400 + rng.integers(9 * 3600, 17 * 3600, per)).astype("timedelta64[s]")
    out.append(part(acc, first + np.arange(per), when, _price(rng, np.full(per, 900.0), 0.5),
                    "new_vendor"))

    # benford: made-up invoices of one vendor, leading digits 5-9 (planted in blocks)
    blocks = max(1, per // _BENFORD_ROWS)
    sizes_b = np.full(blocks, per // blocks)
    sizes_b[: per % blocks] += 1
    fake = first + per + np.arange(blocks)
    fake_names = [f"{w} Consulting Partners {k + 1}" for k, w in enumerate(
        np.array(_WORDS_A)[rng.integers(0, len(_WORDS_A), blocks)])]
    g = np.repeat(np.arange(blocks), sizes_b)
    acc = rng.integers(0, n_acct, len(g))
    lead = rng.integers(5, 10, len(g))
    scale = 10.0 ** rng.integers(1, 4, len(g))  # tens to thousands: a range Benford applies to
    amt = np.round((lead + rng.uniform(0, 1, len(g))) * scale, 2)
    out.append(part(acc, fake[g], _day_time(rng, len(g), days, t0), amt, "benford",
                    new_names=new_names + fake_names))

    # outlier: far above the vendor's typical amount
    acc = rng.integers(0, n_acct, per)
    v = fav[acc, rng.integers(0, fav.shape[1], per)]
    amt = vend_median[v] * rng.uniform(15, 40, per)
    out.append(part(acc, v, _day_time(rng, per, days, t0), np.round(amt, 2), "outlier"))

    # anomaly: several mild oddities at once
    acc = rng.integers(0, n_acct, per)
    v = rng.choice(n_vend, per)  # rarely one of the account's vendors
    day = rng.integers(0, days, per)
    secs = rng.uniform(22.5, 23.9, per) * 3600
    amt = vend_median[v] * rng.uniform(4, 8, per)
    out.append(part(acc, v, t0 + (day * 86400 + secs).astype("timedelta64[s]"),
                    np.round(amt, 2), "anomaly"))
    return out


def _day_time(rng: np.random.Generator, size: int, days: int, t0: np.datetime64):
    day = _working_days(rng, size, days, t0)
    secs = rng.uniform(9, 17, size) * 3600
    return t0 + (day * 86400 + secs).astype("timedelta64[s]")
