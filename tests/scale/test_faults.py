"""A worker killed in the middle of a job: Dask runs its tasks again elsewhere and the job
gives the identical result."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest

import nexus_lab as nx
from nexus_lab import scale


def test_a_worker_killed_mid_job_changes_nothing():
    tx = nx.datasets.synth_transactions(120_000, seed=5).drop(columns=["pattern", "is_fraud"])
    history, new = tx.iloc[:40_000], tx.iloc[40_000:].reset_index(drop=True)
    det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1, random_state=0).fit(history)
    want = det.score(new)
    with scale.cluster(workers=2) as client:
        pids = client.run(os.getpid)
        killed = _kill_when_busy(client, pids, "_score")
        got = scale.score_fraud(new, det, client, progress=False)
        killed.join()
        assert killed.pid, "no worker was busy scoring: the kill never happened"
        assert killed.pid not in client.run(os.getpid).values()  # a new process took its place
    pd.testing.assert_frame_equal(got, want)


def test_a_worker_killed_mid_reconciliation_changes_nothing():
    bank, ledger, _ = nx.datasets.synth_reconciliation(150_000, seed=9, profile="dense")
    want = nx.reconcile(bank, ledger, device="cpu")
    with scale.cluster(workers=2) as client:
        pids = client.run(os.getpid)
        killed = _kill_when_busy(client, pids, "_exact_shard")
        got = scale.reconcile(bank, ledger, client, device="cpu", progress=False)
        killed.join()
        assert killed.pid, "no worker was busy with a shard: the kill never happened"
        assert killed.pid not in client.run(os.getpid).values()
    pd.testing.assert_frame_equal(got.matches, want.matches)
    pd.testing.assert_frame_equal(got.unmatched_bank, want.unmatched_bank)
    pd.testing.assert_frame_equal(got.unmatched_ledger, want.unmatched_ledger)
    assert got.rate == want.rate


class _Killer(threading.Thread):
    """Kills (SIGKILL) the process of the first worker seen running a task whose key
    holds ``name``; ``pid`` is the process killed (0: none)."""

    def __init__(self, client, pids: dict, name: str) -> None:
        super().__init__(daemon=True)
        self.client, self.pids, self.name, self.pid = client, pids, name, 0

    def run(self) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            busy = [w for w, tasks in self.client.processing().items()
                    if any(self.name in str(t) for t in tasks)]
            if busy:
                self.pid = self.pids[busy[0]]
                os.kill(self.pid, signal.SIGKILL)
                return
            time.sleep(0.02)


def _kill_when_busy(client, pids: dict, name: str) -> _Killer:
    killer = _Killer(client, pids, name)
    killer.start()
    return killer


@pytest.mark.parametrize("progress", [False, True])
def test_shared_values_lost_with_their_worker_are_shared_again(progress):
    """The map runs again; with the progress bar too (Dask's text bar waits for every
    task, and a task cancelled with its data never finishes)."""
    from nexus_lab.scale._reconcile import _DaskShards

    def total(k, *, x):  # defined here: a test module's functions do not travel
        return int(x.sum()) + k

    x = np.arange(100_000)
    with scale.cluster(workers=2) as client:
        shards = _DaskShards(client, 2, 2, progress=progress)
        handle = shards.share(x)  # scattered to one worker
        # which is killed: scattered data has no task to run again
        (holder,) = {w for ws in client.who_has(handle).values() for w in ws}
        os.kill(client.run(os.getpid, workers=[holder])[holder], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while handle.status == "finished" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert handle.status == "cancelled"
        got = shards.map(total, [(k,) for k in range(4)], x=handle)
        assert shards.share(x) is not handle  # scattered again
    assert got == [int(x.sum()) + k for k in range(4)]
