"""The review widget: a reconciliation run's open items, accepted or rejected in a notebook.

Each open item shows the link the engine suggests; **Accept** links it
(``resolve_open_item(item, "linked")``), **Reject** says the suggested link is wrong and
takes the item as it stands (``"accepted"``, with the reviewer's note, which is required).
Every action is the review service's (:func:`nexus_lab.review.resolve_open_item`), run as
the widget's user: the service checks the permission and records the action, or the
refusal, in the audit log. The widget shows the outcome on its status line; it hides no
button from a user whose role may not act (the service's refusal is the answer).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from nexus_lab._html import escape
from nexus_lab.errors import NexusError, PermissionDenied
from nexus_lab.frames import cents_text

__all__ = ["REJECTED", "ReviewWidget"]

#: The resolution a rejected suggestion gets: the item is accepted as it stands, unlinked
#: (one of :data:`nexus_lab.review.RESOLUTIONS`).
REJECTED = "accepted"
_COLORS = {"done": "#2f6b3a", "refused": "#a8322d", "warning": "#b25f00", "info": "#5c6673"}


class ItemRow(widgets.HBox):
    """One open item on the page, with its note and its Accept and Reject buttons.

    Attributes
    ----------
    item : dict
        The open item (a row of :func:`nexus_lab.review.open_items_page`).
    note, accept, reject : ipywidgets.Text, ipywidgets.Button, ipywidgets.Button
    """

    def __init__(self, item: dict, on_accept: Callable[[ItemRow], None],
                 on_reject: Callable[[ItemRow], None]) -> None:
        self.item = item
        suggested = item.get("suggested")
        link = (f"suggested: <code>{escape(suggested)}</code>" if suggested else
                "<i>no suggested link</i>")
        text = (f"<code>{escape(item['transaction_id'])}</code> ({escape(item['side'])}) "
                f"{escape(_day(item['date']))} · <b>{escape(cents_text(item['amount_cents']))}"
                f"</b> · {escape(item.get('description') or '')} · "
                f"<i>{escape(item['reason'])}</i> · {link}")
        self.note = widgets.Text(placeholder="note (required to reject)",
                                 layout=widgets.Layout(width="220px"))
        self.accept = widgets.Button(description="Accept", button_style="success",
                                     tooltip="link it to the suggested transaction",
                                     disabled=not suggested,
                                     layout=widgets.Layout(width="80px"))
        self.reject = widgets.Button(description="Reject", button_style="warning",
                                     tooltip="not this link: accept the item as it stands",
                                     layout=widgets.Layout(width="80px"))
        self.accept.on_click(lambda _: on_accept(self))
        self.reject.on_click(lambda _: on_reject(self))
        super().__init__([widgets.HTML(text, layout=widgets.Layout(flex="1 1 auto")),
                          self.note, self.accept, self.reject],
                         layout=widgets.Layout(align_items="center"))


class ReviewWidget(widgets.VBox):
    """A reconciliation run's open items, a page at a time, to accept or reject.

    Parameters
    ----------
    run_id : str
        A reconciliation run kept in the store (:func:`nexus_lab.review.runs` lists them).
    store : Store or str, optional
        Default: :func:`nexus_lab.store.connect`'s.
    user : str, optional
        Who acts (default: the current user, :func:`nexus_lab.auth.current_user`, when the
        widget is made).
    page_size : int, default 10
        Open items per page (1 to 1000).

    Attributes
    ----------
    rows : list of ItemRow
        The page's open items, each with its ``note``, ``accept`` and ``reject``.
    previous, next : ipywidgets.Button
        Paging.
    status : ipywidgets.HTML
        The outcome of the last action (a refusal's message included).

    Raises
    ------
    NexusError
        No such run in the store, or a page size out of range.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import nexus_lab as nx
    >>> from nexus_lab import workflows
    >>> from nexus_lab.jupyter import ReviewWidget
    >>> store = nx.store.connect(pathlib.Path(tempfile.mkdtemp()) / "books.db")
    >>> _ = store.migrate()
    >>> bank, ledger, _ = nx.datasets.synth_reconciliation(100, seed=0)
    >>> _ = store.ingest("bank_statements", bank), store.ingest("expenses", ledger)
    >>> _, run_id = workflows.reconcile_from_store(store, device="cpu")
    >>> w = ReviewWidget(run_id, store=store, user="ana", page_size=5)
    >>> len(w.rows) <= 5 and w.total > 0
    True
    """

    def __init__(self, run_id: str, *, store: Any = None, user: str | None = None,
                 page_size: int = 10) -> None:
        from nexus_lab import auth
        from nexus_lab.store import connect

        if isinstance(page_size, bool) or not isinstance(page_size, numbers.Integral):
            raise NexusError(f"page_size={page_size!r}: give a whole number of open items "
                             "per page, 1 to 1000")
        if not 1 <= page_size <= 1000:
            raise NexusError(f"page_size={page_size}: give 1 to 1000 open items per page")
        self.run_id = str(run_id)
        self.store = connect(store)
        self.user = user or auth.current_user()
        self.page_size = int(page_size)
        self.offset = 0
        self.total = 0
        self.rows: list[ItemRow] = []
        self.header = widgets.HTML()
        self.items = widgets.VBox()
        self.previous = widgets.Button(description="Previous", icon="arrow-left")
        self.next = widgets.Button(description="Next", icon="arrow-right")
        self.position = widgets.Label()
        self.status = widgets.HTML()
        self.previous.on_click(lambda _: self._turn(-1))
        self.next.on_click(lambda _: self._turn(1))
        super().__init__([self.header, self.items,
                          widgets.HBox([self.previous, self.position, self.next]),
                          self.status])
        self._load(strict=True)

    # ---- what it shows -----------------------------------------------------------------
    def refresh(self) -> None:
        """Read the run and the current page again (a refusal shows on the status line)."""
        self._load(strict=False)

    def _load(self, *, strict: bool) -> None:
        from nexus_lab import auth, review

        try:
            with auth.acting_as(self.user):
                run = review.run_overview(self.run_id, store=self.store)["run"]
                page, total = review.open_items_page(
                    self.run_id, status="open", sort="date", offset=self.offset,
                    limit=self.page_size, store=self.store)
                if self.offset and self.offset >= total:  # its last item was resolved
                    self.offset = max(0, (total - 1) // self.page_size * self.page_size)
                    page, total = review.open_items_page(
                        self.run_id, status="open", sort="date", offset=self.offset,
                        limit=self.page_size, store=self.store)
        except PermissionDenied as err:
            self._show([], 0)
            self.header.value = f"<b>Reconciliation run {escape(self.run_id)}</b>"
            self.say(f"Refused: {err}", "refused")
            return
        except NexusError as err:
            if strict:
                raise
            self.say(str(err), "warning")
            return
        rate = "" if run.get("rate") is None or run["rate"] != run["rate"] else \
            f" · {100 * float(run['rate']):.1f}% of the bank amount reconciled"
        period = (f" · {_day(run.get('period_start'))} – {_day(run.get('period_end'))}"
                  if _day(run.get("period_start")) else "")
        self.header.value = (
            f"<b>Reconciliation run {escape(self.run_id)}</b>"
            f"{' · account ' + escape(run['account']) if run.get('account') else ''}"
            f"{escape(period)} · {escape(run['status'])}{escape(rate)} · "
            f"{total:,} open items · acting as <b>{escape(self.user)}</b>")
        self._show(page.to_dict("records"), total)

    def _show(self, items: list[dict], total: int) -> None:
        self.total = total
        self.rows = [ItemRow(item, self._accept, self._reject) for item in items]
        self.items.children = tuple(self.rows) if self.rows else (
            widgets.HTML("<i>No open items.</i>" if total == 0 else ""),)
        first = self.offset + 1 if self.rows else 0
        self.position.value = f"items {first:,}–{self.offset + len(self.rows):,} of {total:,}"
        self.previous.disabled = self.offset == 0
        self.next.disabled = self.offset + len(self.rows) >= total

    def say(self, message: str, kind: str = "info") -> None:
        """Show ``message`` on the status line (as text, never as markup)."""
        self.status.value = (f"<span style='color:{_COLORS.get(kind, _COLORS['info'])}'>"
                             f"{escape(message)}</span>")

    def _turn(self, step: int) -> None:
        self.offset = max(0, self.offset + step * self.page_size)
        self.refresh()

    # ---- acting ----------------------------------------------------------------------------
    def _accept(self, row: ItemRow) -> None:
        item = row.item
        self._act(row, "linked", f"Linked {item['transaction_id']} to {item['suggested']}.")

    def _reject(self, row: ItemRow) -> None:
        if not row.note.value.strip():
            self.say(f"Say why the suggested link of {row.item['transaction_id']} is wrong: a "
                     "note is required to reject it.", "warning")
            return
        what = (f"Rejected the suggested link of {row.item['transaction_id']}; it" if
                row.item.get("suggested") else row.item["transaction_id"])
        self._act(row, REJECTED, f"{what} is accepted as it stands, unlinked.")

    def _act(self, row: ItemRow, resolution: str, done: str) -> None:
        from nexus_lab import auth, review

        try:
            with auth.acting_as(self.user):
                review.resolve_open_item(int(row.item["id"]), resolution,
                                         note=row.note.value.strip(), store=self.store)
        except PermissionDenied as err:
            self.say(f"Refused: {err}", "refused")
            return
        except NexusError as err:
            self.say(str(err), "warning")
            return
        self.refresh()
        self.say(done, "done")


def _day(value: Any) -> str:
    """A date as ``YYYY-MM-DD`` (the store gives timestamps at midnight)."""
    import pandas as pd

    return "" if value is None or pd.isna(value) else str(pd.Timestamp(value).date())
