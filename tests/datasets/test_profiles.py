"""The reconciliation generator profiles: contract, planted structure, determinism."""

from __future__ import annotations

import functools
import hashlib

import numpy as np
import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab.datasets import RECONCILIATION_PROFILES, synth_reconciliation

N = 1000
LINK_KINDS = {"one_to_one", "tolerance", "decoy", "batch", "installment"}
OPEN_KINDS = {"bank_only", "ledger_only", "duplicate", "amount_mismatch"}


@functools.cache
def _tables(profile: str, seed: int = 0, n: int = N):
    return synth_reconciliation(n, seed, profile=profile)


def tables(profile: str, seed: int = 0, n: int = N):
    """Copies, so that a test cannot change what the next one reads."""
    return tuple(frame.copy() for frame in _tables(profile, seed, n))


def cents(x) -> np.ndarray:
    return np.rint(np.abs(np.asarray(x, float)) * 100).astype(np.int64)


def linked(profile: str, seed: int = 0, n: int = N) -> pd.DataFrame:
    """True links with both amounts and dates."""
    bank, ledger, truth = tables(profile, seed, n)
    t = truth.dropna(subset=["bank_id", "ledger_id"])
    b = bank.set_index("transaction_id")
    lg = ledger.set_index("transaction_id")
    return t.assign(
        b_amount=b["amount"].reindex(t["bank_id"]).to_numpy(),
        l_amount=lg["amount"].reindex(t["ledger_id"]).to_numpy(),
        b_date=b["date"].reindex(t["bank_id"]).to_numpy(),
        l_date=lg["date"].reindex(t["ledger_id"]).to_numpy(),
    )


def stable_digest(frames) -> str:
    """A digest of the values (not of pandas' text formatting)."""
    h = hashlib.sha256()
    for frame in frames:
        for col in frame.columns:
            s = frame[col]
            h.update(col.encode())
            if pd.api.types.is_datetime64_any_dtype(s):
                h.update(s.to_numpy().astype("datetime64[ns]").astype(np.int64).tobytes())
            elif pd.api.types.is_float_dtype(s):
                h.update(np.rint(s.to_numpy() * 100).astype(np.int64).tobytes())
            elif pd.api.types.is_integer_dtype(s):
                h.update(s.to_numpy().astype(np.int64).tobytes())
            else:
                h.update("\x1f".join("\x00" if v is None else str(v) for v in s).encode())
    return h.hexdigest()[:16]


# ------------------------------------------------------------------ the registry

def test_profiles_are_listed_and_public():
    assert RECONCILIATION_PROFILES == (
        "retail", "payables", "installments", "fx", "messy", "signs", "dense", "marketplace")
    assert nx.data.RECONCILIATION_PROFILES is RECONCILIATION_PROFILES
    assert "RECONCILIATION_PROFILES" in nx.datasets.__all__


@pytest.mark.parametrize("bad", ["Retail", "ap", "", None, 3])
def test_unknown_profile_names_the_choices(bad):
    with pytest.raises(ValueError,
                       match=r"choose one of 'retail', 'payables'.*'dense', 'marketplace'"):
        synth_reconciliation(200, 0, profile=bad)


@pytest.mark.parametrize("profile", RECONCILIATION_PROFILES)
def test_too_few_rows(profile):
    with pytest.raises(ValueError, match="n >= 50"):
        synth_reconciliation(10, 0, profile=profile)


# ------------------------------------------------------- retail stays what it was

def test_retail_is_the_default_generator():
    for n, seed in ((300, 3), (N, 0)):
        old = synth_reconciliation(n, seed)
        new = synth_reconciliation(n, seed, profile="retail")
        for a, b in zip(old, new):
            pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(("n", "seed", "digest"), [
    (300, 3, "0e2f30b93908b405"),
    (1000, 0, "191c4a695fe8b112"),
])
def test_retail_tables_are_unchanged(n, seed, digest):
    # digests of the generator as it was before the profiles were added
    assert stable_digest(synth_reconciliation(n, seed)) == digest


# ------------------------------------------------------------- the data contract

