"""A worker killed in the middle of a job: Dask runs its tasks again elsewhere and the job
gives the identical result."""

from __future__ import annotations

import os
import signal
import threading
import time

import pandas as pd

import nexus_lab as nx
from nexus_lab import scale


def test_a_worker_killed_mid_job_changes_nothing():
    tx = nx.datasets.synth_transactions(120_000, seed=5).drop(columns=["pattern", "is_fraud"])
    history, new = tx.iloc[:40_000], tx.iloc[40_000:].reset_index(drop=True)
    det = nx.fraud.FraudDetector(device="cpu", autoencoder_epochs=1, random_state=0).fit(history)
    want = det.score(new)
    with scale.cluster(workers=2) as client:
        pids = client.run(os.getpid)
        killed: list[int] = []

        def kill_one_when_busy() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                busy = [w for w, tasks in client.processing().items()
                        if any("_score" in str(t) for t in tasks)]
                if busy:
                    os.kill(pids[busy[0]], signal.SIGKILL)  # the worker's process, at once
                    killed.append(pids[busy[0]])
                    return
                time.sleep(0.02)

        killer = threading.Thread(target=kill_one_when_busy)
        killer.start()
        got = scale.score_fraud(new, det, client, progress=False)
        killer.join()
        assert killed, "no worker was busy scoring: the kill never happened"
        assert killed[0] not in client.run(os.getpid).values()  # a new process took its place
    pd.testing.assert_frame_equal(got, want)
