"""Fraud detection: rules, robust statistics and learned models in one risk score.

A kernel: frames and arrays in, frames and arrays out; it imports only base modules,
reads no environment variable and knows no service.

>>> import nexus_lab as nx
>>> tx = nx.data.synth_transactions(2_000, seed=1)
>>> det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1).fit(tx)
>>> det.score(tx.head(5)).shape[0]
5
"""

from nexus_lab.fraud._detector import FEATURES, FLAGS, FraudDetector, ScoredTransactions
from nexus_lab.fraud._evaluate import evaluate
from nexus_lab.fraud._features import DEFAULT_RULES
from nexus_lab.fraud._inputs import time_split
from nexus_lab.fraud._models import AnomalyDetector

__all__ = [
    "DEFAULT_RULES",
    "FEATURES",
    "FLAGS",
    "AnomalyDetector",
    "FraudDetector",
    "ScoredTransactions",
    "evaluate",
    "time_split",
]
