"""Public interaction datasets, read from the packages that ship them (never downloaded).

MovieLens-100k ships inside the ``recbole`` wheel; MovieLens' terms forbid
redistributing it, so NEXUS Lab reads it from the installed package and never
copies it.
"""

from __future__ import annotations

import importlib.resources

import pandas as pd

from nexus_lab.errors import DependencyError

__all__ = ["movielens_100k", "movielens_100k_users"]

_INSTALL = "pip install --no-deps recbole==1.2.1"


def _recbole_file(name: str):
    try:
        root = importlib.resources.files("recbole")
    except ModuleNotFoundError:
        root = None
    path = root / "dataset_example" / "ml-100k" / name if root is not None else None
    if path is None or not path.is_file():
        raise DependencyError(
            f"MovieLens-100k is read from the recbole wheel, which is not installed here; run "
            f"`{_INSTALL}` (the data only: no other dependency is needed)")
    return path


def movielens_100k(items: bool = True) -> pd.DataFrame:
    """The MovieLens-100k ratings: 100,000 ratings of 1,682 movies by 943 users.

    Parameters
    ----------
    items : bool
        Add each movie's ``title``, ``year`` and ``genres`` (``|``-separated)
        to its rows, for content models.

    Returns
    -------
    pandas.DataFrame
        ``user_id, item_id, rating, timestamp[, title, year, genres]`` in the
        file's order (that of MovieLens' ``u.data``).

    Raises
    ------
    DependencyError
        When ``recbole`` is not installed (the message gives the command).

    Examples
    --------
    >>> df = movielens_100k()
    >>> df.shape
    (100000, 7)
    """
    inter = pd.read_csv(_recbole_file("ml-100k.inter"), sep="\t")
    inter.columns = ["user_id", "item_id", "rating", "timestamp"]
    inter = inter.astype({"user_id": "int64", "item_id": "int64", "rating": "int64",
                          "timestamp": "int64"})
    if not items:
        return inter
    meta = pd.read_csv(_recbole_file("ml-100k.item"), sep="\t", dtype=str,
                       keep_default_na=False)
    meta.columns = ["item_id", "title", "year", "genres"]
    meta["item_id"] = meta["item_id"].astype("int64")
    meta["genres"] = meta["genres"].str.split().str.join("|")
    return inter.merge(meta, on="item_id", how="left", sort=False)


def movielens_100k_users() -> pd.DataFrame:
    """The 943 MovieLens-100k users' profiles: ``user_id, age, gender, occupation, zip_code``.

    For models that serve users from who they are (``nx.recommend.Demographic``,
    ``Hybrid.fit(..., users=...)``).

    Examples
    --------
    >>> movielens_100k_users().columns.tolist()
    ['user_id', 'age', 'gender', 'occupation', 'zip_code']
    """
    users = pd.read_csv(_recbole_file("ml-100k.user"), sep="\t", dtype={"zip_code:token": str})
    users.columns = ["user_id", "age", "gender", "occupation", "zip_code"]
    return users
