"""Faults: a dead or silent Redis is a miss, logged once per outage, and nothing stale is served afterwards."""

import logging
import socket
from collections.abc import Iterator

import pytest
import redis
from asgiref.sync import async_to_sync

from core.cache import CacheManager, stats
from core.cache import store as store_module
from core.cache.keys import epoch_key, gen_key, make_key, stats_key
from core.cache.store import DOWN, get_store, probe_delay, reset_store
from tests.fixtures.cache import redis_caches, until

KEY = make_key("user:{{id}}:profile", {"id": 42})
STORE_LOGGER = "core.cache.store"


def records(caplog, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == STORE_LOGGER and r.levelno == level]


def fill(payload: str = "before the outage") -> None:
    found = get_store().lookup(KEY)
    assert get_store().store(found.ticket, payload, 60)
    assert get_store().lookup(KEY).hit


def test_outage_is_a_miss_logged_once_and_nothing_raises(restartable_redis, caplog):
    # given
    fill()
    store = get_store()
    ticket = store.ticket(make_key("errand_list"))
    restartable_redis.stop()

    # when
    with caplog.at_level(logging.INFO, logger=STORE_LOGGER):
        results = [store.lookup(KEY) for _ in range(3)]
        stored = store.store(ticket, "x", 60)
        bumped = [store.bump(families=["user:42"]) for _ in range(2)]
        acquired = store.acquire(KEY, 1000)
        waited = store.wait_for(KEY, 5)

    # then
    assert results == [DOWN, DOWN, DOWN]
    assert stored is False and bumped == [None, None]
    assert acquired is True  # nobody can hold a lock on a dead Redis: the caller just computes
    assert waited == DOWN
    assert store.ticket(KEY) is None
    assert store.healthy is False
    assert len(records(caplog, logging.WARNING)) == 1
    assert "unreachable" in records(caplog, logging.WARNING)[0].getMessage()
    assert records(caplog, logging.INFO) == []


def test_store_with_a_ticket_from_before_the_outage_is_skipped(restartable_redis, caplog):
    store = get_store()
    found = store.lookup(KEY)
    restartable_redis.stop()

    with caplog.at_level(logging.WARNING, logger=STORE_LOGGER):
        stored = store.store(found.ticket, "computed during the outage", 60)

    assert stored is False
    assert len(records(caplog, logging.WARNING)) == 1


def test_after_recovery_an_entry_that_missed_an_invalidation_is_not_served(restartable_redis, caplog):
    # given: an entry, then an outage during which its family is invalidated (the bump is lost)
    fill()
    store = get_store()
    restartable_redis.stop()
    store.bump(families=["user:42"])

    # when: Redis comes back with its saved data, entry and old generations included
    restartable_redis.start()
    assert restartable_redis.client().get(KEY) is not None
    with caplog.at_level(logging.INFO, logger=STORE_LOGGER):
        after = store.lookup(KEY)

    # then
    assert not after.hit and after.ticket is not None
    assert store.healthy is True
    assert [r.getMessage() for r in records(caplog, logging.INFO)] == [
        "cache backend recovered; epoch bumped so entries from before the outage are not served"
    ]


def test_a_delete_lost_while_redis_ran_on_unreachable_is_owed_and_returns_false(restartable_redis, settings):
    # given: an entry, then Redis unreachable without restarting (same run_id, same data), and the delete is lost
    settings.CACHE_OUTAGE_RETRY_INTERVAL = 3600  # the background retry sleeps; this process's next write recovers
    CacheManager.set("user:42:profile", "before the outage")
    admin = redis.Redis.from_url(restartable_redis.url, single_connection_client=True)
    admin.config_set("requirepass", "partitioned")
    admin.client_kill_filter(_type="normal", skipme=True)
    removed = CacheManager.delete("user:42:profile")

    # when: reachable again, and this process writes
    admin.config_set("requirepass", "")
    CacheManager.invalidate("errand:1")

    # then: another process, which never saw the outage, does not serve the entry
    reset_store()
    assert removed is False
    assert CacheManager.get("user:42:profile", default="miss") == "miss"


