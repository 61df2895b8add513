"""Every new connection to Redis checks, before it serves anything, that the server still holds what the cache
wrote to it.

A Redis that restarted from a snapshot, or a replica promoted after its master acknowledged writes it never passed
on, holds entries whose invalidations it lost. Processes that wrote them may have exited; the others see no error,
because redis-py reconnects silently (a pooled connection found closed is opened again inside the pool). What they
all go through is a new connection, and the server's run_id changes on every start and differs on every other
server. So each new connection runs one script (IDENTITY) that compares the server's run_id with the one recorded
under `_runid`, and on a difference bumps the epoch, which every entry lists, and records the new run_id. Only then
is the connection handed to the command that opened it: no entry from before the change is served through it.

Install with `CONNECTION_POOL_KWARGS={"redis_connect_func": checked_connect}` (runam/settings.py does); a cluster
client takes `check_server` as its own connect hook (core/cache/cluster.py). On a cluster node that does not serve
our hash tag the script is refused with MOVED: that node holds none of our keys, so there is nothing to check.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from redis.exceptions import AskError, ConnectionError, MovedError, ResponseError

log = logging.getLogger("core.cache")

# allow-oom: the bump must happen even when Redis is full (as write.lua's invalidations do).
IDENTITY = """#!lua flags=allow-oom
local run_id = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
local seen = redis.call('GET', KEYS[1])
if seen == run_id then
  return 0
end
redis.call('SET', KEYS[2], ARGV[1])
redis.call('SET', KEYS[1], run_id)
if seen then
  return 1
end
return 2
"""

_changes = 0
_untaken = 0  # since the last take_changes() (the stats' "server_change" fault)
_lock = threading.Lock()


def server_changes() -> int:
    """How many times this process found a server whose run_id was not the recorded one (and bumped the epoch)."""
    return _changes


def take_changes() -> int:
    """The server changes found since the last take, for the stats."""
    global _untaken
    with _lock:
        taken, _untaken = _untaken, 0
    return taken


def check_server(connection: Any) -> None:
    """Run the identity check on a connection that has just been opened (and set up)."""
    global _changes, _untaken
    from core.cache.keys import epoch_key, runid_key
    from core.cache.store import new_token

    try:
        connection.send_command("EVAL", IDENTITY, 2, runid_key(), epoch_key(), new_token())
        changed = connection.read_response()
    except (MovedError, AskError):
        return  # a cluster node that does not serve our hash tag holds none of our keys
    except ResponseError as exc:
        # The connection must not serve anything unchecked: fail it (the cache fails open: a miss).
        raise ConnectionError(f"cache server check failed: {exc}") from exc
    if changed == 1:  # (2: the first run_id recorded on a server that had none: an empty Redis, nothing to lose)
        with _lock:
            _changes += 1
            _untaken += 1
        log.warning("redis server changed (run_id differs from the recorded one): epoch bumped")


def checked_connect(connection: Any) -> None:
    """A redis-py `redis_connect_func`: the usual set-up (AUTH, HELLO, SELECT), then the identity check."""
    connection.on_connect()
    check_server(connection)
