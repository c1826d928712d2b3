"""Vectorized text comparators: byte matrices, q-gram overlap, Levenshtein, Soundex.

Strings are turned once into fixed-width ``uint8`` matrices (pyarrow buffers,
no Python loop over rows); every similarity is then computed with torch over
*pairs* of rows, so the same code runs on the CPU and on CUDA.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:  # pragma: no cover - torch loads where a similarity is computed
    import torch

SENTINEL = 2**31 - 1  # pads q-gram code rows; sorts last, never counted

# Words a bank adds around a counterparty's name; they carry no identity.
_NOISE = (
    "POS|DEBIT|CREDIT|ACH|CARD|CHECKCARD|CHECK|CHK|PURCHASE|AUTHORIZED|AUTH|ON|PMT|PYMT|PAYMENT|"
    "ONLINE|TRANSFER|XFER|RECURRING|REF|REFERENCE|INV|INVOICE|WEB|ID|TO|FROM|VISA|MC|DES|INDN|"
    "PPD|CCD|WWW|COM|BATCH|BILL|PAY|DBT|CRD|TXN|TRN|WITHDRAWAL|DEPOSIT|DIRECT|DD|SEPA|WIRE|"
    "DDA|PUR|PURCH|POS|INC|LLC|LTD|CO|CORP|CORPORATION|COMPANY|THE|AND|OF|US|USA|X+|"
    "INTL|INTERNATIONAL|FOREIGN|FGN|FX|"
    # British: faster payment out/in, bank giro credit, standing order, cheque, BACS
    "FPO|FPI|BGC|STO|SO|TFR|CHQ|CHEQUE|BACS|OUT|OUTGOING|INCOMING|CONTACTLESS|"
    # German, French, Dutch, Italian, Spanish transfer and card words
    "KARTENZAHLUNG|LASTSCHRIFT|UEBERWEISUNG|GUTSCHRIFT|DAUERAUFTRAG|SCHECK|MREF|CRED|EREF|"
    "KREF|SVWZ|ABBUCHUNG|PRLV|PRELEVEMENT|VIR|VIREMENT|CB|CARTE|RETRAIT|BETALING|"
    "INCASSO|PAGAMENTO|BONIFICO|ADDEBITO|RECIBO|TRANSFERENCIA|COMPRA|TARJETA|"
    # ACH company-entry fields
    "ORIG|ENTRY|DESC|DESCR|SEC|TRACE|EED|IND|TRN"
)
_SPELLED = (("Ä", "AE"), ("Ö", "OE"), ("Ü", "UE"), ("ß", "SS"), ("ẞ", "SS"), ("Æ", "AE"),
            ("Ø", "O"), ("Œ", "OE"), ("Ł", "L"), ("Đ", "D"))
# A purchase abroad ends with the country and the currency of the original amount
# ("... DE EUR 72.80 @ 1.0554"): the currency code, and a two-letter country before it.
_CURRENCY = ("(?:[A-Z]{2} )?(?:EUR|GBP|JPY|CHF|CAD|AUD|NZD|SEK|NOK|DKK|MXN|CNY|HKD|SGD|INR|"
             "BRL|ZAR|PLN|CZK|HUF|TRY|KRW|USD)$")


_STRING_BYTES = 1 << 30  # text that plain Arrow strings hold (32-bit offsets) with room


def as_string_array(values: object) -> pa.Array:
    """Return a pyarrow string array (nulls become empty strings).

    Text, numbers, or a mix of both (as spreadsheets give) are all accepted.
    """
    if isinstance(values, pa.Array | pa.ChunkedArray):
        arr = values
    else:
        if not isinstance(values, pd.Series):
            values = pd.Series(np.asarray(values, dtype=object))
        try:
            arr = pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):  # mixed types: text them
            arr = pa.array(values.astype("string"), from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_large_string(arr.type) and arr.nbytes < _STRING_BYTES:
        # pandas' pyarrow strings and polars' text are large strings; some Arrow
        # kernels (joining lists of words) take plain strings only
        arr = arr.cast(pa.string())
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = pc.cast(arr, pa.string()) if not pa.types.is_null(arr.type) else pa.array(
            [""] * len(arr), pa.string()
        )
    return pc.fill_null(arr, "")


def drop_numbers(text: pa.Array) -> pa.Array:
    """Drop the numbers of texts: tokens with a digit (card, store, phone, reference
    numbers, dates), a token being cut at spaces and at ``*``, ``#`` and ``/`` as card
    descriptors join them (``UPS*1Z99``, ``SQ *CAFE``); a word running into digits
    keeps the word (``ADS0959982136`` -> ``ADS``).

    Examples
    --------
    >>> drop_numbers(pa.array(["UPS*1234567890 GA", "GOOGLE *ADS0959982136"])).to_pylist()
    ['UPS*  GA', 'GOOGLE *ADS ']
    """
    text = pc.replace_substring_regex(text, r"\b([A-Za-z]{3,})[0-9]{4,}\b", r"\1 ")
    return pc.replace_substring_regex(text, r"[^\s*#/]*[0-9][^\s*#/]*", " ")


def fold_marks(text: pa.Array) -> pa.Array:
    """Spell letters with marks plainly in upper-case text: umlauts as German banks
    spell them, any other mark dropped.

    Examples
    --------
    >>> fold_marks(pa.array(["CAFÉ ZÜRCHER", "ACME"])).to_pylist()
    ['CAFE ZUERCHER', 'ACME']
    """
    plain = pc.string_is_ascii(text)
    if pc.all(plain).as_py() in (True, None):
        return text
    marked = pc.fill_null(pc.invert(plain), False)  # only the texts with such letters
    rest = pc.filter(text, marked)
    for letter, spelled in _SPELLED:
        rest = pc.replace_substring(rest, letter, spelled)
    rest = pc.replace_substring_regex(pc.utf8_normalize(rest, "NFKD"), r"\p{Mn}+", "")
    return pc.replace_with_mask(text, marked, rest)


def normalize_name(values: object) -> pa.Array:
    """Upper-case, drop digits, punctuation and bank noise words; collapse spaces.

    ``"POS DEBIT 4821 Office-Depot #1023"`` becomes ``"OFFICE DEPOT"``.
    """
    text = fold_marks(pc.utf8_upper(as_string_array(values)))
    text = pc.replace_substring_regex(text, r"['’`]", "")  # KIM'S -> KIMS, as banks write it
    text = drop_numbers(text)
    text = pc.replace_substring_regex(text, r"[^A-Z ]+", " ")
    text = pc.replace_substring_regex(text, r"\b(?:CO|IND) NAME\b", " ")  # ACH field labels
    text = pc.replace_substring_regex(text, rf"\b({_NOISE})\b", " ")
    text = pc.replace_substring_regex(text, r"\s+", " ")
    text = pc.utf8_trim_whitespace(text)
    text = pc.utf8_trim_whitespace(pc.replace_substring_regex(text, rf" {_CURRENCY}", ""))
    # a trailing US state code after a city ("... SEATTLE WA")
    return pc.replace_substring_regex(text, r"^(.+ [A-Z]{3,}) [A-Z]{2}$", r"\1")


def skeleton(names: pa.Array) -> pa.Array:
    """Drop vowels that do not start a word: ``"VISTA NETWORKS"`` -> ``"VST NTWRKS"``.

    Banks abbreviate names this way; comparing skeletons catches it.
    """
    return pc.replace_substring_regex(names, r"\B[AEIOU]", "")


def normalize_plain(values: object) -> pa.Array:
    """Lower-case and trim; keep digits (for names, codes and addresses)."""
    text = pc.utf8_lower(as_string_array(values))
    text = pc.replace_substring_regex(text, r"\s+", " ")
    return pc.utf8_trim_whitespace(text)


def tokens(names: pa.Array, k: int, min_len: int = 3) -> pa.Array:
    """The ``k``-th whitespace token (0-based) if it has ``min_len`` letters, else ``""``."""
    word = r"(?P<t>\S{" + str(min_len) + r",})"
    pattern = r"^(?:\S+ ){" + str(k) + r"}" + word if k else r"^" + word
    tok = pc.struct_field(pc.extract_regex(names, pattern), "t")
    return pc.fill_null(tok, "")


def encode_bytes(values: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pack strings into a ``(n, width)`` uint8 matrix (zero padded) and their lengths."""
    arr = pc.cast(as_string_array(values), pa.large_binary())
    n = len(arr)
    buffers = arr.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64, count=n + 1, offset=arr.offset * 8)
    data = (
        np.frombuffer(buffers[2], dtype=np.uint8)
        if buffers[2] is not None and buffers[2].size
        else np.zeros(1, np.uint8)
    )
    starts = offsets[:-1]
    lengths = np.minimum(offsets[1:] - starts, width)
    col = np.arange(width)
    inside = col[None, :] < lengths[:, None]
    idx = np.where(inside, starts[:, None] + col[None, :], 0)
    mat = np.where(inside, data[idx], 0).astype(np.uint8)
    return mat, lengths.astype(np.int64)


