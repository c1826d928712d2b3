"""General record linkage: link two tables, or find the duplicates inside one.

The reconciliation engine's parts, pointed at arbitrary columns:

* every compared column becomes integer value ids once (``pandas.factorize`` over
  both tables), and every comparator works on *distinct value pairs*, so a common
  surname is compared with another once however many record pairs carry it;
* candidates come from exact-equality blocks found by sorted look-ups
  (:func:`~nexus_lab.reconcile._blocking.range_join`), one rule per column or
  tuple of columns, chosen automatically so that each stays under a pair budget;
* string and code comparators run in torch (q-gram Dice, Levenshtein, Soundex from
  :mod:`~nexus_lab.text`), so the same code runs on the CPU and on CUDA;
* Fellegi-Sunter weights: ``m`` fitted by EM on the candidates
  (:func:`~nexus_lab.reconcile._fs.fit_em`), ``u`` from value frequencies (exact
  agreement) and random record pairs (the other levels), plus a term-frequency
  adjustment of exact agreement on common values;
* a pair's confidence is its posterior match probability; each pair's explanation
  names every comparison's level and its weight in bits.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import torch

from nexus_lab._typing import DeviceLike, FrameLike
from nexus_lab.device import resolve_device
from nexus_lab.errors import SchemaError
from nexus_lab.frames import (
    check_unique,
    day_month_order,
    decimal_text,
    looks_like_money,
    read_money,
    to_pandas,
)
from nexus_lab.reconcile._assign import assign_one_to_one
from nexus_lab.reconcile._blocking import composite, expand_ranges, range_join
from nexus_lab.reconcile._fs import FSModel, fit_em
from nexus_lab.text import (
    SENTINEL,
    as_string_array,
    encode_bytes,
    levenshtein_similarity,
    normalize_plain,
    qgram_codes,
    qgram_similarity,
    soundex,
)

__all__ = ["COMPARATORS", "link"]

log = logging.getLogger("nexus_lab")

#: Comparator names accepted in ``compare`` and the levels each one produces
#: (strongest agreement first; a missing value on either side scores 0 bits).
COMPARATORS: dict[str, list[str]] = {
    "exact": ["same", "different"],
    "numeric": ["equal", "within 1%", "within 10%", "different"],
    "date": ["same day", "1 typo or day/month swapped", "within 31 days", "within 1 year",
             "different"],
    "code": ["same", "1 edit", "2 edits", "different"],
    "string": ["same", "1 edit or very similar", "similar", "different"],
    "phonetic": ["same", "1 edit or very similar", "similar", "sounds alike", "different"],
}
_ALIASES = {"name": "phonetic", "soundex": "phonetic", "text": "string", "number": "numeric",
            "numerical": "numeric", "datetime": "date", "id": "code", "categorical": "exact"}

_STRING_WIDTH = 32  # bytes of a normalized string that are compared
_VERY_SIMILAR, _SIMILAR = 0.88, 0.7  # string similarity cut-offs (max of Levenshtein, Dice)
_CHUNK = 1 << 18  # distinct value pairs per torch batch
_U_SAMPLE = 100_000  # random record pairs that estimate u of the non-exact levels
_MAX_RULE_SHARE = 0.05  # an automatic blocking rule keeps at most this share of all pairs
_MAX_CLUSTER = 50  # dedupe: larger connected components are not closed transitively
_CODE_NAME = re.compile(r"(^|_)(id|code|zip|postcode|postal|phone|number|no|nr|ssn)$", re.I)
_DATE_TEXT = re.compile(
    r"^(\d{8}|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}([ T].*)?|\d{1,2}[-/.]\d{1,2}[-/.]\d{4})$"
)


# ----------------------------------------------------------------------------- public API


def link(
    left: FrameLike,
    right: FrameLike | None = None,
    compare: Mapping[str, str] | Sequence[str] | None = None,
    block_on: Sequence[str | Sequence[str]] | None = None,
    id_column: str = "transaction_id",
    device: DeviceLike = "auto",
    threshold: float = 50.0,
    *,
    one_to_one: bool = False,
    cluster: bool = True,
    tf_adjust: bool = True,
    max_block_pairs: int | None = None,
    random_state: int = 0,
    dayfirst: bool | None = None,
) -> pd.DataFrame:
    """Link the records of two tables, or find the duplicates within one.

    Columns are compared with auto-chosen comparators, candidate pairs come from
    exact-equality blocking rules found by sorted look-ups, and each pair is scored
    with Fellegi-Sunter match weights whose ``m`` probabilities are fitted by EM
    (no training labels) and whose ``u`` probabilities come from value frequencies
    and random record pairs.

    Parameters
    ----------
    left : DataFrame
        pandas, polars (eager or lazy), pyarrow or cuDF frame with an id column.
    right : DataFrame, optional
        The table to link ``left`` to. ``None`` finds duplicates within ``left``.
    compare : mapping or sequence, optional
        Which columns to compare and how. ``None`` compares every column the two
        tables share (but the id) with a comparator chosen from its dtype and
        contents. A mapping ``{"surname": "phonetic", "postcode": "code",
        "date_of_birth": "date"}`` compares only those columns with those
        comparators; a list of column names compares those with auto-chosen
        comparators. Accepted comparator names (see :data:`COMPARATORS` for the
        levels of each):

        - ``"exact"`` (alias ``"categorical"``): same / different.
        - ``"numeric"`` (``"number"``): equal / within 1% / within 10% / different.
        - ``"date"`` (``"datetime"``): same day / one typo or day and month
          swapped / within 31 days / within a year / different. Datetimes, or
          text as ``YYYY-MM-DD``, ``YYYYMMDD`` or day-first ``DD/MM/YYYY``; text
          that is no valid date (``19801302``) is still compared for typos.
        - ``"code"`` (``"id"``): digit codes such as postcodes and account
          numbers: same / 1 edit / 2 edits / different.
        - ``"string"`` (``"text"``): same / one edit or similarity >= 0.88 /
          similarity >= 0.7 / different, where similarity is the larger of
          normalized Levenshtein and bigram Dice.
        - ``"phonetic"`` (``"name"``, ``"soundex"``): ``"string"`` plus a
          "sounds alike" (same Soundex code) level, for names.

        Auto choice: bool, or a few values making up 95% of the rows -> exact;
        datetime or date-like text -> date; numbers -> numeric (integers whose
        column name ends in ``id``, ``code``, ``zip``, ``phone``... -> code);
        digit strings -> code; other text -> phonetic for single words (names),
        string otherwise.
    block_on : sequence, optional
        Blocking rules: a list whose items are a column name or a tuple of column
        names; a candidate pair agrees exactly on all columns of at least one rule.
        ``None`` picks rules automatically: every compared column but numeric
        ones (and the Soundex code of phonetic columns) whose blocks hold at most
        ``max_block_pairs`` pairs and at most 5% of all pairs; if none does,
        pairs of such columns; tables with at most ``max_block_pairs`` pairs in
        all are compared in full. An empty list compares all pairs (quadratic:
        small tables only).
    id_column : str, default "transaction_id"
        The column with each record's unique id (in both tables).
    device : {"auto", "cpu", "cuda"}
        Where the string comparisons run.
    threshold : float, default 50.0
        Smallest confidence (0-100) of a pair that is returned.
    one_to_one : bool, default False
        Linking two tables only: keep at most one partner per record, chosen by
        a globally best assignment of the match weights.
    cluster : bool, default True
        Deduplication only: also return the pairs implied by transitivity (two
        records each confidently linked to a third), for connected groups of up
        to 50 records. Those pairs keep their own confidence, which may be below
        ``threshold``; column ``linked_by`` says ``"cluster"`` for them.
    tf_adjust : bool, default True
        Weigh exact agreement on a value by how rare that value is (agreeing on
        "smith" is weaker evidence than agreeing on "zbyszewski").
    max_block_pairs : int, optional
        Pair budget of one automatic blocking rule; default
        ``max(100_000, 20 * (len(left) + len(right)))``, which keeps memory
        linear in the input.
    random_state : int, default 0
        Seed of the random record pairs that estimate ``u``.
    dayfirst : bool, optional
        The order of numeric dates (``03/04/2025``) in a date column that does not
        settle it by itself (a day above 12 does); such a column is refused otherwise.
        Read as the reconciliation reads dates (:func:`nexus_lab.frames.read_dates`).

    Returns
    -------
    pandas.DataFrame
        One row per linked pair: ``left_id``, ``right_id``, ``confidence``
        (posterior match probability, 0-100), ``match_weight`` (total bits,
        prior included), ``explanation`` (each comparison's level and weight in
        bits), ``weight_<column>`` per comparison; for deduplication also
        ``cluster_id`` and ``linked_by`` (``"direct"`` or ``"cluster"``), with
        ``left_id`` the earlier row of the pair. ``attrs`` holds the comparators
        (``"comparisons"``), the blocking rules (``"blocking"``), the number of
        candidate pairs (``"candidates"``) and the fitted m/u table as records
        (``"model"``).

    Raises
    ------
    SchemaError
        When a table is empty, lacks the id column or has duplicate or missing
        ids, the tables share no column to compare, ``compare`` names an unknown
        comparator or column, ``block_on`` names a column not in both tables,
        ``threshold`` is not within 0-100, or no automatic blocking rule fits.
    DeviceError
        When ``device`` names a device torch cannot use.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> import nexus_lab as nx
    >>> rng = np.random.default_rng(0)
    >>> letters = rng.integers(ord("a"), ord("z") + 1, size=(400, 8), dtype=np.uint8)
    >>> left = pd.DataFrame({
    ...     "id": range(400),
    ...     "name": pd.Series(letters.view("S8").ravel()).str.decode("ascii"),
    ...     "born": pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 20000, 400), "D"),
    ... })
    >>> right = left.sample(300, random_state=1).assign(id=lambda d: d["id"] + 1000)
    >>> right["name"] = right["name"].str.slice(0, 7)  # every name lost its last letter
    >>> pairs = nx.link(left, right, id_column="id", device="cpu")
    >>> len(pairs), bool((pairs["right_id"] - pairs["left_id"] == 1000).all())
    (300, True)
    >>> pairs.attrs["comparisons"]
    {'name': 'phonetic', 'born': 'date'}
    >>> print(pairs["explanation"].iloc[0])  # doctest: +ELLIPSIS
    name 1 edit or very similar (+...) · born same day (+...) · prior (-...) = +... bits

    Duplicates within one table (here, the two tables stacked):

    >>> both = pd.concat([left, right], ignore_index=True)
    >>> dups = nx.link(both, id_column="id", device="cpu")
    >>> len(dups), dups["linked_by"].unique().tolist()
    (300, ['direct'])
    """
    dev = resolve_device(device)
    threshold = _check_threshold(threshold)
    dedupe = right is None
    lf = _frame(left, "left", id_column)
    rf = lf if dedupe else _frame(right, "right", id_column)
    if dedupe and one_to_one:
        raise SchemaError(
            "one_to_one=True applies when linking two tables; for duplicates within one "
            "table leave it False (use cluster= to group duplicates)"
        )
    kinds = _choose_comparators(lf, rf, compare, id_column, dedupe)
    nl, nr = len(lf), len(rf)
    offset = 0 if dedupe else nl
    fields = [
        _Field.build(name, kind, _combined(lf, rf, name, dedupe), nl, nr, dedupe, dayfirst)
        for name, kind in kinds.items()
    ]
    log.info("link: comparing %s", ", ".join(f"{f.name} ({f.kind})" for f in fields))

    budget = int(max_block_pairs) if max_block_pairs else max(100_000, 20 * (nl + nr))
    rules = _blocking_rules(block_on, fields, lf, rf, id_column, budget, nl, nr, dedupe)
    i, j = _candidates(rules, nl, nr, dedupe)
    log.info("link: %d candidate pairs from %s", len(i),
             f"{len(rules)} blocking rules" if rules is not None else "all pairs")

    scorer = _Scorer(fields, nl, nr, dedupe, offset, dev, tf_adjust, random_state)
    lv = scorer.levels(i, j)
    scorer.fit(lv, n_candidates=len(i), all_pairs=rules is None)
    w = scorer.weights(lv, i, j)
    bits = w.sum(1) + scorer.prior_bits
    conf = _posterior(bits)

    if one_to_one and len(i):
        keep = assign_one_to_one(i, j, bits) & (100 * conf >= threshold)
    else:
        keep = 100 * conf >= threshold
    i, j, lv, w, bits, conf = i[keep], j[keep], lv[keep], w[keep], bits[keep], conf[keep]
    how = np.zeros(len(i), dtype=np.int8)
    cluster_id = None
    if dedupe:
        i, j, lv, w, bits, conf, how, cluster_id = _close_clusters(
            scorer, nl, i, j, lv, w, bits, conf, enabled=cluster
        )
    order = np.lexsort((j, i))
    out = _frame_out(
        fields, lf, rf, id_column, i[order], j[order], lv[order], w[order], bits[order],
        conf[order], scorer.prior_bits,
    )
    if dedupe:
        out["cluster_id"] = cluster_id[order]
        out["linked_by"] = np.where(how[order] == 1, "cluster", "direct")
    out.attrs["comparisons"] = {f.name: f.kind for f in fields}
    out.attrs["blocking"] = [r.describe() for r in rules] if rules is not None else ["all pairs"]
    out.attrs["candidates"] = scorer.n_candidates
    model = scorer.model.to_frame()
    model["weight"] = np.concatenate(scorer.tables)
    out.attrs["model"] = model.to_dict("records")
    return out


# ----------------------------------------------------------------------------- input checks


def _check_threshold(threshold: object) -> float:
    try:
        t = float(threshold)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        t = float("nan")
    if not 0.0 <= t <= 100.0:
        raise SchemaError(
            f"threshold must be a confidence between 0 and 100, got {threshold!r}; "
            "e.g. threshold=50 keeps pairs more likely matches than not"
        )
    return t


def _frame(data: FrameLike, name: str, id_column: str) -> pd.DataFrame:
    df = to_pandas(data, name)
    df = df.rename(columns={c: str(c) for c in df.columns})
    if id_column not in df.columns:
        if df.index.name == id_column:
            df = df.reset_index()
        else:
            have = [str(c) for c in df.columns]
            raise SchemaError(
                f"{name} has no id column {id_column!r} (it has {have}); pass "
                f"id_column='<your id column>', or make one with df.reset_index() or "
                f"df[{id_column!r}] = range(len(df))",
                table=name,
                column=id_column,
            )
    if len(df) == 0:
        raise SchemaError(
            f"{name} is empty: it has no rows; check the file or the filter that produced it",
            table=name,
        )
    check_unique(df[id_column].to_numpy(), table=name, column=id_column)
    return df.reset_index(drop=True)


def _combined(lf: pd.DataFrame, rf: pd.DataFrame, name: str, dedupe: bool) -> pd.Series:
    if dedupe:
        return lf[name]
    a, b = lf[name], rf[name]
    if a.dtype != b.dtype and not (
        pd.api.types.is_numeric_dtype(a) and pd.api.types.is_numeric_dtype(b)
    ):
        a, b = a.astype(object), b.astype(object)
    return pd.concat([a, b], ignore_index=True)


def _normalized(values: pd.Series) -> pd.Series:
    """Lower-cased, trimmed text (any dtype, mixed included); blanks and nulls are None."""
    text = normalize_plain(pa.array(values.astype("string"), type=pa.string(), from_pandas=True))
    key = pd.Series(text.to_numpy(zero_copy_only=False), dtype=object)
    return key.where(key != "", None)


def _canonical_kind(kind: object, column: str) -> str:
    name = str(kind).lower().strip()
    name = _ALIASES.get(name, name)
    if name not in COMPARATORS:
        raise SchemaError(
            f"compare[{column!r}] = {kind!r} is not a comparator; use one of "
            f"{sorted(COMPARATORS)} (or leave compare=None to choose automatically)",
            column=column,
        )
    return name


def _choose_comparators(
    lf: pd.DataFrame, rf: pd.DataFrame, compare: object, id_column: str, dedupe: bool
) -> dict[str, str]:
    common = [c for c in lf.columns if c in set(rf.columns) and c != id_column]
    if compare is None:
        if not common and dedupe:
            raise SchemaError(
                f"left has no column to compare besides {id_column!r} (it has "
                f"{list(lf.columns)}); give it the columns that describe each record",
                table="left",
            )
        if not common:
            raise SchemaError(
                f"left and right share no column to compare besides {id_column!r} "
                f"(left has {list(lf.columns)}, right has {list(rf.columns)}); rename the "
                "columns that hold the same field to the same name"
            )
        wanted: dict[str, str | None] = dict.fromkeys(common)
    elif isinstance(compare, Mapping):
        wanted = {str(c): _canonical_kind(k, str(c)) for c, k in compare.items()}
    elif isinstance(compare, Sequence) and not isinstance(compare, str | bytes):
        wanted = dict.fromkeys(str(c) for c in compare)
    else:
        raise SchemaError(
            f"compare must be None, a list of columns or a mapping column -> comparator, "
            f"got {type(compare).__name__}; e.g. compare={{'surname': 'phonetic'}}"
        )
    if not wanted:
        raise SchemaError("compare is empty: name at least one column, or pass compare=None")
    for col in wanted:
        if col == id_column:
            raise SchemaError(
                f"compare names the id column {id_column!r}; ids are not compared, they "
                "identify the records",
                column=col,
            )
        missing = [t for t, df in (("left", lf), ("right", rf)) if col not in df.columns]
        if missing:
            import difflib

            close = difflib.get_close_matches(col, common, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else f"; columns in both: {common}"
            raise SchemaError(
                f"compare names column {col!r}, which {' and '.join(missing)} "
                f"{'does' if len(missing) == 1 else 'do'} not have{hint}",
                table=missing[0],
                column=col,
            )
    return {
        col: kind if kind is not None else _infer_kind(col, _combined(lf, rf, col, dedupe))
        for col, kind in wanted.items()
    }


def _infer_kind(name: str, values: pd.Series) -> str:
    """Pick a comparator from a column's dtype and contents."""
    if pd.api.types.is_bool_dtype(values):
        return "exact"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "date"
    present = values.dropna()
    if pd.api.types.is_numeric_dtype(values):
        if pd.api.types.is_integer_dtype(values) and _CODE_NAME.search(name):
            return "code"
        uniq = present.nunique()
        if uniq <= 2 or (uniq <= 30 and uniq <= 0.05 * len(present)):
            return "exact"
        return "numeric"
    if len(present) == 0:
        return "exact"
    sample = present.sample(min(len(present), 5000), random_state=0) if len(present) > 5000 \
        else present
    text = sample.astype(str).str.strip()
    text = text[text != ""]
    if len(text) == 0:
        return "exact"
    counts = text.value_counts()
    cover = int(np.searchsorted(np.cumsum(counts.to_numpy()), 0.95 * len(text))) + 1
    if cover <= min(30, len(text) / 20):
        return "exact"  # a category: a few values repeated often (perhaps with some typos)
    if (text.str.match(_DATE_TEXT).mean() >= 0.9
            and _parse_dates(text, strict=False)[0].mean() >= 0.9):
        return "date"
    if text.str.fullmatch(r"\d+").mean() >= 0.95:
        return "code"
    if pd.to_numeric(text, errors="coerce").notna().mean() >= 0.95 or looks_like_money(text):
        return "numeric"  # plain numbers, or money as text ("$89.08", "1.234,56")
    single = text.str.fullmatch(r"[^\W\d_][^\W\d_'\-.]*").mean()
    return "phonetic" if single >= 0.8 else "string"


