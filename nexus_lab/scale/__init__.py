"""Past one machine: the kernels on Dask (``dask.distributed``).

A service: it cuts the kernels' inputs into partitions, runs the same kernel code on
every partition on a Dask cluster, and puts the parts together so that the result
equals the single-machine call's. It imports the kernels; dask is loaded on first use.

* :func:`reconcile`: a bank statement against a ledger, its exact-amount tier sharded by
  amount, equal to :func:`nexus_lab.reconcile`;
* :func:`score_fraud`: a fitted detector shipped once to the workers as its state;
* :func:`recommend`: the top-k of every user, streamed to Parquet;
* :func:`encode` and :func:`search`: vectors coded and searched in shards;
* :func:`examine`: the audit tests that shard (Benford's digit counts, exact
  duplicates, strata, summaries);
* :func:`cluster`: the cluster a job runs on: a ``distributed.LocalCluster`` (one
  worker per core) by default, ``client=`` for an existing one, ``scheduler=
  "tcp://host:port"`` for a running scheduler; :func:`dashboard_link` is its dashboard.

>>> from nexus_lab import scale
>>> callable(scale.cluster)
True
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submod_attrs={
        "_cluster": ["cluster", "dashboard_link"],
        "_fraud": ["score_fraud"],
        "_reconcile": ["reconcile"],
        "_recommend": ["recommend"],
        "_compress": ["encode", "search"],
        "_examine": ["examine"],
    },
)