@pytest.mark.parametrize("profile", RECONCILIATION_PROFILES)
def test_contract_and_truth_ids(profile):
    bank, ledger, truth = tables(profile)
    for frame in (bank, ledger):
        assert list(frame.columns[:4]) == ["transaction_id", "date", "amount", "description"]
        assert frame["transaction_id"].is_unique
        assert pd.api.types.is_datetime64_any_dtype(frame["date"])
        assert frame["amount"].notna().all() and np.isfinite(frame["amount"]).all()
        assert frame["description"].map(type).eq(str).all()
        assert frame["date"].is_monotonic_increasing
    assert 0.6 * N <= len(bank) <= 1.2 * N
    assert list(truth.columns) == ["bank_id", "ledger_id", "kind", "group_id", "reason"]
    assert set(truth["kind"]) <= LINK_KINDS | OPEN_KINDS
    assert truth["bank_id"].dropna().isin(bank["transaction_id"]).all()
    assert truth["ledger_id"].dropna().isin(ledger["transaction_id"]).all()
    # every row of both tables is accounted for by the truth
    assert set(truth["bank_id"].dropna()) == set(bank["transaction_id"])
    assert set(truth["ledger_id"].dropna()) == set(ledger["transaction_id"])
    # a one-to-one row is linked once
    one = truth[truth["kind"].isin(["one_to_one", "tolerance", "decoy"])]
    assert one["bank_id"].is_unique and one["ledger_id"].is_unique
    assert truth.loc[truth["kind"].isin(OPEN_KINDS), "reason"].notna().all()


@pytest.mark.parametrize("profile", RECONCILIATION_PROFILES)
def test_every_case_is_planted(profile):
    kinds = set(tables(profile)[2]["kind"])
    want = LINK_KINDS | OPEN_KINDS
    if profile == "payables":  # paid in runs, not in parts
        want = want - {"installment"}
    assert want <= kinds, want - kinds


@pytest.mark.parametrize("profile", RECONCILIATION_PROFILES)
def test_amounts_of_true_links_add_up(profile):
    t = linked(profile)
    one = t[t["kind"].isin(["one_to_one", "decoy"])]
    np.testing.assert_array_equal(cents(one["b_amount"]), cents(one["l_amount"]))
    batch = t[t["kind"] == "batch"].groupby("group_id").agg(
        b=("b_amount", "first"), lg=("l_amount", "sum"), k=("l_amount", "size"))
    np.testing.assert_array_equal(cents(batch["b"]), cents(batch["lg"]))
    assert (batch["k"] >= 2).all()
    inst = t[t["kind"] == "installment"].groupby("group_id").agg(
        b=("b_amount", "sum"), lg=("l_amount", "first"), k=("b_amount", "size"))
    np.testing.assert_array_equal(cents(inst["b"]), cents(inst["lg"]))
    assert (inst["k"] >= 2).all()
    tol = t[t["kind"] == "tolerance"]
    assert (cents(tol["b_amount"]) != cents(tol["l_amount"])).mean() > 0.95
    bad = t[t["kind"] == "amount_mismatch"]
    assert (np.abs(cents(bad["b_amount"]) - cents(bad["l_amount"])) > 500).all()


@pytest.mark.parametrize("profile", RECONCILIATION_PROFILES)
def test_same_seed_same_tables(profile):
    a = synth_reconciliation(300, 11, profile=profile)
    b = synth_reconciliation(300, 11, profile=profile)
    for x, y in zip(a, b):
        pd.testing.assert_frame_equal(x, y)
    c = synth_reconciliation(300, 12, profile=profile)
    assert not a[0]["amount"].equals(c[0]["amount"])


def test_profiles_are_unlike_each_other():
    # not one generator with knobs: descriptions, ids and amounts differ in kind
    medians, prefixes, ids = [], [], []
    for profile in RECONCILIATION_PROFILES:
        bank, ledger, _ = tables(profile)
        medians.append(float(np.median(np.abs(ledger["amount"]))))
        prefixes.append(frozenset(bank["description"].str.split().str[0].value_counts().index[:3]))
        ids.append(bank["transaction_id"].iloc[0].rstrip("0123456789"))
    assert len(set(prefixes)) == len(RECONCILIATION_PROFILES)
    assert len(set(ids)) == len(RECONCILIATION_PROFILES)
    assert max(medians) / min(medians) > 5