def _numbers(values: pd.Series, sides: list[pd.Series]) -> pd.Series:
    """A numeric field as floats: each table's text read as money in that table's own
    convention (:func:`nexus_lab.frames.read_money`: ``1.234,56`` on one side, ``$1,234.56``
    on the other), else as plain numbers; what reads as neither is missing."""
    out = []
    for side in sides:
        present = side.dropna()
        if pd.api.types.is_numeric_dtype(side):
            out.append(side.astype("float64"))
            continue
        try:
            cents = read_money(present, table="records", column=str(side.name))[0]
            out.append(pd.Series(cents / 100, index=present.index).reindex(side.index))
        except SchemaError:
            out.append(pd.to_numeric(_normalized(side), errors="coerce"))
    return pd.concat(out).set_axis(values.index)


def _date_keys(values: pd.Series, dayfirst: bool | None = None, column: str = "date",
               *, table: str = "records") -> pd.Series:
    """``"=<day number>"`` for dates (datetimes or text), ``"?<text>"`` for text that is
    no date (kept, so that typos in it can still be compared), None for missing."""
    if pd.api.types.is_datetime64_any_dtype(values):
        v = pd.Series(values)
        if getattr(v.dt, "tz", None) is not None:
            v = v.dt.tz_convert("UTC").dt.tz_localize(None)
        days = v.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)
        keys = np.char.add("=", days.astype(str)).astype(object)
        return pd.Series(keys, dtype=object).where(v.notna().to_numpy(), None)
    text = _normalized(values)
    code, uniq = pd.factorize(text, use_na_sentinel=True)
    ok, days = _parse_dates(pd.Series(uniq, dtype=object), dayfirst, column=column,
                            table=table)
    canon = np.where(ok, np.char.add("=", days.astype(str)).astype(object),
                     np.char.add("?", np.asarray(uniq, dtype=str)).astype(object))
    return pd.Series(np.append(canon, None)[np.where(code >= 0, code, len(canon))], dtype=object)


