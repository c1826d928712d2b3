"""Synthetic user-item interactions with item metadata: a media catalogue at any size."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nexus_lab.errors import SchemaError

GENRES = ("drama", "comedy", "thriller", "documentary", "finance", "crime", "history",
          "science")
_WORDS = {
    "drama": ("heart", "family", "promise", "river", "winter"),
    "comedy": ("party", "mix-up", "wedding", "holiday", "roommates"),
    "thriller": ("shadow", "escape", "signal", "trap", "midnight"),
    "documentary": ("inside", "story", "life", "voices", "world"),
    "finance": ("market", "money", "ledger", "fortune", "crash"),
    "crime": ("heist", "fraud", "witness", "verdict", "syndicate"),
    "history": ("empire", "war", "dynasty", "revolution", "century"),
    "science": ("quantum", "planet", "machine", "origin", "code"),
}


def synth_interactions(
    n_users: int = 1_000,
    n_items: int = 500,
    per_user: float = 20.0,
    seed: int = 0,
    metadata: bool = True,
) -> pd.DataFrame:
    """Seeded interactions of users with a catalogue, shaped like real ones.

    Items belong to one to three of eight genres and have a long-tailed
    popularity; users have a few favourite genres. Each user picks a
    log-normally distributed number of distinct items (mean ``per_user``),
    with probability growing with the item's popularity and its fit to the
    user's tastes; ratings (1-5) follow the fit, timestamps a year.

    Parameters
    ----------
    n_users, n_items : int
        Sizes of the population and the catalogue.
    per_user : float
        Mean number of interactions per user.
    seed : int
        Seed of every random draw.
    metadata : bool
        Add the item's ``title`` and ``genres`` (text, for content models) to
        each row; leave it out for very large sets.

    Returns
    -------
    pandas.DataFrame
        ``user_id, item_id, rating, timestamp[, title, genres]``, in time order.

    Examples
    --------
    >>> df = synth_interactions(50, 30, seed=1)
    >>> list(df.columns)
    ['user_id', 'item_id', 'rating', 'timestamp', 'title', 'genres']
    >>> bool(df.duplicated(["user_id", "item_id"]).any())
    False
    """
    for name, v in (("n_users", n_users), ("n_items", n_items)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise SchemaError(f"{name} must be a positive whole number, got {v!r}")
    if not per_user > 0:
        raise SchemaError(f"per_user must be positive, got {per_user!r}")
    rng = np.random.default_rng(seed)
    g = len(GENRES)
    # items: genres and popularity
    item_genres = rng.random((n_items, g)) < 0.15
    item_genres[np.arange(n_items), rng.integers(0, g, n_items)] = True
    item_mix = item_genres / item_genres.sum(1, keepdims=True)
    popularity = 1.0 / (np.arange(1, n_items + 1) ** 0.8)
    popularity = popularity[rng.permutation(n_items)]
    # users: tastes concentrated on a few genres
    tastes = rng.dirichlet(np.full(g, 0.3), size=n_users)
    counts = np.clip(np.round(rng.lognormal(np.log(per_user) - 0.18, 0.6, n_users)), 3,
                     max(3, n_items // 2)).astype(np.int64)
    users, items, fits = [], [], []
    step = max(1, (1 << 24) // n_items)
    for s in range(0, n_users, step):  # users in chunks: the score matrix stays small
        t = tastes[s : s + step]
        fit = t @ item_mix.T
        logits = np.log(popularity)[None, :] + 4.0 * np.log(fit + 1e-3)
        keys = logits + rng.gumbel(size=logits.shape)  # Gumbel top-k: sampling w/o replacement
        kmax = int(counts[s : s + step].max())
        top = np.argpartition(-keys, kmax - 1, axis=1)[:, :kmax]
        order = np.argsort(-np.take_along_axis(keys, top, 1), axis=1)
        top = np.take_along_axis(top, order, 1)
        keep = np.arange(kmax)[None, :] < counts[s : s + step, None]
        rows = np.broadcast_to(np.arange(s, s + len(t))[:, None], top.shape)[keep]
        users.append(rows)
        items.append(top[keep])
        fits.append(np.take_along_axis(fit, top, 1)[keep])
    u = np.concatenate(users)
    i = np.concatenate(items)
    f = np.concatenate(fits)
    rating = np.clip(np.round(1.5 + 6.0 * f + rng.normal(0, 0.8, len(f))), 1, 5).astype(np.int64)
    start = 1_704_067_200  # 2024-01-01
    timestamp = start + np.sort(rng.integers(0, 365 * 86_400, len(u)))
    perm = rng.permutation(len(u))
    df = pd.DataFrame({"user_id": u[perm] + 1, "item_id": i[perm] + 1, "rating": rating[perm],
                       "timestamp": timestamp})
    if metadata:
        titles, genres = _item_text(item_genres, rng)
        df["title"] = titles[df["item_id"].to_numpy() - 1]
        df["genres"] = genres[df["item_id"].to_numpy() - 1]
    return df


def _item_text(item_genres: np.ndarray, rng: np.random.Generator):
    """A title of two words from the item's genres, and the genres joined by ``|``."""
    n = len(item_genres)
    weights = item_genres / item_genres.sum(1, keepdims=True)
    main = (weights.cumsum(1) > rng.random((n, 1))).argmax(1)
    words = np.array([_WORDS[x] for x in GENRES], dtype=object)
    first = words[main, rng.integers(0, 5, n)]
    second = words[(main + rng.integers(0, 2, n) * rng.integers(1, len(GENRES), n))
                   % len(GENRES), rng.integers(0, 5, n)]
    titles = pd.Series(first).str.title() + " " + pd.Series(second) + " " + pd.Series(
        np.arange(1, n + 1)).astype(str)
    # the genre sets as bit masks: one text per distinct set (at most 255), looked up
    masks = item_genres.astype(np.int64) @ (1 << np.arange(len(GENRES)))
    distinct = np.unique(masks)
    text = np.array(["|".join(x for b, x in enumerate(GENRES) if m >> b & 1) for m in distinct],
                    dtype=object)
    genres = text[np.searchsorted(distinct, masks)]
    return titles.to_numpy(dtype=object), genres