def qgram_codes(mat: np.ndarray, lengths: np.ndarray, q: int = 2) -> np.ndarray:
    """Sorted unique q-gram codes per row, padded with :data:`SENTINEL`.

    Returns an int32 ``(n, width - q + 1)`` matrix; ``(codes != SENTINEL).sum(1)``
    is the number of distinct q-grams of each string.
    """
    n, width = mat.shape
    m = max(width - q + 1, 1)
    codes = np.zeros((n, m), dtype=np.int64)
    for k in range(q):  # q is 2 or 3: a loop over q-gram positions, not rows
        codes = codes * 256 + mat[:, k : k + m].astype(np.int64)
    codes = np.where(np.arange(m)[None, :] <= lengths[:, None] - q, codes, SENTINEL)
    codes = np.where(codes == SENTINEL, SENTINEL, codes % (SENTINEL - 1)).astype(np.int32)
    codes.sort(axis=1)
    dup = np.zeros_like(codes, dtype=bool)
    dup[:, 1:] = codes[:, 1:] == codes[:, :-1]
    codes[dup] = SENTINEL
    codes.sort(axis=1)
    return codes


def qgram_similarity(
    codes_a: torch.Tensor,
    codes_b: torch.Tensor,
    count_a: torch.Tensor | None = None,
    count_b: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Dice and overlap coefficients of aligned rows of two q-gram code matrices.

    Parameters
    ----------
    codes_a, codes_b : torch.Tensor
        ``(P, L)`` int32 rows from :func:`qgram_codes`, one row per pair.
    count_a, count_b : torch.Tensor, optional
        The number of distinct q-grams of each row, when the caller has them.

    Returns
    -------
    dice, overlap : torch.Tensor
        float32 ``(P,)``; 0 where a string has no q-gram.
    """
    import torch

    a = codes_a.contiguous()
    b = codes_b.contiguous()
    pos = torch.searchsorted(b, a).clamp_(max=b.shape[1] - 1)
    hit = (b.gather(1, pos) == a) & (a != SENTINEL)
    inter = hit.sum(1, dtype=torch.int32).float()
    na = (a != SENTINEL).sum(1, dtype=torch.int32) if count_a is None else count_a
    nb = (b != SENTINEL).sum(1, dtype=torch.int32) if count_b is None else count_b
    na, nb = na.float(), nb.float()
    dice = torch.where(na + nb > 0, 2 * inter / (na + nb).clamp(min=1), torch.zeros_like(inter))
    overlap = inter / torch.minimum(na, nb).clamp(min=1)
    return dice, overlap


def levenshtein_similarity(
    a: torch.Tensor, la: torch.Tensor, b: torch.Tensor, lb: torch.Tensor
) -> torch.Tensor:
    """``1 - distance / max(len)`` for aligned rows of two byte matrices.

    The dynamic programme runs one row of the edit matrix per step for all pairs
    at once; insertions inside a row are resolved with a cumulative minimum, so
    the work is ``width`` vector steps over ``(P, width)`` tensors.

    Parameters
    ----------
    a, b : torch.Tensor
        ``(P, W)`` uint8 byte matrices of the pairs' strings.
    la, lb : torch.Tensor
        ``(P,)`` int64 lengths.

    Returns
    -------
    torch.Tensor
        float32 ``(P,)`` in [0, 1]; 1 for two empty strings.
    """
    import torch

    p, width = a.shape
    j = torch.arange(width + 1, device=a.device, dtype=torch.int32)
    prev = j.expand(p, width + 1).clone()
    a32 = a.to(torch.int32)
    b32 = b.to(torch.int32)
    for i in range(1, width + 1):
        cost = (a32[:, i - 1 : i] != b32).to(torch.int32)
        tmp = torch.minimum(prev[:, 1:] + 1, prev[:, :-1] + cost)
        tmp = torch.cat([torch.full((p, 1), i, device=a.device, dtype=torch.int32), tmp], 1)
        cur = torch.cummin(tmp - j, dim=1).values + j
        prev = torch.where((la >= i)[:, None], cur, prev)
    dist = prev.gather(1, lb.clamp(max=width)[:, None].long()).squeeze(1).float()
    longest = torch.maximum(la, lb).clamp(min=1).float()
    return torch.where(torch.maximum(la, lb) > 0, 1 - dist / longest, torch.ones_like(dist))


_SOUNDEX = np.full(256, -2, dtype=np.int8)  # -2: not a letter (dropped)
for _letters, _code in (
    ("AEIOUY", 0), ("HW", -1), ("BFPV", 1), ("CGJKQSXZ", 2), ("DT", 3), ("L", 4), ("MN", 5),
    ("R", 6),
):
    for _c in _letters:
        _SOUNDEX[ord(_c)] = _code
        _SOUNDEX[ord(_c.lower())] = _code


def soundex(values: object, width: int = 24) -> np.ndarray:
    """American Soundex of each string as an int32 code (0 for no letters).

    ``letter * 1000 + d1 * 100 + d2 * 10 + d3``, so ``"Robert"`` and ``"Rupert"``
    (both R163) get the same code.
    """
    mat, _ = encode_bytes(as_string_array(values), width)
    codes = _SOUNDEX[mat]
    letter = codes != -2
    # compact letters to the front (a stable sort of the keep mask)
    order = np.argsort(~letter, axis=1, kind="stable")
    mat = np.take_along_axis(mat, order, 1)
    codes = np.take_along_axis(codes, order, 1)
    nlet = letter.sum(1)
    first = np.where(nlet > 0, np.char.upper(mat[:, :1].view("S1")[:, 0]).view(np.uint8), 0)
    # H and W are transparent: drop them after the first letter (keep the previous code)
    keep_hw = (codes != -1) | (np.arange(mat.shape[1])[None, :] == 0)
    order = np.argsort(~keep_hw, axis=1, kind="stable")
    codes = np.take_along_axis(np.where(keep_hw, codes, -2), order, 1)
    prev = np.concatenate([np.full((len(codes), 1), -3, np.int8), codes[:, :-1]], 1)
    digit = (codes > 0) & (codes != prev)
    digit[:, 0] = False
    rank = np.cumsum(digit, axis=1)
    out = first.astype(np.int32) * 1000
    for k, scale in ((1, 100), (2, 10), (3, 1)):
        at = digit & (rank == k)
        val = np.where(at, codes, 0).max(1).astype(np.int32)
        out += val * scale
    return np.where(nlet > 0, out, 0).astype(np.int32)
