"""sod_conflicts: each kind of rule on small logs, order and time windows, custom rules, bad
input, and every conflict planted in a generated ERP log found (and nothing else)."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import nexus_lab.examine as ex
from nexus_lab.datasets import synth_erp_events
from nexus_lab.errors import SchemaError
from nexus_lab.examine import DEFAULT_SOD, ExamineWarning, sod_conflicts


def log(*rows) -> pd.DataFrame:
    """Events ``(user, action, object_type, object_id, day[, event_id])``."""
    out = []
    for k, row in enumerate(rows):
        user, action, kind, obj, day, *event = row
        out.append({"user": user, "action": action, "object_type": kind, "object_id": obj,
                    "at": pd.Timestamp("2025-03-01") + pd.Timedelta(days=day),
                    "event_id": event[0] if event else f"e{k}"})
    return pd.DataFrame(out)


def conflicts(events, **kw) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExamineWarning)
        return sod_conflicts(events, **kw)["conflicts"]


def test_default_rules_are_documented_tuples():
    names = [r.name for r in DEFAULT_SOD]
    assert len(names) == len(set(names)) == 18
    assert all(len(r) == 5 and r.description for r in DEFAULT_SOD)
    assert {r.same_object for r in DEFAULT_SOD} == {True, False, "self"}


def test_same_object_rule_needs_the_same_object_and_the_order():
    events = log(("ann", "create_vendor", "vendor", "V1", 0),
                 ("ann", "pay", "vendor", "V1", 10, "p1"),
                 ("ann", "pay", "invoice", "I1", 10, "p1"),
                 ("ann", "pay", "vendor", "V2", 11),  # another vendor
                 ("bob", "pay", "vendor", "V1", 12),  # another user
                 ("cy", "pay", "vendor", "V3", 1), ("cy", "create_vendor", "vendor", "V3", 5))
    t = conflicts(events)
    assert t[["rule", "user", "object_type", "object_id", "first_event", "second_event",
              "pairs"]].values.tolist() == [["vendor_create_pay", "ann", "vendor", "V1", "e0",
                                             "p1", 1]]
    assert t.loc[0, "second_at"] - t.loc[0, "first_at"] == pd.Timedelta(days=10)
    # a time window
    assert len(conflicts(events, within=5)) == 0
    assert len(conflicts(events, within="10D")) == 1


def test_entry_posted_and_approved_by_one_user():
    events = log(("ann", "post_entry", "entry", "JE1", 0), ("ann", "post_entry", "account",
                                                           "6100", 0, "e0"),
                 ("ann", "approve_entry", "entry", "JE1", 1),
                 ("ann", "approve_entry", "entry", "JE2", 1),
                 ("bob", "post_entry", "entry", "JE2", 0), ("ann", "create_account", "account",
                                                           "6100", -3))
    t = conflicts(events)
    assert sorted(t["rule"]) == ["account_create_post", "entry_post_approve"]
    assert t.set_index("rule").loc["entry_post_approve", "object_id"] == "JE1"
    assert t.set_index("rule").loc["account_create_post", "object_id"] == "6100"


def test_rules_on_any_objects_give_one_row_per_user():
    events = log(("ann", "change_price", "product", "P1", 0),
                 ("ann", "create_sales_invoice", "sales_invoice", "S1", 2),
                 ("ann", "create_sales_invoice", "sales_invoice", "S2", 3),
                 ("bob", "create_sales_invoice", "sales_invoice", "S3", 3),
                 ("bob", "change_price", "product", "P2", 4))  # after his invoice
    t = conflicts(events)
    assert t[["rule", "user", "object_id", "objects", "pairs"]].values.tolist() == [
        ["price_change_invoice", "ann", "", 2, 2]]


def test_self_granted_role_then_used():
    events = log(("it1", "grant_role", "user", "it1", 0, "g1"), ("it1", "grant_role", "role",
                                                                 "treasury", 0, "g1"),
                 ("it1", "pay", "invoice", "I1", 2), ("it2", "grant_role", "user", "ann", 0),
                 ("it2", "create_user", "user", "new1", 1))
    t = conflicts(events)
    assert t[["rule", "user", "first_event", "second_action"]].values.tolist() == [
        ["role_self_grant", "it1", "g1", "pay"]]


def test_actions_compared_loosely_and_custom_rules():
    events = log(("ann", " Create_Vendor", "vendor", "V1", 0), ("ann", "PAY", "vendor", "V1", 1))
    assert conflicts(events)["rule"].tolist() == ["vendor_create_pay"]
    mine = [("maker_checker", "create_vendor", "pay", False, "any payment by a vendor maker")]
    r = sod_conflicts(events, rules=mine)
    assert r["conflicts"]["rule"].tolist() == ["maker_checker"]
    assert r["by_rule"]["conflicts"].tolist() == [1]
    assert r.verdict == "findings" and r.summary()["users_in_conflict"] == 1


def test_result_replays_and_renders():
    events = log(("ann", "create_vendor", "vendor", "V1", 0), ("ann", "pay", "vendor", "V1", 1))
    r = sod_conflicts(events, within=30)
    again = getattr(ex, r.test)(events, **r.params)
    pd.testing.assert_frame_equal(again["conflicts"], r["conflicts"])
    assert "<svg" in r._repr_html_()
    clean = sod_conflicts(log(("ann", "create_vendor", "vendor", "V1", 0),
                              ("bob", "pay", "vendor", "V1", 1)))
    assert clean.verdict == "clean" and len(clean["conflicts"]) == 0
    assert clean["conflicts"].columns.tolist() == r["conflicts"].columns.tolist()


def test_mapped_columns_and_row_numbers_as_events():
    events = log(("ann", "create_vendor", "vendor", "V1", 0), ("ann", "pay", "vendor", "V1", 1))
    theirs = events.drop(columns="event_id").rename(columns={"user": "User ID", "at": "When"})
    t = conflicts(theirs, columns={"user": "User ID", "at": "When"})
    assert t[["first_event", "second_event"]].values.tolist() == [[0, 1]]


def test_bad_input_gets_clear_errors():
    events = log(("ann", "create_vendor", "vendor", "V1", 0))
    with pytest.raises(SchemaError, match=r"no column 'action'"):
        sod_conflicts(events.drop(columns="action"))
    blank = events.copy()
    blank.loc[0, "user"] = " "
    with pytest.raises(SchemaError, match=r"events\.user: blank at rows \[0\]"):
        sod_conflicts(blank)
    with pytest.raises(SchemaError, match=r"give \(name, first action"):
        sod_conflicts(events, rules=[("a", "b")])
    with pytest.raises(SchemaError, match="same_object is 'yes'"):
        sod_conflicts(events, rules=[("a", "x", "y", "yes", "")])
    with pytest.raises(SchemaError, match="needs same_object='self'"):
        sod_conflicts(events, rules=[("a", "x", "*", True, "")])
    with pytest.raises(SchemaError, match="the same action"):
        sod_conflicts(events, rules=[("a", "pay", "PAY", True, "")])
    with pytest.raises(SchemaError, match="used twice"):
        sod_conflicts(events, rules=[("a", "x", "y", True, ""), ("a", "x", "z", True, "")])
    with pytest.raises(SchemaError, match="rules must be a sequence"):
        sod_conflicts(events, rules="vendor_create_pay")
    with pytest.raises(SchemaError, match="within='soon'"):
        sod_conflicts(events, within="soon")
    with pytest.raises(SchemaError, match="zero or more"):
        sod_conflicts(events, within=-1)
    bad_time = events.assign(at="yesterday")
    with pytest.raises(SchemaError, match=r"events\.at"):
        sod_conflicts(bad_time)
    other = log(("ann", "vendor_new", "vendor", "V1", 0), ("ann", "payment", "vendor", "V1", 1))
    with pytest.warns(ExamineWarning, match="no rule has both its actions"):
        assert sod_conflicts(other).facts["rules_applicable"] == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_planted_conflict_found_and_nothing_else(seed):
    events, truth = synth_erp_events(15_000, seed=seed)
    r = sod_conflicts(events)
    t = r["conflicts"]
    found = set(zip(t["rule"], t["user"], t["object_id"], strict=True))
    planted = set(zip(truth["rule"], truth["user"], truth["object_id"], strict=True))
    assert found == planted  # the decoys (second action first) are not conflicts
    same = t[t["object_id"] != ""]
    assert set(same["second_event"]) <= set(truth["event_id"])
    assert set(r["by_rule"].query("conflicts > 0")["rule"]) == {rule.name for rule in DEFAULT_SOD}
    clean, none = synth_erp_events(15_000, seed=seed, plant=False)
    assert len(none) == 0 and sod_conflicts(clean).verdict == "clean"