def _parse_dates(text: pd.Series, dayfirst: bool | None = None, *, strict: bool = True,
                 column: str = "date", table: str = "records") -> tuple[np.ndarray, np.ndarray]:
    """``(parsed mask, days since 1970)`` of date strings (YYYYMMDD, ISO, or numeric dates
    in the one day/month order of the column: :func:`nexus_lab.frames.day_month_order`,
    which refuses a column that two orders or none fit unless ``strict`` is False)."""
    text = text.astype(str).str.strip()
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    compact = text.str.fullmatch(r"\d{8}")
    if compact.any():
        out[compact] = pd.to_datetime(text[compact], format="%Y%m%d", errors="coerce")
    rest = ~compact
    if rest.any():
        arr = pa.array(text[rest].to_numpy(dtype=object), pa.string())
        try:
            arr = day_month_order(arr, dayfirst, table=table, column=column, ids=None)[0]
        except SchemaError:
            if strict:
                raise
        iso = pd.Series(arr.to_numpy(zero_copy_only=False), index=text[rest].index)
        out[rest] = pd.to_datetime(iso, format="ISO8601", errors="coerce")
        left = rest & out.isna()
        if left.any():
            out[left] = pd.to_datetime(text[left], format="mixed", dayfirst=bool(dayfirst),
                                       errors="coerce")
    ok = out.notna().to_numpy()
    days = np.where(ok, out.to_numpy().astype("datetime64[D]").astype(np.int64), 0)
    return ok, days


