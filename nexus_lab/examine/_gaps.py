"""Gaps: what is missing from a sequence of numbers, dates or numbered documents (ACL
GAPS, IDEA's gap detection), and what appears in it twice.

Three kinds of sequence:

* numbers (cheque numbers, entry numbers): whole numbers, step 1;
* dates: calendar days, or business days (weekends and the given holidays skipped, by
  ``numpy.busday_count`` and ``numpy.busday_offset``);
* numbers inside text (``INV-00123``): the last run of digits is the number, the text
  around it names the sequence (``INV-`` and ``PO-`` are two sequences), and the width
  of zero-padded numbers is kept, so the item missing after ``INV-00123`` is shown as
  ``INV-00124``.

Everything is sorted once and compared with its neighbour: a gap is a step of more
than one, a duplicate a step of zero. Repeated dates are not duplicates (many entries
share a day).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nexus_lab.errors import SchemaError
from nexus_lab.examine._result import Examination, params_of, warn
from nexus_lab.examine._tally import NAME, check_choice, row_ids, table
from nexus_lab.frames import describe_rows, parse_days

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

    from nexus_lab._typing import FrameLike

__all__ = ["gaps"]

_KINDS = ("auto", "number", "date", "text")
# text that reads as a date: 2025-03-04, 2025/03/04, 04/03/2025, 4.3.25, 2025-03-04T10:00
_DATE_TEXT = (r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}([ T].*)?$|"
              r"^\d{1,2}[-/.]\d{1,2}[-/.](\d{2}|\d{4})([ T,].*)?$")
_NUMBER_IN_TEXT = r"^(?P<prefix>.*?)(?P<number>\d+)(?P<suffix>\D*)$"


def gaps(
    df: FrameLike,
    column: str,
    by: str | None = None,
    *,
    kind: str = "auto",
    business_days: bool = False,
    holidays: Sequence[Any] | None = None,
    limit: int = 1000,
    columns: Mapping[str, str] | None = None,
) -> Examination:
    """Find the missing ranges and items of a sequence, and its duplicates.

    Parameters
    ----------
    df : frame-like
        The table.
    column : str
        The sequence: whole numbers, dates, or text with a number in it
        (``INV-00123``).
    by : str, optional
        A column whose groups (a company code, a cash register) each hold their own
        sequence.
    kind : {"auto", "number", "date", "text"}, default "auto"
        How to read the column; ``"auto"``: numbers as numbers, dates and text that
        reads as dates (``2025-03-04``, ``04/03/2025``) as dates, other text as
        numbered documents.
    business_days : bool, default False
        For dates: count only weekdays, and not ``holidays``.
    holidays : sequence of dates, optional
        Days that are not business days (``["2025-12-25", "2025-12-26"]``).
    limit : int, default 1000
        At most this many missing items in table ``"items"`` (and duplicates in
        ``"duplicates"``); the facts say how many there are in all.
    columns : mapping, optional
        ``{our name: your column}`` (``column``, ``by``, ``transaction_id``).

    Returns
    -------
    Examination
        Tables ``"ranges"`` (per sequence: the first and last missing item, how many,
        and the present items before and after), ``"items"`` (the missing items, in
        order, capped), ``"sequences"`` (first, last, rows, missing, duplicates) and
        ``"duplicates"`` (items present more than once, with their count); the verdict
        ``"findings"`` when anything is missing or doubled, else ``"clean"``.

    Raises
    ------
    SchemaError
        For an absent column, a column with no numbers, numbers with fractions, dates
        that do not exist or are out of range, or ``business_days`` on numbers.

    Examples
    --------
    >>> import pandas as pd
    >>> from nexus_lab.examine import gaps
    >>> df = pd.DataFrame({"invoice": ["INV-00121", "INV-00122", "INV-00125", "INV-00125"]})
    >>> r = gaps(df, "invoice")
    >>> r["items"]["item"].tolist(), r.facts["duplicates"]
    (['INV-00123', 'INV-00124'], 1)
    >>> days = pd.DataFrame({"date": ["2025-03-06", "2025-03-11"]})  # Thursday, Tuesday
    >>> gaps(days, "date", business_days=True)["items"]["item"].astype(str).tolist()
    ['2025-03-07', '2025-03-10']
    """
    params = params_of(locals())
    check_choice("kind", kind, _KINDS)
    if int(limit) < 0:
        raise SchemaError(f"limit={limit!r}: give a number of items, 0 or more")
    data = table(df, [column, by or ""], ["transaction_id"], columns)
    ids = row_ids(data)
    notes: list[str] = []
    values = data[column]
    blank = values.isna().to_numpy()
    if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
        text = pc.utf8_trim_whitespace(pa.array(values.astype("string"), from_pandas=True))
        blank |= np.asarray(pc.fill_null(pc.equal(text, ""), True))
    if blank.all():
        raise SchemaError(f"{NAME}.{column} is blank in every row: gaps needs numbers, dates or "
                          "text with a number in it (INV-00123)", table=NAME, column=column)
    kind = _kind(values[~blank], kind)
    if business_days and kind != "date":
        raise SchemaError(f"business_days=True applies to dates, and {NAME}.{column} is read as "
                          f"{kind}s; pass kind='date' if it holds dates", table=NAME,
                          column=column)
    present = ~blank
    label = f"gaps {column}"
    keys = None
    if kind == "number":
        number = _whole_numbers(values[present], column, None if ids is None else ids[present])
    elif kind == "date":
        number = parse_days(values[present], table=NAME, column=column,
                            ids=None if ids is None else ids[present])
    else:
        number, keys, no_number = _numbered_text(values[present], column)
        if no_number.any():
            where = np.flatnonzero(present)[no_number]
            mask = np.zeros(len(values), bool)
            mask[where] = True
            warn(f"{label}: {_count(no_number.sum(), 'value')} with no number left out "
                 f"({describe_rows(mask, ids)})", notes)
            present[where] = False
    if blank.any():
        warn(f"{label}: {_count(blank.sum(), 'blank value')} left out "
             f"({describe_rows(blank, ids)})", notes)
    if present.sum() < 2:
        warn(f"{label}: {_count(present.sum(), 'value')} to read, and a gap lies between "
             "two values of a sequence: the test needs at least 2; give the whole "
             "sequence", notes)

    # one code per sequence: the group (by=) and, for text, the text around the number
    parts = []
    if by:
        parts.append(data[by].to_numpy()[present])
    if keys is not None:
        parts.append(keys["sequence"].to_numpy())
    if parts:
        seq_frame = pd.DataFrame({i: p for i, p in enumerate(parts)})
        seq, uniques = pd.factorize(pd.MultiIndex.from_frame(seq_frame))
        names = uniques.to_frame(index=False)
        names.columns = ([by] if by else []) + (["sequence"] if keys is not None else [])
    else:
        seq = np.zeros(len(number), np.int64)
        names = pd.DataFrame(index=[0])
    shape = None
    if keys is not None:
        shape = keys.groupby(seq).agg(prefix=("prefix", "first"), suffix=("suffix", "first"),
                                      width=("width", "max")).reindex(range(len(names)))
        names["sequence"] = (shape["prefix"] + shape["width"].clip(lower=1).map(lambda w: "#" * w)
                             + shape["suffix"]).to_numpy()
    hol = _holidays(holidays) if business_days else None

    v, s = _sort(number, np.asarray(seq, dtype=np.int64), len(names))
    same = s[1:] == s[:-1]
    step = v[1:] - v[:-1]
    twice = same & (step == 0)
    jump = same & (step > 1)
    prev, nxt, gseq = v[:-1][jump], v[1:][jump], s[1:][jump]
    if hol is not None:
        day = np.datetime64("1970-01-01", "D")
        start = np.busday_offset(day + prev + 1, 0, roll="forward", holidays=hol)
        end = np.busday_offset(day + nxt, -1, roll="forward", holidays=hol)
        missing = np.busday_count(day + prev + 1, day + nxt, holidays=hol)
        real = missing > 0
        prev, nxt, gseq, missing = prev[real], nxt[real], gseq[real], missing[real]
        start = (start[real] - day).astype(np.int64)
        end = (end[real] - day).astype(np.int64)
    else:
        start, end, missing = prev + 1, nxt - 1, nxt - prev - 1
    missing = missing.astype(np.int64)

    fmt = _formatter(kind, shape)
    ranges = names.iloc[gseq].reset_index(drop=True) if parts else pd.DataFrame(
        index=range(len(gseq)))
    ranges = ranges.assign(start=fmt(start, gseq), end=fmt(end, gseq), missing=missing,
                           previous=fmt(prev, gseq), next=fmt(nxt, gseq))
    items = _items(start, missing, gseq, int(limit), hol)
    item_frame = (names.iloc[items[1]].reset_index(drop=True) if parts
                  else pd.DataFrame(index=range(len(items[0]))))
    item_frame["item"] = fmt(items[0], items[1])

    dup_v, dup_s = v[1:][twice], s[1:][twice]
    dups = pd.DataFrame({"s": dup_s, "v": dup_v}).value_counts(sort=False).reset_index()
    n_doubled = len(dups)
    dups = dups.sort_values(["s", "v"], kind="stable").head(int(limit))
    dup_frame = (names.iloc[dups["s"].to_numpy()].reset_index(drop=True) if parts
                 else pd.DataFrame(index=range(len(dups))))
    dup_frame["item"] = fmt(dups["v"].to_numpy(), dups["s"].to_numpy())
    dup_frame["count"] = dups["count"].to_numpy() + 1

    sequences = _sequences(names, parts, s, v, gseq, missing, twice, fmt)
    total_missing = int(missing.sum())
    n_dups = int(twice.sum())
    facts: dict[str, Any] = {
        "kind": kind, "rows": len(values), "read": len(number), "sequences": len(names),
        "ranges": len(missing), "missing": total_missing, "items_listed": len(item_frame),
        "duplicates": n_dups, "duplicated_items": n_doubled,
    }
    if kind == "date":
        facts["business_days"] = bool(business_days)
    if len(names) == 1:
        for key in ("first", "last"):
            value = sequences[key].iloc[0]
            facts[key] = int(value) if kind == "number" else str(value)
    if total_missing > len(item_frame):
        warn(f"{label}: {_count(total_missing, 'item')} missing; the first {len(item_frame):,} are "
             "listed (pass limit= to list more)", notes)
    finding = total_missing > 0 or (n_dups > 0 and kind != "date")
    return Examination("gaps", params, {"ranges": ranges, "items": item_frame,
                                        "sequences": sequences, "duplicates": dup_frame},
                       facts, verdict="findings" if finding else "clean", notes=notes,
                       plotter=_plot)


def _sort(number: np.ndarray, seq: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The values sorted by sequence, then value; one sort of a combined key when the
    values' range allows it."""
    if size == 1:
        return np.sort(number), seq
    low = int(number.min())
    span = int(number.max()) - low + 1
    if size * span < 2**62:
        key = np.sort(seq * span + (number - low))
        return key % span + low, key // span
    order = np.lexsort((number, seq))
    return number[order], seq[order]