# ------------------------------------------------------ what each profile plants

def test_payables_runs_settle_invoices_issued_over_the_terms():
    bank, ledger, _ = tables("payables")
    t = linked("payables")
    batch = t[t["kind"] == "batch"]
    groups = batch.groupby("group_id").agg(first=("l_date", "min"), last=("l_date", "max"),
                                           paid=("b_date", "first"), k=("l_date", "size"))
    span = (groups["last"] - groups["first"]).dt.days
    lag = (groups["paid"] - groups["first"]).dt.days
    assert (span > 14).mean() > 0.3
    assert (lag >= 30).mean() > 0.5 and lag.max() <= 100
    assert groups["k"].max() >= 8
    assert (bank["amount"] < 0).all()  # debits written negative
    assert (ledger["amount"] < 0).any()  # credit notes
    # some remittance lines list the invoice numbers the ledger carries
    lists = batch.merge(ledger[["transaction_id", "reference"]], left_on="ledger_id",
                        right_on="transaction_id")
    desc = bank.set_index("transaction_id")["description"].reindex(lists["bank_id"]).to_numpy()
    quoted = [str(ref) in d for ref, d in zip(lists["reference"], desc)]
    assert 0.15 < np.mean(quoted) < 0.6


def test_installments_are_regular():
    t = linked("installments")
    inst = t[t["kind"] == "installment"].sort_values(["group_id", "b_date"])
    sizes = inst.groupby("group_id").size()
    assert sizes.min() == 2 and sizes.max() == 12
    assert sizes.nunique() >= 8
    gaps = inst.groupby("group_id")["b_date"].diff().dt.days.dropna()
    periodic = gaps.between(5, 9) | gaps.between(12, 16) | gaps.between(27, 34)
    assert periodic.mean() > 0.95
    # equal parts: within a plan, all but the down payment and the rounding part are equal
    parts = inst.groupby("group_id")["b_amount"].agg(lambda a: np.unique(cents(a)).size)
    assert (parts <= 3).all() and (parts == 1).any()
    # the rounding cents go on the first part of some plans and on the last of others
    where = inst.groupby("group_id")["b_amount"].agg(_rounding_part)
    assert {"first", "last"} <= set(where) and "middle" not in set(where)


def _rounding_part(amounts) -> str:
    c = cents(amounts)
    if len(c) < 3 or c.max() == c.min() or c.max() - c.min() >= len(c):
        return "none"  # no rounding cents, or a down payment
    odd = np.flatnonzero(c != np.median(c))
    return "first" if odd[0] == 0 else ("last" if odd[0] == len(c) - 1 else "middle")


def test_fx_has_currencies_and_small_conversion_differences():
    bank, ledger, _ = tables("fx")
    assert "currency" in bank and "currency" in ledger
    assert bank["currency"].nunique() >= 3 and ledger["currency"].nunique() >= 3
    jpy = bank.loc[bank["currency"] == "JPY", "amount"]
    assert len(jpy) and (jpy == np.round(jpy)).all()  # whole yen
    t = linked("fx")
    t = t.merge(bank[["transaction_id", "currency"]], left_on="bank_id", right_on="transaction_id")
    t = t.merge(ledger[["transaction_id", "currency"]], left_on="ledger_id",
                right_on="transaction_id", suffixes=("_b", "_l"))
    assert (t["currency_b"] == t["currency_l"]).all()
    tol = t[t["kind"] == "tolerance"]
    rel = np.abs(tol["b_amount"] / tol["l_amount"] - 1)
    assert rel.between(0.0005, 0.04).mean() > 0.6
    assert (np.abs(tol["b_amount"] - tol["l_amount"]) > 5).mean() > 0.2  # large amounts