# ----------------------------------------------------------------------------- fields


@dataclass
class _Field:
    """One comparison: per-row value ids and per-value data the comparator needs."""

    name: str
    kind: str
    labels: list[str]
    vid: np.ndarray  # per row (left rows, then right rows when linking); -1 = missing
    n_values: int
    count_l: np.ndarray  # per value id: rows of left / right with the value
    count_r: np.ndarray
    data: dict = field(default_factory=dict)

    @classmethod
    def build(
        cls, name: str, kind: str, values: pd.Series, nl: int, nr: int, dedupe: bool,
        dayfirst: bool | None = None,
    ) -> _Field:
        if kind == "date":  # each table's day/month order settled by its own dates
            sides = [(values, "records")] if dedupe else [
                (values.iloc[:nl], "left"), (values.iloc[nl:], "right")]
            key = pd.concat([_date_keys(v, dayfirst, name, table=t) for v, t in sides],
                            ignore_index=True)
        elif kind in ("exact", "numeric") and pd.api.types.is_numeric_dtype(values):
            key = values
        elif kind == "numeric":
            key = _numbers(values, [values] if dedupe else [values.iloc[:nl], values.iloc[nl:]])
        elif kind == "exact" and pd.api.types.is_datetime64_any_dtype(values):
            key = values
        else:
            key = _normalized(values)
        vid, uniq = pd.factorize(key, use_na_sentinel=True)
        vid = vid.astype(np.int64)
        k = len(uniq)
        count_l = np.bincount(vid[:nl][vid[:nl] >= 0], minlength=k).astype(np.float64)
        if dedupe:
            count_r = count_l
        else:
            tail = vid[nl:]
            count_r = np.bincount(tail[tail >= 0], minlength=k).astype(np.float64)
        f = cls(name, kind, list(COMPARATORS[kind]), vid, k, count_l, count_r)
        f._prepare(pd.Series(uniq))
        return f

    def _prepare(self, uniq: pd.Series) -> None:
        d = self.data
        if self.kind == "numeric":
            d["x"] = pd.to_numeric(uniq, errors="coerce").to_numpy(dtype=np.float64)
        elif self.kind == "date":  # keys from _date_keys: "=<day number>" or "?<text>"
            keys = as_string_array(uniq.astype(str))
            ok = np.asarray(pc.starts_with(keys, "="), dtype=bool)
            body = pc.utf8_slice_codeunits(keys, 1)
            days = np.where(ok, pd.to_numeric(pd.Series(body.to_numpy(zero_copy_only=False))
                                              .where(ok, "0")), 0).astype(np.int64)
            stamp = pd.Series(days.astype("datetime64[D]")).dt.strftime("%Y%m%d")
            raw = pc.replace_substring_regex(body, r"\D", "").to_numpy(zero_copy_only=False)
            digits = pd.Series(np.where(ok, stamp.to_numpy(dtype=object), raw), dtype=object)
            d["ok"], d["days"] = ok, days
            mat, lens = encode_bytes(as_string_array(digits), 12)
            _byte_data(d, mat, lens)
            ymd = np.zeros((len(uniq), 3), dtype=np.int64)
            eight = lens == 8
            if eight.any():
                num = (mat[:, :8].astype(np.int64) - 48).clip(0, 9)
                ymd[:, 0] = num[:, :4] @ np.array([1000, 100, 10, 1])
                ymd[:, 1] = num[:, 4:6] @ np.array([10, 1])
                ymd[:, 2] = num[:, 6:8] @ np.array([10, 1])
                ymd[~eight] = -1
            d["ymd"] = ymd
        elif self.kind in ("code", "string", "phonetic"):
            text = as_string_array(uniq.astype(str))
            width = _STRING_WIDTH if self.kind != "code" else 24
            mat, lens = encode_bytes(text, width)
            _byte_data(d, mat, lens)
            if self.kind == "phonetic":
                d["sx"] = soundex(text)

    # levels -----------------------------------------------------------------
    def levels(self, a: np.ndarray, b: np.ndarray, device: torch.device) -> np.ndarray:
        """Level of each row pair given their value ids ``a``, ``b`` (-1 = missing)."""
        out = np.full(len(a), -1, dtype=np.int64)
        seen = (a >= 0) & (b >= 0)
        out[seen & (a == b)] = 0
        rest = np.flatnonzero(seen & (a != b))
        if len(rest) == 0:
            return out
        back, uniq = pd.factorize(a[rest] * np.int64(self.n_values) + b[rest])
        ua, ub = uniq // self.n_values, uniq % self.n_values
        lv = np.empty(len(ua), dtype=np.int64)
        for s in range(0, len(ua), _CHUNK):
            lv[s : s + _CHUNK] = self._levels_distinct(ua[s : s + _CHUNK], ub[s : s + _CHUNK],
                                                       device)
        out[rest] = lv[back]
        return out

    def _levels_distinct(self, a: np.ndarray, b: np.ndarray, device: torch.device) -> np.ndarray:
        d, kind = self.data, self.kind
        last = len(self.labels) - 1
        if kind == "exact":
            return np.full(len(a), 1, dtype=np.int64)
        if kind == "numeric":
            x, y = d["x"][a], d["x"][b]
            rel = np.abs(x - y) / np.maximum(np.maximum(np.abs(x), np.abs(y)), 1e-12)
            lv = np.where(rel <= 0.01, 1, np.where(rel <= 0.10, 2, 3))
            return np.where(np.isfinite(rel), lv, last).astype(np.int64)
        if kind == "code":
            dist, _ = _edit_distance(d, a, b, np.full(len(a), 2), device)
            return np.where(dist <= 1, 1, np.where(dist <= 2, 2, 3)).astype(np.int64)
        if kind == "date":
            dist, _ = _edit_distance(d, a, b, np.full(len(a), 1), device)
            ya, yb = d["ymd"][a], d["ymd"][b]
            swapped = (ya[:, 0] >= 0) & (ya[:, 0] == yb[:, 0]) & (ya[:, 1] == yb[:, 2]) & (
                ya[:, 2] == yb[:, 1]
            )
            both = d["ok"][a] & d["ok"][b]
            gap = np.abs(d["days"][a] - d["days"][b])
            lv = np.where(both & (gap <= 31), 2, np.where(both & (gap <= 366), 3, 4))
            return np.where((dist <= 1) | swapped, 1, lv).astype(np.int64)
        # string / phonetic: similarity is the larger of Levenshtein and bigram Dice; the
        # edit distance is only needed where it can reach the "similar" cut-off
        longest = np.maximum(np.maximum(d["len"][a], d["len"][b]), 1)
        k = np.maximum(np.floor((1.0 - _SIMILAR) * longest + 1e-9), 1).astype(np.int64)
        dist, dice = _edit_distance(d, a, b, k, device)
        sim = np.maximum(dice, np.where(dist <= k, 1.0 - dist / longest, 0.0))
        lv = np.where((dist <= 1) | (sim >= _VERY_SIMILAR), 1, np.where(sim >= _SIMILAR, 2, last))
        if kind == "phonetic":
            sx = d["sx"]
            alike = (sx[a] == sx[b]) & (sx[a] > 0)
            lv = np.where((lv == last) & alike, 3, lv)
        return lv.astype(np.int64)


