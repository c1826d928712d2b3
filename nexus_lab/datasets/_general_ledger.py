"""A seeded general ledger (journal entries) of several unlike businesses, with the
misstatements journal-entry tests look for planted on request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nexus_lab.datasets._reconciliation import _SUFFIX, _WORDS_A, _WORDS_B

__all__ = ["GL_MISSTATEMENTS", "GL_PROFILES", "synth_general_ledger"]

#: The businesses :func:`synth_general_ledger` can make.
GL_PROFILES = ("small", "group", "services", "misstated")

#: The kinds of misstatement :func:`synth_general_ledger` plants (``truth["kind"]``).
GL_MISSTATEMENTS = (
    "unbalanced", "gap", "duplicate_number", "round_amount", "weekend", "holiday",
    "backdated", "below_limit", "rare_account", "unusual_pair", "unusual_user",
    "unusual_hour", "keyword", "period_end", "large_amount", "self_approved",
)
_DAY = 86_400
_MONTHS = np.array("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())
# what a planted entry's description may say (each a red flag in the journal-entry tests)
_RED_FLAGS = np.array([
    "adjustment per CFO instruction", "plug to balance", "manual override", "topside adjustment",
    "as instructed - no support", "do not reverse", "adjust to target", "per CEO request",
])
# account pairs of the planted entries' base: (debit tag, credit tag)
_PLANT_BASE = (("accrued_exp", "accrued"), ("ar", "revenue"), ("prepaid", "accrued_exp"),
               ("inventory", "cogs"), ("professional", "ap"))
# kinds one entry cannot carry together (a holiday in the last days of the period is rare)
_CLASH = {"holiday": ("backdated", "period_end"), "period_end": ("holiday",),
          "round_amount": ("below_limit",)}
# secondary red flags a planted entry may carry, in groups that exclude each other
_SECONDARY = (("round_amount",), ("weekend", "holiday"), ("unusual_hour",), ("keyword",),
              ("self_approved",), ("period_end",))


# ------------------------------------------------------------------------------ profiles


@dataclass(frozen=True)
class _Template:
    """One kind of entry: its source, accounts, amounts, calendar and people."""

    name: str
    source: str  # canonical: manual, AP, AR, payroll, system, billing, expenses, IC
    share: float  # of the entries
    debit: dict[str, float]  # account tags and weights
    credit: dict[str, float]
    amount: tuple[float, float]  # median (currency units) and log-sd of the entry
    words: tuple[str, ...]  # description pattern (see _describe)
    lines: tuple[int, int, int, int] = (1, 1, 1, 1)  # debit lines lo..hi, credit lines lo..hi
    when: str = "workday"  # workday, anyday, month_end, month_start, payday, weekly
    lag: tuple[int, int] = (0, 2)  # days from the entry's date to its posting
    role: str = "accountant"
    approved: bool = False
    round_share: float = 0.0  # of entries whose amount is a round estimate or a fixed fee
    round_unit: int = 1000


@dataclass(frozen=True)
class _Profile:
    name: str
    period_end: str
    weekend: tuple[int, ...]
    holidays: str  # us, us_observed, de, gulf
    observed: str  # the holidays the business takes off (a subset, its own calendar)
    hours: tuple[float, float]  # the working day of people who post
    late: float  # share of human postings in the evening (closing crunch)
    weekend_noise: float  # share of human postings made on a weekend day anyway
    holiday_noise: float
    self_approve: float  # share of approved entries approved by their poster
    limits: tuple[int, ...]
    ids: str  # int, single, journal, entity_journal
    sources: dict[str, str]
    entities: tuple[tuple[str, str, float, float], ...]  # code, currency, units per USD, share
    users: dict[str, int]  # role: count
    departments: tuple[str, ...]
    templates: tuple[_Template, ...]
    id_gaps: float = 0.0  # share of numbers skipped by the numbering itself
    misstate: float = 0.0


# The chart's accounts by tag: (tag, name, type, per department)
_CHART = (
    ("cash", "Cash - operating account", "asset", False),
    ("cash2", "Cash - payroll account", "asset", False),
    ("petty_cash", "Petty cash", "asset", False),
    ("ar", "Accounts receivable", "asset", False),
    ("allowance", "Allowance for doubtful accounts", "asset", False),
    ("unbilled", "Unbilled work in progress", "asset", False),
    ("inventory", "Inventory", "asset", False),
    ("prepaid", "Prepaid expenses", "asset", False),
    ("tax_receivable", "Input tax receivable", "asset", False),
    ("fixed_assets", "Property and equipment", "asset", False),
    ("acc_depreciation", "Accumulated depreciation", "asset", False),
    ("ic_receivable", "Intercompany receivable", "asset", False),
    ("suspense", "Suspense account", "asset", False),
    ("officer_loans", "Loans to officers", "asset", False),
    ("clearing", "Miscellaneous clearing", "asset", False),
    ("related_party", "Receivable from related parties", "asset", False),
    ("deposits", "Deposits paid", "asset", False),
    ("ap", "Accounts payable", "liability", False),
    ("accrued", "Accrued liabilities", "liability", False),
    ("payroll_liab", "Payroll liabilities", "liability", False),
    ("tax_payable", "Sales tax payable", "liability", False),
    ("deferred_revenue", "Deferred revenue", "liability", False),
    ("loans", "Bank loans", "liability", False),
    ("income_tax_payable", "Income tax payable", "liability", False),
    ("ic_payable", "Intercompany payable", "liability", False),
    ("share_capital", "Share capital", "equity", False),
    ("retained_earnings", "Retained earnings", "equity", False),
    ("dividends", "Dividends declared", "equity", False),
    ("revenue", "Revenue", "revenue", True),
    ("other_income", "Other income", "revenue", False),
    ("sundry_income", "Sundry income", "revenue", False),
    ("disposal_gain", "Gain on disposal of assets", "revenue", False),
    ("returns", "Sales returns and allowances", "revenue", False),
    ("ic_revenue", "Intercompany revenue", "revenue", False),
    ("fx_gain", "Foreign exchange gains", "revenue", False),
    ("cogs", "Cost of goods sold", "expense", False),
    ("salaries", "Salaries and wages", "expense", True),
    ("payroll_taxes", "Payroll taxes", "expense", True),
    ("benefits", "Employee benefits", "expense", True),
    ("rent", "Rent", "expense", False),
    ("utilities", "Utilities", "expense", False),
    ("supplies", "Office supplies", "expense", True),
    ("travel", "Travel and entertainment", "expense", True),
    ("marketing", "Marketing", "expense", True),
    ("professional", "Professional fees", "expense", False),
    ("insurance", "Insurance", "expense", False),
    ("depreciation", "Depreciation", "expense", True),
    ("bank_charges", "Bank charges", "expense", False),
    ("misc_expense", "Miscellaneous expense", "expense", False),
    ("interest", "Interest expense", "expense", False),
    ("income_tax", "Income tax expense", "expense", False),
    ("ic_expense", "Intercompany charges", "expense", False),
    ("fx_loss", "Foreign exchange losses", "expense", False),
    ("subcontractors", "Subcontractors", "expense", True),
    ("software", "Software subscriptions", "expense", True),
    ("repairs", "Repairs and maintenance", "expense", True),
    ("freight", "Freight", "expense", False),
    ("accrued_exp", "Accrued expenses - other", "expense", True),
    ("donations", "Donations", "expense", False),
    ("penalties", "Fines and penalties", "expense", False),
    ("executive", "Executive expenses", "expense", False),
)
# accounts nobody posts to in the ordinary course
_DORMANT = ("suspense", "officer_loans", "clearing", "related_party", "deposits",
            "sundry_income", "disposal_gain", "donations", "penalties", "executive")


def _T(name, source, share, debit, credit, amount, words, **kw) -> _Template:
    return _Template(name, source, share, debit, credit, amount, tuple(words.split("|")), **kw)


# Entry kinds most businesses share (amounts in US dollars; a profile scales them)
def _common(scale: float, manual: float) -> tuple[_Template, ...]:
    s = scale
    return (
        _T("ap_invoice", "AP", 0.22, {"supplies": 3, "utilities": 1, "professional": 1,
                                       "software": 1, "repairs": 1, "freight": 1, "travel": 1,
                                       "marketing": 1}, {"ap": 1}, (900 * s, 1.1),
           "Invoice|INV|vendor", lines=(1, 3, 1, 1), lag=(1, 12), role="ap"),
        _T("ap_payment", "AP", 0.16, {"ap": 1}, {"cash": 1}, (1500 * s, 1.1),
           "Payment|CHQ|vendor", lag=(0, 1), role="ap"),
        _T("ar_invoice", "AR", 0.20, {"ar": 1}, {"revenue": 5, "tax_payable": 1},
           (1800 * s, 1.0), "Sales invoice|SI|customer", lines=(1, 1, 1, 2), lag=(0, 1),
           role="ar"),
        _T("ar_receipt", "AR", 0.14, {"cash": 1}, {"ar": 1}, (2200 * s, 1.0),
           "Receipt|RCT|customer", lag=(0, 2), role="ar"),
        _T("payroll", "payroll", 0.03, {"salaries": 6, "payroll_taxes": 2, "benefits": 1},
           {"cash2": 2, "payroll_liab": 1}, (40_000 * s, 0.4), "Payroll|period",
           lines=(3, 8, 2, 3), when="payday", lag=(0, 1), role="payroll", approved=True),
        _T("depreciation", "system", 0.02, {"depreciation": 1}, {"acc_depreciation": 1},
           (3_000 * s, 0.8), "Depreciation|month", lines=(1, 4, 1, 1), when="month_end",
           lag=(0, 1), role="batch"),
        _T("bank_fees", "system", 0.02, {"bank_charges": 1}, {"cash": 1}, (45 * s, 0.9),
           "Bank charges|month", when="anyday", lag=(0, 1), role="batch"),
        _T("accrual", "manual", 0.06 * manual, {"accrued_exp": 3, "professional": 1,
                                                 "utilities": 1}, {"accrued": 1},
           (5_000 * s, 1.2), "Accrual|what|month", lines=(1, 2, 1, 1), when="month_end",
           lag=(1, 6), approved=True, round_share=0.35),
        _T("reversal", "manual", 0.04 * manual, {"accrued": 1}, {"accrued_exp": 3,
                                                                 "professional": 1},
           (5_000 * s, 1.2), "Reversal of accrual|what|month", when="month_start",
           lag=(0, 4), approved=True, round_share=0.35),
        _T("reclass", "manual", 0.03 * manual, {"supplies": 1, "travel": 1, "marketing": 1,
                                                 "software": 1, "repairs": 1},
           {"supplies": 1, "travel": 1, "marketing": 1, "software": 1, "professional": 1},
           (1_200 * s, 1.3), "Reclass|what|to|what2", lag=(0, 20), approved=True),
        _T("prepaid", "manual", 0.015 * manual, {"insurance": 2, "software": 1, "rent": 1},
           {"prepaid": 1}, (2_500 * s, 0.9), "Amortise prepaid|what|month", when="month_end",
           lag=(1, 5), approved=True),
        _T("rent", "AP", 0.01, {"rent": 1}, {"ap": 1}, (8_500 * s, 0.5), "Rent|month",
           when="month_start", lag=(0, 3), role="ap", round_share=0.9, round_unit=500),
        _T("tax", "manual", 0.004, {"income_tax": 1}, {"income_tax_payable": 1},
           (30_000 * s, 0.6), "Income tax provision|month", when="quarter_end", lag=(5, 15),
           approved=True, round_share=0.6, role="controller"),
        _T("interest", "system", 0.006, {"interest": 1}, {"cash": 1}, (2_000 * s, 0.3),
           "Loan interest|month", when="month_end", lag=(0, 1), role="batch"),
        _T("year_end", "manual", 0.003, {"accrued_exp": 2, "professional": 1, "allowance": 1,
                                          "inventory": 1},
           {"accrued": 2, "allowance": 1, "cogs": 1}, (12_000 * s, 1.0),
           "Year-end adjustment|what", when="period_end", lag=(4, 25), approved=True,
           role="controller", round_share=0.4),
        # seldom but ordinary: the accounts and pairs a year touches a few times
        _T("returns", "AR", 0.01, {"returns": 1}, {"ar": 1}, (600 * s, 1.0),
           "Credit note|SI|customer", lag=(0, 2), role="ar"),
        _T("petty_cash", "manual", 0.004, {"petty_cash": 1}, {"cash": 1}, (300 * s, 0.3),
           "Petty cash top-up|month", lag=(0, 2), round_share=0.8, round_unit=100),
        _T("loan", "manual", 0.0006, {"cash": 1}, {"loans": 1}, (250_000 * s, 0.5),
           "Loan drawdown|month", lag=(0, 2), approved=True, role="controller",
           round_share=1.0, round_unit=10_000),
        _T("dividend", "manual", 0.0003, {"retained_earnings": 1}, {"dividends": 1},
           (100_000 * s, 0.5), "Dividend declared|month", when="quarter_end", lag=(0, 10),
           approved=True, role="controller", round_share=1.0, round_unit=10_000),
        _T("suspense", "manual", 0.0003, {"cash": 1}, {"suspense": 1}, (700 * s, 1.0),
           "Unidentified receipt|month", lag=(0, 3), approved=True),
    )


def _replace(templates: tuple[_Template, ...], **changes: dict[str, Any]) -> tuple:
    out = []
    for t in templates:
        if t.name in changes:
            if changes[t.name] is None:
                continue
            t = _Template(**{**t.__dict__, **changes[t.name]})
        out.append(t)
    return tuple(out)


_US_SOURCES = {s: s for s in ("manual", "AP", "AR", "payroll", "system", "IC")}

_PROFILES = {
    # a small trading company: a handful of people, few accounts, a shop open on Saturdays
    "small": _Profile(
        "small", "2025-12-31", (5, 6), "us", "us_observed", (8.5, 17.5), 0.004, 0.03, 0.05,
        0.01, (5_000,), "int", _US_SOURCES, (("US01", "USD", 1.0, 1.0),),
        {"ap": 1, "ar": 1, "payroll": 1, "accountant": 1, "controller": 1, "approver": 1,
         "batch": 1}, ("",),
        _replace(_common(0.6, 1.6), ar_invoice={"when": "shopday"}, interest=None),
    ),
    # a mid-size manufacturer (its plants are what the tests are tuned on)
    "misstated": _Profile(
        "misstated", "2025-09-30", (5, 6), "us", "us", (6.5, 17.0), 0.006, 0.003, 0.01,
        0.003, (10_000, 100_000), "single", _US_SOURCES, (("US10", "USD", 1.0, 1.0),),
        {"ap": 4, "ar": 3, "payroll": 2, "accountant": 5, "cost": 2, "controller": 2,
         "approver": 2, "batch": 2}, ("production", "sales", "admin", "research"),
        (
            *_common(1.0, 1.0),
            _T("goods_receipt", "system", 0.08, {"inventory": 1}, {"ap": 1}, (4000, 1.0),
               "Goods receipt|PO", lines=(1, 3, 1, 1), lag=(0, 0), role="batch"),
            _T("cogs", "system", 0.05, {"cogs": 1}, {"inventory": 1}, (6000, 0.9),
               "Cost of sales|month", when="workday", lag=(0, 0), role="batch"),
            _T("cost_adj", "manual", 0.01, {"inventory": 1, "cogs": 1}, {"cogs": 1, "inventory": 1},
               (3000, 1.1), "Inventory count adjustment|month", when="month_end", lag=(1, 4),
               role="cost", approved=True),
        ),
        misstate=0.02,
    ),
    # a group of eight companies in five currencies, with intercompany charges and a
    # consolidation entity (holidays of the head office; each entity has its own)
    "group": _Profile(
        "group", "2024-12-31", (5, 6), "de", "own", (7.5, 18.5), 0.006, 0.002, 0.005,
        0.002, (10_000, 50_000, 250_000), "entity_journal", _US_SOURCES,
        (("DE01", "EUR", 0.92, 0.26), ("FR01", "EUR", 0.92, 0.12), ("NL01", "EUR", 0.92, 0.08),
         ("GB01", "GBP", 0.79, 0.14), ("US01", "USD", 1.0, 0.20), ("JP01", "JPY", 150.0, 0.10),
         ("CH01", "CHF", 0.88, 0.07), ("CONS", "EUR", 0.92, 0.03)),
        {"ap": 10, "ar": 8, "payroll": 4, "accountant": 16, "controller": 8, "approver": 6,
         "batch": 3, "group": 4},
        ("sales", "marketing", "research", "operations", "finance", "it", "hr", "legal",
         "logistics", "quality", "procurement", "facilities"),
        (
            *_common(3.0, 0.8),
            _T("ic_charge", "IC", 0.03, {"ic_receivable": 1}, {"ic_revenue": 1}, (60000, 0.9),
               "IC management fee|entity2|month", when="month_end", lag=(1, 6), role="group",
               approved=True, round_share=0.5, round_unit=1000),
            _T("ic_cost", "IC", 0.03, {"ic_expense": 1}, {"ic_payable": 1}, (60000, 0.9),
               "IC recharge|entity2|month", when="month_end", lag=(1, 8), role="group",
               approved=True, round_share=0.5, round_unit=1000),
            _T("fx_reval", "system", 0.02, {"fx_loss": 1, "ar": 1, "ic_receivable": 1},
               {"fx_gain": 1, "ap": 1, "ic_payable": 1}, (3000, 1.4), "FX revaluation|month",
               lines=(1, 3, 1, 3), when="month_end", lag=(0, 1), role="batch"),
            _T("consolidation", "manual", 0.004,
               {"ic_payable": 1, "ic_revenue": 1, "retained_earnings": 1},
               {"ic_receivable": 1, "ic_expense": 1}, (400000, 1.0),
               "Consolidation elimination|entity2|month", lines=(1, 2, 1, 2), when="month_end",
               lag=(3, 20), role="group", approved=True, round_share=0.2),
        ),
        id_gaps=0.0005,
    ),
    # a professional-services firm in the Gulf: Friday and Saturday weekend, a June year
    # end, fees billed from timesheets, journals by their codes, late working days
    "services": _Profile(
        "services", "2025-06-30", (4, 5), "gulf", "gulf", (9.0, 20.5), 0.02, 0.01, 0.01,
        0.004, (2_500, 25_000), "journal",
        {"manual": "GJ", "AP": "PJ", "AR": "CR", "payroll": "PR", "system": "SYS",
         "billing": "BIL", "expenses": "EXP"},
        (("AE01", "AED", 3.67, 1.0),),
        {"ap": 2, "ar": 1, "billing": 3, "payroll": 1, "accountant": 3, "controller": 1,
         "approver": 2, "batch": 1, "staff": 40},
        ("audit", "tax", "advisory", "legal", "consulting"),
        (
            *_replace(_common(3.67, 1.3), ar_invoice=None, rent={"round_unit": 1000},
                      ap_invoice={"debit": {"software": 2, "professional": 2,
                                            "subcontractors": 3, "travel": 2, "utilities": 1}}),
            _T("billing", "billing", 0.22, {"ar": 2, "unbilled": 1}, {"revenue": 1}, (9000, 1.1),
               "Fee note|FN|customer|practice", lines=(1, 1, 1, 3), lag=(0, 1), role="billing"),
            _T("wip", "manual", 0.02, {"unbilled": 1}, {"revenue": 1}, (30000, 1.0),
               "WIP recognition|practice|month", lines=(1, 1, 1, 4), when="month_end", lag=(2, 8),
               approved=True, role="controller", round_share=0.25),
            _T("claims", "expenses", 0.08, {"travel": 3, "supplies": 1, "software": 1},
               {"payroll_liab": 1}, (420, 0.9), "Expense claim|staff", lines=(1, 4, 1, 1),
               lag=(2, 20), role="staff"),
        ),
    ),
}


# ------------------------------------------------------------------------------ calendar


def _holiday_days(kind: str, lo: int, hi: int) -> np.ndarray:
    """Days (since 1970) of a calendar's holidays between day ``lo`` and ``hi``."""
    start, end = (np.datetime64(int(d), "D") for d in (lo, hi))
    if kind in ("us", "us_observed"):
        from pandas.tseries.holiday import USFederalHolidayCalendar

        cal = USFederalHolidayCalendar()
        rules = cal.rules
        if kind == "us_observed":  # a small business works on the minor ones
            rules = [r for r in rules if r.name in ("New Year's Day", "Memorial Day",
                                                    "Independence Day", "Labor Day",
                                                    "Thanksgiving Day", "Christmas Day")]
        days = pd.DatetimeIndex([])
        for rule in rules:
            days = days.append(rule.dates(str(start), str(end), return_name=False))
        return np.unique(days.values.astype("datetime64[D]").astype(np.int64))
    fixed = {
        "de": ["2024-01-01", "2024-03-29", "2024-04-01", "2024-05-01", "2024-05-09",
               "2024-05-20", "2024-10-03", "2024-12-25", "2024-12-26", "2025-01-01",
               "2025-04-18", "2025-04-21"],
        "gulf": ["2024-09-23", "2025-02-22", "2025-03-30", "2025-03-31", "2025-04-01",
                 "2025-04-02", "2025-06-05", "2025-06-06", "2025-06-07", "2025-06-08",
                 "2025-06-09", "2024-06-16", "2024-06-17", "2024-06-18"],
    }[kind]
    days = np.array(fixed, dtype="datetime64[D]").astype(np.int64)
    return np.sort(days[(days >= lo) & (days <= hi)])


