"""Scoring a reconciliation against ground truth: F1 per link type and calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd

ONE_TO_ONE_KINDS = ("one_to_one", "tolerance", "decoy")
SPLIT_KINDS = ("batch", "installment")


def _prf(pred: set, true: set) -> dict:
    tp = len(pred & true)
    p = tp / len(pred) if pred else 1.0
    r = tp / len(true) if true else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "predicted": len(pred), "true": len(true)}


def evaluate(
    result, truth: pd.DataFrame, bins: tuple = (0, 50, 70, 80, 90, 95, 99, 100.01)
) -> dict:
    """Compare a :class:`ReconcileResult` with the true links.

    Parameters
    ----------
    result : ReconcileResult
        What :func:`nexus_lab.reconcile` returned.
    truth : pandas.DataFrame
        ``bank_id, ledger_id, kind`` as made by
        :func:`nexus_lab.data.synth_reconciliation` (``kind`` one of
        ``one_to_one, tolerance, decoy, batch, installment``; other rows are
        ignored here).
    bins : tuple of float
        Confidence bins of the calibration table.

    Returns
    -------
    dict
        ``one_to_one`` and ``split`` (precision, recall, f1), ``all`` (every
        link), ``calibration`` (a DataFrame: bin, pairs, mean confidence,
        share right) and ``ece`` (expected calibration error, 0-1).

    Examples
    --------
    >>> import nexus_lab as nx
    >>> bank, ledger, truth = nx.data.synth_reconciliation(300, seed=0)
    >>> report = nx.reconcile.evaluate(nx.reconcile(bank, ledger, device="cpu"), truth)
    >>> report["one_to_one"]["f1"] > 0.9
    True
    """
    m = result.matches
    pairs = list(zip(m["bank_id"], m["ledger_id"]))
    kind = m["match_type"].to_numpy()
    t = truth.dropna(subset=["bank_id", "ledger_id"])
    true_one = set(
        zip(*(t.loc[t["kind"].isin(ONE_TO_ONE_KINDS), c] for c in ("bank_id", "ledger_id")))
    )
    true_split = set(
        zip(*(t.loc[t["kind"].isin(SPLIT_KINDS), c] for c in ("bank_id", "ledger_id")))
    )
    pred_one = {p for p, k in zip(pairs, kind) if k == "one_to_one"}
    pred_split = {p for p, k in zip(pairs, kind) if k != "one_to_one"}
    right = np.array([p in true_one or p in true_split for p in pairs], dtype=bool)
    conf = m["confidence"].to_numpy(dtype=float)
    edges = np.asarray(bins, dtype=float)
    which = np.clip(np.digitize(conf, edges) - 1, 0, len(edges) - 2)
    rows = []
    for b in range(len(edges) - 1):
        sel = which == b
        if sel.any():
            rows.append(
                (f"[{edges[b]:g}, {min(edges[b + 1], 100):g})", int(sel.sum()),
                 float(conf[sel].mean()), float(right[sel].mean() * 100))
            )
    calib = pd.DataFrame(rows, columns=["bin", "pairs", "mean_confidence", "percent_right"])
    ece = float(
        (calib["pairs"] * (calib["mean_confidence"] - calib["percent_right"]).abs()).sum()
        / max(calib["pairs"].sum(), 1) / 100
    )
    return {
        "one_to_one": _prf(pred_one, true_one),
        "split": _prf(pred_split, true_split),
        "all": _prf(set(pairs), true_one | true_split),
        "calibration": calib,
        "ece": ece,
    }
