"""Plumbing the reconciliation profiles share: a book of planted rows, and text noise.

Each profile (``_recon_<name>.py``) is its own generator: its own counterparties,
amounts, lags and description grammar. What they share is here and is only
plumbing: :class:`Book` collects blocks of bank rows, ledger rows and the true
links between them and assembles the three tables in the format of
:func:`nexus_lab.datasets.synth_reconciliation`; the text helpers add the noise
banks add (typos, truncation, transliteration), all vectorized over rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nexus_lab.text import encode_bytes

_MONDAY = np.datetime64("1970-01-05", "D")


class Book:
    """Blocks of bank and ledger rows and the true links between them.

    Every block is a dict of equal-length columns; ``day`` (int, days after the
    start) and ``cents`` (int64) are required, ``seq`` orders rows within a day
    (two sides of one pair given one ``seq`` keep the same order on both
    statements), and any other key becomes a column of that name.
    """

    def __init__(self, rng: np.random.Generator, days: int) -> None:
        self.rng = rng
        self.days = days
        self._bank: list[dict] = []
        self._ledger: list[dict] = []
        self._truth: list[dict] = []
        self._nb = 0
        self._nl = 0
        self._groups = 0

    # ------------------------------------------------------------------ rows
    def bank(self, **cols) -> np.ndarray:
        """Add a block of bank rows; returns their keys."""
        keys, self._nb = self._add(self._bank, cols, self._nb)
        return keys

    def ledger(self, **cols) -> np.ndarray:
        """Add a block of ledger rows; returns their keys."""
        keys, self._nl = self._add(self._ledger, cols, self._nl)
        return keys

    def _add(self, parts: list[dict], cols: dict, done: int) -> tuple[np.ndarray, int]:
        k = len(cols["day"])
        block = {}
        for key, val in cols.items():
            arr = np.asarray(val)
            block[key] = np.broadcast_to(arr, (k,)).copy() if arr.ndim == 0 else arr
        block["day"] = np.clip(block["day"].astype(np.int64), 0, self.days - 1)
        block["cents"] = block["cents"].astype(np.int64)
        if "seq" not in block:
            block["seq"] = self.rng.random(k)
        parts.append(block)
        return np.arange(done, done + k), done + k

    # ----------------------------------------------------------------- truth
    def groups(self, k: int) -> np.ndarray:
        """``k`` fresh group ids."""
        out = np.arange(self._groups, self._groups + k)
        self._groups += k
        return out

    def link(self, kind: str, bank_keys, ledger_keys, group, reason=None) -> None:
        """Record true links (or, with a key of -1, rows that stay open)."""
        group = np.asarray(group)
        shape = group.shape
        self._truth.append({
            "bank_key": np.broadcast_to(np.asarray(bank_keys), shape),
            "ledger_key": np.broadcast_to(np.asarray(ledger_keys), shape),
            "kind": np.full(shape, kind, object),
            "group": group,
            "reason": np.broadcast_to(np.asarray(reason, object), shape),
        })

    def bank_only(self, kind: str, keys: np.ndarray, reason) -> None:
        """Bank rows that should stay open, with the reason."""
        self.link(kind, keys, -1, np.full(len(keys), -1), reason)

    def ledger_only(self, kind: str, keys: np.ndarray, reason) -> None:
        """Ledger rows that should stay open, with the reason."""
        self.link(kind, -1, keys, np.full(len(keys), -1), reason)

    def double_post(self, rows: dict, k: int, lag: tuple[int, int], *, move=None,
                    **cols) -> None:
        """``k`` of the bank ``rows`` posted again ``lag[0]`` to ``lag[1] - 1`` days later
        (``move`` shifts the new days further, e.g. to a business day): duplicates that
        stay open. ``cols`` are columns the copies share."""
        src = self.rng.choice(len(rows["day"]), k, replace=False)
        dup = {key: np.asarray(val)[src] for key, val in rows.items()}
        day = dup["day"] + self.rng.integers(*lag, k)
        dup["day"] = day if move is None else move(day)
        self.bank_only("duplicate", self.bank(**cols, **dup), "possible duplicate")

    # ---------------------------------------------------------------- tables
    def tables(
        self,
        start: str,
        *,
        bank_columns: Sequence[str],
        ledger_columns: Sequence[str],
        bank_ids: str = "B%07d",
        ledger_ids: str = "L%07d",
        bank_sign: np.ndarray | int = 1,
        ledger_sign: np.ndarray | int = 1,
        scale: float = 100.0,
    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """The bank statement, the ledger and the truth, sorted by date.

        ``*_columns`` name the columns after ``transaction_id, date, amount``
        (``description`` among them), in order; a column a block lacks is empty
        there. ``amount`` is ``cents / scale`` times the block's ``sign`` column
        (when a block has one) times ``*_sign``.
        """
        origin = np.datetime64(start, "D")
        bank, b_ids = _frame(self._bank, origin, bank_columns, bank_ids, bank_sign, scale,
                             self.rng)
        ledger, l_ids = _frame(self._ledger, origin, ledger_columns, ledger_ids, ledger_sign,
                               scale, self.rng)
        cat = {key: np.concatenate([t[key] for t in self._truth]) for key in self._truth[0]}
        bk, lk = cat["bank_key"].astype(np.int64), cat["ledger_key"].astype(np.int64)
        truth = pd.DataFrame({
            "bank_id": np.where(bk >= 0, b_ids[np.maximum(bk, 0)], None),
            "ledger_id": np.where(lk >= 0, l_ids[np.maximum(lk, 0)], None),
            "kind": cat["kind"],
            "group_id": cat["group"].astype(np.int64),
            "reason": cat["reason"],
        })
        return bank, ledger, truth


def _frame(parts, origin, columns, id_format, sign, scale, rng):
    def cat(key):
        if not any(key in p for p in parts):
            return None
        return np.concatenate([
            p[key] if key in p else np.full(len(p["day"]), None, object) for p in parts
        ])

    day = cat("day").astype(np.int64)
    order = np.lexsort((rng.random(len(day)), cat("seq").astype(float), day))
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    ids = np.char.mod(id_format, np.arange(1, len(day) + 1))[rank]
    row_sign = np.concatenate([
        np.asarray(p["sign"], float) if "sign" in p else np.ones(len(p["day"])) for p in parts
    ])
    data = {
        "transaction_id": ids,
        "date": (origin + day).astype("datetime64[ns]"),
        "amount": cat("cents").astype(np.int64) / scale * row_sign * sign,
    }
    for col in columns:
        val = cat(col)
        data[col] = np.full(len(day), None, object) if val is None else val
    data["description"] = data["description"].astype(str)
    frame = pd.DataFrame(data).iloc[order].reset_index(drop=True)
    return frame, ids


# --------------------------------------------------------------------- helpers

def counts(share: dict[str, float], n: int) -> dict[str, int]:
    """Rows to plant of each case: its share of ``n``, at least 2."""
    return {k: max(2, round(s * n)) for k, s in share.items()}


def pick(rng: np.random.Generator, options, k: int, p=None) -> np.ndarray:
    """``k`` draws from ``options`` as an object array."""
    opts = np.asarray(options, dtype=object)
    return opts[rng.choice(len(opts), k, p=p)]


def join(*pieces) -> np.ndarray:
    """Concatenate strings elementwise (arrays and scalars broadcast)."""
    out = np.asarray(pieces[0], dtype=object)
    for piece in pieces[1:]:
        out = out + np.asarray(piece, dtype=object)
    return out


def digits(values, width: int) -> np.ndarray:
    """Zero-padded decimal strings of integers."""
    return np.char.zfill(np.asarray(values, np.int64).astype(str), width).astype(object)


def money(cents: np.ndarray, scale: float = 100.0) -> np.ndarray:
    """``1234.50``-style strings of amounts in cents."""
    return np.char.mod("%.2f", np.asarray(cents) / scale).astype(object)


def zipf(nv: int, power: float) -> np.ndarray:
    """Popularity weights of ``nv`` counterparties (rank ** -power, normalized)."""
    w = 1.0 / np.arange(1, nv + 1) ** power
    return w / w.sum()


def names_from(rng: np.random.Generator, first, second, nv: int) -> tuple[np.ndarray, np.ndarray]:
    """``nv`` distinct (first, second) word pairs: indices into ``first`` and ``second``."""
    nv = min(nv, len(first) * len(second))
    code = rng.choice(len(first) * len(second), nv, replace=False)
    return code // len(second), code % len(second)


_ASCII = (
    ("Ä", "AE"), ("Ö", "OE"), ("Ü", "UE"), ("ß", "SS"), ("É", "E"), ("È", "E"), ("Ê", "E"),
    ("À", "A"), ("Â", "A"), ("Á", "A"), ("Ç", "C"), ("Ñ", "N"), ("Ø", "O"), ("Å", "A"),
    ("Ó", "O"), ("Í", "I"), ("Ú", "U"), ("Ô", "O"), ("Ë", "E"), ("Ï", "I"), ("Ł", "L"),
    ("Ś", "S"), ("Ž", "Z"), ("Č", "C"), ("Ş", "S"), ("Ğ", "G"), ("İ", "I"),
)


def bank_text(text) -> np.ndarray:
    """Upper case, transliterated to ASCII the way bank statements print names."""
    arr = pc.utf8_upper(pa.array(np.asarray(text, dtype=object), type=pa.string()))
    for src, dst in _ASCII:
        arr = pc.replace_substring(arr, src, dst)
    arr = pc.replace_substring_regex(arr, r"[^\x00-\x7F]", "")
    return np.asarray(arr.to_pylist(), dtype=object)


def _decode(mat: np.ndarray) -> np.ndarray:
    out = np.frombuffer(np.ascontiguousarray(mat).tobytes(), dtype=f"S{mat.shape[1]}")
    arr = pc.utf8_rtrim_whitespace(pa.array(out).cast(pa.string()))
    return np.asarray(arr.to_pylist(), dtype=object)


def typos(rng: np.random.Generator, text, rate: float, *, start: int = 1) -> np.ndarray:
    """Transpose, drop, double or replace one letter in a share ``rate`` of ASCII strings.

    Positions before ``start`` are left alone (a prefix such as ``POS DEBIT``).
    """
    text = np.asarray(text, dtype=object)
    n = len(text)
    if n == 0:
        return text
    arr = pa.array(text, type=pa.string())
    width = int(pc.max(pc.binary_length(arr)).as_py() or 0) + 2
    mat, lengths = encode_bytes(arr, width)
    start = np.broadcast_to(np.asarray(start, np.int64), (n,))
    room = lengths - start - 1
    hit = (rng.random(n) < rate) & (room > 2)
    pos = start + 1 + (rng.random(n) * np.maximum(room - 1, 1)).astype(np.int64)
    pos = np.minimum(pos, np.maximum(lengths - 1, 1))
    op = np.where(hit, rng.integers(0, 4, n), -1)
    col = np.broadcast_to(np.arange(width), (n, width))
    p = pos[:, None]
    src = np.where((op == 1)[:, None] & (col >= p), col + 1, col)  # drop
    src = np.where((op == 2)[:, None] & (col > p), col - 1, src)  # double
    swap = (op == 0)[:, None]
    src = np.where(swap & (col == p - 1), p, np.where(swap & (col == p), p - 1, src))
    out = np.take_along_axis(mat, np.minimum(src, width - 1), 1)
    new_len = lengths - (op == 1) + (op == 2)
    out[col >= new_len[:, None]] = 0
    rep = np.flatnonzero(op == 3)
    lower = (out[rep, pos[rep]] >= 97) & (out[rep, pos[rep]] <= 122)
    out[rep, pos[rep]] = (rng.integers(0, 26, len(rep)) + np.where(lower, 97, 65)).astype(
        np.uint8
    )
    return _decode(out)


def cut(text, length) -> np.ndarray:
    """Each string cut to its own ``length`` (bytes; ASCII text), trailing spaces dropped."""
    text = np.asarray(text, dtype=object)
    if len(text) == 0:
        return text
    arr = pa.array(text, type=pa.string())
    width = int(pc.max(pc.binary_length(arr)).as_py() or 0) + 1
    mat, _ = encode_bytes(arr, width)
    length = np.broadcast_to(np.asarray(length, np.int64), (len(text),))
    mat[np.arange(width)[None, :] >= length[:, None]] = 0
    return _decode(mat)


def weekday(origin: np.datetime64, day: np.ndarray) -> np.ndarray:
    """Day of the week (Monday 0) of ``origin + day``."""
    return ((origin - _MONDAY).astype(np.int64) + np.asarray(day, np.int64)) % 7


def next_business_day(origin: np.datetime64, day: np.ndarray) -> np.ndarray:
    """Saturdays and Sundays moved on to Monday (banks post on business days)."""
    wd = weekday(origin, day)
    return np.asarray(day, np.int64) + np.where(wd == 5, 2, np.where(wd == 6, 1, 0))


def add_months(origin: np.datetime64, day: np.ndarray, months: np.ndarray) -> np.ndarray:
    """``day`` moved on by whole calendar months (the day of month kept, or the month's last)."""
    date = origin + np.asarray(day, np.int64)
    month = date.astype("datetime64[M]")
    dom = (date - month.astype("datetime64[D]")).astype(np.int64)
    target = month + np.asarray(months, np.int64)
    last = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        np.int64
    )
    out = target.astype("datetime64[D]") + np.minimum(dom, last - 1)
    return (out - origin).astype(np.int64)


