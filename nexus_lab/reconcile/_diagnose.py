"""Sanity checks of a fitted match model: say so when what EM learned makes no sense.

EM finds *a* two-class split of the candidate pairs; on books unlike any it was
built on it can settle on a split that is not match / non-match (a cluster of
posting lags, say). Such a model still scores every pair, and a reconciliation that
links a few percent of the rows looks like any other. These checks look at the model
and the result the way an examiner would, and return plain sentences.
"""

from __future__ import annotations

import numpy as np

from nexus_lab.reconcile._fs import FSModel

__all__ = ["check_model"]

_DESCRIPTION, _CARRIES, _NO_SIGNAL = 2, 0.8, 2.0  # share of the evidence; bits


def check_model(model: FSModel, *, observed: list[bool], exact_bank: np.ndarray,
                exact_ledger: np.ndarray, linked_exact: int) -> list[str]:
    """The ways ``model`` and its exact-amount links make no sense, as sentences.

    Parameters
    ----------
    model : FSModel
        The fitted weights (comparisons amount, date, description, reference).
    observed : list of bool
        Per comparison, whether any candidate pair could make it.
    exact_bank, exact_ledger : numpy.ndarray
        The exact-amount candidate pairs (bank and ledger row numbers).
    linked_exact : int
        How many of them the assignment linked.

    Returns
    -------
    list of str
        Empty when the model passes.

    Examples
    --------
    >>> import numpy as np
    >>> labels = [["="], ["same day", "1d"], ["very similar", "different"], ["same", "diff"]]
    >>> model = FSModel(["amount", "date", "description", "reference"], labels,
    ...                 [np.array([1.0]), np.array([.6, .4]), np.array([.05, .95]),
    ...                  np.array([.5, .5])],
    ...                 [np.array([1.0]), np.array([.5, .5]), np.array([.3, .7]),
    ...                  np.array([.5, .5])])
    >>> check_model(model, observed=[True] * 4, exact_bank=np.arange(10),
    ...             exact_ledger=np.arange(10), linked_exact=1)[0][:46]
    'description similarity counts against a match:'
    """
    found = []
    weights = model.weights()
    if observed[_DESCRIPTION]:
        w = weights[_DESCRIPTION]
        labels = model.labels[_DESCRIPTION]
        if w[0] < -1.0:
            found.append(f"description similarity counts against a match: "
                         f"'{labels[0]}' names weigh {w[0]:+.1f} bits")
        elif np.ptp(w) < _NO_SIGNAL:
            found.append("the descriptions carry no evidence (names in the two files do not "
                         "agree more for matches than for other pairs): check that both "
                         "description columns name the counterparty")
    spread = np.array([float(np.ptp(w)) if seen else 0.0 for w, seen in zip(weights, observed)])
    if spread.sum() > 0 and (spread > 0).sum() >= 3:
        top = int(np.argmax(spread))
        share = spread[top] / spread.sum()
        if share > _CARRIES:
            found.append(f"one comparison carries the model: {model.names[top]} spans "
                         f"{share:.0%} of all the evidence")
    nb = np.bincount(exact_bank) if len(exact_bank) else np.zeros(0, int)
    nl = np.bincount(exact_ledger) if len(exact_ledger) else np.zeros(0, int)
    unique = int(((nb[exact_bank] == 1) & (nl[exact_ledger] == 1)).sum()) if len(nb) else 0
    if unique >= 20 and linked_exact < 0.5 * unique:
        found.append(f"only {linked_exact:,} exact-amount pairs were linked where exact "
                     f"amounts alone pair {unique:,} rows one-to-one within the date window")
    return found
