"""Every estimator through the one contract (as scikit-learn's ``estimator_checks``).

Each estimator of the kernels (the vector codecs, the recommenders, the fraud
detector and its anomaly detector) is run, on a small generated dataset and on the
CPU, through the same checks:

- the constructor only stores the parameters; ``get_params`` / ``set_params``
  round-trip, ``sklearn.base.clone`` gives equal parameters, an unknown parameter is
  refused with a ``ValueError``;
- used before ``fit`` (scoring, and ``to_state``), it raises ``NotFittedError``,
  which is a ``NexusError``, a ``ValueError`` and an ``AttributeError``;
- ``fit`` returns the estimator, and the same ``random_state`` fitted twice gives the
  same outputs;
- ``to_state()`` holds plain values only (JSON, NumPy arrays, pandas frames and
  indexes, SciPy sparse matrices, nested states; scikit-learn models only in the
  fraud detector's), and ``from_state()`` gives an estimator with the same outputs
  and the same state, and refuses a state that names another class.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone

from nexus_lab import compress, fraud, recommend
from nexus_lab.datasets import synth_interactions, synth_transactions, synth_vectors
from nexus_lab.errors import IntegrityError, NexusError, NotFittedError

# ------------------------------------------------------------------ data

VECTORS = synth_vectors(400, 16, n_clusters=8, seed=0)
INTERACTIONS = synth_interactions(120, 50, seed=0)
PEOPLE = pd.DataFrame({"user_id": INTERACTIONS["user_id"].unique()})
PEOPLE["band"] = PEOPLE["user_id"] % 3
PEOPLE["age"] = PEOPLE["user_id"] % 50 + 18
NEWCOMER = pd.DataFrame({"user_id": ["new"], "band": [1], "age": [30]})
USERS = [*INTERACTIONS["user_id"].unique()[:6], "new"]
TRANSACTIONS = synth_transactions(600, seed=0, fraud_rate=0.05)
TX = TRANSACTIONS.drop(columns=["is_fraud", "pattern"])
FEATURES = np.random.default_rng(0).normal(size=(300, 5))
FEATURES[0] = 6.0


# ------------------------------------------------------------------ estimators

@dataclass
class Case:
    """An estimator, how to fit it and what it outputs."""

    id: str
    make: Callable[[], Any]
    fit: Callable[[Any], Any]
    output: Callable[[Any], Any]  # what fitted estimators must agree on
    allowed: tuple[type, ...] = ()  # further types a state may hold


def _codec(make: Callable[[], Any]) -> dict:
    def output(codec):
        codes = codec.encode(VECTORS)
        return {"codes": codes, "decoded": codec.decode(codes)}

    return {"make": make, "fit": lambda c: c.fit(VECTORS), "output": output}


def _recommender(make: Callable[[], Any], users: bool = False) -> dict:
    def fit(model):
        return model.fit(INTERACTIONS, users=PEOPLE) if users else model.fit(INTERACTIONS)

    def output(model):
        recs = model.recommend(USERS, k=5, users=NEWCOMER if users else None)
        return pd.DataFrame(recs)

    return {"make": make, "fit": fit, "output": output}


def _fraud(labels: bool) -> dict:
    def fit(det):
        out = det.fit(TX, y=TRANSACTIONS["is_fraud"]) if labels else det.fit(TX)
        assert det.supervised_ is labels  # both kinds of state are checked
        return out

    def output(det):
        return pd.DataFrame(det.score(TX)).assign(
            flags=lambda f: f["flags"].map("; ".join),
            reasons=lambda f: f["reasons"].map(" | ".join))

    return {"make": lambda: fraud.FraudDetector(device="cpu", autoencoder_epochs=1, cv=2),
            "fit": fit, "output": output, "allowed": (BaseEstimator,)}


CASES = [
    Case("ScalarInt8", **_codec(lambda: compress.ScalarInt8(device="cpu"))),
    Case("PQ", **_codec(lambda: compress.PQ(m=4, nbits=4, n_iter=3, device="cpu",
                                            random_state=0))),
    Case("OPQ", **_codec(lambda: compress.OPQ(m=4, nbits=4, n_iter=3, n_rounds=2,
                                              device="cpu", random_state=0))),
    Case("RQ", **_codec(lambda: compress.RQ(m=2, nbits=4, beam_size=2, n_iter=3, device="cpu",
                                            random_state=0))),
    Case("Neural", **_codec(lambda: compress.Neural(bytes_per_vector=4, hidden=16, epochs=2,
                                                    batch_size=128, device="cpu",
                                                    random_state=0))),
    Case("ALS", **_recommender(lambda: recommend.ALS(factors=4, iterations=2, device="cpu",
                                                     random_state=0))),
    Case("BPR", **_recommender(lambda: recommend.BPR(factors=4, epochs=2, device="cpu",
                                                     random_state=0))),
    Case("Content", **_recommender(lambda: recommend.Content(neighbors=10, device="cpu"))),
    Case("Demographic", **_recommender(lambda: recommend.Demographic(device="cpu"),
                                       users=True)),
    Case("EASE", **_recommender(lambda: recommend.EASE(regularization=20.0, device="cpu"))),
    Case("Hybrid", **_recommender(lambda: recommend.Hybrid(
        candidates={"ease": [recommend.EASE(regularization=20.0)],
                    "als": [recommend.ALS(factors=4, iterations=2)],
                    "popularity": [recommend.Popularity()]},
        validation_splits=1, device="cpu"))),
    Case("ItemKNN", **_recommender(lambda: recommend.ItemKNN(neighbors=10, device="cpu"))),
    Case("Popularity", **_recommender(lambda: recommend.Popularity())),
    Case("FraudDetector", **_fraud(labels=False)),
    Case("FraudDetector-labels", **_fraud(labels=True)),
    Case("AnomalyDetector",
         make=lambda: fraud.AnomalyDetector(device="cpu", epochs=1, combine="mean"),
         fit=lambda det: det.fit(FEATURES),
         output=lambda det: np.column_stack(det.score_parts(FEATURES)[:2]),
         allowed=(BaseEstimator,)),
]
# what each kind of estimator does once fitted, to be refused before
UNFITTED: dict[type, Callable[[Any], Any]] = {
    compress.Codec: lambda c: c.encode(VECTORS),
    recommend.Recommender: lambda m: m.recommend(USERS[:2], k=3),
    fraud.FraudDetector: lambda d: d.score(TX),
    fraud.AnomalyDetector: lambda d: d.score_samples(FEATURES),
}
BASES = (compress.Codec, recommend.Recommender)  # from_state reads any subclass's state


def test_every_public_estimator_is_checked():
    public = {name for module in (compress, recommend, fraud) for name in module.__all__
              if isinstance(getattr(module, name), type)
              and hasattr(getattr(module, name), "fit")
              and name not in ("Codec", "Recommender")}
    assert public == {c.id for c in CASES if "-" not in c.id}


@pytest.fixture(scope="module")
def fitted() -> dict[str, Any]:
    """Each case fitted once, lazily."""
    return {}


def _fitted(case: Case, cache: dict[str, Any]) -> Any:
    if case.id not in cache:
        est = case.make()
        assert case.fit(est) is est  # fit returns self
        cache[case.id] = est
    return cache[case.id]


def _use(est: Any) -> Any:
    return next(use for kind, use in UNFITTED.items() if isinstance(est, kind))


# ------------------------------------------------------------------ comparisons

def _same(a: Any, b: Any) -> bool:
    """Equal parameters: estimators (a hybrid's candidates) by class and parameters."""
    if hasattr(a, "get_params") and hasattr(b, "get_params"):
        return type(a) is type(b) and _same(a.get_params(), b.get_params())
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return a == b


def _assert_same_output(a: Any, b: Any) -> None:
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _assert_same_output(a[k], b[k])
    else:
        np.testing.assert_array_equal(a, b)


def _assert_same_state(a: Any, b: Any, where: str = "state") -> None:
    assert type(a) is type(b) or (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)), \
        f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            _assert_same_state(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for n, (x, y) in enumerate(zip(a, b)):
            _assert_same_state(x, y, f"{where}[{n}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=where)
    elif isinstance(a, pd.Index):
        pd.testing.assert_index_equal(a, b, exact=True, obj=where)
    elif sp.issparse(a):
        assert a.shape == b.shape and (a != b).nnz == 0, where
    elif isinstance(a, BaseEstimator):
        assert _same(a.get_params(), b.get_params()), where
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def _plain_leaves(state: Any, allowed: tuple[type, ...], where: str = "state") -> int:
    """Check every leaf of a state is a plain value; count them."""
    if isinstance(state, dict):
        assert all(isinstance(k, str) for k in state), f"{where}: keys must be text"
        return sum(_plain_leaves(v, allowed, f"{where}[{k!r}]") for k, v in state.items())
    if isinstance(state, np.ndarray):
        assert state.dtype != object, f"{where}: an object array is not plain"
        return 1
    if isinstance(state, pd.DataFrame | pd.Index) or sp.issparse(state):
        return 1
    if allowed and isinstance(state, allowed):
        return 1
    # anything else must be JSON, and read back from JSON unchanged
    assert json.loads(json.dumps(state)) == state or (
        isinstance(state, float) and math.isnan(state)), f"{where}: {state!r} is not JSON"
    return 1


# ------------------------------------------------------------------ the checks

@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_parameters_round_trip_and_clone(case):
    est = case.make()
    params = est.get_params()
    names = [n for n in inspect.signature(type(est).__init__).parameters if n != "self"]
    assert list(params) == names and "device" in params
    # the constructor stores the parameters and learns nothing
    assert {k for k in vars(est) if not k.startswith("_")} <= set(params)
    assert not [k for k in vars(est) if k.endswith("_") and not k.startswith("_")]
    assert est.set_params(**params) is est and _same(est.get_params(), params)
    twin = clone(est)
    assert twin is not est and type(twin) is type(est) and _same(twin.get_params(), params)
    assert est.set_params(device="cuda:1") is est
    assert est.get_params()["device"] == "cuda:1" and "device='cuda:1'" in repr(est)
    assert twin.get_params()["device"] == params["device"]  # the clone shares nothing


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_unknown_parameters_are_refused(case):
    est = case.make()
    before = est.get_params()
    with pytest.raises(ValueError, match="no parameter 'not_a_parameter'"):
        est.set_params(not_a_parameter=1)
    assert not hasattr(est, "not_a_parameter") and _same(est.get_params(), before)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_unfitted_use_raises_not_fitted(case):
    est = case.make()
    for attempt in (_use(est), type(est).to_state):
        with pytest.raises(NotFittedError, match=f"{type(est).__name__} is not fitted yet: "
                                                 "call fit") as err:
            attempt(est)
        assert all(isinstance(err.value, kind)
                   for kind in (NexusError, ValueError, AttributeError))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_state_round_trip_gives_the_same_outputs(case, fitted):
    est = _fitted(case, fitted)
    state = est.to_state()
    assert state["class"] == type(est).__name__
    assert _plain_leaves(state, case.allowed) >= 3
    again = type(est).from_state(state, device="cpu")
    assert type(again) is type(est) and again is not est
    _assert_same_output(case.output(again), case.output(est))
    _assert_same_state(again.to_state(), state)
    base = next((b for b in BASES if isinstance(est, b)), None)
    if base is not None:  # the base class reads any of its estimators' states
        assert type(base.from_state(state, device="cpu")) is type(est)
    with pytest.raises(IntegrityError, match=r"'os\.system'.*refused"):  # and no other's
        type(est).from_state({**state, "class": "os.system"}, device="cpu")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_same_random_state_gives_the_same_outputs(case, fitted):
    first = _fitted(case, fitted)
    second = case.make()
    assert second.get_params().get("random_state") == first.get_params().get("random_state")
    assert case.fit(second) is second
    _assert_same_output(case.output(second), case.output(first))
