"""A throwaway PostgreSQL server: initdb + pg_ctl on a free port, removed at the end.

Used by the ``postgres_server`` fixture (tests/conftest.py) and by
``experiments/bench_store.py``, so both run against a server started the same way.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

USER, PASSWORD = "nexus", "nexus-test-password"


class PostgresUnavailable(RuntimeError):
    """No server can be started here (no binaries, or root without a ``postgres`` user)."""


def postgres_bin() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb") and shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
                      key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                      else 0)
    return versions[-1].parent if versions else None


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def throwaway_postgres(options: tuple[str, ...] = ("fsync=off", "full_page_writes=off")
                       ) -> Iterator[tuple[str, int]]:
    """A new PostgreSQL cluster for the block; password authentication over TCP.

    Yields ``(host, port)``; the user is :data:`USER` with :data:`PASSWORD`. ``options``
    are server settings (``-c name=value``). The cluster is stopped and its folder removed
    at the end of the block.

    PostgreSQL refuses to run as root: as root (CI), the server runs as the ``postgres``
    user that Debian's package creates.

    Raises
    ------
    PostgresUnavailable
        When the server binaries are missing, or when running as root with no
        ``postgres`` user.
    """
    bindir = postgres_bin()
    if bindir is None:
        raise PostgresUnavailable("PostgreSQL server binaries (initdb, pg_ctl) are not "
                                  "installed: apt-get install postgresql (.ci/run does)")
    user = None
    if os.geteuid() == 0:
        import pwd

        try:
            user = pwd.getpwnam("postgres").pw_name
        except KeyError:
            raise PostgresUnavailable("running as root and there is no 'postgres' user to run "
                                      "the server as") from None
    # not under pytest's temporary folder: as root, that is closed to the postgres user
    base = Path(tempfile.mkdtemp(prefix="nexus-lab-pg-",
                                 dir="/tmp" if os.geteuid() == 0 else None))
    try:
        data, sock = base / "data", base / "sock"
        sock.mkdir()
        pwfile = base / "pw"
        pwfile.write_text(PASSWORD + "\n")
        if user is not None:
            for p in (base, sock, pwfile):
                shutil.chown(p, user)
        port = free_port()

        def run(*args: str) -> None:
            proc = subprocess.run([str(bindir / args[0]), *args[1:]], user=user,
                                  capture_output=True, text=True, timeout=120)
            if proc.returncode:
                raise RuntimeError(f"{args[0]} failed: {proc.stderr or proc.stdout}")

        run("initdb", "-D", str(data), "-U", USER, f"--pwfile={pwfile}", "-A", "scram-sha-256",
            "-E", "UTF8", "--no-sync")
        settings = " ".join(f"-c {o}" for o in options)
        run("pg_ctl", "-D", str(data), "-l", str(base / "log"), "-w", "-t", "60", "-o",
            f"-p {port} -k {sock} -h 127.0.0.1 {settings}", "start")
        try:
            yield "127.0.0.1", port
        finally:
            run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def database_url(host: str, port: int, database: str) -> str:
    """``postgresql://user:password@host:port/database`` on a throwaway server."""
    return f"postgresql://{USER}:{PASSWORD}@{host}:{port}/{database}"
