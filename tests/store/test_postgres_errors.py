"""Connection errors of a real PostgreSQL server: each a clear StoreError."""

from __future__ import annotations

import pytest

import nexus_lab as nx
from nexus_lab.store import StoreError


def test_a_port_nobody_listens_on(postgres_server):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free, and nothing listens on it
    with pytest.raises(StoreError, match=r"server running.*host and port") as err:
        nx.store.connect(f"postgresql://nexus:pw@127.0.0.1:{port}/x")
    assert "pw" not in str(err.value).replace("password", "")


def test_wrong_password_names_the_fix_and_hides_the_password(postgres_server):
    host, port = postgres_server
    with pytest.raises(StoreError, match="check the user name and password") as err:
        nx.store.connect(f"postgresql://nexus:not-the-password@{host}:{port}/postgres")
    assert "not-the-password" not in str(err.value)


def test_a_database_that_does_not_exist(postgres_server):
    from tests.conftest import PG_PASSWORD, PG_USER

    host, port = postgres_server
    with pytest.raises(StoreError, match="createdb nosuchdb"):
        nx.store.connect(f"postgresql://{PG_USER}:{PG_PASSWORD}@{host}:{port}/nosuchdb")
