"""Owed work flushed when the process exits.

A management command, `manage.py shell` or a server worker being recycled may exit owing work to the cache: an
epoch bump and pending marks to lift after a failed invalidation, outbox rows it could not apply, counters it has
not flushed. At exit it waits up to CACHE_EXIT_FLUSH_TIMEOUT (2 s) for the backend to take them, in that order.
What it still owes after that is the relay's (its outbox rows are in the database) or lost (counters); a process
killed outright (SIGKILL) runs nothing, and the relay covers its rows too.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time

from core.cache import conf, outbox, relay, stats
from core.cache.store import current_store

log = logging.getLogger(__name__)

RETRY_PAUSE = 0.05  # seconds between attempts while the backend does not answer
_registered = False


def flush_owed(timeout: float | None = None) -> bool:
    """Apply what this process owes within `timeout` seconds; True when nothing is left owed."""
    deadline = time.monotonic() + (conf.exit_flush_timeout() if timeout is None else timeout)
    pause = threading.Event()
    relay.stop()
    store = current_store()
    if store is not None:
        while store.owes and not store.recover() and time.monotonic() < deadline:
            pause.wait(RETRY_PAUSE)
    while outbox.owed_rows() and outbox.apply_owed(deadline=deadline) and time.monotonic() < deadline:
        pause.wait(RETRY_PAUSE)
    flushed = stats.flush_at_exit()
    left = (store is not None and store.owes) or bool(outbox.owed_rows())
    if left:
        log.warning(
            "exiting with cache work owed after %.1f s: the relay of a server process applies this process's outbox "
            "rows",
            conf.exit_flush_timeout() if timeout is None else timeout,
        )
    return not left and flushed


def _at_exit() -> None:
    try:
        flush_owed()
    except Exception:
        log.exception("flushing owed cache work at exit failed")


def register() -> None:
    """Run flush_owed() at exit (once per process; called by AppConfig.ready())."""
    global _registered
    if not _registered:
        _registered = True
        atexit.register(_at_exit)
