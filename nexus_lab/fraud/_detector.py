"""The fraud detector: rules, statistics and learned models in one risk score."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from nexus_lab._arrays import first_of, small_pages
from nexus_lab._estimator import Params, check_is_fitted, json_value
from nexus_lab._html import cluster_note, escape
from nexus_lab._typing import DeviceLike, FrameLike
from nexus_lab.device import resolve_device
from nexus_lab.errors import IntegrityError, SchemaError
from nexus_lab.frames import decimal_text
from nexus_lab.fraud import _models as models
from nexus_lab.fraud._features import (
    ENTITIES,
    BatchTotals,
    GroupStats,
    HistoryTables,
    _codes,
    benford_table,
    check_rules,
    encode,
    entity_totals,
    first_digit,
    group_quantiles,
    history_signals,
    in_history,
    log_amount,
    window_seconds,
    window_signals,
)
from nexus_lab.fraud._inputs import Tx, prepare_labels, prepare_transactions

log = logging.getLogger("nexus_lab")

#: Flag categories, in the order reasons are listed when equally strong.
FLAGS = (
    "duplicate",
    "velocity",
    "threshold",
    "statistical outlier",
    "model anomaly",
    "benford",
    "new vendor",
    "round amount",
    "off hours",
)
FEATURES = (
    "log_amount", "z_vendor", "z_account", "z_category", "iqr_excess", "hour_sin", "hour_cos",
    "off_hours", "weekend", "count_window", "count_day", "sum_day", "gap_prev", "gap_next",
    "new_vendor", "vendor_accounts", "vendor_share", "duplicate", "near_duplicate",
    "round_amount", "threshold_ratio", "account_prior",
)
_MIN_ROWS = 10
_TOP_REASONS = 3


class ScoredTransactions(pd.DataFrame):
    """The scores of :meth:`FraudDetector.score`: a DataFrame with a rich notebook view.

    Columns: ``transaction_id, risk_score`` (0-100), ``flags`` (list of flag
    categories), ``reasons`` (the strongest contributions, as sentences), and
    ``model_score`` (the anomaly percentile or, when trained with labels, the
    calibrated probability, both 0-1). Scored on Dask (:func:`nexus_lab.scale.score_fraud`),
    ``attrs["dask"]`` says on how many workers and partitions, with the Dask dashboard's
    link, which the notebook view shows.
    """

    @property
    def _constructor(self):  # operations on the frame give plain DataFrames
        return pd.DataFrame

    def summary(self) -> dict:
        """Rows, flagged rows, rows per flag, and the risk distribution."""
        flags = pd.Series(_flat(self["flags"]), dtype=object)
        return {
            "rows": len(self),
            "flagged": int((_lengths(self["flags"]) > 0).sum()),
            "risk_at_least_50": int((self["risk_score"] >= 50).sum()),
            "risk_at_least_80": int((self["risk_score"] >= 80).sum()),
            "per_flag": {k: int(v) for k, v in flags.value_counts().items()},
        }

    def _repr_html_(self) -> str:
        s = self.summary()
        top = self.sort_values("risk_score", ascending=False, kind="stable").head(15)
        rows = "".join(
            "<tr><td>{id}</td><td><div style='background:linear-gradient(90deg,#c0392b {w}%,"
            "#eee {w}%);padding:0 4px'>{r:.1f}</div></td><td>{f}</td><td>{why}</td></tr>".format(
                id=escape(str(t.transaction_id)), w=t.risk_score, r=t.risk_score,
                f=escape(", ".join(t.flags)), why=escape(" · ".join(t.reasons)))
            for t in top.itertuples()
        )
        per = ", ".join(f"{escape(k)} {v:,}" for k, v in s["per_flag"].items()) or "none"
        return (
            f"<div class='nexus-fraud'><h4>Fraud risk: {s['rows']:,} transactions, "
            f"{s['flagged']:,} flagged, {s['risk_at_least_80']:,} at risk ≥ 80</h4>"
            f"{cluster_note(self.attrs.get('dask'))}<p>Flags: {per}</p>"
            "<table><tr><th>transaction</th><th>risk</th><th>flags</th>"
            f"<th>top reasons</th></tr>{rows}</table></div>"
        )


def _rate_of(table: np.ndarray, codes: np.ndarray, prior: float) -> np.ndarray:
    """Fraud rate of each code's group; codes the table has not seen get the prior."""
    seen = codes < len(table)
    return np.where(seen, table[np.where(seen, codes, 0)], prior)


def _lengths(column: pd.Series) -> np.ndarray:
    """Items per row of a column of lists (Arrow-backed or Python lists)."""
    if isinstance(column.dtype, pd.ArrowDtype):
        return column.list.len().fillna(0).to_numpy(dtype=np.int64)
    return column.map(len).to_numpy(dtype=np.int64)


def _flat(column: pd.Series) -> list:
    if isinstance(column.dtype, pd.ArrowDtype):
        return pa.array(column.array).flatten().to_pylist()
    return [f for fs in column for f in fs]


