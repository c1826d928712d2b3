"""Compression of vectors and columns: quantizers, search on codes, lossless frames."""

from nexus_lab.compress._base import Codec
from nexus_lab.compress._choose import fit
from nexus_lab.compress._container import compress_frame, decompress_frame
from nexus_lab.compress._metrics import recall_at_k
from nexus_lab.compress._neural import Neural
from nexus_lab.compress._quantizers import OPQ, PQ, RQ, ScalarInt8
from nexus_lab.compress._search import search

__all__ = ["OPQ", "PQ", "RQ", "Codec", "Neural", "ScalarInt8", "compress_frame", "decompress_frame",
           "fit", "recall_at_k", "search"]
