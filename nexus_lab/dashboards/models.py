"""Models: the workflows' runs in MLflow, the registered models, and their champions.

The latest runs of every workflow (reconciliation, fraud, recommender, compression): when,
who ran them, how they ended and the figures that say most about them. The registered
models' versions, which one is the champion (the alias MLflow serves), its history (who
promoted which version, from the store's audit log) and, for an administrator, the form
that makes another version champion (:func:`nexus_lab.tracking.promote`, which checks
``models.promote`` and records the promotion; a forged click is refused and recorded).

Serve it with ``nexus-lab dashboards serve`` (or ``panel serve dashboards/models.py``).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import panel as pn

from nexus_lab import tracking
from nexus_lab.dashboards._charts import columns, nothing
from nexus_lab.dashboards._layout import figure, guarded, html_pane, report_card
from nexus_lab.dashboards._session import Session

__all__ = ["page"]

_WORKFLOWS = {tracking.RECONCILE_EXPERIMENT: "Reconciliation",
              tracking.FRAUD_EXPERIMENT: "Fraud detection",
              tracking.RECOMMEND_EXPERIMENT: "Recommender",
              tracking.COMPRESS_EXPERIMENT: "Compression"}
_METRICS = {  # name shown, and whether it is a share (shown as a percentage)
    "rate": ("reconciled", True), "matched_pairs": ("matched pairs", False),
    "mean_confidence": ("mean confidence", False), "holdout_auprc": ("AUPRC", False),
    "holdout_roc_auc": ("ROC AUC", False), "holdout_flagged_share": ("flagged", True),
    "test_ndcg": ("NDCG", False), "test_precision": ("precision", False),
    "test_recall": ("recall", False), "compression_ratio": ("compression", False),
    "recall_at_10": ("recall@10", False), "mse": ("MSE", False),
}
_TABLE = {"show_index": False, "disabled": True, "sizing_mode": "stretch_width",
          "layout": "fit_data_stretch"}
_UNSORTED = {"columnDefaults": {"headerSort": False}}  # a few rows, in their own order


def metric_text(name: str, value: float) -> str:
    """A metric as people read it: ``rate`` 0.9778 as ``reconciled 97.8%``.

    Examples
    --------
    >>> (metric_text("rate", 0.97775), metric_text("holdout_auprc", 0.51428),
    ...  metric_text("matched_pairs", 1423.0))
    ('reconciled 97.8%', 'AUPRC 0.514', 'matched pairs 1,423')
    """
    label, share = _METRICS.get(name, (name.replace("_", " "), False))
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"{label} –"
    if share:
        return f"{label} {100 * value:.1f}%"
    if float(value).is_integer() and abs(value) >= 10:
        return f"{label} {value:,.0f}"
    return f"{label} {value:.3g}" if abs(value) >= 100 else f"{label} {value:.3f}"


def _when(stamp: Any) -> str:
    return "" if stamp is None or pd.isna(stamp) else f"{pd.Timestamp(stamp):%Y-%m-%d %H:%M}"


def _duration(seconds: float) -> str:
    if seconds is None or math.isnan(seconds):
        return "running"
    return f"{seconds:.1f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


class ModelsView:
    """The models page for one signed-in user."""

    def __init__(self, session: Session) -> None:
        self.s = session
        self.figures = pn.Row(sizing_mode="stretch_width")
        self.chart = pn.Column(sizing_mode="stretch_width")
        self.versions = pn.widgets.Tabulator(pd.DataFrame(), name="versions",
                                             css_classes=["nx-table-versions"],
                                             widths={"Registered": 150},
                                             configuration=_UNSORTED, **_TABLE)
        self.history = pn.widgets.Tabulator(pd.DataFrame(), name="history",
                                            css_classes=["nx-table-history"],
                                            widths={"When": 150, "Model": 150, "Version": 90,
                                                    "Before": 90, "By": 100},
                                            configuration=_UNSORTED, **_TABLE)
        self.runs = pn.widgets.Tabulator(pd.DataFrame(), name="runs", pagination="local",
                                         page_size=15, css_classes=["nx-table-runs"],
                                         widths={"Started": 150}, **_TABLE)
        self._promote_form()
        self.load()

    def _promote_form(self) -> None:
        allowed = self.s.can("models.promote")
        self.model = pn.widgets.Select(name="Model", options=[])
        self.version = pn.widgets.Select(name="Version", options={})
        self.note = pn.widgets.TextInput(name="Why", placeholder="e.g. better on March data")
        self.promote = pn.widgets.Button(name="Make champion", button_type="primary",
                                         css_classes=["nx-promote"])
        self.promote.on_click(self._do_promote)
        self.model.param.watch(self._model_changed, "value")
        # without the permission the form is not shown; the service refuses a forged click
        for widget in (self.model, self.version, self.note, self.promote):
            widget.visible = allowed
        self.promote_card = pn.Card(
            html_pane("<span class='nx-muted'>The champion is the version MLflow serves as "
                      f"<code>@{tracking.CHAMPION}</code>. The change is recorded with your "
                      "name.</span>"),
            self.model, self.version, self.note, self.promote, title="Promote a version",
            collapsible=False, width=340, visible=allowed)

    # ---- reading ------------------------------------------------------------------------
    def load(self) -> None:
        self.registry = self.s.read(tracking.registry)
        self.recent = self.s.read(tracking.recent_runs, limit=50)
        self.promotions = self.s.read(tracking.promotions)
        self._show_figures()
        self._show_versions()
        self.history.value = _show_history(self.promotions)
        self.history.height = _rows_height(max(1, len(self.promotions)), most=10)
        self.runs.value = _show_runs(self.recent)
        models = list(dict.fromkeys(self.registry["model"]))
        self.model.options = models
        if self.model.value in models:
            self._model_changed()
        else:
            self.model.value = models[0] if models else None

    def _show_figures(self) -> None:
        cards = [figure("Runs", f"{len(self.recent):,}", "the latest, of every workflow"
                        if len(self.recent) else "none logged yet")]
        for name, versions in self.registry.groupby("model", sort=True):
            champ = versions[versions["champion"]]
            if len(champ) == 0:
                cards.append(figure(f"Champion · {name}", "none",
                                    f"{len(versions):,} versions registered"))
                continue
            row = champ.iloc[0]
            promoted = self.promotions[(self.promotions["model"] == name)
                                       & (self.promotions["version"] == row["version"])]
            how = (f"promoted by {promoted['promoted_by'].iloc[0]}" if len(promoted) else
                   "champion since it was registered")
            cards.append(figure(f"Champion · {name}", f"version {row['version']}",
                                f"{metric_text(row['metric'], row['value'])} · {how}"))
        self.figures.objects = cards

    def _show_versions(self) -> None:
        self.versions.value = _show_registry(self.registry)
        self.versions.height = _rows_height(len(self.registry), most=12)
        scored = self.registry.dropna(subset=["value"])
        if len(scored) == 0:
            self.chart.objects = [nothing("Models by version", "No registered version has "
                                          "its deciding metric yet.")]
            return
        charts = []
        for name, versions in scored.groupby("model", sort=True):
            versions = versions.iloc[::-1]  # oldest first
            label, _ = _METRICS.get(versions["metric"].iloc[0], (versions["metric"].iloc[0],
                                                                 False))
            charts.append(pn.pane.Bokeh(columns(
                [f"v{v}{' ★' if c else ''}" for v, c in zip(versions["version"],
                                                          versions["champion"])],
                versions["value"].tolist(), f"{name}: {label} by version (★ champion)",
                self.s.accent, name=f"nx-plot-versions-{name}",
                text=[f"{v:.3f}" for v in versions["value"]], height=240),
                sizing_mode="stretch_width"))
        self.chart.objects = charts

    def _model_changed(self, *_: Any) -> None:
        mine = self.registry[self.registry["model"] == self.model.value]
        options = {(f"version {r['version']}" + (" (champion)" if r["champion"] else "")
                    + (f" · {metric_text(r['metric'], r['value'])}" if pd.notna(r["value"])
                       else "")): r["version"] for _, r in mine.iterrows()}
        self.version.options = options
        others = [v for _, v in options.items()
                  if not mine.loc[mine["version"] == v, "champion"].any()]
        self.version.value = others[0] if others else next(iter(options.values()), None)

    # ---- acting -------------------------------------------------------------------------
    def _do_promote(self, _event: Any) -> None:
        model, version = self.model.value or tracking.FRAUD_MODEL, self.version.value or "1"
        done = self.s.act(tracking.promote, model, version, note=self.note.value,
                          done=f"Version {version} of {model} is the champion now.")
        if done is not None:
            self.note.value = ""
            self.load()

    # ---- the page -----------------------------------------------------------------------
    def layout(self) -> tuple[list, list]:
        registry = pn.Column(
            pn.Row(pn.Column(self.chart, self.versions, sizing_mode="stretch_width"),
                   self.promote_card, sizing_mode="stretch_width"),
            html_pane("<b>Champion history</b> <span class='nx-muted'>(the promotions made "
                      "here, from the audit log)</span>"),
            self.history, sizing_mode="stretch_width")
        main = [self.figures,
                pn.Tabs(("Registry", registry), ("Recent runs", self.runs),
                        sizing_mode="stretch_width", dynamic=False)]
        sidebar = [html_pane(
            "<p class='nx-muted'>Runs and models are read from MLflow; each model version "
            "is a run of a workflow, measured on data it was not trained on. The champion is "
            "what scoring uses.</p>")]
        sidebar += [pn.layout.Divider(), report_card(self.s, "audit_trail")]
        return main, sidebar


def _rows_height(rows: int, most: int) -> int:
    """A table's height for ``rows`` rows, scrolling beyond ``most``."""
    return 60 + 40 * max(1, min(rows, most))