def _count(n: int, word: str) -> str:
    return f"{int(n):,} {word}{'' if n == 1 else 's'}"


def _kind(values: pd.Series, kind: str) -> str:
    """How the column reads: numbers, dates or numbered text."""
    if pd.api.types.is_bool_dtype(values):
        return "text" if kind == "auto" else kind
    if pd.api.types.is_datetime64_any_dtype(values):
        return "date" if kind == "auto" else kind
    if pd.api.types.is_numeric_dtype(values):
        return "number" if kind == "auto" else kind
    if kind != "auto":
        return kind
    sample = values.astype("string").str.strip().head(200)
    return "date" if sample.str.match(_DATE_TEXT).fillna(False).all() else "text"


def _whole_numbers(values: pd.Series, column: str, ids: np.ndarray | None) -> np.ndarray:
    def refuse(what: str, bad: np.ndarray, fix: str) -> SchemaError:
        return SchemaError(
            f"{NAME}.{column}: {what} at {describe_rows(bad, ids)} "
            f"({values[bad].head(3).tolist()}); {fix}", table=NAME, column=column,
            rows=np.flatnonzero(bad)[:5].tolist())

    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        number = pd.to_numeric(values.astype("string").str.strip(), errors="coerce")
        bad = number.isna().to_numpy()
        if bad.any():
            raise refuse("text that is not a whole number", bad,
                         "pass kind='text' for numbered documents such as INV-00123")
        values = number
    x = values.to_numpy(dtype=np.float64)
    frac = ~np.isfinite(x) | (x != np.round(x)) | (np.abs(x) >= 2**53)
    if frac.any():
        raise refuse("numbers that are not whole", frac, "a sequence counts in whole steps: "
                     "round the column or pick the document-number column")
    if pd.api.types.is_integer_dtype(values):
        return values.to_numpy(dtype=np.int64)
    return x.astype(np.int64)