def test_info_while_redis_is_unreachable_reports_it_and_owes_nothing(restartable_redis, settings):
    # given: an entry, then Redis unreachable without restarting (same run_id, same data)
    settings.CACHE_OUTAGE_RETRY_INTERVAL = 0
    CacheManager.set("user:42:profile", "before the outage")
    admin = redis.Redis.from_url(restartable_redis.url, single_connection_client=True)
    admin.config_set("requirepass", "partitioned")
    admin.client_kill_filter(_type="normal", skipme=True)

    # when: the dashboard asks, then Redis is reachable again
    info = get_store().info()
    admin.config_set("requirepass", "")

    # then: a failed read of the dashboard costs no entry
    assert {name: info[name] for name in ("backend", "healthy", "keys", "memory")} == {
        "backend": "redis",
        "healthy": False,
        "keys": None,
        "memory": None,
    }
    assert "auth" in info["error"].lower()
    assert CacheManager.get("user:42:profile") == "before the outage"


def test_a_process_that_only_read_during_the_outage_also_bumps_the_epoch(restartable_redis):
    fill()
    store = get_store()
    epoch = restartable_redis.client().get(epoch_key())
    restartable_redis.stop()
    store.lookup(KEY)

    restartable_redis.start()
    store.lookup(make_key("errand_list"))

    assert restartable_redis.client().get(epoch_key()) not in (None, epoch)


def test_lost_invalidation_is_retried_in_the_background(restartable_redis):
    # given: a lost bump in a process that then receives no request at all
    fill()
    store = get_store()
    restartable_redis.stop()
    store.bump(families=["user:42"])
    retry = store._retry_thread
    assert retry is not None and retry.is_alive()

    # when
    restartable_redis.start()
    retry.join(timeout=10)

    # then: the epoch moved without any call into the store
    assert not retry.is_alive()
    assert store.healthy is True
    reset_store()  # another process: it never saw the outage, yet must not serve the entry
    assert not get_store().lookup(KEY).hit


def test_redis_restarting_empty_brings_back_no_old_token(restartable_redis):
    # given
    fill()
    client = restartable_redis.client()
    old = {name: client.get(name) for name in (epoch_key(), gen_key("user"), gen_key("user:42"))}
    client.flushall()
    client.save()  # an empty snapshot: the restart comes back empty

    # when
    restartable_redis.stop()
    restartable_redis.start()
    found = get_store().lookup(KEY)

    # then
    assert not found.hit
    assert all(found.ticket.deps[name] != old[name].decode() for name in old)


def test_no_local_fallback_while_redis_is_configured(restartable_redis):
    store = get_store()
    found = store.lookup(KEY)
    restartable_redis.stop()

    store.store(found.ticket, "would be per process", 60)

    assert store.lookup(KEY) == DOWN


def test_async_api_fails_open(restartable_redis, caplog):
    restartable_redis.stop()
    store = get_store()

    async def scenario():
        found = await store.alookup(KEY)
        await store.abump(families=["user:42"])
        return found

    with caplog.at_level(logging.WARNING, logger=STORE_LOGGER):
        found = async_to_sync(scenario)()

    assert found == DOWN
    assert len(records(caplog, logging.WARNING)) == 1


def test_info_reports_the_error(restartable_redis):
    restartable_redis.stop()

    info = get_store().info()

    assert info["healthy"] is False and info["keys"] is None and info["error"]


def test_stats_flush_keeps_counts_during_an_outage(restartable_redis):
    counter = stats.Stats()
    counter.record("user", "hit", 3)
    restartable_redis.stop()

    assert counter.flush() is False

    restartable_redis.start()
    assert counter.flush() is True
    assert restartable_redis.client().hget(stats_key(), "user|hit") == b"3"


