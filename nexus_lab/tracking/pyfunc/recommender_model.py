"""The MLflow model of a recommender, logged as code ("models from code").

MLflow runs this file when the model is loaded. The recommender travels as the
artifact ``recommender`` (a folder written by
:func:`nexus_lab.artifacts.save_recommender`: JSON, NumPy and Parquet; no pickle).
Input: a frame with a ``user_id`` column; the parameter ``k`` (default 10) sets
the list length. Output: ``user_id, item_id, score, rank``. Unknown users get
the cold-start list.
"""

from __future__ import annotations

import mlflow
import pandas as pd


class RecommenderModel(mlflow.pyfunc.PythonModel):
    """Top-k items for each ``user_id`` of the input."""

    def load_context(self, context) -> None:
        from nexus_lab.artifacts import load_recommender

        self.recommender = load_recommender(context.artifacts["recommender"])

    def predict(self, context, model_input, params=None) -> pd.DataFrame:
        frame = pd.DataFrame(model_input)
        users = frame["user_id"].to_numpy() if "user_id" in frame else frame.iloc[:, 0]
        k = int((params or {}).get("k", 10))
        return pd.DataFrame(self.recommender.recommend(users, k=k))


mlflow.models.set_model(RecommenderModel())