def _numbered_text(values: pd.Series, column: str) -> tuple[np.ndarray, pd.DataFrame,
                                                             np.ndarray]:
    """The number in each text, the sequence it belongs to (the text around the number)
    and its zero-padded width (0: not padded); and where no number was found."""
    text = pc.utf8_trim_whitespace(pa.array(values.astype("string"), from_pandas=True))
    parts = pc.extract_regex(text, _NUMBER_IN_TEXT)
    found = np.asarray(pc.is_valid(parts))
    if not found.any():
        raise SchemaError(
            f"{NAME}.{column} holds no numbers ({values.head(3).tolist()}): gaps reads whole "
            "numbers, dates, or text with a number in it (INV-00123); map the sequence "
            f"column with columns={{'{column}': '<your column>'}}", table=NAME, column=column)
    parts = parts.filter(pa.array(found))
    digits = pc.struct_field(parts, "number")
    long = np.asarray(pc.greater(pc.utf8_length(digits), 18))
    if long.any():
        raise SchemaError(
            f"{NAME}.{column}: numbers longer than 18 digits "
            f"({pc.filter(digits, pa.array(long)).slice(0, 2).to_pylist()}); they cannot be "
            "counted in whole steps", table=NAME, column=column)
    prefix = pc.struct_field(parts, "prefix")
    suffix = pc.struct_field(parts, "suffix")
    padded = np.asarray(pc.starts_with(digits, "0")) & (np.asarray(pc.utf8_length(digits)) > 1)
    keys = pd.DataFrame({
        "sequence": np.asarray(pc.binary_join_element_wise(prefix, "#", suffix, "")
                               .to_numpy(zero_copy_only=False), dtype=object),
        "prefix": prefix.to_numpy(zero_copy_only=False),
        "suffix": suffix.to_numpy(zero_copy_only=False),
        "width": np.where(padded, np.asarray(pc.utf8_length(digits)), 0),
    })
    number = np.asarray(pc.cast(digits, pa.int64()))
    return number, keys, ~found