class _Calendar:
    """Working days of one business around its financial year."""

    def __init__(self, prof: _Profile) -> None:
        end = np.datetime64(prof.period_end, "D")
        start = (end.astype("datetime64[M]") - 11).astype("datetime64[D]")
        self.start, self.end = int(start.astype(np.int64)), int(end.astype(np.int64))
        self.lo, self.hi = self.start - 70, self.end + 160
        days = np.arange(self.lo, self.hi)
        self.weekday = (days + 3) % 7  # 1970-01-01 was a Thursday
        self.weekend_mask = np.isin(self.weekday, prof.weekend)
        self.holidays = _holiday_days(prof.holidays, self.lo, self.hi)
        self.observed = (self.holidays if prof.observed in ("own", prof.holidays)
                         else _holiday_days(prof.observed, self.lo, self.hi))
        off = self.weekend_mask | np.isin(days, self.observed)
        self.next_work = self._next(~off)
        self.next_weekday = self._next(~self.weekend_mask)
        inside = (days >= self.start) & (days <= self.end)
        self.workdays = days[inside & ~off]
        self.alldays = days[inside]
        shop = inside & ~np.isin(days, self.observed) & (self.weekday != prof.weekend[-1])
        self.shopdays = days[shop]
        months = np.arange(start.astype("datetime64[M]"), end.astype("datetime64[M]") + 1)
        self.month_starts = months.astype("datetime64[D]").astype(np.int64)
        self.month_ends = (months + 1).astype("datetime64[D]").astype(np.int64) - 1
        self.quarter_ends = self.month_ends[2::3]
        fridays = days[inside & (self.weekday == (prof.weekend[0] - 1) % 7)]
        self.paydays = np.unique(np.concatenate([fridays[1::2], self.month_ends]))

    def _next(self, ok: np.ndarray) -> np.ndarray:
        good = np.flatnonzero(ok)
        pos = np.minimum(np.searchsorted(good, np.arange(len(ok))), len(good) - 1)
        return good[pos] + self.lo

    def at(self, table: np.ndarray, days: np.ndarray) -> np.ndarray:
        return table[np.clip(days - self.lo, 0, len(table) - 1)]

    def dates(self, when: str, n: int, rng: np.random.Generator) -> np.ndarray:
        pool = {"workday": self.workdays, "anyday": self.alldays, "shopday": self.shopdays,
                "month_end": self.month_ends, "month_start": self.month_starts,
                "quarter_end": self.quarter_ends, "payday": self.paydays,
                "period_end": np.array([self.end])}[when]
        return pool[rng.integers(0, len(pool), n)]


