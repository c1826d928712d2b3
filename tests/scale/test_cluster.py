"""The cluster a scale job runs on: a real LocalCluster, an existing client, and a
scheduler address that answers nothing."""

from __future__ import annotations

import socket

import pytest

from nexus_lab import ClusterError, SchemaError, scale
from nexus_lab.scale._cluster import memory_per_worker, n_partitions, workers_of


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_local_cluster_has_the_workers_asked_with_a_memory_limit_and_a_dashboard():
    with scale.cluster(workers=2) as client:
        assert workers_of(client) == 2
        assert memory_per_worker(client) > 0  # Dask spills and pauses against it
        assert client.submit(sum, [1, 2]).result() == 3
        assert scale.dashboard_link(client).startswith("http")
        # at least one partition per worker; more when a worker's share of memory is small
        assert n_partitions(1, client) == 2
        assert n_partitions(memory_per_worker(client) * 4, client) > 2
    assert client.status == "closed"  # the block's cluster is closed with it


def test_a_given_client_is_used_and_left_open():
    with scale.cluster(workers=1) as outer, scale.cluster(outer) as inner:
        assert inner is outer
        assert inner.submit(len, "abc").result() == 3
    with pytest.raises(SchemaError, match="not both"), scale.cluster(outer, scheduler="tcp://x:1"):
        pass


def test_an_unreachable_scheduler_is_named():
    address = f"tcp://127.0.0.1:{_free_port()}"
    with pytest.raises(ClusterError, match=address.replace(".", r"\.")) as err, \
            scale.cluster(scheduler=address):
        pass
    assert "--scheduler" in str(err.value)


def test_an_address_without_a_protocol_is_refused():
    with pytest.raises(SchemaError, match="tcp://host:port"), \
            scale.cluster(scheduler="localhost"):
        pass


def test_the_workers_share_the_cores_between_their_kernels_threads():
    import os

    import torch

    cores = len(os.sched_getaffinity(0))
    with scale.cluster(workers=1) as client:
        assert set(client.run(torch.get_num_threads).values()) == {cores}
    with scale.cluster(workers=2) as client:
        assert set(client.run(torch.get_num_threads).values()) == {max(1, cores // 2)}


def test_the_workers_keep_mallocs_own_thresholds(monkeypatch):
    """Dask's default trims freed memory past 64 KiB, which makes every large temporary
    array be mapped anew: the cluster's workers keep glibc's adaptive thresholds, unless
    this process's environment sets one."""
    import os

    def trim() -> str | None:
        return os.environ.get("MALLOC_TRIM_THRESHOLD_")

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with scale.cluster(workers=1) as client:
        assert set(client.run(trim).values()) == {None}
    assert trim() is None  # nor is it left in this process's environment
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1048576")
    with scale.cluster(workers=1) as client:
        assert set(client.run(trim).values()) == {"1048576"}


def test_what_a_task_freed_goes_back_to_the_os_after_it():
    """The heap keeps what a task freed (glibc's thresholds, kept for speed); the plugin
    hands it back once the task is done."""
    import psutil

    def rss() -> int:
        return psutil.Process().memory_info().rss

    def freed_but_held() -> int:
        """400 MB in arrays of 1 MB from the heap, all freed but the last (which pins the
        heap's top, so that nothing goes back by itself): the RSS after freeing them."""
        import numpy as np
        from distributed import get_worker

        np.ones(1 << 17)  # one freed: malloc then serves arrays of this size from its heap
        arrays = [np.ones(1 << 17) for _ in range(400)]
        get_worker().nexus_lab_pinned = arrays[-1]  # held past the task, as data would be
        del arrays
        return rss()

    with scale.cluster(workers=1) as client:
        before = next(iter(client.run(rss).values()))
        during = client.submit(freed_but_held, pure=False).result()
        after = next(iter(client.run(rss).values()))
    assert during - before > 300e6  # freed, yet held by the heap while the task ran
    assert after - before < 100e6  # handed back when it finished


def test_a_frame_is_sized_from_a_sample_of_its_rows():
    import numpy as np
    import pandas as pd

    from nexus_lab.scale._cluster import frame_bytes

    rng = np.random.default_rng(0)
    words = np.array(["rent", "card payment at a supermarket", "wire", "salary june"])
    frame = pd.DataFrame({"amount": rng.normal(size=300_000),
                          "description": words[rng.integers(0, 4, 300_000)]})
    whole = int(frame.memory_usage(deep=True).sum())
    assert abs(frame_bytes(frame) / whole - 1) < 0.02
    assert frame_bytes(frame.head(10)) == int(frame.head(10).memory_usage(deep=True).sum())


def test_every_public_name_resolves():
    for name in scale.__all__:
        assert callable(getattr(scale, name)), name


def test_the_progress_bar_shows_while_a_job_runs(capsys):
    import time

    from nexus_lab.scale._cluster import gather

    with scale.cluster(workers=1) as client:  # (the workers import what a task names)
        got = gather(client, client.map(time.sleep, [0.2] * 3, pure=False), progress=True,
                     label="scoring")
    assert got == [None, None, None]
    out = capsys.readouterr().out
    assert out.startswith("scoring\n") and "100% Completed" in out  # Dask's text bar
