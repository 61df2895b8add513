"""A Redis that comes back from an older snapshot (or a replica promoted with less than its master had) is found
out on the first new connection, before anything is served through it (core/cache/identity.py)."""

import shutil
from pathlib import Path

from core.cache import identity
from core.cache.keys import epoch_key
from core.cache.store import get_store
from tests.fixtures.cache import fill_showing

KEY = "runam:report:1"
ROW = "@accounts.user:1"


def _fill() -> None:
    fill_showing(KEY, ROW)
    assert get_store().lookup(KEY).hit


def _restart_from(restartable_redis, snapshot: Path) -> None:
    """Stop the server without saving, put the snapshot back, start it: what a restart after a crash does when the
    last save predates the latest writes."""
    client = restartable_redis.client()
    rdb = Path(client.config_get("dir")["dir"]) / client.config_get("dbfilename")["dbfilename"]
    client.config_set("save", "")
    restartable_redis.stop()
    shutil.copyfile(snapshot, rdb)
    restartable_redis.start()


def test_an_entry_invalidated_after_the_snapshot_is_not_served_after_a_restart_from_it(restartable_redis, tmp_path):
    # given: an entry in a snapshot, invalidated after it; this process keeps its pooled connections throughout
    _fill()
    client = restartable_redis.client()
    client.save()
    rdb = Path(client.config_get("dir")["dir"]) / client.config_get("dbfilename")["dbfilename"]
    snapshot = tmp_path / "before.rdb"
    shutil.copyfile(rdb, snapshot)
    get_store().bump(families=[ROW], clocks=["accounts.user"], rows=True)
    assert not get_store().lookup(KEY).hit
    changes = identity.server_changes()

    get_store().take_faults()

    # when: Redis restarts from the snapshot, which still holds the entry; the pool reconnects without an error
    _restart_from(restartable_redis, snapshot)
    assert restartable_redis.client().exists(KEY)

    # then: the first new connection found a server it did not know, and moved the epoch before the lookup ran
    assert not get_store().lookup(KEY).hit
    assert identity.server_changes() == changes + 1
    assert get_store().take_faults().get("server_change") == 1  # what cache_stats and the dashboard count


def test_a_new_connection_to_the_same_server_moves_nothing(restartable_redis):
    # given
    _fill()
    epoch = restartable_redis.client().get(epoch_key())
    changes = identity.server_changes()

    # when: every pooled connection is dropped, so the next command opens a new one
    get_store().client.connection_pool.disconnect()

    # then
    assert get_store().lookup(KEY).hit
    assert restartable_redis.client().get(epoch_key()) == epoch
    assert identity.server_changes() == changes
