"""What each role may read of the sensitive fields: one table of rules, and the masks.

Each sensitive column of a report belongs to one class:

``account``
    account numbers (shown masked as ``••••1234``, the last four characters);
``person``
    counterparties that are people (a vendor counts as a person unless its name
    carries a company form, a trade word or a digit: the rule errs towards masking);
``user``
    the workbench's users: who made, approved, resolved, reviewed or handled something;
``text``
    free text that may name people or accounts: descriptions, notes, justifications,
    the reasons a detector gives.

:data:`CLEAR` says which roles read each class as it is; every other role reads it
masked. A role that reads text but not account numbers gets the text with every long
run of digits (an account or card number in a description) masked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pandas as pd

NAME_MASK = "•••••"
TEXT_MASK = "[withheld]"

#: The roles that read each class of sensitive field as it is (see the module docstring).
CLEAR: Mapping[str, frozenset[str]] = {
    "account": frozenset({"examiner", "judge", "auditor"}),
    "person": frozenset({"examiner", "judge", "auditor", "prosecutor", "compliance_officer"}),
    "user": frozenset({"examiner", "judge", "auditor", "prosecutor", "compliance_officer",
                       "admin"}),
    "text": frozenset({"examiner", "judge", "auditor", "prosecutor", "compliance_officer"}),
}

_COMPANY = re.compile(
    r"\b(inc|incorporated|llc|llp|lp|ltd|limited|corp|corporation|co|company|companies|"
    r"group|plc|gmbh|ag|kg|sa|sas|sarl|srl|spa|bv|nv|oy|ab|as|pty|pte|kk|partners|"
    r"holdings?|services?|solutions|systems|international|industries|enterprises?|"
    r"associates|trust|bank|banking|capital|finance|insurance|university|college|school|"
    r"hospital|clinic|labs?|laboratories|pharmacy|medical|dental|health|care|hotels?|"
    r"motel|airlines?|airways|travel|tours|rentals?|motors?|garage|parking|auto|fuel|"
    r"energy|electric|power|utilities|water|gas|oil|telecom|networks?|cloud|software|"
    r"tech|technologies|digital|media|studio|design|consulting|accounting|legal|law|"
    r"office|paper|packaging|printing|supply|supplies|store|stores|shop|market|mart|"
    r"foods?|coffee|cafe|restaurant|catering|bakery|farms?|freight|logistics|shipping|"
    r"transport|plumbing|construction|builders|cleaning|security|staffing|textiles|"
    r"outfitters|furniture|fitness|books|records|trading|imports|exports|wholesale|"
    r"retail|agency|club|foundation|council|ministry|department|city|county|state)\b",
    re.IGNORECASE)
_TITLE = re.compile(r"^(mr|mrs|ms|miss|dr|prof|sir|madam)\b\.?", re.IGNORECASE)
_DIGITS = re.compile(r"(?<![\w•])(?:[A-Z]{2}\d{2}[ ]?)?\d(?:[ -]?\d){7,}(?!\w)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def looks_like_person(name: object) -> bool:
    """Whether a counterparty's name may be a person's (see the module docstring).

    Examples
    --------
    >>> [looks_like_person(n) for n in ("Jane Q. Doe", "Acme Medical Inc", "Maple Networks",
    ...                                 "Store 42", "Doe, Jane", "Dr Who")]
    [True, False, False, False, True, True]
    """
    if not isinstance(name, str) or not name.strip():
        return False
    if _TITLE.match(name.strip()):
        return True
    if any(c.isdigit() for c in name) or _COMPANY.search(name):
        return False
    words = re.findall(r"[^\W\d_]+", name)
    return 2 <= len(words) <= 5


def mask_account(value: object) -> object:
    """An account number as ``••••`` and its last four letters or digits.

    Examples
    --------
    >>> mask_account("DE89 3704 0044 0532 0130 00"), mask_account("CHK-0001"), mask_account("7")
    ('••••3000', '••••0001', '••••')
    """
    if value is None or (isinstance(value, float) and value != value) or value == "":
        return value
    tail = re.sub(r"[\W_]", "", str(value))
    return "••••" + (tail[-4:] if len(tail) > 4 else "")


def _mask_numbers(text: object) -> object:
    if not isinstance(text, str):
        return text

    def one(m: re.Match) -> str:
        found = m.group(0)
        return found if _DATE.search(found) else str(mask_account(found))

    return _DIGITS.sub(one, text)


def mask_column(values: pd.Series, rule: str, role: str) -> pd.Series:
    """``values`` (a column of class ``rule``) as ``role`` may read them.

    Examples
    --------
    >>> import pandas as pd
    >>> mask_column(pd.Series(["Jane Doe", "Acme Inc", None]), "vendor", "executive").tolist()
    ['•••••', 'Acme Inc', None]
    >>> mask_column(pd.Series(["card 4111 1111 1111 1234 declined"]), "text",
    ...             "prosecutor").tolist()
    ['card ••••1234 declined']
    """
    cls = "person" if rule == "vendor" else rule
    if role in CLEAR[cls]:
        if cls == "text" and role not in CLEAR["account"]:
            return values.map(_mask_numbers)
        return values
    present = values.notna() & values.astype(str).ne("")
    if rule == "account":
        return values.map(mask_account)
    if rule == "vendor":
        return values.where(~(present & values.map(looks_like_person)), NAME_MASK)
    return values.where(~present, TEXT_MASK if cls == "text" else NAME_MASK)


def mask_value(value: object, rule: str, role: str) -> object:
    """One value as :func:`mask_column` masks it."""
    return mask_column(pd.Series([value], dtype=object), rule, role).iloc[0]