def _holidays(holidays: Sequence[Any] | None) -> np.ndarray:
    if holidays is None:
        return np.array([], dtype="datetime64[D]")
    try:
        return pd.to_datetime(pd.Series(list(holidays))).to_numpy().astype("datetime64[D]")
    except (ValueError, TypeError) as exc:
        raise SchemaError(f"holidays={holidays!r}: give dates such as ['2025-12-25'] "
                          f"({exc})") from exc


def _items(start: np.ndarray, missing: np.ndarray, gseq: np.ndarray, limit: int,
           hol: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The first ``limit`` missing items, in order, and their sequences."""
    take = np.minimum(missing, np.maximum(limit - np.concatenate([[0], np.cumsum(missing)[:-1]]),
                                          0))
    k = int(take.sum())
    which = np.repeat(np.arange(len(take)), take)
    offset = np.arange(k) - np.repeat(np.cumsum(take) - take, take)
    if hol is not None:
        day = np.datetime64("1970-01-01", "D")
        items = (np.busday_offset(day + start[which], offset, roll="forward", holidays=hol)
                 - day).astype(np.int64)
    else:
        items = start[which] + offset
    return items, gseq[which]


def _formatter(kind: str, shape: pd.DataFrame | None):
    """Turns numbers of a sequence back into the column's kind: ints, dates, or text with
    the sequence's prefix, zero-padded width and suffix (``shape``, per sequence)."""
    if kind == "number":
        return lambda x, s: np.asarray(x, dtype=np.int64)
    if kind == "date":
        return lambda x, s: pd.to_datetime(np.asarray(x, dtype=np.int64), unit="D").date
    prefix = shape["prefix"].to_numpy().astype(str)
    suffix = shape["suffix"].to_numpy().astype(str)
    width = shape["width"].to_numpy()

    def text(x: np.ndarray, s: np.ndarray) -> np.ndarray:
        if not len(x):
            return np.array([], dtype=object)
        digits = np.asarray(x, dtype=np.int64).astype(str)
        digits = np.strings.zfill(digits, np.maximum(width[s], np.strings.str_len(digits)))
        return np.strings.add(np.strings.add(prefix[s], digits), suffix[s]).astype(object)

    return text


def _sequences(names: pd.DataFrame, parts: list, s: np.ndarray, v: np.ndarray,
               gseq: np.ndarray, missing: np.ndarray, twice: np.ndarray, fmt) -> pd.DataFrame:
    size = len(names)
    first = np.r_[0, np.flatnonzero(s[1:] != s[:-1]) + 1]
    last = np.r_[first[1:] - 1, len(s) - 1]
    codes = s[first]
    out = (names.iloc[codes].reset_index(drop=True) if parts
           else pd.DataFrame(index=range(len(codes))))
    out["first"] = fmt(v[first], codes)
    out["last"] = fmt(v[last], codes)
    out["rows"] = np.bincount(s, minlength=size)[codes]
    out["missing"] = np.bincount(gseq, weights=missing, minlength=size).astype(np.int64)[codes]
    out["duplicates"] = np.bincount(s[1:][twice], minlength=size)[codes]
    return out


def _plot(result: Examination, ax: Axes) -> None:
    """The largest missing ranges, as bars."""
    ranges = result.tables["ranges"].nlargest(20, "missing")
    if ranges.empty:
        ax.text(0.5, 0.5, "nothing missing", ha="center", va="center")
        ax.set_axis_off()
        return
    labels = [f"{a} – {b}" if str(a) != str(b) else str(a)
              for a, b in zip(ranges["start"], ranges["end"])]
    ax.barh(range(len(ranges)), ranges["missing"], color="#a8322d")
    ax.set_yticks(range(len(ranges)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("items missing")
    ax.set_title(f"gaps: {result.facts['missing']:,} missing in {result.facts['ranges']:,} "
                 "ranges")