class FraudDetector(Params):
    """Score transactions 0-100 for fraud risk, say why, and learn from history.

    Rules (approval thresholds, round amounts, exact and near duplicates,
    velocity per account, off hours, first payments to a vendor, Benford's
    law per vendor and account), robust statistics (modified z-scores per
    vendor, account and category; Tukey fences) and two unsupervised models (an
    isolation forest and a PyTorch Lightning autoencoder) are combined into one
    score. Without labels the signals are combined as independent pieces of
    evidence (noisy-OR of their strengths), which ranks rows but is not a
    probability. With labels, gradient-boosted trees learn from all of them
    plus out-of-fold fraud rates of accounts and vendors, and their
    out-of-fold predictions are calibrated (isotonic), so a risk of 90 means
    about 90% of such rows were fraud.

    Parameters
    ----------
    columns : mapping, optional
        Your column names for ``transaction_id, date, amount, account, vendor,
        category``, e.g. ``{"account": "card_id", "date": "datetime"}``.
    device : {"auto", "cpu", "cuda"}
        Where the autoencoder trains and scores.
    random_state : int
        Seed of every random step.
    rules : mapping, optional
        Overrides of :data:`nexus_lab.fraud.DEFAULT_RULES`, e.g.
        ``{"thresholds": (5_000, 10_000), "velocity_count": 8}``.
    cv : int
        Folds of the out-of-fold predictions and target statistics (labels only).
    autoencoder_epochs : int
        Passes of the autoencoder over (a sample of at most 200k) history rows.
    decimal : {"auto", ".", ","}
        The decimal mark of amounts written as text; ``"auto"`` decides it per column
        from all its values and refuses a column showing both.
    dayfirst : bool, optional
        The order of numeric dates (``03/04/2025``) when the column does not settle it
        by itself (a day above 12 does); such a column is refused otherwise.

    Attributes
    ----------
    supervised_ : bool
        Whether labels with both classes were given to :meth:`fit`.
    rules_ : dict
        The rule settings in use.
    n_history_ : int
        Rows seen by :meth:`fit`.
    score_seconds_, score_timings_ : float, dict
        Seconds of the last :meth:`score` call, in all and per stage.

    Examples
    --------
    >>> import nexus_lab as nx
    >>> tx = nx.data.synth_transactions(3_000, seed=0)
    >>> det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=2).fit(tx)
    >>> scored = det.score(tx)
    >>> list(scored.columns[:4])
    ['transaction_id', 'risk_score', 'flags', 'reasons']
    >>> bool(scored.loc[tx["pattern"].eq("duplicate").to_numpy(), "flags"].map(
    ...     lambda f: "duplicate" in f).all())
    True
    """

    def __init__(
        self,
        columns: Mapping[str, str] | None = None,
        device: DeviceLike = "auto",
        random_state: int = 0,
        rules: Mapping[str, object] | None = None,
        cv: int = 5,
        autoencoder_epochs: int = 12,
        decimal: str = "auto",
        dayfirst: bool | None = None,
    ) -> None:
        self.columns = columns
        self.device = device
        self.random_state = random_state
        self.rules = rules
        self.cv = cv
        self.autoencoder_epochs = autoencoder_epochs
        self.decimal = decimal
        self.dayfirst = dayfirst

    # ----------------------------------------------------------------- fit
    def fit(self, history: FrameLike, y: object = None) -> FraudDetector:
        """Learn what is usual from ``history`` (and, with ``y``, what fraud looks like).

        Parameters
        ----------
        history : DataFrame
            Past transactions (pandas, polars, pyarrow or cuDF).
        y : array-like or str, optional
            Fraud labels, one per row (booleans or 0/1), or the name of a column
            of ``history`` holding them. Labels of a single class cannot teach
            the difference: the detector then falls back to unsupervised
            scoring and logs a warning.

        Returns
        -------
        FraudDetector
        """
        with small_pages():
            return self._fit(history, y)

    def _fit(self, history: FrameLike, y: object) -> FraudDetector:
        t0 = time.perf_counter()
        tx = prepare_transactions(history, self.columns, "history", decimal=self.decimal,
                                  dayfirst=self.dayfirst)
        if len(tx) < _MIN_ROWS:
            raise SchemaError(
                f"history has {len(tx)} row{'s' if len(tx) != 1 else ''}; the detector learns "
                f"what is usual from history, so give fit() at least {_MIN_ROWS} transactions "
                "(score() takes any number of rows, a single one included)",
                table="history",
            )
        labels = prepare_labels(y, history, len(tx)) if y is not None else None
        if labels is not None and labels.min() == labels.max():
            log.warning(
                "labels hold only %s rows: a model cannot learn fraud from one class; "
                "the detector is fitted unsupervised", "fraud" if labels[0] else "non-fraud")
            labels = None
        self.rules_ = check_rules(self.rules)
        self.device_ = resolve_device(self.device)
        self.vocab_ = {e: pd.Index(pd.unique(tx.entities[e])) for e in ENTITIES}
        codes = {e: encode(self.vocab_[e], tx.entities[e]) for e in ENTITIES}
        x = log_amount(tx.cents)
        self.stats_ = {e: GroupStats.fit(codes[e], x, len(self.vocab_[e])) for e in ENTITIES}
        self.history_ = tx
        self._history_index = None
        self.n_history_ = len(tx)
        self.history_order_ = np.argsort(tx.ts, kind="stable")
        self.tables_ = HistoryTables.build(
            tx.ts, tx.cents, codes["account"], codes["vendor"], len(self.vocab_["account"]),
            len(self.vocab_["vendor"]))
        sig = self._signals(tx, codes, np.arange(len(tx)), np.zeros(len(tx), bool))
        raw = _matrix(sig)
        self.anomaly_ = models.AnomalyDetector(
            self.device_, self.random_state, self.autoencoder_epochs).fit(raw)
        xs = self.anomaly_.transform(raw)
        sig["forest_pct"], sig["ae_pct"], _ = self.anomaly_.score_parts(xs, standardized=True)
        _strengths(sig, self.rules_)
        self.supervised_ = labels is not None
        if self.supervised_:
            self._fit_supervised(sig, xs, codes, labels)
        self.fit_seconds_ = time.perf_counter() - t0
        self._last: dict | None = None
        log.info("fraud detector fitted on %d rows in %.1fs (%s)", len(tx), self.fit_seconds_,
                 "supervised" if self.supervised_ else "unsupervised")
        return self

    def _fit_supervised(self, sig, xs, codes, labels) -> None:
        from sklearn.model_selection import StratifiedKFold

        n = len(labels)
        self.prior_ = float(labels.mean())
        folds = np.empty(n, np.int64)
        k = int(min(self.cv, max(2, np.bincount(labels.astype(int)).min())))
        splitter = StratifiedKFold(k, shuffle=True, random_state=self.random_state)
        for f, (_, test) in enumerate(splitter.split(np.zeros(n), labels)):
            folds[test] = f
        base = np.column_stack([xs, sig["strengths"]])
        # out-of-fold predictions for calibration: each fold's model sees target
        # statistics cross-fitted within its own training rows only
        oof = np.empty(n)
        for f in range(k):
            train, test = folds != f, folds == f
            inner = folds[train] - (folds[train] > f)  # the other folds, renumbered
            feats_tr = np.column_stack([base[train], self._target_oof(codes, labels, train,
                                                                      inner)])
            feats_te = np.column_stack([base[test], self._target_from(codes, labels, train,
                                                                      test)])
            model = models.fit_boosting(feats_tr, labels[train], self.random_state)
            oof[test] = model.predict_proba(feats_te)[:, 1]
        self.calibrator_ = models.fit_calibrator(oof, labels)
        everything = np.ones(n, bool)
        feats = np.column_stack([base, self._target_oof(codes, labels, everything, folds)])
        self.booster_ = models.fit_boosting(feats, labels, self.random_state)
        self.targets_ = {
            e: models.target_table(codes[e], labels, len(self.vocab_[e]), self.prior_)
            for e in ("account", "vendor")
        }
        self.oof_probability_ = self.calibrator_.predict(oof)
        self.labels_ = labels

    def _target_oof(self, codes, labels, rows, folds) -> np.ndarray:
        return np.column_stack([
            models.out_of_fold_target(codes[e][rows], labels[rows], len(self.vocab_[e]), folds)
            for e in ("account", "vendor")
        ])

    def _target_from(self, codes, labels, train, test) -> np.ndarray:
        prior = float(labels[train].mean())
        return np.column_stack([
            _rate_of(models.target_table(codes[e][train], labels[train], len(self.vocab_[e]),
                                         prior), codes[e][test], prior)
            for e in ("account", "vendor")
        ])

    # ----------------------------------------------------------------- score
    def score(self, transactions: object, *, keep_for_explain: bool = True,
              batch: BatchTotals | None = None) -> ScoredTransactions:
        """Score transactions 0-100, with flags and the top reasons per row.

        Rows are judged against the fitted history *and* each other: a burst
        or a duplicate that straddles the two is found. Rows whose id is in the
        history are scored as they stand there.

        Parameters
        ----------
        transactions : DataFrame
            Transactions with the columns given to :meth:`fit`.
        keep_for_explain : bool
            Keep what :meth:`explain` needs about these rows (replacing the
            previous call's); False leaves the previous call's in place.
        batch : BatchTotals, optional
            When ``transactions`` is a part of a larger table holding all the rows of
            its accounts: the :meth:`batch_totals` of all the parts, combined
            (``BatchTotals.combine``); the part is then scored as it would be within
            the whole table. By default the totals of ``transactions`` themselves.

        Returns
        -------
        ScoredTransactions
            ``transaction_id, risk_score, flags, reasons, model_score``, in the
            order of the input rows.
        """
        check_is_fitted(self, fit_call="fit(history)")
        with small_pages():
            return self._score(transactions, keep_for_explain, batch)

    def batch_totals(self, transactions: object) -> BatchTotals:
        """What ``transactions`` say together about vendors and times of day.

        A table cut into parts, each holding all the rows of its accounts, scores as
        the whole table when every part is scored with ``batch=`` the combined totals
        of all the parts (:class:`~nexus_lab.fraud._features.BatchTotals`).

        Parameters
        ----------
        transactions : DataFrame
            A part of the table to score, with the columns given to :meth:`fit`.

        Returns
        -------
        BatchTotals

        Examples
        --------
        >>> import nexus_lab as nx
        >>> tx = nx.datasets.synth_transactions(1_000, seed=0)
        >>> det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(tx[:600])
        >>> west = tx["account"].isin(tx["account"].unique()[::2])  # half of the accounts
        >>> parts = [det.batch_totals(tx[west]), det.batch_totals(tx[~west])]
        >>> whole = type(parts[0]).combine(parts)
        >>> scored = det.score(tx[west], batch=whole)
        >>> scored.equals(det.score(tx)[west.to_numpy()].reset_index(drop=True))
        True
        """
        check_is_fitted(self, fit_call="fit(history)")
        with small_pages():
            tx, known = self._prepare(transactions)
            codes = {e: encode(self.vocab_[e], tx.entities[e]) for e in ("account", "vendor")}
            return self._totals(tx, codes, known < 0)

    def _prepare(self, transactions: object) -> tuple[Tx, np.ndarray]:
        """The rows as arrays, and the history row of each (-1: a new row)."""
        tx = prepare_transactions(transactions, self.columns, "transactions",
                                  decimal=self.decimal, dayfirst=self.dayfirst)
        if getattr(self, "_history_index", None) is None:  # its hash table is kept with it
            self._history_index = pd.Index(self.history_.ids)
        known = self._history_index.get_indexer(tx.ids) if len(tx) else np.zeros(0, np.int64)
        return tx, known

    def _totals(self, tx: Tx, codes: dict, new: np.ndarray) -> BatchTotals:
        """The batch totals of the rows ``tx`` (coded ``codes``; ``new``: not in history)."""
        acct, vend = codes["account"], codes["vendor"]
        na = np.flatnonzero(new)
        fresh = na[~in_history(self.tables_, acct[na], vend[na])]
        _, first = np.unique(_codes(acct[fresh], vend[fresh]), return_index=True)
        pairs = pd.DataFrame({e: tx.entities[e][fresh[first]].astype(str).astype(object)
                              for e in ("account", "vendor")})
        digits, thin = entity_totals(tx.entities["vendor"], vend, tx.cents, new,
                                     self.tables_.digits["vendor"], self.rules_)
        return BatchTotals(pairs, digits, thin, bool((tx.local % 86_400 != 0).any()))

    def _score(self, transactions: object, keep_for_explain: bool,
               batch: BatchTotals | None = None) -> ScoredTransactions:
        t0 = time.perf_counter()
        tx, known = self._prepare(transactions)
        stages = {"inputs": time.perf_counter() - t0}
        t = time.perf_counter()
        hist = self.history_
        # the history rows near the scored ones in time: the only ones their windows see
        reach = window_seconds(self.rules_)
        sorted_ts = hist.ts[self.history_order_]
        lo = np.searchsorted(sorted_ts, tx.ts.min() - reach, "left") if len(tx) else 0
        hi = np.searchsorted(sorted_ts, tx.ts.max() + reach, "right") if len(tx) else 0
        near = np.sort(self.history_order_[lo:hi])
        near = near[~np.isin(near, known[known >= 0])]
        ctx = Tx.concat([hist.take(near), tx])
        target = np.arange(len(near), len(ctx))
        codes = {e: encode(self.vocab_[e], ctx.entities[e]) for e in ENTITIES}
        stages["context"] = time.perf_counter() - t
        t = time.perf_counter()
        sig = self._signals(ctx, codes, target, known < 0, batch)
        xs = self.anomaly_.transform(_matrix(sig))
        stages["rules and statistics"] = time.perf_counter() - t
        t = time.perf_counter()
        sig["forest_pct"], sig["ae_pct"], ae_parts = self.anomaly_.score_parts(
            xs, standardized=True)
        stages["anomaly models"] = time.perf_counter() - t
        t = time.perf_counter()
        strengths = _strengths(sig, self.rules_)
        if self.supervised_:
            feats = np.column_stack([xs, strengths, np.column_stack([
                _rate_of(self.targets_[e], codes[e][target], self.prior_)
                for e in ("account", "vendor")])])
            raw_p = self.booster_.predict_proba(feats)[:, 1]
            prob = self.calibrator_.predict(raw_p)
            risk = 100.0 * prob
            model_score = prob
        else:
            feats = None
            risk = 100.0 * (1.0 - np.prod(1.0 - strengths, axis=1))
            model_score = np.maximum(sig["forest_pct"], sig["ae_pct"])
        stages["risk"] = time.perf_counter() - t
        t = time.perf_counter()
        flags, reasons = _flags_and_reasons(strengths, sig, ctx, self.rules_)
        out = ScoredTransactions({
            "transaction_id": tx.ids,
            "risk_score": np.round(risk, 1),
            "flags": flags.array,
            "reasons": reasons.array,
            "model_score": np.round(model_score, 4),
        })
        if keep_for_explain:
            self._last = {"ids": pd.Index(tx.ids), "sig": sig, "xs": xs, "ae_parts": ae_parts,
                          "strengths": strengths, "feats": feats}
        stages["flags and reasons"] = time.perf_counter() - t
        self.score_seconds_ = time.perf_counter() - t0
        self.score_timings_ = stages
        return out

    def explain(self, transaction_id: object) -> pd.DataFrame:
        """Per-rule and per-feature contributions for one scored transaction.

        Parameters
        ----------
        transaction_id : object
            The id of a row of the last :meth:`score` call.

        Returns
        -------
        pandas.DataFrame
            One row per rule (``kind="rule"``: its strength and the risk points
            it adds) and per model feature (``kind="feature"``: its value,
            standardized value, share of the autoencoder's reconstruction error,
            and, with labels, how much the calibrated probability drops when the
            feature is set to its usual value), strongest first.
        """
        check_is_fitted(self, fit_call="fit(history)")
        last = self._last
        if last is None:
            raise SchemaError("explain() reads the last score() call: score the rows first")
        pos = last["ids"].get_indexer([transaction_id])[0]
        if pos < 0:
            raise SchemaError(
                f"transaction {transaction_id!r} was not in the last score() call; score a "
                "table holding it first", column="transaction_id")
        s = last["strengths"][pos]
        total = 1.0 - np.prod(1.0 - s)
        points = []
        for k in range(len(FLAGS)):
            without = 1.0 - np.prod(np.delete(1.0 - s, k))
            points.append(100.0 * (total - without))
        parts = last["ae_parts"][pos]
        share = parts / max(parts.sum(), 1e-12)
        if self.supervised_:
            # how much the calibrated probability drops when the feature is set to its
            # usual value (0 after standardization: the history's median)
            row = last["feats"][pos : pos + 1]
            base = self.calibrator_.predict(self.booster_.predict_proba(row)[:, 1])[0]
            trial = np.repeat(row, len(FEATURES), axis=0)
            trial[np.arange(len(FEATURES)), np.arange(len(FEATURES))] = 0.0
            p = self.calibrator_.predict(self.booster_.predict_proba(trial)[:, 1])
            feature_points = 100.0 * (base - p)
        else:  # the autoencoder's error, shared out over the features, when it is unusual
            feature_points = 100.0 * share * float(last["sig"]["ae_pct"][pos] >= 0.95)
        nan = np.full(len(FLAGS), np.nan)
        out = pd.DataFrame({
            "kind": ["rule"] * len(FLAGS) + ["feature"] * len(FEATURES),
            "name": [*FLAGS, *FEATURES],
            "value": np.r_[s, _matrix({k: v[pos : pos + 1] for k, v in last["sig"].items()})[0]],
            "standardized": np.r_[nan, last["xs"][pos]],
            "error_share": np.r_[nan, share],
            "contribution": np.r_[points, feature_points],
        })
        order = np.argsort(-np.nan_to_num(out["contribution"].abs().to_numpy()), kind="stable")
        return out.iloc[order].reset_index(drop=True)

    # ----------------------------------------------------------------- state
    def to_state(self) -> dict[str, Any]:
        """The fitted detector as plain values, for a service to save.

        What scoring needs, and nothing about the last :meth:`score` call (so
        :meth:`explain` needs a new one) or the fit's diagnostics (``fit_seconds_``,
        ``labels_``, ``oof_probability_``).

        Returns
        -------
        dict
            JSON: ``class``, ``params`` (but ``device``), ``rules`` (the settings in
            use), ``vocab`` (per entity, its values in code order, as text),
            ``supervised``, ``prior``, ``n_history``, ``ids_as_text``.
            Arrays: ``stats`` (per entity, ``{count, median, mad, q1, q3}`` of
            log-amounts per group) and, with labels, ``targets`` (per entity, the
            smoothed fraud rate per group). ``history``: a DataFrame of the fitted
            rows (``transaction_id, ts, local, cents`` and the entities, as text),
            from which the history's summary tables are rebuilt. ``anomaly``: the
            state of its :class:`AnomalyDetector`. With labels, ``booster`` and
            ``calibrator``: the scikit-learn boosted trees and isotonic calibrator.

        Raises
        ------
        NotFittedError
            When the detector is not fitted.

        Examples
        --------
        >>> import nexus_lab as nx
        >>> tx = nx.datasets.synth_transactions(1_000, seed=0)
        >>> det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(tx)
        >>> state = det.to_state()
        >>> state["n_history"] == len(tx), list(state["history"].columns[:4])
        (True, ['transaction_id', 'ts', 'local', 'cents'])
        >>> again = nx.fraud.FraudDetector.from_state(state, device="cpu")
        >>> again.score(tx)["risk_score"].equals(det.score(tx)["risk_score"])
        True
        """
        check_is_fitted(self, fit_call="fit(history)")
        hist = self.history_
        text_ids = hist.ids.dtype.kind not in "iu"
        # how the input wrote money and dates is saved only when it was given: a model
        # saved with the defaults reads as every model saved before those settings existed
        unset = (("device", self.device), ("decimal", "auto"), ("dayfirst", None))
        params = {k: v for k, v in self.get_params().items() if (k, v) not in unset}
        state: dict[str, Any] = {
            "class": type(self).__name__,
            "params": json_value(params, "FraudDetector parameters"),
            "rules": json_value(self.rules_, "rules_"),
            "vocab": {e: self.vocab_[e].astype(str).tolist() for e in ENTITIES},
            "supervised": bool(self.supervised_),
            "prior": float(getattr(self, "prior_", 0.0)),
            "n_history": int(self.n_history_),
            "ids_as_text": bool(text_ids),
            "stats": {e: dict(vars(self.stats_[e])) for e in ENTITIES},
            "history": pd.DataFrame({
                "transaction_id": hist.ids.astype(str) if text_ids else hist.ids,
                "ts": hist.ts, "local": hist.local, "cents": hist.cents,
                **{e: hist.entities[e].astype(str) for e in ENTITIES},
            }),
            "anomaly": self.anomaly_.to_state(),
        }
        if self.supervised_:
            state["targets"] = dict(self.targets_)
            state["booster"], state["calibrator"] = self.booster_, self.calibrator_
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any], device: DeviceLike = "auto") -> FraudDetector:
        """The fitted detector a :meth:`to_state` state describes.

        Parameters
        ----------
        state : dict
            As returned by :meth:`to_state`.
        device : {"auto", "cpu", "cuda"}
            Where the autoencoder scores.

        Returns
        -------
        FraudDetector
            Fitted: it scores as the detector the state came from.

        Raises
        ------
        IntegrityError
            When the state is another estimator's.

        Examples
        --------
        >>> import nexus_lab as nx
        >>> tx = nx.datasets.synth_transactions(600, seed=3)
        >>> det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(tx)
        >>> again = nx.fraud.FraudDetector.from_state(det.to_state(), device="cpu")
        >>> again.n_history_ == len(tx), again.supervised_
        (True, False)
        """
        if state.get("class", cls.__name__) != cls.__name__:
            raise IntegrityError(f"the state names the class {state.get('class')!r}, not "
                                 f"{cls.__name__}; it is refused")
        det = cls(**state["params"], device=device)
        det.rules_ = {k: tuple(v) if isinstance(v, list) else v
                      for k, v in state["rules"].items()}
        det.device_ = resolve_device(device)
        det.vocab_ = {e: pd.Index(state["vocab"][e], dtype=object) for e in ENTITIES}
        det.stats_ = {e: GroupStats(**state["stats"][e]) for e in ENTITIES}
        det.supervised_ = bool(state["supervised"])
        det.n_history_ = int(state["n_history"])
        hist = state["history"]
        ids = hist["transaction_id"].to_numpy()
        h = Tx(ids.astype(object) if state["ids_as_text"] else ids, hist["ts"].to_numpy(),
               hist["local"].to_numpy(), hist["cents"].to_numpy(),
               {e: hist[e].to_numpy(dtype=object) for e in ENTITIES})
        det.history_ = h
        det._history_index = None
        # the history's summary tables are rebuilt from its rows: one source of truth
        det.history_order_ = np.argsort(h.ts, kind="stable")
        det.tables_ = HistoryTables.build(
            h.ts, h.cents, encode(det.vocab_["account"], h.entities["account"]),
            encode(det.vocab_["vendor"], h.entities["vendor"]), len(det.vocab_["account"]),
            len(det.vocab_["vendor"]))
        det.anomaly_ = models.AnomalyDetector.from_state(state["anomaly"], device)
        if det.supervised_:
            det.prior_ = float(state["prior"])
            det.booster_, det.calibrator_ = state["booster"], state["calibrator"]
            det.targets_ = dict(state["targets"])
        det._last = None
        return det

    # ----------------------------------------------------------------- internals
    def _signals(self, ctx: Tx, codes: dict, target: np.ndarray, new: np.ndarray,
                 batch: BatchTotals | None = None) -> dict[str, np.ndarray]:
        """Every signal of the rows ``target`` of the context ``ctx``.

        ``new`` marks the target rows that are not in the history; ``batch``: the totals
        of the table they are part of (by default: of the target rows).
        """
        rules = self.rules_
        acct, vend = codes["account"], codes["vendor"]
        if batch is None:
            batch = self._totals(ctx.take(target), {e: codes[e][target] for e in codes}, new)
        vendor_names = ctx.entities["vendor"][target]
        # the two passes share nothing and mostly release the GIL: one runs in a thread
        with ThreadPoolExecutor(1) as pool:
            past = pool.submit(history_signals, self.tables_, ctx.ts[target], acct[target],
                               vend[target], new, rules, batch.new_accounts(vendor_names))
            win = window_signals(ctx.ts, ctx.cents, acct, vend, rules)
            sig = {k: v[target] for k, v in win.items()}
            sig.update(past.result())
        # gaps to the account's neighbours: in the window, or further back in the history
        sig["gap_prev"] = np.minimum(sig["gap_prev"], sig.pop("history_gap_prev"))
        sig["gap_next"] = np.minimum(sig["gap_next"], sig.pop("history_gap_next"))
        cents = ctx.cents[target]
        x = log_amount(cents)
        sig["cents"] = cents
        sig["log_amount"] = x
        for e in ENTITIES:
            sig[f"z_{e}"] = self.stats_[e].z(codes[e][target], x)
        sig["iqr_excess"] = self.stats_["vendor"].iqr_excess(codes["vendor"][target], x)
        local = ctx.local[target]
        sig["hour"] = (local % 86_400) / 3600.0
        sig["weekday"] = ((local // 86_400) + 3) % 7  # 1970-01-01 was a Thursday
        sig["timed"] = np.full(len(target), batch.timed)
        _amount_rules(sig, rules)
        # Benford per vendor and per account: the history's first digits plus the new rows'
        # (the vendors' over the whole batch; an account's rows are all among the target)
        digits = first_digit(cents)
        totals = {"vendor": (batch.digits, batch.thin),
                  "account": entity_totals(ctx.entities["account"][target], acct[target],
                                           cents, new, self.tables_.digits["account"], rules)}
        bf = np.zeros(len(target))
        bf_text = np.zeros(len(target), np.int64)  # which group flagged: 1 vendor, 2 account
        sig["benford_mad"] = np.zeros(len(target))
        sig["benford_p"] = np.ones(len(target))
        for k, e in enumerate(("vendor", "account")):
            g = codes[e][target]
            size = max(int(g.max()) + 1 if len(g) else 0, len(self.tables_.span[e]))
            counts = np.zeros((size, 9))
            span = np.zeros(size)
            counts[: len(self.tables_.span[e])] = self.tables_.digits[e]
            span[: len(self.tables_.span[e])] = self.tables_.span[e]
            # the groups of the target rows by name; the spread of amounts is read off the
            # history where it has enough rows, else off the new rows too
            present, first = first_of(g)
            names = pd.Index(ctx.entities[e][target][first])
            add, thin = totals[e]
            at = names.get_indexer(add.index)
            counts[present[at[at >= 0]]] += add.to_numpy()[at >= 0]
            at = names.get_indexer(thin["name"])
            if (at >= 0).any():
                _, (p5, p95) = group_quantiles(present[at[at >= 0]],
                                               thin["magnitude"].to_numpy()[at >= 0], size,
                                               (0.05, 0.95))
                span = np.maximum(span, np.nan_to_num(p95 - p5))
            _, mad, p, flagged, excess = benford_table(counts, span, rules)
            over = excess[g, np.maximum(digits - 1, 0)]
            hit = flagged[g] & (digits > 0) & (over > 1.3) & (bf == 0)
            bf[hit] = np.minimum(over[hit] / 4.0, 1.0)
            bf_text[hit] = k + 1
            sig["benford_mad"][hit] = mad[g][hit]
            sig["benford_p"][hit] = p[g][hit]
        sig["benford"] = bf
        sig["benford_group"] = bf_text
        sig["digit"] = digits
        sig["vendor_names"] = ctx.entities["vendor"][target]
        sig["ts"] = ctx.ts[target]
        return sig


# --------------------------------------------------------------------- module helpers

def _matrix(sig: dict) -> np.ndarray:
    """The model features, one column per name in :data:`FEATURES`."""
    hour = sig["hour"]
    big = 30 * 24.0
    cols = {
        "log_amount": sig["log_amount"],
        "z_vendor": sig["z_vendor"], "z_account": sig["z_account"],
        "z_category": sig["z_category"], "iqr_excess": sig["iqr_excess"],
        "hour_sin": np.sin(2 * np.pi * hour / 24), "hour_cos": np.cos(2 * np.pi * hour / 24),
        "off_hours": sig["off_hours"], "weekend": sig["weekend"],
        "count_window": np.log1p(sig["count_window"]), "count_day": np.log1p(sig["count_day"]),
        "sum_day": np.log1p(sig["sum_day"]),
        "gap_prev": np.log1p(np.minimum(sig["gap_prev"] / 3600.0, big)),
        "gap_next": np.log1p(np.minimum(sig["gap_next"] / 3600.0, big)),
        "new_vendor": sig["new_vendor"].astype(float),
        "vendor_accounts": np.log1p(sig["vendor_accounts"]),
        "vendor_share": sig["vendor_share"],
        "duplicate": (sig["duplicate_of"] >= 0).astype(float),
        "near_duplicate": (sig["near_duplicate_of"] >= 0).astype(float),
        "round_amount": sig["round"], "threshold_ratio": sig["threshold_ratio"],
        "account_prior": np.log1p(sig["account_prior"]),
    }
    out = np.empty((len(FEATURES), len(hour)), dtype=np.float32)
    for k, f in enumerate(FEATURES):
        out[k] = cols[f]
    return out.T  # column-major: each feature is written (and standardized) in one stream


def _strengths(sig: dict, rules: dict) -> np.ndarray:
    """Strength in [0, 1] of each flag category, per row (columns as :data:`FLAGS`)."""
    n = len(sig["cents"])
    s = np.zeros((len(FLAGS), n)).T  # column-major: each flag's column is one stream
    # duplicates: exact, else near
    s[:, 0] = np.where(sig["duplicate_of"] >= 0, 0.85,
                       np.where(sig["near_duplicate_of"] >= 0, 0.55, 0.0))
    # velocity: payments of the account around this one
    over = sig["count_window"] - rules["velocity_count"]
    s[:, 1] = np.where(over >= 0, np.minimum(0.5 + 0.05 * over, 0.9), 0.0)
    s[:, 1] = np.maximum(s[:, 1], np.where(
        sig["count_day"] >= rules["velocity_day_count"], 0.45, 0.0))
    # thresholds: just under a limit (structuring) or over it
    s[:, 2] = np.where(sig["under_limit"], 0.6, np.where(sig["over_limit"], 0.45, 0.0))
    # statistical outlier: modified z (large amounts) or beyond the far fence
    z = np.maximum(np.maximum(sig["z_vendor"], sig["z_account"]), sig["z_category"])
    zs = np.clip((z - rules["z_threshold"]) / 8.0 + 0.3, 0, 0.85) * (z >= rules["z_threshold"])
    fence = np.where(sig["iqr_excess"] >= rules["iqr_k"], 0.35, 0.0)
    s[:, 3] = np.maximum(zs, fence)
    # model anomaly: the rarer of the two model percentiles, above 97%
    pct = np.maximum(sig["forest_pct"], sig["ae_pct"])
    s[:, 4] = np.clip((pct - 0.97) / 0.03, 0, 1) * 0.6
    s[:, 5] = 0.4 * sig["benford"]
    s[:, 6] = np.where(sig["new_vendor"], np.where(sig["vendor_accounts"] <= 1, 0.5, 0.35), 0.0)
    s[:, 7] = np.where(sig["round"] >= 2, 0.35, np.where(sig["round"] >= 1, 0.2, 0.0))
    s[:, 8] = np.maximum(np.where(sig["off_hours"] > 0, 0.3, 0.0),
                         np.where(sig["weekend"] > 0, 0.2, 0.0))
    sig["strengths"] = s
    return s


def _amount_rules(sig: dict, rules: dict) -> None:
    """Threshold, round-amount and off-hours indicators."""
    units = np.abs(sig["cents"]) / 100.0
    limits = np.array(rules["thresholds"])
    band = rules["threshold_band"]
    over = (units[:, None] >= limits[None, :])
    under = (units[:, None] < limits[None, :]) & (units[:, None] >= limits[None, :] * (1 - band))
    sig["over_limit"] = over.any(1)
    sig["under_limit"] = under.any(1)
    sig["threshold_ratio"] = np.minimum(units / limits.min(), 10.0)
    unit_cents = round(rules["round_unit"] * 100)
    cents = np.abs(sig["cents"])
    # 1: a multiple of the unit (100.00 by default); 2: of ten units (1,000.00)
    whole = (cents % unit_cents == 0) & (cents > 0)
    sig["round"] = whole.astype(float) + ((cents % (unit_cents * 10) == 0) & whole)
    lo, hi = rules["business_hours"]
    # dates without a time of day (every row at midnight, as most exports give) say
    # nothing about the hour: the rule then stays silent rather than flag every row
    sig["off_hours"] = ((sig["hour"] < lo) | (sig["hour"] >= hi)).astype(float) * sig["timed"]
    sig["weekend"] = np.isin(sig["weekday"], rules["weekend_days"]).astype(float)


def _money(cents: np.ndarray) -> pa.Array:
    sign = pa.array(np.where(cents < 0, "-", ""))
    return pc.binary_join_element_wise(sign, decimal_text(np.abs(cents) / 100.0, 2, sign=False),
                                       "")


def _int_text(x: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.asarray(x, dtype=np.int64)), pa.string())


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


_DAYS = np.array(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"])


def _sentences(cat: int, rows: np.ndarray, sig: dict, ctx_ts: np.ndarray, ids: np.ndarray,
               rules: dict) -> pa.Array:
    """The sentence of flag category ``cat`` for each of ``rows`` (Arrow text, no row loop)."""
    if cat == 0:
        dup, near = sig["duplicate_of"][rows], sig["near_duplicate_of"][rows]
        twin = np.where(dup >= 0, dup, near)
        lag = (sig["ts"][rows] - ctx_ts[np.maximum(twin, 0)]) / 3600.0
        return _join(pa.array(np.where(dup >= 0, "same", "nearly the same")),
                     " account, vendor and amount as ",
                     pc.cast(pa.array(ids[np.maximum(twin, 0)]), pa.string()), " ",
                     decimal_text(lag, 1, sign=False), " h earlier")
    if cat == 1:
        return _join(_int_text(sig["count_window"][rows]), " payments of the account within ±",
                     f"{rules['velocity_window_minutes']:.0f} min, ",
                     _int_text(sig["count_day"][rows]), " within ±24 h")
    if cat == 2:
        limits = np.array(rules["thresholds"])
        units = np.abs(sig["cents"][rows]) / 100.0
        nearest = limits[np.argmin(np.abs(units[:, None] - limits[None, :]), axis=1)]
        return _join(_money(sig["cents"][rows]), pa.array(np.where(
            sig["under_limit"][rows], " just under the ", " over the ")),
            pc.cast(pa.array(np.round(nearest).astype(np.int64)), pa.string()), " limit")
    if cat == 3:
        z = np.maximum(np.maximum(sig["z_vendor"], sig["z_account"]), sig["z_category"])[rows]
        return _join(_money(sig["cents"][rows]), " is far above usual (modified z ",
                     decimal_text(z, 1, sign=False), "; ",
                     decimal_text(sig["iqr_excess"][rows], 1, sign=False),
                     " IQR above the vendor's Q3)")
    if cat == 4:
        return _join("unusual combination of features (isolation forest at the ",
                     decimal_text(100 * sig["forest_pct"][rows], 1, sign=False),
                     "th percentile, autoencoder at the ",
                     decimal_text(100 * sig["ae_pct"][rows], 1, sign=False), "th)")
    if cat == 5:
        exponent = np.floor(np.log10(np.maximum(sig["benford_p"][rows], 1e-300))).astype(int)
        return _join("the ", pa.array(np.where(sig["benford_group"][rows] == 1, "vendor",
                                               "account")),
                     "'s first digits depart from Benford's law (MAD ",
                     decimal_text(sig["benford_mad"][rows], 3, sign=False), ", p < 1e",
                     _int_text(exponent + 1), "); digit ", _int_text(sig["digit"][rows]),
                     " is over-used")
    if cat == 6:
        k = sig["vendor_accounts"][rows]
        return _join("first payment of the account to ",
                     pc.cast(pa.array(sig["vendor_names"][rows]), pa.string()), " (paid by ",
                     _int_text(k), pa.array(np.where(k == 1, " account)", " accounts)")))
    if cat == 7:
        return _join("round amount ", _money(sig["cents"][rows]))
    if not sig["timed"][rows].any():  # dates without a time: the day is all there is
        return _join("on a ", pa.array(_DAYS[sig["weekday"][rows].astype(int)]))
    hour = sig["hour"][rows]
    minutes = np.floor(hour * 60).astype(np.int64)
    return _join("at ", pc.utf8_lpad(_int_text(minutes // 60), 2, "0"), ":",
                 pc.utf8_lpad(_int_text(minutes % 60), 2, "0"), " local time on a ",
                 pa.array(_DAYS[sig["weekday"][rows].astype(int)]))


def _flags_and_reasons(strengths, sig, ctx, rules):
    """Flag categories and the top reasons (sentences) of each row, as Arrow list columns."""
    n = len(strengths)
    flag_mask = strengths > 0
    # the model's flag needs a rarer percentile than its (weak) contribution to the risk
    flag_mask[:, 4] = np.maximum(sig["forest_pct"], sig["ae_pct"]) >= 0.99
    rows, cats = np.nonzero(flag_mask)  # row-major: categories in FLAGS order per row
    flags = _lists(n, rows, pa.array(np.array(FLAGS, dtype=object)[cats]))
    # reasons: the strongest categories first (ties in FLAGS order), at most _TOP_REASONS
    order = np.argsort(-strengths, axis=1, kind="stable")[:, :_TOP_REASONS]
    rank_rows = np.repeat(np.arange(n), order.shape[1])
    rank_cats = order.ravel()
    keep = strengths[rank_rows, rank_cats] > 0
    rank_rows, rank_cats = rank_rows[keep], rank_cats[keep]
    # each category's sentences, then put back in rank order: Arrow text throughout (no
    # Python string per reason)
    parts, where = [], []
    for cat in range(len(FLAGS)):  # a loop over categories, not rows
        at = np.flatnonzero(rank_cats == cat)
        if len(at):
            made = _sentences(cat, rank_rows[at], sig, ctx.ts, ctx.ids, rules)
            parts.extend(made.chunks if isinstance(made, pa.ChunkedArray) else [made])
            where.append(at)
    if parts:
        at = np.concatenate(where)
        back = np.empty_like(at)
        back[at] = np.arange(len(at))
        text = pa.chunked_array(parts, type=pa.string()).take(pa.array(back)).combine_chunks()
    else:
        text = pa.array([], type=pa.string())
    reasons = _lists(n, rank_rows, text)
    return flags, reasons


def _lists(n: int, rows: np.ndarray, values: pa.Array) -> pd.Series:
    """A column of lists of text: ``values`` grouped by their (sorted) ``rows``."""
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(np.bincount(rows, minlength=n), out=offsets[1:])
    lists = pa.ListArray.from_arrays(pa.array(offsets), values)
    return pd.Series(pd.arrays.ArrowExtensionArray(lists))
