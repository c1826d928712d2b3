"""The review widget against a real store filled by the kernels: its buttons clicked as a
reviewer would, every action through the review service (the store changes and the audit
log has it), a judge's click refused and shown."""

from __future__ import annotations

import pytest

import nexus_lab as nx
from nexus_lab import auth, review, workflows
from nexus_lab.errors import NexusError
from nexus_lab.jupyter._widget import REJECTED, ItemRow, ReviewWidget
from tests.dashboards._browser import HOSTILE, audit_rows, fill_workbench, store_query


@pytest.fixture(scope="module")
def workbench(tmp_path_factory):
    """A store with every point of view's user and a saved reconciliation (as the
    dashboards' tests fill it)."""
    return fill_workbench(tmp_path_factory.mktemp("workbench"))


def item(workbench, item_id: int) -> dict:
    return store_query(workbench, "select * from open_items where id = :i",
                       {"i": int(item_id)}).iloc[0].to_dict()


def a_row(widget: ReviewWidget, *, suggested: bool) -> ItemRow:
    """An open item of the widget's pages with (or without) a suggested link."""
    while True:
        for row in widget.rows:
            if bool(row.item["suggested"]) == suggested:
                return row
        assert not widget.next.disabled, "no such open item"
        widget.next.click()


def resolved_audit(workbench, item_id: int) -> list[dict]:
    return [r for r in audit_rows(workbench["store"], "open_item.resolved")
            if r["resource_id"] == f"open_items/{item_id}"]


def test_accept_links_the_suggestion_as_the_user(workbench):
    w = ReviewWidget(workbench["run_id"], store=workbench["store"], user="ana", page_size=25)
    total = w.total
    row = a_row(w, suggested=True)
    row.note.value = "same payee, a day apart"
    row.accept.click()

    done = item(workbench, row.item["id"])
    assert (done["status"], done["resolution"], done["linked_to"], done["resolved_by"],
            done["note"]) == ("resolved", "linked", row.item["suggested"], "ana",
                              "same payee, a day apart")
    assert [(r["user_id"], r["outcome"]) for r in resolved_audit(workbench, done["id"])] == [
        ("ana", "done")]
    assert f"Linked {row.item['transaction_id']} to {row.item['suggested']}." in w.status.value
    assert row.item["id"] not in [r.item["id"] for r in w.rows]  # the page was read again
    assert w.total in (total - 1, total - 2)  # its counterpart closes with it when open


def test_reject_needs_a_note_and_then_takes_the_item_as_it_stands(workbench):
    w = ReviewWidget(workbench["run_id"], store=workbench["store"], user="ana", page_size=25)
    row = a_row(w, suggested=True)
    row.reject.click()  # no note
    assert "a note is required to reject it" in w.status.value
    assert item(workbench, row.item["id"])["status"] == "open"
    assert resolved_audit(workbench, row.item["id"]) == []

    row.note.value = "  the suggested payment belongs to another invoice  "
    row.reject.click()
    done = item(workbench, row.item["id"])
    assert (done["status"], done["resolution"], done["linked_to"], done["note"]) == (
        "resolved", REJECTED, None, "the suggested payment belongs to another invoice")
    assert REJECTED in review.RESOLUTIONS
    assert [r["user_id"] for r in resolved_audit(workbench, done["id"])] == ["ana"]
    assert "Rejected the suggested link" in w.status.value


def test_a_judges_clicks_are_refused_by_the_service_and_shown(workbench):
    w = ReviewWidget(workbench["run_id"], store=workbench["store"], user="jo", page_size=25)
    row = a_row(w, suggested=True)
    assert not row.accept.disabled and not row.reject.disabled  # nothing hidden from a judge
    row.accept.click()
    assert "Refused: jo (judge) may not reconciliation.resolve" in w.status.value
    row.note.value = "not this one"
    row.reject.click()
    assert "Refused: jo (judge) may not reconciliation.resolve" in w.status.value
    assert item(workbench, row.item["id"])["status"] == "open"
    refusals = [r for r in audit_rows(workbench["store"], "permission.denied")
                if r["resource_id"] == f"open_items/{row.item['id']}"]
    assert [(r["user_id"], r["outcome"]) for r in refusals] == [("jo", "refused")] * 2


def test_pages_of_open_items(workbench):
    w = ReviewWidget(workbench["run_id"], store=workbench["store"], user="aud", page_size=3)
    assert w.total > 6 and w.previous.disabled and not w.next.disabled
    assert w.position.value == f"items 1–3 of {w.total:,}"
    first = [r.item["id"] for r in w.rows]
    w.next.click()
    assert w.position.value == f"items 4–6 of {w.total:,}" and not w.previous.disabled
    assert not set(first) & {r.item["id"] for r in w.rows}
    w.previous.click()
    assert [r.item["id"] for r in w.rows] == first
    with auth.acting_as("aud"):
        page, total = review.open_items_page(workbench["run_id"], limit=3,
                                             store=nx.store.connect(workbench["store"]))
    assert (first, w.total) == (page["id"].tolist(), total)


def test_a_reader_without_the_permission_sees_the_refusal(workbench):
    w = ReviewWidget(workbench["run_id"], store=workbench["store"], user="eve")
    assert "Refused: eve (executive) may not financial.read" in w.status.value
    assert w.rows == [] and w.next.disabled and w.previous.disabled


def test_an_unknown_run_or_page_size_is_an_error(workbench):
    with pytest.raises(NexusError, match="no reconciliation run 'nope' in the store"):
        ReviewWidget("nope", store=workbench["store"], user="ana")
    with pytest.raises(NexusError, match="page_size=0: give 1 to 1000"):
        ReviewWidget(workbench["run_id"], store=workbench["store"], page_size=0)
    for wrong in ("ten", None, 2.5, True):
        with pytest.raises(NexusError, match=f"page_size={wrong!r}: give a whole number"):
            ReviewWidget(workbench["run_id"], store=workbench["store"], page_size=wrong)


def test_an_approved_runs_items_are_closed_and_the_widget_says_so(tmp_path):
    store = nx.store.connect(tmp_path / "books.db")
    store.migrate()  # no roles yet: single-user
    bank, ledger, _ = nx.datasets.synth_reconciliation(120, seed=4)
    store.ingest("bank_statements", bank)
    store.ingest("expenses", ledger)
    _, run_id = workflows.reconcile_from_store(store, device="cpu")
    w = ReviewWidget(run_id, store=store, user="ana")
    review.approve_run(run_id, store=store)
    w.rows[0].note.value = "too late"
    w.rows[0].reject.click()
    assert f"reconciliation run {run_id} is approved" in w.status.value


def test_what_the_store_keeps_is_shown_as_text():
    row = ItemRow({"id": 1, "side": "bank", "transaction_id": HOSTILE, "date": "2025-01-02",
                   "amount_cents": -1250, "description": HOSTILE, "reason": "<b>odd</b>",
                   "suggested": HOSTILE}, lambda r: None, lambda r: None)
    shown = row.children[0].value
    assert "<img" not in shown and "&lt;img src=x onerror=alert(1)&gt;" in shown
    assert "&lt;b&gt;odd&lt;/b&gt;" in shown and "-12.50" in shown