@pytest.fixture
def silent_redis(settings) -> Iterator[None]:
    """A port that accepts connections and never answers: every call runs into the 100 ms socket timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    settings.CACHES = redis_caches(f"redis://127.0.0.1:{listener.getsockname()[1]}/0")
    reset_store()
    try:
        yield
    finally:
        listener.close()


def test_a_timing_out_redis_is_a_miss_logged_once(silent_redis, caplog):
    store = get_store()

    with caplog.at_level(logging.WARNING, logger=STORE_LOGGER):
        results = [store.lookup(KEY), store.lookup(KEY)]
        store.bump(families=["user:42"])

    assert results == [DOWN, DOWN]
    assert len(records(caplog, logging.WARNING)) == 1
    assert "Timeout" in records(caplog, logging.WARNING)[0].getMessage()


def test_probes_come_soon_after_a_failure_then_less_often():
    delays = [probe_delay(None, 0.5)]
    for _ in range(5):
        delays.append(probe_delay(delays[-1], 0.5))

    assert delays == [0.05, 0.1, 0.2, 0.4, 0.5, 0.5]
    assert probe_delay(None, 0) == probe_delay(0.4, 0) == 0  # 0: probe on every call


def test_during_an_outage_calls_do_not_touch_redis_until_the_next_probe(restartable_redis, settings, monkeypatch):
    # given: an outage seen once, with a long wait before the first probe
    settings.CACHE_OUTAGE_RETRY_INTERVAL = 3600
    monkeypatch.setattr(store_module, "RETRY_FIRST_DELAY", 3600)
    store = get_store()
    fill()
    restartable_redis.stop()
    assert store.lookup(KEY) == DOWN

    # when: Redis is back, but the interval has not passed
    restartable_redis.start()
    during = store.lookup(KEY)
    store._next_probe = 0.0  # the interval has passed
    after = store.lookup(KEY)

    # then
    assert during == DOWN
    assert not after.hit and after.ticket is not None
    assert store.healthy


def test_an_invalidation_after_the_outage_does_not_wait_for_the_next_probe(restartable_redis, settings):
    # given: an outage seen once, with a long retry interval, and Redis back already
    settings.CACHE_OUTAGE_RETRY_INTERVAL = 3600
    store = get_store()
    fill()
    restartable_redis.stop()
    assert store.lookup(KEY) == DOWN
    restartable_redis.start()
    before = restartable_redis.client().get(gen_key("user:42"))
    # when: a write's invalidation, long before the next probe is due
    store.bump(families=["user:42"])
    # then: it reached Redis at once (reads still wait for the probe)
    assert restartable_redis.client().get(gen_key("user:42")) != before
    assert store.healthy


def test_a_settle_lost_in_an_outage_lifts_its_pending_mark_on_recovery(restartable_redis):
    # given: a write begun before the outage, whose after-commit settle fails while Redis is down
    store = get_store()
    write = store.begin_write(families=["errand_list"], clocks=["errands.errand"])
    restartable_redis.stop()
    store.settle_write(write, families=["errand_list"], clocks=["errands.errand"])
    restartable_redis.start()  # comes back with the mark it saved
    # when: the store recovers (bumps the epoch) and a fill follows. The background retry started by the failed
    # settle may be the one recovering: a read meanwhile is a miss without a ticket, so wait for either to succeed.
    assert until(store.recover)
    found = store.lookup(KEY, clocks=["errands.errand"])
    # then: the mark no longer holds fills of that model off
    assert store.store(found.ticket, "fresh", 60, guarded=True)


# --- a slow Redis: reads that time out are misses and nothing more -------------------------------------------------


def test_a_timed_out_read_is_a_miss_and_owes_nothing(restartable_redis, caplog):
    # given: an entry, and Redis holding every client's commands longer than the 100 ms socket timeout
    fill()
    store = get_store()
    admin = restartable_redis.client()
    epoch = admin.get(epoch_key())
    admin.client_pause(30_000, all=False)  # WRITE: scripts wait (a miss's ticket), CLIENT UNPAUSE does not

    # when: a read times out (a miss: hits are plain reads, which a WRITE pause lets through), then Redis answers
    with caplog.at_level(logging.INFO, logger=STORE_LOGGER):
        during = store.lookup(make_key("absent"))
        admin.client_unpause()
        after = store.lookup(KEY)

    # then: the timeout was a miss; the entry is still served and the epoch did not move
    assert during == DOWN
    assert after.hit and after.payload == "before the outage"
    assert admin.get(epoch_key()) == epoch
    assert store.take_faults() == {"read_timeout": 1}
    assert [r.getMessage() for r in records(caplog, logging.INFO)] == [
        "cache backend answers again; only reads failed, so nothing was owed"
    ]


def test_many_read_timeouts_never_bump_the_epoch(restartable_redis):
    # given
    fill()
    store = get_store()
    admin = restartable_redis.client()
    epoch = admin.get(epoch_key())

    # when: twenty slow spells, each failing a read (and a store, and a lock: none of them an invalidation)
    for _ in range(20):
        ticket = store.ticket(make_key("errand_list"))
        admin.client_pause(30_000, all=False)  # WRITE: scripts wait, CLIENT UNPAUSE does not
        assert store.lookup(make_key("absent")) == DOWN  # a miss: its ticket is a script
        admin.client_unpause()
        store.lookup(make_key("roles"))
        admin.client_pause(30_000, all=False)  # WRITE: scripts wait, CLIENT UNPAUSE does not
        assert store.store(ticket, "x", 60) is False
        admin.client_unpause()

    # then
    assert admin.get(epoch_key()) == epoch
    assert store.lookup(KEY).hit
    assert store.take_faults() == {"read_timeout": 40}


def test_a_timed_out_invalidation_is_still_owed_an_epoch_bump(restartable_redis):
    # given
    fill()
    store = get_store()
    admin = restartable_redis.client()
    epoch = admin.get(epoch_key())
    admin.client_pause(30_000, all=False)  # WRITE: scripts wait, CLIENT UNPAUSE does not

    # when: a write's invalidation times out (it may or may not reach Redis), then Redis answers again
    store.bump(families=["user:42"])
    admin.client_unpause()
    after = store.lookup(KEY)

    # then: the entry is not served: the epoch moved
    assert not after.hit and after.ticket is not None
    assert admin.get(epoch_key()) != epoch
    assert store.take_faults() == {"write_timeout": 1}


def test_a_failed_read_still_checks_for_a_restart(restartable_redis):
    # given: an entry saved to disk, then a read that fails because Redis restarts (a snapshot brings it back)
    fill()
    store = get_store()
    restartable_redis.client().save()
    restartable_redis.stop()
    assert store.lookup(KEY) == DOWN
    restartable_redis.start()

    # when
    after = store.lookup(KEY)

    # then: nothing was owed, but a changed run_id means invalidations may have been lost: the epoch moved (by the
    # first new connection's identity check)
    assert not after.hit
    assert store.take_faults() == {"read_error": 1, "server_change": 1}


def test_an_invalidation_lost_while_redis_ran_on_unreachable_is_owed_on_recovery(restartable_redis, settings):
    # given: an entry, then Redis unreachable without restarting (a partition: same run_id, same data)
    settings.CACHE_OUTAGE_RETRY_INTERVAL = 3600  # the background retry sleeps; this process's next write recovers
    CacheManager.set("user:42:profile", "before the outage")
    admin = redis.Redis.from_url(restartable_redis.url, single_connection_client=True)
    admin.config_set("requirepass", "partitioned")
    admin.client_kill_filter(_type="normal", skipme=True)
    CacheManager.invalidate("user:42")  # lost

    # when: reachable again, and this process writes
    admin.config_set("requirepass", "")
    CacheManager.invalidate("errand:1")

    # then: another process, which never saw the outage, does not serve the entry
    reset_store()
    assert CacheManager.get("user:42:profile", default="miss") == "miss"


def test_a_glob_delete_whose_sweep_redis_refuses_is_owed_and_its_entries_are_not_served(redis_url, settings):
    # given: an entry, and a Redis user that may not SCAN (so a glob that names no family cannot be swept)
    admin = redis.Redis.from_url(redis_url)
    admin.acl_setuser("noscan", enabled=True, passwords=["+secret"], keys=["*"], commands=["+@all", "-scan"])
    host, port = admin.connection_pool.connection_kwargs["host"], admin.connection_pool.connection_kwargs["port"]
    settings.CACHES = redis_caches(f"redis://noscan:secret@{host}:{port}/0")
    reset_store()
    try:
        fill()

        # when: a glob delete whose sweep fails
        get_store().delete_pattern("u?er:42:*")

        # then: what it could not delete is owed, and not served
        served = get_store().lookup(KEY).hit
    finally:
        admin.acl_deluser("noscan")
    assert not served
