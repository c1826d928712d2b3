"""Compression of vectors and columns: quantizers, search on codes, lossless frames."""

from nexus_lab.compress._base import Codec
from nexus_lab.compress._choose import fit
from nexus_lab.compress._container import compress_frame, decompress_frame
from nexus_lab.compress._quantizers import OPQ, PQ, RQ, ScalarInt8
from nexus_lab.compress._search import search

__all__ = ["OPQ", "PQ", "RQ", "Codec", "ScalarInt8", "compress_frame", "decompress_frame",
           "fit", "search"]
