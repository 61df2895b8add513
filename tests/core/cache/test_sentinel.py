"""The cache through Redis Sentinel (REDIS_SENTINELS): it finds the master through the sentinels, follows a
failover, and the new master's first connection moves the epoch before anything is served from it."""

import time

from core.cache import identity
from core.cache.store import get_store
from tests.fixtures.cache import fill_showing

KEY = "runam:report:1"
ROW = "@accounts.user:1"


def _fill() -> None:
    fill_showing(KEY, ROW)


def test_entries_and_invalidations_go_to_the_master_the_sentinels_name(redis_sentinel):
    _fill()

    assert get_store().lookup(KEY).hit
    assert redis_sentinel.master().client().exists(KEY)
    get_store().bump(families=[ROW], clocks=["accounts.user"], rows=True)
    assert not get_store().lookup(KEY).hit
    assert not redis_sentinel.master().client().exists(KEY)


def test_after_a_failover_writes_reach_the_new_master_and_old_entries_are_not_served(redis_sentinel, settings):
    # given: an entry stored on the first master (and replicated); invalidations must reach a replica (the set-up
    # docs/scale-out.md asks for with Sentinel: a write the old master takes after the promotion is lost when it is
    # demoted, so it must not count as done)
    settings.CACHE_REDIS_MIN_REPLICAS = 1
    _fill()
    old = redis_sentinel.master()
    assert old.client().wait(1, 5000) == 1  # the replica has it all (the recorded run_id included)
    changes = identity.server_changes()

    # when: the sentinel promotes the replica; then this process writes the row the entry shows
    new = redis_sentinel.failover()
    store = get_store()
    store.bump(families=[ROW], clocks=["accounts.user"], rows=True)
    deadline = time.monotonic() + 20
    while store.owes:  # a write that met the old master is owed until the new one and its replica have it
        assert time.monotonic() < deadline, "the owed bump never landed"
        time.sleep(0.02)

    # then: the entry is served by no one; the new master, a server this process had not seen, moved the epoch
    assert new is not old
    assert not store.lookup(KEY).hit
    assert identity.server_changes() > changes
    _fill()
    assert store.lookup(KEY).hit
    assert new.client().exists(KEY)


def test_a_replaced_master_still_up_serves_no_hit(redis_sentinel, settings):
    # given: an entry on the master, required to have a replica
    settings.CACHE_REDIS_MIN_REPLICAS = 1
    _fill()
    assert get_store().lookup(KEY).hit

    # when: a failover promotes the replica while the old master stays up (until the sentinels demote it), and
    # another process invalidates the entry on the new master
    new = redis_sentinel.failover()
    new.client().delete(KEY)

    # then: the old master, which no longer has a replica, does not answer the lookup with its copy
    assert not get_store().lookup(KEY).hit


def test_with_min_replicas_a_hit_is_still_one_round_trip(redis_sentinel, settings, redis_round_trips):
    settings.CACHE_REDIS_MIN_REPLICAS = 1
    _fill()
    assert get_store().lookup(KEY).hit
    redis_round_trips.reset()

    assert get_store().lookup(KEY).hit
    assert redis_round_trips.count == 1