# ------------------------------------------------------------------------------ the build


@dataclass
class _Book:
    """Entries (one value each) and lines (one value each), as arrays."""

    # entries
    template: np.ndarray
    source: np.ndarray  # index into the profile's source labels
    entity: np.ndarray
    date: np.ndarray  # days
    posted: np.ndarray  # seconds since 1970
    user: np.ndarray  # index into users
    approver: np.ndarray  # -1: none
    text: pa.Array
    planted: np.ndarray  # bool
    # lines
    entry: np.ndarray
    account: np.ndarray
    cents: np.ndarray

    @staticmethod
    def join(parts: list[_Book]) -> _Book:
        """The entries of ``parts`` one after the other."""
        base = np.cumsum([0] + [len(p.template) for p in parts[:-1]])
        names = ("template", "source", "entity", "date", "posted", "user", "approver",
                 "planted", "account", "cents")
        cols = {k: np.concatenate([getattr(p, k) for p in parts]) for k in names}
        return _Book(**cols, text=pa.concat_arrays([p.text for p in parts]),
                     entry=np.concatenate([p.entry + b for p, b in zip(parts, base,
                                                                       strict=True)]))


def _chart(prof: _Profile) -> pd.DataFrame:
    """The chart of accounts: account, name, type, tag (numbers in the profile's style)."""
    base = {"asset": 1000, "liability": 2000, "equity": 3000, "revenue": 4000,
            "expense": 6000}
    seen = dict.fromkeys(base, 0)
    rows = []
    for tag, name, kind, per_dept in _CHART:
        seen[kind] += 10
        number = base[kind] + seen[kind]
        variants = [(k, f"{name} - {d}") for k, d in enumerate(prof.departments)] if (
            per_dept and len(prof.departments) > 1) else [(0, name)]
        if tag == "cash" and len(prof.entities) > 1:  # a bank account per company
            variants = [(k, f"{name} - {e[0]}") for k, e in enumerate(prof.entities)]
        for k, label in variants:
            if prof.name == "group":
                account = f"{number}{k:02d}"
            elif prof.name == "services":
                account = f"{number // 1000}.{number % 1000 + k:03d}"
            else:
                account = str(number + k)
            rows.append((account, label, kind, tag))
    return pd.DataFrame(rows, columns=["account", "name", "type", "tag"])


