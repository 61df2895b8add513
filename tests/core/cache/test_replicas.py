"""CACHE_REDIS_MIN_REPLICAS: an invalidation counts as done only when enough replicas hold it (WAIT); until then it
is owed, like one that never reached Redis, so a failover cannot bring back what it invalidated."""

import time

import pytest
import redis

from core.cache.store import get_store
from tests.fixtures.cache import fill_showing, redis_caches, redis_executor

KEY = "runam:report:1"
ROW = "@accounts.user:1"


@pytest.fixture
def replica(restartable_redis, tmp_path_factory):
    """A second redis-server, not yet replicating; `attach()` makes it a replica of the cache's server."""
    executor = redis_executor(tmp_path_factory.mktemp("replica"))
    executor.start()
    client = redis.Redis(host=executor.host, port=executor.port)

    def attach() -> None:
        master = restartable_redis.executor
        restartable_redis.client().config_set("repl-diskless-sync-delay", 0)  # sync at once, not after 5 s
        client.replicaof(master.host, master.port)
        deadline = time.monotonic() + 20
        while restartable_redis.client().info("replication")["connected_slaves"] < 1:
            assert time.monotonic() < deadline, "the replica never connected"
            time.sleep(0.02)
        # WAIT counts a replica once it has acknowledged an offset: wait until it has caught up once.
        while restartable_redis.client().wait(1, 100) < 1:
            assert time.monotonic() < deadline, "the replica never acknowledged"

    client.attach = attach
    try:
        yield client
    finally:
        executor.stop()


def _fill() -> None:
    fill_showing(KEY, ROW)


def test_with_a_replica_an_invalidation_is_done_and_the_replica_holds_it(restartable_redis, replica, settings):
    # given: a timeout long enough that a loaded machine's replica acknowledges within it
    settings.CACHES = redis_caches(restartable_redis.url, timeout=5)
    settings.CACHE_REDIS_MIN_REPLICAS = 1
    settings.CACHE_REDIS_WAIT_TIMEOUT = 2
    replica.attach()
    _fill()
    store = get_store()

    # when
    store.bump(families=[ROW], clocks=["accounts.user"], rows=True)

    # then: nothing owed; the replica has lost the entry too (WAIT returned only after it had the bump)
    assert not store.owes
    assert not store.lookup(KEY).hit
    assert not replica.exists(KEY)


def test_without_the_replicas_an_invalidation_is_owed_until_they_have_it(restartable_redis, replica, settings):
    # given: an entry; then one replica required, none attached
    _fill()
    settings.CACHE_REDIS_MIN_REPLICAS = 1
    store = get_store()
    assert not store.lookup(KEY).hit  # no hit from a master without its replicas (see test_sentinel.py)

    # when
    store.bump(families=[ROW], clocks=["accounts.user"], rows=True)

    # then: the bump reached the master but counts as failed: owed, and this process serves no hit meanwhile
    assert store.owes
    faults = store.take_faults()
    assert faults.get("write_error", 0) + faults.get("write_timeout", 0) >= 1

    # when: a replica attaches; then the owed epoch bump lands on both, and hits come back
    replica.attach()
    deadline = time.monotonic() + 20
    while store.owes:
        assert time.monotonic() < deadline, "the owed bump never landed"
        time.sleep(0.02)
    _fill()
    assert store.lookup(KEY).hit


def test_without_min_replicas_no_wait_is_sent(restartable_redis, redis_round_trips):
    # given: the default (0): a bump is one script call, whatever replicas exist
    _fill()
    store = get_store()
    store.bump(families=["warm:up"])  # loads the script (NOSCRIPT, SCRIPT LOAD): not what is counted
    redis_round_trips.reset()

    store.bump(families=[ROW], clocks=["accounts.user"], rows=True)

    assert redis_round_trips.count == 1
    assert not store.owes
