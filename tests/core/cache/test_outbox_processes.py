"""The outbox across processes: a writer that cannot settle, that exits during an outage or that is killed right
after its commit has its invalidation applied, by itself at exit or by the relay of another server process.

Real processes (`manage.py shell -c`, `manage.py cache_relay`, `runserver`) on a scratch database of their own
(SQLite file, or a PostgreSQL database copied from a migrated template when DATABASE_URL names PostgreSQL) and the
test's own redis-server. This test process only reads: the cache through its store, the database through SQL.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from port_for import get_port

from core.cache.keys import stats_key
from core.cache.store import get_store, new_token
from tests.fixtures.cache import until
from tests.fixtures.processes import ROOT, TIMEOUT, clean_env, manage

ERRAND = "errands.errand"
OUTBOX_ROWS = "SELECT COUNT(*) FROM core_cacheoutbox"

# A write in a transaction that waits, between its save (the begin reached Redis) and its commit, for a line on
# stdin; with KILL, a commit hook registered before the write's own kills the process right after COMMIT.
WRITER = """
import os, signal, sys
from django.db import transaction
from core.factories import ErrandFactory
errand = ErrandFactory(title="before")
with transaction.atomic():
    if os.environ.get("KILL"):
        transaction.on_commit(lambda: os.kill(os.getpid(), signal.SIGKILL))
    errand.title = "after"
    errand.save()
    print("saved", errand.pk, flush=True)
    sys.stdin.readline()
print("committed", flush=True)
"""
CREATE_ERRAND = "from core.factories import ErrandFactory; print(ErrandFactory(title='before').pk)"


# --- a scratch database the processes share ---------------------------------------------------------------------


@dataclass
class Database:
    url: str

    def scalar(self, sql: str) -> object:
        if self.url.startswith("sqlite"):
            with sqlite3.connect(urlsplit(self.url).path) as connection:
                return connection.execute(sql).fetchone()[0]
        with psycopg.connect(_libpq(self.url), autocommit=True) as connection:
            return connection.execute(sql).fetchone()[0]


def _libpq(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def _with_name(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Iterator[str]:
    """A migrated database to copy: a SQLite file, or a PostgreSQL template database."""
    suite = os.environ.get("DATABASE_URL", "")
    if not suite.startswith("postgres"):
        path = tmp_path_factory.mktemp("outbox-db") / "template.sqlite3"
        url = f"sqlite:///{path}"
        done = manage("migrate", "--noinput", "-v", "0", env=clean_env(DATABASE_URL=url))
        assert done.returncode == 0, done.stderr
        yield url
        return
    name = f"runam_outbox_template_{uuid.uuid4().hex[:8]}"
    admin = _libpq(_with_name(suite, "postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        url = _with_name(suite, name)
        done = manage("migrate", "--noinput", "-v", "0", env=clean_env(DATABASE_URL=url))
        assert done.returncode == 0, done.stderr
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database(migrated, tmp_path) -> Iterator[Database]:
    if migrated.startswith("sqlite"):
        copy = tmp_path / "db.sqlite3"
        shutil.copy(urlsplit(migrated).path, copy)
        yield Database(f"sqlite:///{copy}")
        return
    name = f"runam_outbox_{uuid.uuid4().hex[:8]}"
    admin = _libpq(_with_name(migrated, "postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{urlsplit(migrated).path[1:]}"')
    try:
        yield Database(_with_name(migrated, name))
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def environment(database: Database, redis_url: str, **variables: str) -> dict[str, str]:
    return clean_env(
        DATABASE_URL=database.url,
        REDIS_URL=redis_url,
        DJANGO_ENV="local",
        DJANGO_DEBUG="false",
        CACHE_OUTBOX_RELAY_INTERVAL="0.1",
        **variables,
    )


# --- processes ------------------------------------------------------------------------------------------------------


class Writer:
    """WRITER in its own process, driven a line at a time."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-v", "0", "-c", WRITER],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

    def _line(self) -> str:
        ready, _, _ = select.select([self.process.stdout], [], [], TIMEOUT)
        line = self.process.stdout.readline().decode() if ready else ""
        assert line, f"the writer said nothing:\n{self._stderr()}"
        return line.strip()

    def _stderr(self) -> str:
        if self.process.poll() is None:
            self.process.kill()
        return self.process.stderr.read().decode()[-3000:]

    def saved(self) -> int:
        """Wait until the write has begun (its SQL ran, not committed); its errand's id."""
        word, pk = self._line().split()
        assert word == "saved"
        return int(pk)

    def commit(self) -> None:
        self.process.stdin.write(b"\n")
        self.process.stdin.flush()

    def committed(self) -> None:
        assert self._line() == "committed"

    def exit_code(self) -> int:
        return self.process.wait(TIMEOUT)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(TIMEOUT)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            stream.close()


@pytest.fixture
def writers() -> Iterator[list[Writer]]:
    started: list[Writer] = []
    yield started
    for writer in started:
        writer.close()


