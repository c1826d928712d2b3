"""Fitted kernels saved to folders, and loaded back, without pickle.

A service: the kernels stay free of file I/O; the CLI and the MLflow model
wrappers (:mod:`nexus_lab.tracking`) save and load through here. Each kernel
says what its fitted state is (``to_state()`` / ``from_state()`` next to the
estimator: plain arrays, frames and JSON); this package lays those states out
in open, versioned files and reads them back, through the kernels' public names
only:

- :func:`save_fraud_detector` / :func:`load_fraud_detector`: a
  :class:`~nexus_lab.fraud.FraudDetector` as a folder of JSON, NumPy, Parquet,
  skops and torch weights (``_fraud``).
- :func:`save_recommender` / :func:`load_recommender`: any recommender of
  :mod:`nexus_lab.recommend` as a folder of JSON, NumPy and Parquet (``_recommend``).
- :func:`codec_state` / :func:`codec_from_state`: a vector codec of
  :mod:`nexus_lab.compress` as JSON facts and plain arrays (``_codec``).

Every folder's JSON description carries ``format`` (:data:`FORMAT`); a reader
refuses a newer one with a message to upgrade (``_format``). Folders of format 1
written before the kernels owned their state load unchanged.
"""

from nexus_lab.artifacts._codec import codec_from_state, codec_state
from nexus_lab.artifacts._format import FORMAT
from nexus_lab.artifacts._fraud import load_fraud_detector, save_fraud_detector
from nexus_lab.artifacts._recommend import load_recommender, save_recommender

__all__ = ["FORMAT", "codec_from_state", "codec_state", "load_fraud_detector",
           "load_recommender", "save_fraud_detector", "save_recommender"]