def _byte_data(d: dict, mat: np.ndarray, lens: np.ndarray) -> None:
    """Byte matrix, lengths and bigram codes of distinct values, trimmed to the longest."""
    width = max(int(lens.max(initial=0)), 2)
    d["mat"], d["len"] = np.ascontiguousarray(mat[:, :width]), lens
    codes = qgram_codes(d["mat"], lens, 2)
    n = (codes != SENTINEL).sum(1)
    d["qg"] = np.ascontiguousarray(codes[:, : max(int(n.max(initial=0)), 1)])
    d["qn"] = n.astype(np.int64)


def _edit_distance(
    d: dict, a: np.ndarray, b: np.ndarray, k: np.ndarray, device: torch.device
) -> tuple[np.ndarray, np.ndarray]:
    """Levenshtein distance of value pairs where it is at most ``k`` (per pair), else
    ``k + 1``; and the pairs' bigram Dice.

    Pairs that cannot be within ``k`` edits are not computed: their lengths differ
    by more than ``k``, or they share too few bigrams (an edit changes at most two
    bigrams, so strings within ``k`` edits share at least ``max(len) - 1 - 2k``).
    The rest run through :func:`levenshtein_similarity` in batches of similar length,
    each trimmed to its longest string.
    """
    mat, lens, qg, qn = d["mat"], d["len"], d["qg"], d["qn"]
    la, lb = lens[a], lens[b]
    longest = np.maximum(la, lb)
    dist = k + 1
    qa = torch.from_numpy(qg[a]).to(device)
    qb = torch.from_numpy(qg[b]).to(device)
    na, nb = torch.from_numpy(qn[a]).to(device), torch.from_numpy(qn[b]).to(device)
    dice_t, _ = qgram_similarity(qa, qb, na, nb)
    dice = dice_t.cpu().numpy().astype(np.float64)
    inter = np.rint(dice * (qn[a] + qn[b]) / 2.0)
    repeats = np.minimum(np.maximum(la - 1, 0) - qn[a], np.maximum(lb - 1, 0) - qn[b])
    todo = np.flatnonzero(
        (np.abs(la - lb) <= k) & (inter + repeats >= longest - 1 - 2 * k)
    )
    if len(todo) == 0:
        return dist, dice
    todo = todo[np.argsort(longest[todo], kind="stable")]
    dist = dist.copy()
    step = max(_CHUNK // 4, 1)
    for s in range(0, len(todo), step):  # batches of rows, not a loop over rows
        t = todo[s : s + step]
        ta_, tb_ = a[t], b[t]
        width = int(max(longest[t].max(), 1))
        sim = levenshtein_similarity(
            torch.from_numpy(np.ascontiguousarray(mat[ta_, :width])).to(device),
            torch.from_numpy(la[t]).to(device),
            torch.from_numpy(np.ascontiguousarray(mat[tb_, :width])).to(device),
            torch.from_numpy(lb[t]).to(device),
        ).cpu().numpy().astype(np.float64)
        got = np.rint((1.0 - sim) * np.maximum(longest[t], 1)).astype(np.int64)
        dist[t] = np.minimum(got, k[t] + 1)
    return dist, dice


# ----------------------------------------------------------------------------- blocking


@dataclass
class _Rule:
    columns: tuple[str, ...]
    key: np.ndarray  # per row (left rows, then right rows when linking); -1 = missing
    pairs: float

    def describe(self) -> str:
        return " & ".join(self.columns)


def _expected_pairs(key: np.ndarray, nl: int, dedupe: bool) -> float:
    ok = key >= 0
    if not ok.any():
        return 0.0
    k = int(key.max()) + 1
    if dedupe:
        c = np.bincount(key[ok], minlength=k).astype(np.float64)
        return float((c * (c - 1) / 2).sum())
    kl, kr = key[:nl], key[nl:]
    cl = np.bincount(kl[kl >= 0], minlength=k).astype(np.float64)
    cr = np.bincount(kr[kr >= 0], minlength=k).astype(np.float64)
    return float((cl * cr).sum())


def _combine_keys(keys: list[np.ndarray]) -> np.ndarray:
    """One key per row agreeing exactly when all ``keys`` agree; -1 if any is missing.

    Keys are combined two at a time and renumbered densely, so they never overflow.
    """
    key = keys[0]
    for nxt in keys[1:]:
        missing = (key < 0) | (nxt < 0)
        spans = [int(k.max(initial=0)) + 1 for k in (key, nxt)]
        joint = composite((np.maximum(key, 0), spans[0]), (np.maximum(nxt, 0), spans[1]))
        code, _ = pd.factorize(joint)
        key = np.where(missing, -1, code).astype(np.int64)
    return key


def _blocking_rules(
    block_on, fields: list[_Field], lf, rf, id_column, budget, nl, nr, dedupe
) -> list[_Rule] | None:
    """Blocking rules as per-row integer keys; ``None`` means compare all pairs."""
    total = nl * (nl - 1) / 2 if dedupe else float(nl) * nr
    by_name = {f.name: f for f in fields}

    def key_of(col: str) -> np.ndarray:
        if col in by_name:
            return by_name[col].vid
        values = _combined(lf, rf, col, dedupe)
        norm = values if pd.api.types.is_numeric_dtype(values) else _normalized(values)
        vid, _ = pd.factorize(norm, use_na_sentinel=True)
        return vid.astype(np.int64)

    if block_on is not None:
        if isinstance(block_on, str):
            block_on = [block_on]
        rules = []
        for item in block_on:
            cols = (item,) if isinstance(item, str) else tuple(str(c) for c in item)
            if not cols:
                raise SchemaError("block_on has an empty rule; give a column or a tuple of them")
            for col in cols:
                lacking = [t for t, df in (("left", lf), ("right", rf)) if col not in df.columns]
                if lacking or col == id_column:
                    raise SchemaError(
                        f"block_on names column {col!r}, which "
                        + (f"{' and '.join(lacking)} lack" if lacking else "is the id column")
                        + f"; block on columns both tables share, e.g. block_on="
                        f"{[c for c in by_name][:2]}",
                        column=col,
                    )
            key = _combine_keys([key_of(c) for c in cols])
            rules.append(_Rule(cols, key, _expected_pairs(key, nl, dedupe)))
        if not rules:
            return None
        return rules

    if total <= budget:
        return None
    rules = []
    for f in fields:
        if f.kind == "numeric":
            continue  # exact equality of measured numbers is no block
        rules.append(_Rule((f.name,), f.vid, _expected_pairs(f.vid, nl, dedupe)))
        if f.kind == "phonetic":
            sx = f.data["sx"]
            key = np.where(f.vid >= 0, sx[np.maximum(f.vid, 0)], 0)
            key = np.where(key > 0, key, -1).astype(np.int64)
            rules.append(
                _Rule((f"soundex({f.name})",), key, _expected_pairs(key, nl, dedupe))
            )
    # a rule must stay under the budget and be selective (a category such as a flag or a
    # region keeps a large share of all pairs and tells little)
    good = [r for r in rules if 0 < r.pairs <= min(budget, _MAX_RULE_SHARE * total)]
    if not good:
        singles = sorted((r for r in rules if r.pairs > 0), key=lambda r: r.pairs)[:6]
        for x in range(len(singles)):
            for y in range(x + 1, len(singles)):
                key = _combine_keys([singles[x].key, singles[y].key])
                pairs = _expected_pairs(key, nl, dedupe)
                if 0 < pairs <= min(budget, _MAX_RULE_SHARE * total):
                    good.append(_Rule(singles[x].columns + singles[y].columns, key, pairs))
    if not good:
        raise SchemaError(
            f"no column (or pair of columns) splits the tables into blocks of fewer than "
            f"{budget} candidate pairs; pass block_on=[...] with more selective columns or a "
            f"larger max_block_pairs="
        )
    log.info("link: blocking rules %s", [(r.describe(), int(r.pairs)) for r in good])
    return good


def _candidates(
    rules: list[_Rule] | None, nl: int, nr: int, dedupe: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Union of the pairs agreeing on some rule (left row, right row), sorted."""
    if rules is None:
        if dedupe:
            i, pos = expand_ranges(np.arange(1, nl + 1), np.full(nl, nl))
            return i.astype(np.int64), pos.astype(np.int64)
        return (np.repeat(np.arange(nl, dtype=np.int64), nr),
                np.tile(np.arange(nr, dtype=np.int64), nl))
    codes = []
    for rule in rules:
        kl = rule.key[:nl]
        kr = kl if dedupe else rule.key[nl:]
        ol, orr = np.flatnonzero(kl >= 0), np.flatnonzero(kr >= 0)
        i, j = range_join(kl[ol], kr[orr], 0, 0)
        i, j = ol[i], orr[j]
        if dedupe:
            keep = i < j
            i, j = i[keep], j[keep]
        codes.append(i.astype(np.int64) * nr + j)
    code = np.concatenate(codes) if codes else np.zeros(0, np.int64)
    code.sort()
    code = code[np.r_[True, code[1:] != code[:-1]]] if len(code) else code
    return code // nr, code % nr


# ----------------------------------------------------------------------------- scoring


class _Scorer:
    """Levels of all comparisons, EM-fitted m, population u, per-pair weights."""

    def __init__(self, fields, nl, nr, dedupe, offset, device, tf_adjust, random_state):
        self.fields, self.nl, self.nr = fields, nl, nr
        self.dedupe, self.offset, self.device = dedupe, offset, device
        self.tf_adjust = tf_adjust
        self.rng = np.random.default_rng(random_state)
        self.model: FSModel | None = None
        self.prior_bits = 0.0
        self.tables: list[np.ndarray] = []
        self.n_candidates = 0

    def levels(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        lv = np.empty((len(i), len(self.fields)), dtype=np.int64)
        for c, f in enumerate(self.fields):
            lv[:, c] = f.levels(f.vid[i], f.vid[j + self.offset], self.device)
        return lv

    def _u(self) -> tuple[list[np.ndarray], np.ndarray]:
        """u per comparison: exact agreement from value frequencies, the rest from random
        record pairs that disagree. Also returns the random pairs' levels."""
        if self._total() <= _U_SAMPLE:  # small tables: every pair, exactly
            i, j = _candidates(None, self.nl, self.nr, self.dedupe)
        else:
            i = self.rng.integers(0, self.nl, _U_SAMPLE)
            j = self.rng.integers(0, self.nr, _U_SAMPLE)
            if self.dedupe:
                j = np.where(j == i, (j + 1) % self.nr, j)
        lv = self.levels(i, j)
        out = []
        for c, f in enumerate(self.fields):
            k = len(f.labels)
            pl = f.count_l / max(f.count_l.sum(), 1.0)
            pr = f.count_r / max(f.count_r.sum(), 1.0)
            same = float(pl @ pr)
            if self.dedupe:  # a record is not its own random partner
                m = f.count_l.sum()
                same = float((f.count_l * (f.count_l - 1)).sum() / max(m * (m - 1), 1.0))
            same = min(max(same, 1.0 / (max(f.count_l.sum(), 1) * max(f.count_r.sum(), 1))),
                       1 - 1e-6)
            rest = lv[:, c][lv[:, c] >= 1]
            hist = np.bincount(rest - 1, minlength=k - 1).astype(np.float64) + 0.5
            u = np.r_[same, (1.0 - same) * hist / hist.sum()]
            out.append(u)
        return out, lv

    def fit(self, lv: np.ndarray, n_candidates: int, all_pairs: bool) -> None:
        """m by EM; u from the population; the prior from the matches EM expects.

        EM sees the candidates together with the random record pairs (unless the
        candidates are all pairs already): blocking can leave candidate sets made
        mostly of matches, and the random pairs anchor the non-match class to what
        unrelated records look like.
        """
        self.n_candidates = n_candidates
        names = [f.name for f in self.fields]
        labels = [f.labels for f in self.fields]
        n_levels = [len(x) for x in labels]
        u, lv_random = self._u()
        total = self._total()
        if len(lv) == 0:
            m = [_m_prior(k) for k in n_levels]
            self.model = FSModel(names, labels, m, u, lam=0.0)
            self.tables = _monotone(self.model.weights())
            self.prior_bits = -float(np.log2(max(total, 2.0)))
            return
        # EM may see a subsample: the patterns are what counts and there are few of them
        cap = 2_000_000
        sample = lv if len(lv) <= cap else lv[self.rng.choice(len(lv), cap, replace=False)]
        data = sample if all_pairs else np.concatenate([sample, lv_random])
        em = fit_em(data, n_levels, names=names, labels=labels, lam=0.1,
                    m_init={c: _m_prior(k) for c, k in enumerate(n_levels)})
        # matches EM expects among the candidates: the sum of their posteriors
        log_odds = np.full(len(sample), np.log(em.lam / (1.0 - em.lam)))
        for c in range(len(n_levels)):
            seen = sample[:, c] >= 0
            ratio = np.maximum(em.m[c], 1e-12) / np.maximum(em.u[c], 1e-12)
            log_odds[seen] += np.log(ratio)[sample[seen, c]]
        share = float(np.mean(1.0 / (1.0 + np.exp(-np.clip(log_odds, -700, 700)))))
        expected = max(share * n_candidates, 1.0)
        expected = min(expected, min(self.nl, self.nr) if not self.dedupe else total / 2)
        self.prior_bits = float(np.log2(expected / max(total - expected, 1.0)))
        self.model = FSModel(names, labels, em.m, u, lam=expected / max(total, 1.0),
                             n_iter=em.n_iter, history=em.history)
        self.tables = _monotone(self.model.weights())
        log.info("link: EM %d iterations, %.0f expected matches among %d candidates",
                 em.n_iter, expected, n_candidates)

    def _total(self) -> float:
        return self.nl * (self.nl - 1) / 2 if self.dedupe else float(self.nl) * self.nr

    def weights(self, lv: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Bits of evidence per pair and comparison (0 where a value is missing)."""
        w = np.zeros(lv.shape, dtype=np.float64)
        tables = self.tables
        for c, f in enumerate(self.fields):
            seen = lv[:, c] >= 0
            w[seen, c] = tables[c][lv[seen, c]]
            if not self.tf_adjust:
                continue
            same = np.flatnonzero(lv[:, c] == 0)
            if len(same) == 0:
                continue
            v = f.vid[i[same]]
            both = f.count_l + (0 if self.dedupe else f.count_r)
            rows = max(both.sum(), 1.0)
            share = np.maximum(both[v] / rows, 1.0 / rows)
            # the pair's own two records are not evidence of a common value
            if self.dedupe:
                share = np.maximum((both[v] - 1) / max(rows - 1, 1.0), 1.0 / rows)
            w[same, c] = np.log2(max(self.model.m[c][0], 1e-9) / share)
        return w


def _m_prior(k: int) -> np.ndarray:
    """Starting m of a comparison with ``k`` levels (also EM's pseudo-counts): a match
    mostly agrees exactly, sometimes nearly, rarely not at all."""
    mid = 0.12 * 0.5 ** np.arange(k - 2)
    return np.r_[0.8, mid, 0.05] / (0.85 + mid.sum())


def _monotone(tables: list[np.ndarray]) -> list[np.ndarray]:
    """Cap each level's weight at the weight of the level above it: levels are ordered
    strongest first, so a weaker agreement never counts for more than a stronger one
    (rare levels otherwise get noisy, extreme weights)."""
    return [np.minimum.accumulate(t) for t in tables]


def _posterior(bits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp2(-np.clip(bits, -60, 60)))


def _close_clusters(scorer, n, i, j, lv, w, bits, conf, *, enabled: bool):
    """Connected components of the linked pairs; with ``enabled``, add the pairs within
    each component (up to ``_MAX_CLUSTER`` records) that were not linked directly."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    how = np.zeros(len(i), dtype=np.int8)
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    if enabled and len(i):
        size = np.bincount(comp)
        members = np.flatnonzero((size[comp] >= 3) & (size[comp] <= _MAX_CLUSTER))
        if len(members):
            members = members[np.argsort(comp[members], kind="stable")]
            c = comp[members]
            start = np.r_[0, np.flatnonzero(c[1:] != c[:-1]) + 1]
            end = np.r_[start[1:], len(c)]
            group_end = np.repeat(end, end - start)
            rows, pos = expand_ranges(np.arange(len(members)) + 1, group_end)
            a, b = members[rows], members[pos]
            a, b = np.minimum(a, b), np.maximum(a, b)
            have = np.isin(a * np.int64(n) + b, i * np.int64(n) + j)
            a, b = a[~have], b[~have]
            if len(a):
                lv2 = scorer.levels(a, b)
                w2 = scorer.weights(lv2, a, b)
                bits2 = w2.sum(1) + scorer.prior_bits
                i, j = np.r_[i, a], np.r_[j, b]
                lv, w = np.r_[lv, lv2], np.r_[w, w2]
                bits, conf = np.r_[bits, bits2], np.r_[conf, _posterior(bits2)]
                how = np.r_[how, np.ones(len(a), dtype=np.int8)]
    # clusters numbered in the order of their connected-component labels
    _, cluster = np.unique(comp[i], return_inverse=True) if len(i) else (None, np.zeros(0))
    return i, j, lv, w, bits, conf, how, cluster.astype(np.int64)


# ----------------------------------------------------------------------------- output


def _frame_out(fields, lf, rf, id_column, i, j, lv, w, bits, conf, prior) -> pd.DataFrame:
    parts: list[object] = []
    for c, f in enumerate(fields):
        labels = np.array([*f.labels, "missing"], dtype=object)  # level -1 -> "missing"
        parts += [
            (" · " if c else "") + f.name + " ",
            pa.array(labels[lv[:, c]].astype(str)), " (", decimal_text(w[:, c]), ")",
        ]
    parts += [
        " · prior (", decimal_text(np.full(len(i), prior)), ") = ", decimal_text(bits), " bits"
    ]
    if len(i):
        explanation = pc.binary_join_element_wise(*parts, "").to_numpy(zero_copy_only=False)
    else:
        explanation = np.zeros(0, dtype=object)
    out = pd.DataFrame(
        {
            "left_id": lf[id_column].to_numpy()[i],
            "right_id": rf[id_column].to_numpy()[j],
            "confidence": np.round(100 * conf, 2),
            "match_weight": np.round(bits, 3),
            "explanation": explanation,
        }
    )
    for c, f in enumerate(fields):
        out[f"weight_{f.name}"] = np.round(w[:, c], 3)
    return out
