"""Vector codecs and search on codes: nexus_lab.compress."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nexus_lab as nx
from nexus_lab.compress._kmeans import assign, kmeans
from nexus_lab.compress._quantizers import pack, unpack
from nexus_lab.errors import NexusError, SchemaError

cx = nx.compress


@pytest.fixture(scope="module")
def data():
    X = nx.data.synth_vectors(2000, 64, n_clusters=30, seed=0)
    Q = nx.data.synth_vectors(100, 64, n_clusters=30, seed=0)[::-1].copy()
    return X, Q


def _recall(ids: np.ndarray, X: np.ndarray, Q: np.ndarray, k: int = 10) -> float:
    truth = np.argsort(-(Q @ X.T), axis=1)[:, :k]
    return float((ids[:, :k, None] == truth[:, None, :]).any(-1).mean())


@pytest.mark.parametrize("nbits", range(1, 17))
def test_pack_round_trips_every_width(nbits):
    idx = torch.randint(0, 1 << nbits, (50, 7), generator=torch.Generator().manual_seed(nbits))
    packed = pack(idx, nbits)
    assert packed.dtype == torch.uint8 and packed.shape == (50, -(-7 * nbits // 8))
    assert torch.equal(unpack(packed, 7, nbits), idx)


@pytest.mark.parametrize("codec", [
    cx.ScalarInt8(device="cpu"),
    cx.PQ(m=8, nbits=8, n_iter=10, device="cpu", random_state=0),
    cx.PQ(m=16, nbits=4, device="cpu", random_state=0),
    cx.OPQ(m=8, nbits=8, n_iter=10, n_rounds=4, device="cpu", random_state=0),
    cx.RQ(m=4, nbits=8, n_iter=10, device="cpu", random_state=0),
    cx.RQ(m=6, nbits=12, beam_size=2, n_iter=5, device="cpu", random_state=0),
])
def test_codecs_encode_decode_and_are_reproducible(codec, data):
    X, _ = data
    codec.fit(X)
    codes = codec.encode(X)
    assert codes.dtype == np.uint8 and codes.shape == (len(X), codec.code_size_)
    assert codec.bytes_per_vector == codes.shape[1]
    Xhat = codec.decode(codes)
    assert Xhat.shape == X.shape and Xhat.dtype == np.float32
    # Much better than storing nothing (the mean vector).
    mse = ((Xhat - X) ** 2).sum(1).mean()
    assert mse < 0.5 * ((X - X.mean(0)) ** 2).sum(1).mean()
    twin = type(codec)(**codec.get_params()).fit(X)
    np.testing.assert_array_equal(twin.encode(X[:200]), codes[:200])


def test_quality_ranking_rq_beats_opq_beats_pq_at_the_same_size(data):
    X, Q = data
    found = {}
    for codec in (cx.PQ(m=8, n_iter=10, device="cpu", random_state=0),
                  cx.OPQ(m=8, n_iter=10, n_rounds=8, device="cpu", random_state=0),
                  cx.RQ(m=8, n_iter=10, device="cpu", random_state=0)):
        codec.fit(X)
        ids, _ = cx.search(codec, codec.encode(X), Q, k=10)
        found[type(codec).__name__] = _recall(ids, X, Q)
    assert found["RQ"] >= 0.65, found
    assert found["RQ"] > found["OPQ"] + 0.05 and found["OPQ"] >= found["PQ"] - 0.01, found


def test_beam_search_lowers_the_error():
    X = nx.data.synth_vectors(2000, 32, n_clusters=20, seed=1)
    err = {b: ((c.decode(c.encode(X)) - X) ** 2).sum(1).mean()
           for b in (1, 4)
           for c in [cx.RQ(m=4, nbits=6, beam_size=b, device="cpu", random_state=0).fit(X)]}
    assert err[4] < err[1]


@pytest.mark.parametrize("make", [
    lambda: cx.PQ(m=8, n_iter=5, device="cpu", random_state=0),
    lambda: cx.OPQ(m=8, n_iter=5, n_rounds=3, device="cpu", random_state=0),
    lambda: cx.RQ(m=4, n_iter=5, device="cpu", random_state=0),
    lambda: cx.ScalarInt8(device="cpu"),
])
@pytest.mark.parametrize("metric", ["ip", "l2"])
def test_search_matches_brute_force_on_the_decoded_database(make, metric, data):
    X, Q = data
    codec = make().fit(X)
    codes = codec.encode(X)
    Xhat = codec.decode(codes).astype(np.float64)
    ids, scores = cx.search(codec, codes, Q, k=7, metric=metric)
    if metric == "ip":
        ref = Q @ Xhat.T
    else:
        ref = -((Q[:, None, :] - Xhat[None]) ** 2).sum(-1)
    expected = np.take_along_axis(ref, ids, 1)
    sign = 1 if metric == "ip" else -1
    np.testing.assert_allclose(scores, sign * expected, rtol=1e-4, atol=1e-4)
    # Every returned score is at least the 7th best one, and they come best first.
    kth = -np.sort(-ref, axis=1)[:, 6]
    assert (expected >= kth[:, None] - 1e-4).all()
    assert (np.diff(sign * scores, axis=1) <= 1e-6).all()


@pytest.mark.parametrize("n_queries", [1, 5, 40, 300])
def test_every_scoring_path_gives_the_same_neighbours(n_queries, data):
    # gathered tables (few queries), an embedding bag (more), decoding (a large batch)
    X, _ = data
    Q = nx.data.synth_vectors(n_queries, 64, n_clusters=30, seed=7)
    codec = cx.RQ(m=4, n_iter=5, device="cpu", random_state=0).fit(X)
    codes = codec.encode(X)
    ids, scores = cx.search(codec, codes, Q, k=5)
    ref = Q @ codec.decode(codes).T.astype(np.float64)
    np.testing.assert_allclose(scores, np.take_along_axis(ref, ids, 1), rtol=1e-4, atol=1e-4)
    assert (np.take_along_axis(ref, ids, 1)[:, -1] >= -np.sort(-ref, 1)[:, 4] - 1e-4).all()


def test_rerank_restores_the_exact_neighbours(data):
    X, Q = data
    codec = cx.PQ(m=4, nbits=6, device="cpu", random_state=0).fit(X)
    codes = codec.encode(X)
    plain, _ = cx.search(codec, codes, Q, k=10)
    exact, scores = cx.search(codec, codes, Q, k=10, rerank=X, candidates=300)
    assert _recall(exact, X, Q) > max(0.95, _recall(plain, X, Q))
    np.testing.assert_allclose(scores, np.take_along_axis(Q @ X.T, exact, 1), rtol=1e-5)


def test_search_small_database_and_single_query(data):
    X, _ = data
    codec = cx.PQ(m=8, n_iter=2, device="cpu", random_state=0).fit(X)
    ids, _ = cx.search(codec, codec.encode(X[:3]), X[:1], k=10)
    assert ids.shape == (1, 3) and sorted(ids[0].tolist()) == [0, 1, 2]


def test_fit_picks_the_codec_for_the_budget(data):
    X, Q = data
    small = cx.fit(X, bytes_per_vector=4, device="cpu", random_state=0)
    assert isinstance(small, cx.RQ) and small.bytes_per_vector == 4
    big = cx.fit(X, bytes_per_vector=64, device="cpu")
    assert isinstance(big, cx.ScalarInt8)
    ids, _ = cx.search(big, big.encode(X), Q, k=10)
    assert _recall(ids, X, Q) > 0.97
    with pytest.raises(SchemaError, match="bytes_per_vector"):
        cx.fit(X, bytes_per_vector=0)


def test_kmeans_with_fewer_rows_than_centroids_and_empty_clusters():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(1, 5, 3, generator=gen)
    C = kmeans(X, 8, gen)
    assert C.shape == (1, 8, 3)
    # Many duplicate rows: clusters empty out and get split, none is left unused.
    X = torch.cat([torch.zeros(1, 200, 2), torch.ones(1, 200, 2)], 1)
    X += 0.01 * torch.randn(X.shape, generator=gen)
    C = kmeans(X, 16, gen, n_iter=10)
    assert torch.isfinite(C).all() and C.shape == (1, 16, 2)
    assert assign(X, C)[0].unique().numel() >= 12  # split clusters are in use


# bad input ---------------------------------------------------------------------------

def test_nan_and_inf_vectors_are_refused_with_their_rows(data):
    X, _ = data
    bad = X.copy()
    bad[5, 0] = np.nan
    bad[9, 3] = np.inf
    with pytest.raises(SchemaError, match=r"NaN or infinite.*\[5, 9\]") as err:
        cx.PQ(m=8, device="cpu").fit(bad)
    assert err.value.rows == [5, 9]
    codec = cx.ScalarInt8(device="cpu").fit(X)
    with pytest.raises(SchemaError, match="NaN"):
        codec.encode(bad)


def test_wrong_dimensionality_and_shapes(data):
    X, Q = data
    codec = cx.PQ(m=8, n_iter=2, device="cpu", random_state=0).fit(X)
    with pytest.raises(SchemaError, match="32 dimensions but the codec was fitted on 64"):
        codec.encode(X[:, :32])
    with pytest.raises(SchemaError, match="2-D"):
        codec.encode(X[0, :, None, None])
    with pytest.raises(SchemaError, match=r"codes must be a \(n, 8\) uint8"):
        codec.decode(np.zeros((3, 5), np.uint8))
    with pytest.raises(SchemaError, match="queries has 10 dimensions"):
        cx.search(codec, codec.encode(X), Q[:, :10])
    with pytest.raises(SchemaError, match="metric"):
        cx.search(codec, codec.encode(X), Q, metric="cosine")
    with pytest.raises(SchemaError, match="k must be a positive"):
        cx.search(codec, codec.encode(X), Q, k=0)
    with pytest.raises(SchemaError, match="rerank has 10 vectors"):
        cx.search(codec, codec.encode(X), Q, rerank=X[:10])


def test_parameters_that_do_not_fit_the_data(data):
    X, _ = data
    with pytest.raises(SchemaError, match=r"m=7 does not divide the dimension 64.*\[1, 2, 4"):
        cx.PQ(m=7).fit(X)
    with pytest.raises(SchemaError, match="nbits"):
        cx.OPQ(m=8, nbits=17).fit(X)
    with pytest.raises(SchemaError, match="beam_size"):
        cx.RQ(m=4, beam_size=0).fit(X)
    with pytest.raises(SchemaError, match="at least 2 vectors"):
        cx.PQ(m=8).fit(X[:1])
    with pytest.raises(NexusError, match="not fitted"):
        cx.RQ().encode(X)
    with pytest.raises(SchemaError, match="numbers"):
        cx.PQ(m=1).fit(np.array([["a", "b"], ["c", "d"]]))


def test_vector_lists_from_a_frame_column_are_accepted(data):
    X, _ = data
    import pandas as pd

    col = pd.Series(list(X[:500]))
    codec = cx.ScalarInt8(device="cpu").fit(col)
    assert codec.encode(col).shape == (500, 64)
    with pytest.raises(SchemaError, match="equal-length"):
        cx.ScalarInt8().fit(pd.Series([[1.0, 2.0], [1.0]]))


# stored compressed ---------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: cx.ScalarInt8(device="cpu"),
    lambda: cx.OPQ(m=4, nbits=5, n_iter=3, n_rounds=2, device="cpu", random_state=0),
    lambda: cx.RQ(m=3, nbits=6, n_iter=3, device="cpu", random_state=0),
    lambda: cx.Neural(bytes_per_vector=8, hidden=32, epochs=2, device="cpu", random_state=0),
])
def test_codecs_survive_a_round_trip_through_plain_arrays(make, data):
    from nexus_lab.artifacts import codec_from_state, codec_state

    X, _ = data
    codec = make().fit(X)
    info, arrays = codec_state(codec)
    assert all(isinstance(v, np.ndarray) and v.dtype != object for v in arrays.values())
    again = codec_from_state(info, arrays)
    np.testing.assert_array_equal(again.encode(X[:100]), codec.encode(X[:100]))
    with pytest.raises(nx.IntegrityError, match="not a NEXUS Lab codec"):
        codec_from_state({**info, "class": "os.system"}, arrays)


def test_recommender_saved_with_compressed_embeddings(tmp_path):
    from nexus_lab.artifacts import load_recommender, save_recommender

    data = nx.data.synth_interactions(3000, 1500, seed=0)
    model = nx.recommend.ALS(factors=64, iterations=5, device="cpu", random_state=0).fit(data)
    plain = save_recommender(model, tmp_path / "plain")
    small = save_recommender(model, tmp_path / "small", vector_bytes=8)
    assert (small / "arrays.npz").stat().st_size < 0.5 * (plain / "arrays.npz").stat().st_size
    again = load_recommender(small, device="cpu")
    users = data["user_id"].unique()[:100]
    before = model.recommend(users, k=10).groupby("user_id")["item_id"].apply(set)
    after = again.recommend(users, k=10).groupby("user_id")["item_id"].apply(set)
    overlap = np.mean([len(before[u] & after[u]) / 10 for u in before.index])
    assert overlap >= 0.7, overlap
    with pytest.raises(NexusError, match="vector_bytes"):
        save_recommender(model, tmp_path / "bad", vector_bytes=0)
    assert not (tmp_path / "bad").exists()