def _users(prof: _Profile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """User names, their roles and their entities ("" for all)."""
    first = "a b c d e f g h j k l m n p r s t w".split()
    last = ("smith garcia chen patel mueller rossi kim novak silva dubois tanaka jones "
            "brown lee martin weber costa ahmed hughes larsen").split()
    names, roles, entities = [], [], []
    for role, count in prof.users.items():
        for k in range(count):
            if role == "batch":
                name = ("SYSTEM", "BATCH", "INTERFACE")[k % 3]
            elif role == "staff":
                name = f"staff{k + 1:03d}"
            else:
                i = len(names)
                name = f"{first[(i * 7) % len(first)]}{last[(i * 3 + k) % len(last)]}"
                while name in names:
                    name += str(k)
            names.append(name)
            roles.append(role)
            ents = [e[0] for e in prof.entities]
            local = len(ents) > 1 and role in ("ap", "ar", "payroll", "accountant", "controller")
            entities.append(ents[k % len(ents)] if local else "")
    return np.array(names), np.array(roles), np.array(entities)


def _pick(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    p = np.asarray(weights, float)
    return np.searchsorted(np.cumsum(p / p.sum()), rng.random(n), side="right").clip(
        0, len(p) - 1)


def _pool(chart: pd.DataFrame, tags: dict[str, float], rng: np.random.Generator,
          ) -> tuple[np.ndarray, np.ndarray]:
    """Accounts of some tags and how often each is used (Zipf within a tag)."""
    idx, w = [], []
    for tag, weight in tags.items():
        hits = np.flatnonzero(chart["tag"].to_numpy() == tag)
        if not len(hits):
            continue
        z = 1.0 / np.arange(1, len(hits) + 1) ** 0.9
        z = rng.permutation(z)
        idx.append(hits)
        w.append(weight * z / z.sum())
    return np.concatenate(idx), np.concatenate(w)


def _split(rng: np.random.Generator, totals: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Split each total (cents) into ``counts`` positive parts that sum to it exactly."""
    owner = np.repeat(np.arange(len(totals)), counts)
    share = rng.gamma(2.0, size=len(owner))
    sums = np.bincount(owner, weights=share, minlength=len(totals))
    part = np.floor(totals[owner] * share / sums[owner]).astype(np.int64)
    first = np.r_[0, np.cumsum(counts)[:-1]]
    part[first] += totals - np.bincount(owner, weights=part, minlength=len(totals)).astype(
        np.int64)
    return part


def _text(*parts: Any) -> pa.Array:
    arrays = [p if isinstance(p, pa.Array) else pa.scalar(p) for p in parts]
    return pc.binary_join_element_wise(*arrays, " ")


def _names(rng: np.random.Generator, n: int) -> np.ndarray:
    a = np.array(_WORDS_A)[rng.integers(0, len(_WORDS_A), n)]
    b = np.array(_WORDS_B)[rng.integers(0, len(_WORDS_B), n)]
    return np.char.add(np.char.add(np.char.add(a, " "), b), _SUFFIX[rng.integers(0, 4, n)])


class _Builder:
    def __init__(self, prof: _Profile, n_lines: int, rng: np.random.Generator) -> None:
        self.prof, self.rng = prof, rng
        self.cal = _Calendar(prof)
        self.chart = _chart(prof)
        self.users, self.roles, self.user_entity = _users(prof)
        self.entities = np.array([e[0] for e in prof.entities])
        self.fx = np.array([e[2] for e in prof.entities])
        used = ["manual"] + [t.source for t in prof.templates]
        self.labels = np.array(list(dict.fromkeys(prof.sources[u] for u in used)))
        self.source_of = {k: int(np.flatnonzero(self.labels == v)[0])
                          for k, v in prof.sources.items() if v in self.labels}
        mean_lines = sum(t.share * (sum(t.lines) / 2) for t in prof.templates) / sum(
            t.share for t in prof.templates)
        self.n_entries = max(int(n_lines / mean_lines), 50)
        size = int(np.clip(self.n_entries / 40, 30, 20_000))
        self.vendors = _names(rng, size)
        self.customers = _names(rng, size)
        self.cut = np.flatnonzero(self.chart["tag"].isin(_DORMANT).to_numpy())

    # -- people and times ---------------------------------------------------------------

    def who(self, role: str, entity: np.ndarray) -> np.ndarray:
        """A user of ``role`` for each entry (one of the entity's own where it has some)."""
        out = np.empty(len(entity), np.int64)
        for e in np.unique(entity):
            at = np.flatnonzero(entity == e)
            pool = np.flatnonzero((self.roles == role) & np.isin(
                self.user_entity, [self.entities[e], ""]))
            if not len(pool):
                pool = np.flatnonzero(self.roles == role)
            w = 1.0 / np.arange(1, len(pool) + 1) ** 0.7
            out[at] = pool[_pick(self.rng, w, len(at))]
        return out

    def approver(self, user: np.ndarray, entity: np.ndarray) -> np.ndarray:
        pick = self.who("approver", entity)
        alt = self.who("controller", entity)
        pick = np.where(pick == user, alt, pick)
        pick = np.where(pick == user, self.who("approver", entity), pick)
        clash = pick == user
        if clash.any():
            pool = np.flatnonzero(self.roles == "approver")
            pick[clash] = pool[(np.searchsorted(pool, user[clash]) + 1) % len(pool)]
        own = self.rng.random(len(user)) < self.prof.self_approve
        return np.where(own, user, pick)

    def posting(self, date: np.ndarray, lag: tuple[int, int], batch: np.ndarray,
                entity: np.ndarray) -> np.ndarray:
        """When each entry was posted (seconds): people on working days and hours, batches
        at night on any day."""
        rng, cal, prof = self.rng, self.cal, self.prof
        n = len(date)
        day = date + rng.integers(lag[0], lag[1] + 1, n)
        human = ~batch
        shifted = cal.at(cal.next_work, day)
        # some entities of a group work on the head office's holidays
        if len(self.entities) > 1:
            works = np.isin(self.entities[entity], ["US01", "JP01", "GB01"]) & (
                rng.random(n) < 0.7)
            shifted = np.where(works, cal.at(cal.next_weekday, day), shifted)
        noisy = rng.random(n) < prof.holiday_noise
        shifted = np.where(noisy, cal.at(cal.next_weekday, day), shifted)
        day = np.where(human, shifted, day)
        weekend = human & (rng.random(n) < prof.weekend_noise)
        to_weekend = (prof.weekend[0] - cal.at(cal.weekday, day)) % 7
        day = np.where(weekend, day + to_weekend + rng.integers(0, len(prof.weekend), n), day)
        lo, hi = prof.hours
        hour = lo + (hi - lo) * rng.beta(2.2, 2.2, n)
        late = rng.random(n) < prof.late
        hour = np.where(late, rng.uniform(hi, 23.5, n), hour)
        hour = np.where(batch, rng.uniform(1.0, 4.0, n), hour)
        return day * _DAY + (hour * 3600).astype(np.int64)

    # -- entries ------------------------------------------------------------------------

    def describe(self, t: _Template, date: np.ndarray, entity: np.ndarray) -> pa.Array:
        rng, n = self.rng, len(date)
        month = (date.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
                 % 12)
        year = (date.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64)
                + 1970)
        period = np.char.add(np.char.add(_MONTHS[month], " "), year.astype(str))
        tags = list(t.debit) + list(t.credit)
        names = np.array([dict((r[0], r[1]) for r in _CHART)[x].lower() for x in tags])
        parts: list[Any] = []
        for word in t.words:
            if word in ("vendor", "customer"):
                pool = self.vendors if word == "vendor" else self.customers
                z = np.minimum(rng.zipf(1.3, n), len(pool)) - 1
                parts.append(pa.array(pool[z]))
            elif word in ("INV", "CHQ", "SI", "RCT", "FN", "PO"):
                parts.append(_text(word, pc.cast(pa.array(rng.integers(1000, 999_999, n)),
                                                 pa.string())))
            elif word in ("month", "period"):
                parts.append(pa.array(period if word == "month" else
                                      date.astype("datetime64[D]").astype(str)))
            elif word in ("what", "what2"):
                parts.append(pa.array(names[rng.integers(0, len(names), n)]))
            elif word == "practice":
                depts = np.array([d for d in self.prof.departments if d] or ["general"])
                parts.append(pa.array(depts[rng.integers(0, len(depts), n)]))
            elif word == "entity2":
                other = (entity + 1 + rng.integers(0, max(len(self.entities) - 2, 1), n)) % len(
                    self.entities)
                parts.append(_text(pa.array(self.entities[entity]), "/",
                                   pa.array(self.entities[other])))
            elif word == "staff":
                parts.append(pa.array(np.char.add("claim ", rng.integers(100, 9999, n)
                                                  .astype(str))))
            else:
                parts.append(word)
        return _text(*parts) if len(parts) > 1 else pa.array(np.full(n, parts[0]))

    def template(self, t: _Template, n: int) -> _Book:
        rng, prof = self.rng, self.prof
        shares = np.array([e[3] for e in prof.entities])
        if t.name == "consolidation":
            entity = np.full(n, len(shares) - 1)
        else:
            keep = shares.copy()
            keep[[i for i, e in enumerate(prof.entities) if e[0] == "CONS"]] = 0
            entity = _pick(rng, keep, n)
        date = self.cal.dates(t.when, n, rng)
        if t.when == "period_end":
            date = date - (rng.random(n) < 0.3) * rng.integers(0, 3, n)
        user = self.who(t.role, entity)
        batch = self.roles[user] == "batch"
        posted = self.posting(date, t.lag, batch, entity)
        approver = self.approver(user, entity) if t.approved else np.full(n, -1)
        # amounts: log-normal around the template's median, in the entity's currency
        units = np.exp(np.log(t.amount[0]) + t.amount[1] * rng.standard_normal(n))
        units = units * self.fx[entity]
        cents = np.maximum(np.rint(units * 100), 100).astype(np.int64)
        if t.round_share:
            rounded = rng.random(n) < t.round_share
            unit = t.round_unit * 100 * np.maximum(np.rint(self.fx[entity]), 1).astype(int)
            cents = np.where(rounded, np.maximum(np.rint(cents / unit), 1).astype(np.int64)
                             * unit, cents)
        if self.fx.max() > 100:  # yen have no cents
            yen = self.fx[entity] > 100
            cents = np.where(yen, np.maximum(np.rint(cents / 100), 1).astype(np.int64) * 100,
                             cents)
        lo_d, hi_d, lo_c, hi_c = t.lines
        nd = rng.integers(lo_d, hi_d + 1, n)
        nc = rng.integers(lo_c, hi_c + 1, n)
        if t.round_share:
            nd = np.where(rounded, 1, nd)
            nc = np.where(rounded, 1, nc)
        debit = _split(rng, cents, nd)
        credit = _split(rng, cents, nc)
        if self.fx.max() > 100:  # yen lines in whole yen
            owner_d = np.repeat(np.arange(n), nd)
            owner_c = np.repeat(np.arange(n), nc)
            debit, credit = (_whole(p, o, yen) for p, o in ((debit, owner_d),
                                                             (credit, owner_c)))
        d_acc, d_w = _pool(self.chart, t.debit, rng)
        c_acc, c_w = _pool(self.chart, t.credit, rng)
        lines_d = d_acc[_pick(rng, d_w, int(nd.sum()))]
        lines_c = c_acc[_pick(rng, c_w, int(nc.sum()))]
        # lines in the order people write them: debits, then credits
        entry = np.concatenate([np.repeat(np.arange(n), nd), np.repeat(np.arange(n), nc)])
        order = np.argsort(entry, kind="stable")
        return _Book(
            template=np.full(n, 0), source=np.full(n, self.source_of[t.source]),
            entity=entity, date=date, posted=posted, user=user, approver=approver,
            text=self.describe(t, date, entity), planted=np.zeros(n, bool),
            entry=entry[order],
            account=np.concatenate([lines_d, lines_c])[order],
            cents=np.concatenate([debit, -credit])[order],
        )

    def build(self) -> _Book:
        prof, rng = self.prof, self.rng
        shares = np.array([t.share for t in prof.templates])
        counts = rng.multinomial(self.n_entries, shares / shares.sum())
        parts = []
        for k, (t, n) in enumerate(zip(prof.templates, counts, strict=True)):
            if n:
                parts.append(self.template(t, int(n)))
                parts[-1].template[:] = k
        return _Book.join(parts)


def _whole(parts: np.ndarray, owner: np.ndarray, yen: np.ndarray) -> np.ndarray:
    """Lines of yen entries in whole yen, still summing to the entry's total."""
    mask = yen[owner]
    if not mask.any():
        return parts
    out = parts.copy()
    whole = np.rint(parts / 100).astype(np.int64) * 100
    out[mask] = whole[mask]
    diff = np.bincount(owner, weights=parts - out, minlength=len(yen)).astype(np.int64)
    first = np.r_[True, owner[1:] != owner[:-1]]
    out[first] += diff[owner[first]]
    return out


# ------------------------------------------------------------------------------ planting

# pairs of accounts no business in these books debits and credits together
_ODD_PAIRS = (("fixed_assets", "revenue"), ("inventory", "share_capital"),
              ("cash", "retained_earnings"), ("ap", "revenue"), ("prepaid", "other_income"),
              ("ar", "accrued"), ("cogs", "ar"), ("loans", "revenue"), ("intangibles", "cash"),
              ("deferred_revenue", "cash"), ("fixed_assets", "accrued_exp"),
              ("ar", "payroll_liab"))


def _limits(prof: _Profile) -> dict[str, list[int]]:
    """Approval limits per currency (round numbers in each)."""
    out = {}
    for _code, currency, fx, _share in prof.entities:
        scale = 150 if fx > 100 else (4 if fx > 3 else 1)
        out[currency] = [limit * scale for limit in prof.limits]
    return out


class _Planter:
    """Plants every kind of misstatement on a clean book and records the truth."""

    def __init__(self, b: _Builder, book: _Book, rate: float) -> None:
        self.b, self.book, self.rng = b, book, b.rng
        n_clean = len(book.template)
        self.per_kind = max(3, round(rate * n_clean / len(GL_MISSTATEMENTS)))
        self.kinds = list(GL_MISSTATEMENTS)
        cal = b.cal
        days = np.arange(cal.lo, cal.hi)
        off = cal.weekend_mask | np.isin(days, cal.holidays) | np.isin(days, cal.observed)
        self.next_clean = cal._next(~off)

    def clean_day(self, day: np.ndarray) -> np.ndarray:
        return self.b.cal.at(self.next_clean, day)

    def new_entries(self) -> tuple[_Book, np.ndarray]:
        """Manual entries of an accountant, each with its kinds (a boolean matrix)."""
        b, rng, prof = self.b, self.rng, self.b.prof
        new_kinds = [k for k in self.kinds if k not in ("unbalanced", "gap")]
        primary = np.repeat(np.arange(len(new_kinds)), self.per_kind)
        n = len(primary)
        kinds = np.zeros((n, len(self.kinds)), bool)
        col = {k: i for i, k in enumerate(self.kinds)}
        kinds[np.arange(n), [col[new_kinds[p]] for p in primary]] = True
        first = np.array(new_kinds)[primary]
        no_extra = np.isin(first, ["duplicate_number"])
        for group in _SECONDARY:
            take = (rng.random(n) < 0.12) & ~no_extra & ~np.isin(first, group)
            member = np.array(group)[rng.integers(0, len(group), n)]
            for m, others in _CLASH.items():
                take &= ~((member == m) & kinds[:, [col[o] for o in others]].any(axis=1))
            for m in group:
                kinds[take & (member == m), col[m]] = True
        # the base: an ordinary-looking manual entry in the middle of the period
        shares = np.array([e[3] for e in prof.entities])
        shares[[i for i, e in enumerate(prof.entities) if e[0] == "CONS"]] = 0
        entity = _pick(rng, shares, n)
        cal = b.cal
        date = cal.workdays[rng.integers(0, max(len(cal.workdays) - 10, 1), n)]
        user = b.who("accountant", entity)
        approver = b.approver(user, entity)
        approver = np.where(approver == user, b.who("controller", entity), approver)
        day = self.clean_day(date + rng.integers(0, 3, n))
        hour = prof.hours[0] + 1 + (prof.hours[1] - prof.hours[0] - 2) * rng.random(n)
        pair = rng.integers(0, len(_PLANT_BASE), n)
        debit = self.account([_PLANT_BASE[p][0] for p in range(len(_PLANT_BASE))], pair)
        credit = self.account([_PLANT_BASE[p][1] for p in range(len(_PLANT_BASE))], pair)
        units = np.exp(np.log(6_000) + 0.8 * rng.standard_normal(n)) * b.fx[entity]
        cents = np.rint(units * 100).astype(np.int64) + rng.integers(1, 99, n)
        accrual = next(t for t in prof.templates if t.name == "accrual")
        text = b.describe(accrual, date, entity)
        plant = _Book(template=np.full(n, -1), source=np.full(n, b.source_of["manual"]),
                      entity=entity, date=date, posted=day * _DAY + (hour * 3600).astype(int),
                      user=user, approver=approver, text=text, planted=np.ones(n, bool),
                      entry=np.repeat(np.arange(n), 2), account=np.c_[debit, credit].ravel(),
                      cents=np.c_[cents, -cents].ravel())
        self.apply(plant, kinds, col)
        return plant, kinds

    def account(self, tags: list[str], which: np.ndarray) -> np.ndarray:
        """An account of tag ``tags[which]`` for each entry (its first department's)."""
        chart_tags = self.b.chart["tag"].to_numpy()
        first = np.array([np.flatnonzero(chart_tags == t)[0] if (chart_tags == t).any()
                          else np.flatnonzero(chart_tags == "misc_expense")[0] for t in tags])
        return first[which]

    def apply(self, p: _Book, kinds: np.ndarray, col: dict[str, int]) -> None:
        b, rng, cal, prof = self.b, self.rng, self.b.cal, self.b.prof
        n = len(p.date)

        def has(kind: str) -> np.ndarray:
            return kinds[:, col[kind]]

        day = p.posted // _DAY
        secs = p.posted % _DAY
        cents = p.cents[0::2].copy()
        debit, credit = p.account[0::2].copy(), p.account[1::2].copy()
        currency = np.array([e[1] for e in prof.entities])[p.entity]
        # dates first, then postings
        m = has("period_end")
        p.date[m] = cal.end - rng.integers(0, 3, m.sum())
        day[m] = np.minimum(self.clean_day(p.date[m]), np.maximum(p.date[m], cal.end))
        m = has("backdated")
        p.date[m] = np.where(has("period_end")[m], p.date[m], cal.end - rng.integers(0, 10,
                                                                                     m.sum()))
        day[m] = self.clean_day(cal.end + rng.integers(15, 75, m.sum()))
        m = has("holiday")
        inside = cal.holidays[(cal.holidays > cal.start + 5) & (cal.holidays <= cal.end)]
        h = inside[rng.integers(0, len(inside), m.sum())]
        p.date[m] = h - rng.integers(0, 4, m.sum())
        day[m] = h
        m = has("weekend")
        to_weekend = (prof.weekend[0] - cal.at(cal.weekday, day[m])) % 7
        day[m] = day[m] + to_weekend + rng.integers(0, len(prof.weekend), m.sum())
        m = has("unusual_hour")
        secs[m] = ((rng.uniform(-2.0, 4.5, m.sum()) % 24) * 3600).astype(np.int64)
        p.posted[:] = day * _DAY + secs
        # amounts
        fx = b.fx[p.entity]
        m = has("round_amount")
        unit = np.array([1_000, 5_000, 10_000])[rng.integers(0, 3, n)] * 100
        unit = unit * np.maximum(np.rint(fx), 1).astype(np.int64)
        rounded = np.maximum(np.rint(cents / unit), 1).astype(np.int64) * unit
        cents[m] = rounded[m]
        m = has("below_limit")
        limits = _limits(prof)
        pick = rng.integers(0, len(prof.limits), n)
        limit = np.array([limits[c][0] for c in currency]) * 0
        for k in range(len(prof.limits)):
            limit = np.where(pick == k, np.array([limits[c][k] for c in currency]), limit)
        below = np.rint(limit * 100 * rng.uniform(0.955, 0.998, n)).astype(np.int64)
        cents[m] = below[m] + rng.integers(1, 99, m.sum())
        m = has("large_amount")  # on a busy account, where "large" means something
        busy = self.busy(p.entity)
        debit[m] = busy[m]
        typical = self.typical(debit, currency)
        big = np.rint(typical * rng.uniform(80, 400, n)).astype(np.int64)
        cents[m] = np.where(has("round_amount")[m],
                            np.maximum(np.rint(big[m] / unit[m]), 1).astype(np.int64) * unit[m],
                            big[m] + rng.integers(1, 99, m.sum()))
        # accounts
        m = has("rare_account")
        used = np.bincount(self.book.account, minlength=len(b.chart))[b.cut]
        quiet = b.cut[used == 0] if (used == 0).any() else b.cut  # those nobody uses
        dormant = quiet[np.arange(m.sum()) % len(quiet)]
        left = rng.random(m.sum()) < 0.5
        debit[m] = np.where(left, dormant, debit[m])
        credit[m] = np.where(left, credit[m], dormant)
        m = has("unusual_pair")
        which = np.arange(m.sum()) % len(_ODD_PAIRS)
        debit[m] = self.account([d for d, _ in _ODD_PAIRS], which)
        credit[m] = self.account([c for _, c in _ODD_PAIRS], which)
        # people and words
        m = has("unusual_user")
        rare = np.char.add("tmp.", (np.arange(m.sum()) // 2 + 1).astype(str))
        b.users = np.concatenate([b.users, np.unique(rare)])
        b.roles = np.concatenate([b.roles, np.full(len(np.unique(rare)), "rare")])
        b.user_entity = np.concatenate([b.user_entity, np.full(len(np.unique(rare)), "")])
        p.user[m] = np.searchsorted(b.users[len(b.users) - len(np.unique(rare)):],
                                    rare) + len(b.users) - len(np.unique(rare))
        m = has("self_approved")
        p.approver[m] = p.user[m]
        p.approver[~m & (p.approver == p.user)] = b.who("approver", p.entity)[
            ~m & (p.approver == p.user)]
        m = has("keyword")
        flag = pa.array(_RED_FLAGS[rng.integers(0, len(_RED_FLAGS), n)])
        p.text = pc.if_else(pa.array(m), _text(flag, p.text), p.text)
        p.cents = np.c_[cents, -cents].ravel()
        p.account = np.c_[debit, credit].ravel()

    def busy(self, entity: np.ndarray) -> np.ndarray:
        """For each entry, one of the ten accounts with most debit lines in its entity."""
        book, n_acc = self.book, len(self.b.chart)
        debit = book.cents > 0
        key = book.entity[book.entry[debit]] * n_acc + book.account[debit]
        counts = np.bincount(key, minlength=len(self.b.entities) * n_acc).reshape(-1, n_acc)
        top = np.argsort(-counts, axis=1, kind="stable")[:, :10]
        return top[entity, self.rng.integers(0, 10, len(entity))]

    def typical(self, account: np.ndarray, currency: np.ndarray) -> np.ndarray:
        """The median size (cents) of the clean lines on each account in each currency."""
        book, n_acc = self.book, len(self.b.chart)
        currencies = np.array([e[1] for e in self.b.prof.entities])
        names, code = np.unique(currencies, return_inverse=True)
        key = code[book.entity[book.entry]] * n_acc + book.account
        med = pd.Series(np.abs(book.cents)).groupby(key).median()
        want = np.searchsorted(names, currency) * n_acc + account
        out = med.reindex(want).to_numpy()
        return np.where(np.isnan(out), 600_000.0, out)

    def unbalance(self, chosen: np.ndarray) -> np.ndarray:
        """Alter a line of each chosen entry, or drop one of three or more; the lines kept."""
        book, rng = self.book, self.rng
        counts = np.bincount(book.entry, minlength=len(book.template))
        first = np.r_[0, np.cumsum(counts)[:-1]]
        keep = np.ones(len(book.entry), bool)
        drop = (counts[chosen] >= 3) & (rng.random(len(chosen)) < 0.4)
        keep[first[chosen[drop]] + counts[chosen[drop]] - 1] = False
        alter = first[chosen[~drop]]
        delta = np.rint(np.abs(book.cents[alter]) * rng.uniform(0.001, 0.3, len(alter)))
        delta = np.maximum(delta, 1).astype(np.int64) * rng.choice([-1, 1], len(alter))
        book.cents[alter] += delta
        return keep


# ------------------------------------------------------------------------------ numbers


def _number(b: _Builder, book: _Book, rng: np.random.Generator, skip: np.ndarray,
            ) -> tuple[np.ndarray, ...]:
    """Entry numbers in posting order within each series (journal, entity), and the
    series; the entries ``skip`` take no number of a series (they get one later)."""
    prof = b.prof
    n = len(book.template)
    if prof.ids in ("int", "single"):
        series = np.zeros(n, np.int64)
    elif prof.ids == "journal":
        series = book.source.astype(np.int64)
    else:
        series = book.entity.astype(np.int64) * len(b.labels) + book.source
    series[skip] = -1
    order = np.lexsort((rng.random(n), book.posted, series))
    s = series[order]
    start = np.r_[True, s[1:] != s[:-1]]
    step = 1 + (rng.random(n) < prof.id_gaps) * rng.integers(1, 12, n)
    step[start] = 1
    run = np.cumsum(step)
    base = run[np.flatnonzero(start)][np.cumsum(start) - 1] - 1
    number = np.empty(n, np.int64)
    number[order] = run - base
    return series, number


_JOURNALS = {"manual": "GJ", "payroll": "PR", "system": "SY"}  # in entry numbers


def _ids(b: _Builder, series: np.ndarray, number: np.ndarray) -> pa.Array | np.ndarray:
    prof = b.prof
    if prof.ids == "int":
        return number
    digits = pc.utf8_lpad(pc.cast(pa.array(number), pa.string()), 7, "0")
    if prof.ids == "single":
        return pc.binary_join_element_wise("JE", digits, "")
    label = np.array([_JOURNALS.get(x, x) for x in b.labels])[series % len(b.labels)]
    if prof.ids == "journal":
        return pc.binary_join_element_wise(pa.array(label), "-", pc.utf8_slice_codeunits(
            digits, 1), "")
    entity = b.entities[series // len(b.labels)]
    return pc.binary_join_element_wise(pa.array(entity), "-", pa.array(label), "-", digits, "")


# ------------------------------------------------------------------------------ public


def synth_general_ledger(
    n_lines: int = 20_000,
    profile: str = "small",
    seed: int = 0,
    *,
    misstate: float | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Generate a year's general ledger, its chart of accounts and the planted
    misstatements.

    ``profile`` chooses the business (:data:`GL_PROFILES`); each is unlike the
    others in its size, chart, calendar, people, entry numbering and habits, so
    that journal-entry tests tuned on some can be judged on the others:

    * ``"small"``: a small trading company (US, calendar year 2025): six
      people, 60 accounts, one entity, integer entry numbers in one
      series; the shop is open on Saturdays (sales posted then) and works on
      the minor federal holidays; many manual entries, round rent and
      estimates, year-end adjustments posted in January.
    * ``"group"``: eight companies in EUR, GBP, USD, JPY and CHF (2024, head
      office in Germany and its holidays), 200 accounts (expenses per
      department), 50 people with shared approvers, intercompany charges and
      a consolidation entity posting large eliminations after the year end;
      entry numbers per company and journal (``DE01-AP-0001234``) with the
      odd number skipped by the numbering; yen without cents; a ``currency``
      column.
    * ``"services"``: a professional-services firm in the Gulf (year to 30
      June 2025): Friday-Saturday weekend and the local holidays, fees billed
      from timesheets, staff expense claims, long working days; sources
      written as journal codes (``GJ`` general journal, ``PJ`` purchases,
      ``BIL`` billing, ``SYS``...) and entry numbers per journal
      (``GJ-000123``); account codes like ``6.010``.
    * ``"misstated"``: a mid-size manufacturer (year to 30 September 2025,
      about 100 accounts, 25 people, goods receipts and cost of sales posted by
      the system) with misstatements planted (``misstate=0.02``).

    Clean books are not spotless: rent and estimates come in round amounts,
    the shop posts on Saturdays, closing entries are posted days after the
    period end with an earlier date, people post late in the evening at
    month end, some accounts are used a few times a year, and a few entries
    are approved by the person who posted them.

    ``misstate`` plants misstatements on any profile, evenly over
    :data:`GL_MISSTATEMENTS`: entries whose lines do not balance (a line
    altered or dropped); entry numbers removed from a series (``gap``) or
    used twice (``duplicate_number``); and new manual entries with round
    amounts, posted on a weekend or a holiday, dated inside the period but
    posted 15-75 days after its end (``backdated``), 0.2-4.5% below an approval
    limit, on a dormant account (suspense, loans to officers...), on an
    unusual debit-credit pair, by a temporary user seen once or twice, at
    night, with a red-flag description ("plug to balance"), dated in the last
    three days of the period, 80-400 times the account's usual size, or
    approved by their poster. A planted entry has one primary kind and
    sometimes one or two more red flags.

    Parameters
    ----------
    n_lines : int
        Approximate number of journal lines.
    profile : str, default "small"
        One of :data:`GL_PROFILES`.
    seed : int
        Seed; the same arguments always give the same tables.
    misstate : float, optional
        Share of the entries planted with misstatements, in [0, 0.5]; the
        profile's own by default (0.02 for ``"misstated"``, 0 for the others).

    Returns
    -------
    gl : pandas.DataFrame
        One row per journal line: ``entry_id`` (int or text by profile),
        ``line`` (1, 2... within the entry), ``date`` (the entry's date),
        ``account``, ``amount`` (debits positive, credits negative; an entry's
        lines sum to zero unless planted otherwise), ``posted_by``,
        ``posted_at`` (timestamp), ``source``, ``description``, ``approved_by``
        (missing where the entry needs no approval), ``entity`` (and
        ``currency`` for ``"group"``), in posting order. ``gl.attrs`` holds
        what an auditor would be told: ``profile``, ``period_start``,
        ``period_end``, ``weekend`` (weekday numbers, Monday 0),
        ``holidays`` (ISO dates), ``approval_limits`` (a list, or a dict by
        currency), ``manual_sources``.
    chart : pandas.DataFrame
        The chart of accounts: ``account, name, type`` (asset, liability,
        equity, revenue, expense).
    truth : pandas.DataFrame
        ``entry_id, kind, primary``: one row per planted misstatement kind of
        an entry (for ``gap``, the missing number); empty when nothing is
        planted.

    Raises
    ------
    ValueError
        For an unknown profile, ``n_lines`` below 100 or ``misstate`` outside
        [0, 0.5].

    Examples
    --------
    >>> gl, chart, truth = synth_general_ledger(3_000, "misstated", seed=1)
    >>> gl.columns.tolist()[:5]
    ['entry_id', 'line', 'date', 'account', 'amount']
    >>> sorted(truth["kind"].unique()) == sorted(GL_MISSTATEMENTS)
    True
    >>> clean, _, none = synth_general_ledger(2_000, "small")
    >>> bool(clean.groupby("entry_id")["amount"].sum().abs().max() < 0.005), len(none)
    (True, 0)
    """
    if not isinstance(profile, str) or profile not in _PROFILES:
        raise ValueError(f"synth_general_ledger has no profile {profile!r}; choose one of "
                         f"{', '.join(map(repr, GL_PROFILES))}")
    if int(n_lines) < 100:
        raise ValueError(f"n_lines={n_lines}: make at least 100 lines")
    prof = _PROFILES[profile]
    rate = prof.misstate if misstate is None else float(misstate)
    if not 0 <= rate <= 0.5:
        raise ValueError(f"misstate={misstate}: give a share of entries in [0, 0.5]")
    rng = np.random.default_rng([int(seed), GL_PROFILES.index(profile)])
    b = _Builder(prof, int(n_lines), rng)
    book = b.build()
    n_clean = len(book.template)
    truth: list[tuple[np.ndarray, str, np.ndarray]] = []  # (entry index, kind, primary)
    keep_lines = np.ones(len(book.entry), bool)
    dropped = np.zeros(0, np.int64)
    duplicates = np.zeros(0, np.int64)
    if rate > 0:
        planter = _Planter(b, book, rate)
        chosen = rng.choice(n_clean, 2 * planter.per_kind, replace=False)
        unbalanced, dropped = chosen[:planter.per_kind], chosen[planter.per_kind:]
        keep_lines = planter.unbalance(unbalanced)
        truth.append((unbalanced, "unbalanced", np.ones(len(unbalanced), bool)))
        plant, kinds = planter.new_entries()
        book = _Book.join([book, plant])
        keep_lines = np.r_[keep_lines, np.ones(len(plant.entry), bool)]
        index = np.arange(n_clean, len(book.template))
        primary = np.repeat(np.arange(kinds.shape[0] // planter.per_kind), planter.per_kind)
        for j, kind in enumerate(planter.kinds):
            hit = kinds[:, j]
            if hit.any():
                is_primary = np.array([k for k in planter.kinds if k not in (
                    "unbalanced", "gap")])[primary[hit]] == kind
                truth.append((index[hit], kind, is_primary))
        duplicates = index[kinds[:, planter.kinds.index("duplicate_number")]
                           & (np.array([k for k in planter.kinds if k not in (
                               "unbalanced", "gap")])[primary] == "duplicate_number")]
    series, number = _number(b, book, rng, duplicates)
    if len(duplicates):  # a later entry reuses the number of an earlier one of its kind
        pool = np.setdiff1d(np.arange(n_clean), np.r_[dropped, truth[0][0]])
        target = rng.choice(pool, len(duplicates), replace=False)
        series[duplicates], number[duplicates] = series[target], number[target]
        book.posted[duplicates] = np.maximum(book.posted[duplicates],
                                             book.posted[target] + _DAY)
        book.source[duplicates] = book.source[target]
    ids = _ids(b, series, number)
    gl = _frame(b, book, ids, keep_lines, dropped)
    truth_frame = _truth(ids, truth, dropped)
    gl.attrs.update(_attrs(b))
    chart = b.chart[["account", "name", "type"]].copy()
    return gl, chart, truth_frame


def _frame(b: _Builder, book: _Book, ids: Any, keep_lines: np.ndarray,
           dropped: np.ndarray) -> pd.DataFrame:
    """The journal lines, entries in posting order, without the dropped entries."""
    n = len(book.template)
    alive = np.ones(n, bool)
    alive[dropped] = False
    order = np.argsort(book.posted, kind="stable")
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n)
    lines = np.flatnonzero(keep_lines & alive[book.entry])
    lines = lines[np.argsort(rank[book.entry[lines]], kind="stable")]
    entry = book.entry[lines]
    start = np.r_[True, entry[1:] != entry[:-1]]
    pos = np.arange(len(entry))
    line = pos - np.maximum.accumulate(np.where(start, pos, 0)) + 1
    ids_arr = np.asarray(ids)[entry] if isinstance(ids, np.ndarray) else pd.array(
        pc.take(ids, pa.array(entry)), dtype="string[pyarrow]")
    day = book.date[entry].astype("datetime64[D]").astype("datetime64[ns]")
    accounts = b.chart["account"].to_numpy()
    users = b.users
    approver = book.approver[entry]
    data = {
        "entry_id": ids_arr,
        "line": line.astype(np.int32),
        "date": day,
        "account": pd.Categorical.from_codes(book.account[lines], categories=accounts),
        "amount": book.cents[lines] / 100.0,
        "posted_by": pd.Categorical.from_codes(book.user[entry], categories=users),
        "posted_at": (book.posted[entry] * 1_000_000_000).astype("datetime64[ns]"),
        "source": pd.Categorical.from_codes(book.source[entry], categories=b.labels),
        "description": pd.array(pc.take(book.text, pa.array(entry)), dtype="string[pyarrow]"),
        "approved_by": pd.Categorical.from_codes(approver, categories=users),
        "entity": pd.Categorical.from_codes(book.entity[entry], categories=b.entities),
    }
    if len(b.entities) > 1:
        currencies = np.array([e[1] for e in b.prof.entities])
        cats = np.unique(currencies)
        data["currency"] = pd.Categorical.from_codes(
            np.searchsorted(cats, currencies)[book.entity[entry]], categories=cats)
    return pd.DataFrame(data)


def _truth(ids: Any, truth: list, dropped: np.ndarray) -> pd.DataFrame:
    parts = [(idx, np.full(len(idx), kind), primary) for idx, kind, primary in truth]
    if len(dropped):
        parts.append((dropped, np.full(len(dropped), "gap"), np.ones(len(dropped), bool)))
    if not parts:
        kind = pd.Series([], dtype=object)
        entry = (pd.Series([], dtype=np.int64) if isinstance(ids, np.ndarray)
                 else pd.Series([], dtype="string[pyarrow]"))
        return pd.DataFrame({"entry_id": entry, "kind": kind, "primary": pd.Series([], dtype=bool)})
    idx = np.concatenate([p[0] for p in parts])
    entry = np.asarray(ids)[idx] if isinstance(ids, np.ndarray) else pd.array(
        pc.take(ids, pa.array(idx)), dtype="string[pyarrow]")
    out = pd.DataFrame({"entry_id": entry, "kind": np.concatenate([p[1] for p in parts]),
                        "primary": np.concatenate([p[2] for p in parts])})
    rank = {k: i for i, k in enumerate(GL_MISSTATEMENTS)}
    out["_k"] = out["kind"].map(rank)
    return out.sort_values(["_k", "entry_id"], kind="stable").drop(columns="_k").reset_index(
        drop=True)


def _attrs(b: _Builder) -> dict[str, Any]:
    prof, cal = b.prof, b.cal
    near = cal.holidays[(cal.holidays >= cal.start) & (cal.holidays <= cal.end + 90)]
    iso = [str(d) for d in near.astype("datetime64[D]")]
    limits = _limits(prof)
    return {
        "profile": prof.name,
        "period_start": str(np.datetime64(cal.start, "D")),
        "period_end": str(np.datetime64(cal.end, "D")),
        "weekend": list(prof.weekend),
        "holidays": iso,
        "approval_limits": limits if len(limits) > 1 else next(iter(limits.values())),
        "manual_sources": [prof.sources["manual"]],
    }
