"""Content-based recommendations from item metadata: TF-IDF of titles, genres, tags."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch

from nexus_lab._typing import DeviceLike
from nexus_lab.errors import SchemaError
from nexus_lab.frames import to_pandas
from nexus_lab.recommend._base import Recommender, check_positive, history_times
from nexus_lab.recommend._models import _dense_items, _keep_top


class Content(Recommender):
    """Recommend items whose descriptions resemble what the user chose.

    Each item's text (its title, genres, tags... joined) becomes a TF-IDF
    vector; items are similar by cosine. A user's scores are the sums of the
    similarities to the items in their history, so a new user with a single
    interaction, or a new item with a description and no interactions yet,
    gets sensible recommendations: the cold-start model.

    Parameters
    ----------
    text_columns : sequence of str
        Item columns holding text; ``|``, ``,`` and ``;`` separate tags.
    neighbors : int
        Similar items kept per item.
    columns : mapping, optional
        Your names for ``user_id, item_id, rating, timestamp``.
    device : {"auto", "cpu", "cuda"}

    Attributes
    ----------
    similarity_ : torch.Tensor
        Item x item cosine similarities (each item's ``neighbors`` largest).
    vocabulary_ : dict
        Term -> column of the TF-IDF vectors.

    Examples
    --------
    >>> import nexus_lab as nx
    >>> data = nx.data.synth_interactions(200, 60, seed=0)
    >>> model = nx.recommend.Content(device="cpu").fit(data)
    >>> model.recommend([10_000], k=3, history=data.head(1).assign(user_id=10_000)).shape
    (3, 4)
    """


    def __init__(self, text_columns: Sequence[str] = ("title", "genres"), neighbors: int = 100,
                 columns=None, device: DeviceLike = "auto") -> None:
        self.text_columns = text_columns
        self.neighbors = neighbors
        self.columns = columns
        self.device = device

    def fit(self, interactions: object, y: object = None, items: object = None) -> Content:
        """Learn from interactions and the items' text.

        Parameters
        ----------
        interactions : DataFrame
            ``user_id, item_id, ...``; may carry the text columns itself.
        y : ignored
        items : DataFrame, optional
            ``item_id`` and the text columns, one row per item; items here
            without interactions join the catalogue (new items can be
            recommended from their description alone).

        Returns
        -------
        self
        """
        self._items = None if items is None else to_pandas(items, "items")
        try:
            return super().fit(interactions, y)
        finally:
            self._items = None

    def _catalogue(self, frame: pd.DataFrame) -> pd.Index | None:
        seen = pd.Index(pd.unique(frame["item_id"].to_numpy()))
        if self._items is None:
            return None
        if "item_id" not in self._items:
            raise SchemaError("items needs an item_id column next to its text columns",
                              table="items", column="item_id")
        more = pd.Index(pd.unique(self._items["item_id"].to_numpy()))
        return seen.append(more.difference(seen, sort=False))

    def _fit(self, matrix, frame) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        check_positive("neighbors", self.neighbors, integer=True)
        _dense_items("Content", matrix.shape[1])
        source = self._items if self._items is not None else frame
        cols = [c for c in self.text_columns if c in source]
        if not cols:
            raise SchemaError(
                f"Content needs item text: none of the columns {list(self.text_columns)} is in "
                f"the {'items' if self._items is not None else 'interactions'} (columns "
                f"{list(source.columns)}); pass items= with item_id and text, or name the "
                "text columns with text_columns=", column=str(self.text_columns[0]))
        per_item = source.drop_duplicates("item_id").set_index("item_id")[cols]
        text = per_item.fillna("").astype(str).agg(" ".join, axis=1)
        text = text.str.replace(r"[|,;]", " ", regex=True)
        text = text.reindex(self.items_).fillna("")
        vec = TfidfVectorizer(sublinear_tf=True, token_pattern=r"(?u)\b[\w'-]{2,}\b")
        try:
            tfidf = vec.fit_transform(text.to_numpy())
        except ValueError as exc:  # no words at all
            raise SchemaError(f"the item text in {cols} holds no words to compare items by",
                              column=cols[0]) from exc
        self.vocabulary_ = vec.vocabulary_
        sim = torch.as_tensor((tfidf @ tfidf.T).toarray(), dtype=torch.float32,
                              device=self.device_)
        sim.diagonal().zero_()
        self.similarity_ = _keep_top(sim, int(self.neighbors))

    def _scores(self, history, codes) -> torch.Tensor:
        binary = history.copy()
        binary.data[:] = 1.0
        return history_times(binary, self.similarity_)

    def _item_similarity(self, codes) -> torch.Tensor:
        return self.similarity_[torch.as_tensor(codes, device=self.device_)]