def test_messy_descriptions_and_no_ledger_reference():
    bank, ledger, _ = tables("messy")
    assert "reference" not in ledger and "vendor" not in ledger
    assert "reference" in bank and bank["reference"].notna().mean() > 0.2
    assert bank["account"].nunique() == 3
    desc = bank["description"]
    for prefix in ("POS DEBIT", "CHECKCARD", "SEPA-LASTSCHRIFT", "KARTENZAHLUNG",
                   "CARD PAYMENT TO", "CHQ ", "CHECK "):
        assert desc.str.startswith(prefix).any(), prefix
    lengths = desc.str.len()
    assert lengths.between(18, 40).mean() > 0.4
    assert desc.str.contains(" AND ").any() and desc.str.contains(r"\b[A-Z] \d", regex=True).any()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_signs_conventions(seed):
    bank, ledger, _ = tables("signs", seed)
    convention = bank.attrs["sign_convention"]
    assert convention == ("negative_debits", "debit_credit_columns", "both_positive")[seed]
    if seed == 0:
        assert (bank["amount"] < 0).mean() > 0.5 and (bank["amount"] > 0).mean() > 0.1
        assert (ledger["amount"] > 0).mean() > 0.5 and (ledger["amount"] < 0).mean() > 0.1
    elif seed == 1:
        assert (bank["amount"] >= 0).all()
        assert (bank["debit"].notna() ^ bank["credit"].notna()).all()
        filled = bank["debit"].fillna(bank["credit"])
        np.testing.assert_array_equal(filled.to_numpy(), bank["amount"].to_numpy())
        assert (ledger["amount"] < 0).any()
    else:
        assert (bank["amount"] >= 0).all() and (ledger["amount"] >= 0).all()
        assert set(bank["dc"]) == {"D", "C"} and set(ledger["type"]) == {"expense", "receipt"}


def test_dense_is_dense_with_look_alikes():
    bank, ledger, _ = tables("dense")
    per_day = bank.groupby("date").size()
    assert per_day.max() >= 400 and bank["date"].nunique() <= 3
    big = tables("dense", 0, 5000)[0]
    assert big.groupby("date").size().median() >= 1500
    # look-alikes: same vendor and amount on the same or a nearby day, many of them
    same = ledger.groupby(["vendor", "amount"]).size()
    assert (same[same > 1].sum() / len(ledger)) > 0.3
    t = linked("dense")
    assert (t["kind"] == "decoy").sum() >= 20


def test_dense_truth_follows_card_amount_and_order():
    # look-alikes are told apart by the card number both sides print and by the order of
    # the rows: the k-th such ledger row pairs with the k-th such bank row, so the truth is
    # recoverable from the tables, not an arbitrary pick among equals
    bank, ledger, truth = tables("dense", 0, 5000)
    t = truth[truth["kind"].isin(["one_to_one", "decoy"])]
    b = bank.set_index("transaction_id").loc[t["bank_id"]].reset_index()
    lg = ledger.set_index("transaction_id").loc[t["ledger_id"]].reset_index()
    brand = dict(zip(lg["vendor"], b["description"].str.split().str[0]))
    side = []
    for frame, pattern, who in ((b, r"CARD (\d{4})", None), (lg, r"card (\d{4})", "vendor")):
        side.append(pd.DataFrame({
            "id": frame["transaction_id"],
            "brand": frame["description"].str.split().str[0] if who is None
            else frame["vendor"].map(brand),
            "card": frame["description"].str.extract(pattern)[0],
            "cents": cents(frame["amount"]),
            "date": frame["date"],
        }).sort_values(["date", "id"]))
    for s in side:
        s["rank"] = s.groupby(["brand", "card", "cents"]).cumcount()
    pairs = side[0].merge(side[1], on=["brand", "card", "cents", "rank"])
    assert len(pairs) == len(t)
    assert set(zip(pairs["id_x"], pairs["id_y"])) == set(zip(t["bank_id"], t["ledger_id"]))


def _payouts(n: int = N, seed: int = 0) -> pd.DataFrame:
    """Every ledger line of a marketplace payout, with its bank credit."""
    ledger = tables("marketplace", seed, n)[1]
    t = linked("marketplace", seed, n)
    t = t[t["kind"] == "batch"]
    return t.merge(ledger[["transaction_id", "category", "reference"]], left_on="ledger_id",
                   right_on="transaction_id")