@pytest.fixture
def servers() -> Iterator[list[subprocess.Popen]]:
    """Processes standing for other servers; stopped (SIGTERM) at the end."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(TIMEOUT)


def start(servers: list, command: list[str], env: dict[str, str]) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "manage.py", *command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    servers.append(process)
    return process


# --- what the test process sees ------------------------------------------------------------------------------------


def guarded_fill_stores() -> bool:
    """Whether a guarded fill of a list of errands is stored now (not while an errand write is pending: every errand
    write moves the queryset family such a list shows)."""
    store = get_store()
    found = store.lookup(f"probe:{new_token()}", clocks=[ERRAND])
    return store.store(found.ticket, "rows", 60, families=["queryset:errands.errand"], guarded=True)


def served(key: str) -> bool:
    return get_store().lookup(key).hit


# --- the tests ------------------------------------------------------------------------------------------------------


def test_a_settle_lost_to_a_stopped_redis_is_applied_by_another_servers_relay(
    restartable_redis, database, writers, servers
):
    env = environment(database, restartable_redis.url, CACHE_EXIT_FLUSH_TIMEOUT="0.2")
    # given: Redis stops between a write's begin and its commit, and the writer exits before Redis is back
    writer = Writer(env)
    writers.append(writer)
    writer.saved()
    restartable_redis.stop()
    writer.commit()
    writer.committed()
    assert writer.exit_code() == 0
    assert database.scalar(OUTBOX_ROWS) == 1
    # Redis comes back with what it saved, the write's pending mark too: nobody left to lift it, so guarded fills
    # of errands would be refused until CACHE_WRITE_PENDING_TTL
    restartable_redis.start()
    assert not guarded_fill_stores()
    # when: another server's relay
    start(servers, ["cache_relay"], env)
    # then
    assert until(lambda: database.scalar(OUTBOX_ROWS) == 0)
    assert guarded_fill_stores()


def test_a_writer_killed_right_after_its_commit_has_its_invalidation_applied_by_a_servers_relay(
    restartable_redis, database, writers, servers
):
    env = {**environment(database, restartable_redis.url), "KILL": "1"}
    # given: a fill that raced with the write (it read the row before the commit, and stored after the begin)...
    writer = Writer(env)
    writers.append(writer)
    pk = writer.saved()
    store = get_store()
    stale = f"errand:{pk}:title"
    assert store.store(store.lookup(stale).ticket, "before", 300)
    # ...and the writer killed right after its commit, before its settle
    writer.commit()
    assert writer.exit_code() == -signal.SIGKILL
    assert database.scalar(f"SELECT title FROM errands_errand WHERE id = {pk}") == "after"
    assert served(stale)  # stale, and nothing in the cache would ever drop it
    assert database.scalar(OUTBOX_ROWS) == 1
    # when: a server starts (its relay starts with it, in AppConfig.ready)
    port = get_port(None)
    start(servers, ["runserver", "--noreload", f"127.0.0.1:{port}"], env)
    # then
    assert until(lambda: not served(stale))
    assert until(lambda: database.scalar(OUTBOX_ROWS) == 0)
    assert guarded_fill_stores()


def test_a_command_that_exits_during_an_outage_applies_what_it_owes_once_redis_answers(
    restartable_redis, database, writers
):
    # A bound, not a wait: the writer exits as soon as Redis has taken everything.
    env = environment(database, restartable_redis.url, CACHE_EXIT_FLUSH_TIMEOUT="60")
    # given: a write whose settle Redis did not take; the writer is exiting
    writer = Writer(env)
    writers.append(writer)
    writer.saved()
    restartable_redis.stop()
    writer.commit()
    writer.committed()
    # when: Redis comes back while the writer waits at exit (no relay runs anywhere)
    restartable_redis.start()
    # then: before exiting it lifted its mark, applied and deleted its outbox row, and flushed its counters
    assert writer.exit_code() == 0
    assert database.scalar(OUTBOX_ROWS) == 0
    assert guarded_fill_stores()
    counts = restartable_redis.client().hgetall(stats_key())
    assert int(counts.get(b"_backend|write_error", 0)) >= 1


def test_a_write_during_a_redis_stall_by_a_command_that_exits_is_applied_by_a_servers_relay(
    restartable_redis, database, servers
):
    env = environment(database, restartable_redis.url, CACHE_EXIT_FLUSH_TIMEOUT="0.2")
    # given: an errand, and an entry showing it
    created = manage("shell", "-v", "0", "-c", CREATE_ERRAND, env=env)
    assert created.returncode == 0, created.stderr
    pk = int(created.stdout.split()[-1])
    stale = f"errand:{pk}:title"
    store = get_store()
    assert store.store(store.lookup(stale).ticket, "before", 300)
    # when: Redis stalls (no restart: no run_id changes) while a command updates the errand and exits. WRITE mode
    # holds every script (each may write), and lets CLIENT UNPAUSE through.
    client = restartable_redis.client()
    client.client_pause(120_000, all=False)
    try:
        update = f"from errands.models import Errand; Errand.objects.filter(pk={pk}).update(title='after')"
        done = manage("shell", "-v", "0", "-c", update, env=env)
    finally:
        client.client_unpause()
    assert done.returncode == 0, done.stderr
    assert database.scalar(f"SELECT title FROM errands_errand WHERE id = {pk}") == "after"
    # the command's invalidation never reached Redis, and the command is gone: the entry is stale
    assert served(stale)
    # then: a server's relay applies what the command left in the outbox
    start(servers, ["cache_relay"], env)
    assert until(lambda: not served(stale))
    assert until(lambda: database.scalar(OUTBOX_ROWS) == 0)


def test_no_relay_in_a_management_command(tmp_path):
    # A management command is no server: the relay does not start, whatever the settings.
    code = "from core.cache import relay; print(relay._relay is None, relay.serving())"
    done = manage("shell", "-c", code, env=clean_env(DATABASE_URL=f"sqlite:///{Path(tmp_path) / 'db.sqlite3'}"))

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("True False")
