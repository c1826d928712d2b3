"""Windows learned from the books themselves, not fixed in advance."""

from __future__ import annotations

import numpy as np

__all__ = ["learn_window"]

MIN_WINDOW, MAX_WINDOW = 7, 60  # days
_MIN_PAIRS = 50  # fewer once-only amounts than this: too few to tell, keep the minimum


def learn_window(b_cents: np.ndarray, b_day: np.ndarray, l_cents: np.ndarray,
                 l_day: np.ndarray, *, least: int = MIN_WINDOW, most: int = MAX_WINDOW
                 ) -> tuple[int, dict]:
    """The posting-lag window the books need, read from the amounts each side has once.

    An amount that occurs exactly once on each side is nearly always one payment seen
    twice, so the lags between such pairs show how late the bank posts (card
    settlements in days, cheques in weeks). A few pair by coincidence; their lags spread
    evenly, so a lag counts only where it stands clearly above that even floor.

    Parameters
    ----------
    b_cents, b_day, l_cents, l_day : numpy.ndarray
        Amounts (int cents) and day numbers of both sides.
    least, most : int
        The window learned is at least ``least`` and at most ``most`` days.

    Returns
    -------
    window : int
    facts : dict
        ``pairs`` (once-only amount pairs within ``most`` days), ``floor`` (coincidences
        expected per day of lag), ``p99`` (the 99th percentile of their lag among the
        days above the floor).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> cents = rng.choice(10**7, 2_000, replace=False)
    >>> day = rng.integers(0, 365, 2_000)
    >>> late = day + rng.integers(2, 31, 2_000)           # cheques: 2-30 days late
    >>> learn_window(cents, late, cents, day)[0]
    30
    >>> learn_window(cents, day + rng.integers(0, 3, 2_000), cents, day)[0]
    7
    """
    facts: dict = {"pairs": 0, "floor": 0.0, "p99": None}
    vb, ib, cb = np.unique(b_cents, return_index=True, return_counts=True)
    vl, il, cl = np.unique(l_cents, return_index=True, return_counts=True)
    _, pb, pl = np.intersect1d(vb[cb == 1], vl[cl == 1], assume_unique=True,
                               return_indices=True)
    lag = np.abs(b_day[ib[cb == 1][pb]] - l_day[il[cl == 1][pl]])
    beyond = most + max(most // 2, 1)  # lags past the most a window may be: the floor
    lag = lag[lag <= beyond]
    counts = np.bincount(lag, minlength=beyond + 1).astype(np.float64)
    counts[1:] /= 2.0  # |lag| > 0 gathers two days (bank later and earlier)
    floor = float(np.median(counts[most + 1:]))
    lag = lag[lag <= most]
    facts["pairs"] = len(lag)
    if len(lag) < _MIN_PAIRS:
        return least, facts
    facts["floor"] = floor
    above = np.flatnonzero(counts[: most + 1] > max(3.0 * floor, 1.0))
    if len(above) == 0:
        return least, facts
    kept = lag[np.isin(lag, above)]
    p99 = int(np.ceil(np.quantile(kept, 0.99)))
    facts["p99"] = p99
    return int(np.clip(p99, least, most)), facts