def test_marketplace_payouts_are_exact_batches_with_a_fee_line():
    lines = _payouts()
    groups = lines.groupby("group_id").agg(
        bank=("b_amount", "first"), ledger=("l_amount", "sum"), k=("l_amount", "size"),
        sales=("category", lambda c: (c == "Sales").sum()),
        fees=("category", lambda c: (c == "Merchant fees").sum()),
        refunds=("category", lambda c: (c == "Refunds").sum()),
        negative=("l_amount", lambda a: (a < 0).sum()))
    # one bank credit = its sales, refunds and one negative fee line, to the cent
    np.testing.assert_array_equal(np.rint(groups["bank"] * 100), np.rint(groups["ledger"] * 100))
    assert (groups["bank"] > 0).all()
    assert (groups["fees"] == 1).all() and (groups["sales"] >= 1).all()
    assert (groups["negative"] == groups["fees"] + groups["refunds"]).all()
    assert (groups["refunds"] > 0).mean() > 0.05  # refunds reduce some payouts
    assert (groups["sales"] > 10).mean() > 0.2 and groups["sales"].max() >= 20
    # the fee line is dated on the payout and carries the payout id; sales come before it
    fees = lines[lines["category"] == "Merchant fees"]
    assert (fees["l_amount"] < 0).all()
    lag = (fees["b_date"] - fees["l_date"]).dt.days
    assert lag.between(0, 3).all()
    sales = lines[lines["category"] == "Sales"]
    assert (sales["l_amount"] > 0).all() and (sales["l_date"] <= sales["b_date"]).all()
    assert ((sales["b_date"] - sales["l_date"]).dt.days > 7).mean() > 0.1
    big = _payouts(20_000)
    assert big.groupby("group_id")["category"].agg(lambda c: (c == "Sales").sum()).max() > 30


def test_marketplace_cadences_channels_and_descriptions():
    bank, ledger, truth = tables("marketplace", 0, 5000)
    credits = bank[bank["amount"] > 0]
    desc = credits["description"]
    assert desc.str.startswith("ORIG CO NAME:").any()
    for name in ("AMZN MKTP PAYOUT", "ETSY", "SHOPIFY", "STRIPE", "PAYPAL"):
        assert desc.str.contains(name).any(), name
    assert set(ledger["category"]) >= {"Sales", "Refunds", "Merchant fees", "Postage",
                                       "Advertising", "Inventory"}
    assert ledger["channel"].nunique() >= 5
    # card purchases print the authorization date; debits negative on both sides
    card = bank[bank["transaction_type"] == "DEBIT CARD"]
    assert card["description"].str.match(r"(PURCHASE|RECURRING PAYMENT|PURCHASE INTL) "
                                         r"AUTHORIZED ON \d\d/\d\d ").all()
    assert (card["amount"] < 0).all()
    assert (ledger.loc[ledger["category"].isin(["Postage", "Advertising"]), "amount"] < 0).all()
    # chargebacks are bank-only debits; held and pending payouts leave sales open at the end
    open_bank = bank.set_index("transaction_id").loc[
        truth.loc[truth["kind"] == "bank_only", "bank_id"]]
    assert open_bank["description"].str.contains("CHARGEBACK").mean() > 0.4
    assert (open_bank["amount"] < 0).all()
    held = truth[(truth["kind"] == "ledger_only") & (truth["reason"] == "timing difference")]
    held = ledger.set_index("transaction_id").loc[held["ledger_id"]]
    assert len(held) > 20 and set(held["category"]) <= {"Sales", "Refunds"}
    assert ((ledger["date"].max() - held["date"]).dt.days < 45).all()
    # factory orders: a deposit and a balance (or three parts) wired weeks apart
    t = linked("marketplace")
    plans = t[t["kind"] == "installment"].groupby("group_id").agg(
        k=("b_amount", "size"), first=("b_amount", "first"), total=("l_amount", "first"),
        spread=("b_date", lambda d: (d.max() - d.min()).days))
    assert set(plans["k"]) <= {2, 3} and (plans["spread"] >= 14).all()
    share = np.round(plans["first"] / plans["total"], 2)
    assert set(share) <= {0.3, 0.5}
