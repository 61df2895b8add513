"""The outbox relay: every server process applies what writers left in the outbox (core/cache/outbox.py).

A daemon thread, started by core's AppConfig.ready() in server processes only (runserver, gunicorn and any other
server that imports the WSGI or ASGI application), unless CACHE_OUTBOX_RELAY is false. A row is the relay's once it
is CACHE_OUTBOX_RELAY_INTERVAL old (its writer normally deletes it within milliseconds of the commit):

- PostgreSQL: the relay LISTENs; the outbox's trigger NOTIFYs at the commit of every transaction that inserted a
  row, so the relay wakes, waits one interval and looks. An idle relay sends no query (one a minute, to be safe).
- Other databases (SQLite): one indexed `SELECT ... LIMIT 1` per interval, which finds nothing almost always.

While rows remain (the backend does not answer, or a backlog larger than a pass) it comes back every interval. So a
committed write is applied within about two intervals of its commit, or of the backend answering again.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

from django.conf import settings
from django.db import DatabaseError, connections
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV

from core.cache import conf, outbox

log = logging.getLogger(__name__)

IDLE_CHECK = 60.0  # seconds a listening relay waits without a notification before looking anyway


class Relay:
    """Applies due outbox rows of every database in a daemon thread; run_once() does one pass in the caller."""

    def __init__(self, *, interval: float | None = None) -> None:
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing: set[str] = set()  # databases whose last pass failed: logged once until one succeeds
        self.passes = 0  # passes the thread has completed (tests wait on it rather than on time)

    @property
    def interval(self) -> float:
        return self._interval if self._interval is not None else conf.outbox_relay_interval()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="cache-outbox-relay", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def run_once(self, *, grace: float | None = None) -> tuple[int, bool]:
        """Apply the rows of every database older than `grace` (default: one interval). Returns (rows applied,
        whether to come back soon)."""
        grace = self.interval if grace is None else grace
        total, again = 0, False
        for alias in outbox.databases():
            try:
                while True:
                    applied, more = outbox.apply_due(using=alias, grace=grace)
                    total += applied
                    if not (more and applied):
                        break  # more and nothing applied: the backend does not answer; try again later
                again = again or more
                if alias in self._failing:
                    self._failing.discard(alias)
                    log.info("cache outbox relay: database %s answers again", alias)
            except DatabaseError as exc:
                # Not migrated yet, restarting, locked: close the connection and try again in an interval.
                again = True
                if alias not in self._failing:
                    self._failing.add(alias)
                    log.warning("cache outbox relay: database %s failed (%s); retrying", alias, exc)
                connections[alias].close()
        return total, again

    def _run(self) -> None:
        try:
            listener = _Listener.for_databases(outbox.databases())
            while not self._stop.is_set():
                # LISTEN before looking, so that no commit in between goes unnoticed. A row committed before the
                # LISTEN sent a notification no one heard: when listening has just begun, look again in an interval
                # (the first pass leaves rows younger than an interval to their writers).
                begun = listener is not None and listener.listen()
                _, again = self.run_once()
                self.passes += 1
                if again or begun or listener is None or not listener.listening:
                    self._stop.wait(self.interval)
                elif listener.wait(IDLE_CHECK, self._stop):
                    self._stop.wait(self.interval)  # the writer's own settle comes first
        except Exception:
            log.exception("cache outbox relay stopped; outbox rows wait for another process")
        finally:
            connections.close_all()  # this thread's connections


class _Listener:
    """LISTEN on one PostgreSQL database (psycopg 3)."""

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.listening = False

    @classmethod
    def for_databases(cls, aliases: list[str]) -> _Listener | None:
        # One database: its notifications are waited on. Several (rare): every one is polled instead.
        if len(aliases) == 1 and connections[aliases[0]].vendor == "postgresql":
            return cls(aliases[0])
        return None

    def listen(self) -> bool:
        """LISTEN unless listening already; True when listening has just begun."""
        connection = connections[self.alias]
        if self.listening and connection.connection is not None:
            return False  # a broken connection shows in wait() or in the pass, which close it
        self.listening = False
        try:
            connection.ensure_connection()
            with connection.cursor() as cursor:
                cursor.execute(f"LISTEN {outbox.CHANNEL}")
            self.listening = True
        except DatabaseError:
            connection.close()  # run_once() logs the database's failure
        return self.listening

    def wait(self, timeout: float, stop: threading.Event) -> bool:
        """Wait up to timeout for a notification (checking `stop` every second); True when one came."""
        raw = connections[self.alias].connection
        deadline = time.monotonic() + timeout
        try:
            while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
                if any(True for _ in raw.notifies(timeout=min(left, 1.0), stop_after=1)):
                    list(raw.notifies(timeout=0))  # drain: one pass serves them all
                    return True
        except Exception as exc:  # the connection broke: listen again next round
            log.info("cache outbox relay: listening on %s stopped (%s)", self.alias, exc)
            self.listening = False
            connections[self.alias].close()
        return False


# --- the process's relay ------------------------------------------------------------------------------------------

_relay: Relay | None = None


def serving() -> bool:
    """Whether this process serves requests: runserver (its child, under the autoreloader), or any server that
    imported the WSGI/ASGI application module (gunicorn, uvicorn, uWSGI...), which set Django up while importing it."""
    if sys.argv[1:2] == ["runserver"]:
        return "--noreload" in sys.argv or os.environ.get(DJANGO_AUTORELOAD_ENV) == "true"
    entries = (getattr(settings, name, None) for name in ("WSGI_APPLICATION", "ASGI_APPLICATION"))
    return any(entry and entry.rpartition(".")[0] in sys.modules for entry in entries)


def start() -> Relay:
    """Start this process's relay (idempotent)."""
    global _relay
    if _relay is None:
        _relay = Relay()
    _relay.start()
    return _relay


def start_in_server() -> Relay | None:
    """Called by AppConfig.ready(): the relay runs in server processes, unless CACHE_OUTBOX_RELAY is false."""
    if not conf.outbox_relay() or not serving():
        return None
    return start()


def stop() -> None:
    if _relay is not None:
        _relay.stop(timeout=0)


def _after_fork() -> None:
    # A server that loads the application before forking its workers (gunicorn --preload): threads do not survive
    # a fork, so each worker starts its own relay (a new one: the parent's thread may have held its locks). A relay
    # the parent stopped stays stopped.
    global _relay
    if _relay is not None and _relay._thread is not None and not _relay._stop.is_set():
        _relay = Relay(interval=_relay._interval)
        _relay.start()


os.register_at_fork(after_in_child=_after_fork)
