"""Compression of vectors and columns: quantizers, search on codes, lossless frames.

A kernel: frames and arrays in, frames and arrays out; it imports only base modules,
reads no environment variable and knows no service.

>>> import nexus_lab as nx
>>> X = nx.data.synth_vectors(2000, 32, seed=0)
>>> codec = nx.compress.fit(X, bytes_per_vector=8, device="cpu", random_state=0)
>>> codes = codec.encode(X)                      # (2000, 8) uint8: 16x smaller
>>> ids, scores = nx.compress.search(codec, codes, X[:5], k=3)
>>> ids.shape, codes.shape
((5, 3), (2000, 8))
>>> frame = nx.data.synth_transactions(500, seed=0)
>>> nx.compress.decompress_frame(nx.compress.compress_frame(frame)).equals(frame)
True
"""

from nexus_lab.compress._base import Codec, check_vectors
from nexus_lab.compress._choose import fit
from nexus_lab.compress._container import compress_frame, decompress_frame
from nexus_lab.compress._metrics import recall_at_k
from nexus_lab.compress._neural import Neural
from nexus_lab.compress._quantizers import OPQ, PQ, RQ, ScalarInt8
from nexus_lab.compress._search import search

__all__ = ["OPQ", "PQ", "RQ", "Codec", "Neural", "ScalarInt8", "check_vectors", "compress_frame",
           "decompress_frame", "fit", "recall_at_k", "search"]
