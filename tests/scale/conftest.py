"""One two-worker LocalCluster per test module of the scale service."""

from __future__ import annotations

import pytest

from nexus_lab import scale


@pytest.fixture(scope="module")
def client():
    with scale.cluster(workers=2) as c:
        yield c
