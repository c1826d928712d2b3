"""Vectors coded and searched in shards on a two-worker cluster equal the codec's own,
ties across shard edges included."""

from __future__ import annotations

import numpy as np
import pytest

import nexus_lab as nx
from nexus_lab import NotFittedError, SchemaError, scale


@pytest.fixture(scope="module")
def vectors():
    X = nx.datasets.synth_vectors(1_200, 32, seed=0)
    X[560:640] = X[7]  # a run of equal vectors across the middle, where the shards meet
    X[1_190:] = X[7]  # and at the end
    return X


CODECS = [
    lambda: nx.compress.PQ(m=8, nbits=8, n_iter=5, device="cpu", random_state=0),
    lambda: nx.compress.ScalarInt8(device="cpu"),
]


@pytest.mark.parametrize("make", CODECS, ids=["PQ", "ScalarInt8"])
def test_codes_and_search_equal_the_codecs_own(client, vectors, make):
    codec = make().fit(vectors)
    codes = scale.encode(codec, vectors, client)
    assert codes.dtype == codec.code_dtype
    np.testing.assert_array_equal(codes, codec.encode(vectors))
    queries = np.r_[vectors[[7, 3, 600]], nx.datasets.synth_vectors(20, 32, seed=5)]
    for metric in ("ip", "l2"):
        for k in (1, 10, 50, 100):  # 91 equal codes fill the top 10 and 50 across the edge
            want = nx.compress.search(codec, codes, queries, k, metric=metric)
            got = scale.search(codec, codes, queries, k, client, metric=metric)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])
    # the tie rule: equal scores in row order, the lowest rows kept
    ids, scores = want = nx.compress.search(codec, codes, vectors[[7]], 10)
    assert (scores[0] == scores[0, 0]).all()
    assert ids[0].tolist() == [7, *range(560, 569)]


def test_a_database_smaller_than_k_and_uneven_shards(client, vectors):
    codec = nx.compress.PQ(m=8, nbits=8, n_iter=5, device="cpu", random_state=0).fit(vectors)
    few = codec.encode(vectors[:3])
    want = nx.compress.search(codec, few, vectors[:4], 10)
    got = scale.search(codec, few, vectors[:4], 10, client)
    assert got[0].shape == (4, 3)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_bad_input_is_refused(client, vectors):
    codec = nx.compress.PQ(m=8, device="cpu")
    with pytest.raises(NotFittedError):
        scale.encode(codec, vectors, client)
    codec = nx.compress.PQ(m=8, nbits=8, n_iter=5, device="cpu", random_state=0).fit(vectors)
    with pytest.raises(SchemaError, match="32"):
        scale.encode(codec, vectors[:, :16], client)
    codes = codec.encode(vectors)
    with pytest.raises(SchemaError, match="32"):
        scale.search(codec, codes, vectors[:2, :16], 5, client)
    with pytest.raises(SchemaError, match="k must be a positive"):
        scale.search(codec, codes, vectors[:2], 0, client)
    with pytest.raises(SchemaError, match="codes must be"):
        scale.search(codec, codes[:, :4], vectors[:2], 5, client)
    with pytest.raises(SchemaError, match="codec"):
        scale.encode(object(), vectors, client)
