"""The MLflow model of a fraud detector, logged as code ("models from code").

MLflow runs this file when the model is loaded: it defines the pyfunc wrapper
and hands an instance to :func:`mlflow.models.set_model`. The detector itself
travels as the artifact ``detector`` (a folder written by
:func:`nexus_lab.artifacts.save_fraud_detector`: JSON, NumPy, Parquet, skops and
torch weights; no pickle).
"""

from __future__ import annotations

import mlflow
import pandas as pd


class FraudModel(mlflow.pyfunc.PythonModel):
    """Scores a DataFrame of transactions: ``transaction_id, risk_score, flags, reasons``."""

    def load_context(self, context) -> None:
        from nexus_lab.artifacts import load_fraud_detector

        self.detector = load_fraud_detector(context.artifacts["detector"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        scored = pd.DataFrame(self.detector.score(model_input))
        # lists become text so that every MLflow client (REST included) reads them
        scored["flags"] = scored["flags"].map("; ".join)
        scored["reasons"] = scored["reasons"].map(" | ".join)
        return scored


mlflow.models.set_model(FraudModel())