def keep_order(key: np.ndarray, lday, lseq, bday, bseq) -> tuple[np.ndarray, np.ndarray]:
    """Bank (day, seq) of one-to-one pairs reassigned so that pairs alike in ``key``
    keep one order on both sides (the k-th such ledger row pairs with the k-th bank row).

    Look-alikes (same counterparty and amount) are then told apart by their order,
    as a careful reader would; without this, two such pairs with crossing lags
    would make the truth arbitrary.
    """
    li = np.lexsort((lseq, lday, key))
    bi = np.lexsort((bseq, bday, key))
    new_day = np.empty_like(np.asarray(bday))
    new_seq = np.empty_like(np.asarray(bseq, float))
    new_day[li] = np.asarray(bday)[bi]
    new_seq[li] = np.asarray(bseq, float)[bi]
    return new_day, new_seq


def split_equal(total: np.ndarray, size: np.ndarray, rest_on_first: np.ndarray):
    """Equal parts in cents of each ``total``; the rounding cents on the first or last part.

    Returns ``owner`` (the total each part belongs to), ``rank`` (its position)
    and ``cents``.
    """
    owner = np.repeat(np.arange(len(total)), size)
    starts = np.r_[0, np.cumsum(size)[:-1]]
    rank = np.arange(len(owner)) - np.repeat(starts, size)
    base = total // size
    rest = total - base * size
    cents = base[owner].copy()
    where = np.where(rest_on_first, 0, size - 1)
    cents[rank == where[owner]] += rest[owner[rank == where[owner]]]
    return owner, rank, cents