def _show_registry(rows: pd.DataFrame) -> pd.DataFrame:
    if len(rows) == 0:
        return pd.DataFrame(columns=["Model", "Version", "Champion", "Registered", "Measured",
                                     "Trained by"])
    return pd.DataFrame({
        "Model": rows["model"], "Version": rows["version"],
        "Champion": ["★ champion" if c else "" for c in rows["champion"]],
        "Registered": [_when(t) for t in rows["registered"]],
        "Measured": [metric_text(m, v) for m, v in zip(rows["metric"], rows["value"])],
        "Trained by": rows["trained_by"]})


def _show_history(rows: pd.DataFrame) -> pd.DataFrame:
    if len(rows) == 0:
        return pd.DataFrame({"When": ["–"], "Model": ["no promotion made here yet"],
                             "Version": [""], "Before": [""], "By": [""], "Note": [""]})
    return pd.DataFrame({
        "When": [_when(t) for t in rows["promoted_at"]], "Model": rows["model"],
        "Version": rows["version"], "Before": rows["previous"].fillna("(none)"),
        "By": rows["promoted_by"], "Note": rows["note"].fillna("")})


def _show_runs(rows: pd.DataFrame) -> pd.DataFrame:
    if len(rows) == 0:
        return pd.DataFrame(columns=["Started", "Workflow", "Run", "Status", "By",
                                     "Key figures", "Took"])
    return pd.DataFrame({
        "Started": [_when(t) for t in rows["started"]],
        "Workflow": [_WORKFLOWS.get(e, e) for e in rows["experiment"]],
        "Run": rows["run_name"], "Status": rows["status"].str.lower(), "By": rows["user"],
        "Key figures": [" · ".join(metric_text(k, v) for k, v in m.items())
                        for m in rows["key_metrics"]],
        "Took": [_duration(x) for x in rows["seconds"]]})


def page() -> Any:
    """The models dashboard for the signed-in user (a Panel template)."""
    return guarded("models", lambda session: ModelsView(session).layout())
