"""The read-through path every decorator shares (cached_call, through CacheManager.get_or_set): what a caller that
meets an unreadable entry, a lock held by another caller, or a Redis that stops answering gets and stores."""

import logging
import threading

import pytest
import redis

from core.cache import CacheManager
from core.cache.manager import full_key
from core.cache.store import GenerationStore, get_store
from tests.fixtures.cache import redis_caches, until


def test_a_caller_that_waited_in_vain_stores_for_its_own_ttl_not_the_default(redis_url, settings):
    # given: Redis (an entry shows how long it lives), and another caller holding the key's lock and never storing
    settings.CACHES = redis_caches(redis_url, timeout=10)
    settings.CACHE_SINGLE_FLIGHT_WAIT = 0.05
    settings.CACHE_DEFAULT_TIMEOUT = 300
    assert get_store().acquire(full_key("report:1"), 60_000)

    # when
    value = CacheManager.get_or_set("report:1", lambda: "computed by the waiter", ttl=60)

    # then: stored for the 60 s asked, not the default 300 s
    assert value == "computed by the waiter"
    assert 0 < redis.Redis.from_url(redis_url).pttl(full_key("report:1")) <= 60_000


@pytest.fixture
def acquiring(monkeypatch):
    """Runs the given callable each time a caller has asked for a key's single-flight lock, before it goes on."""
    hooks = []
    real_acquire = GenerationStore.acquire

    def spy(self, key, ttl_ms):
        acquired = real_acquire(self, key, ttl_ms)
        for hook in hooks:
            hook(key)
        return acquired

    monkeypatch.setattr(GenerationStore, "acquire", spy)
    return hooks.append


def _damage(key: str) -> None:
    """Store a payload that is not a cached value (written by another version, or damaged) under `key`."""
    store = get_store()
    assert store.store(store.ticket(full_key(key)), "{not json", 60)


@pytest.mark.usefixtures("cache_backend")
def test_an_unreadable_entry_met_by_get_or_set_is_a_miss_not_an_error(caplog):
    # given
    _damage("user:5:data")

    # when
    with caplog.at_level(logging.WARNING, logger="core.cache"):
        computed = CacheManager.get_or_set("user:5:data", lambda: {"theme": "dark"}, ttl=60)

    # then: computed, and stored in the damaged entry's place
    assert computed == {"theme": "dark"}
    assert "unreadable" in caplog.text
    assert CacheManager.get("user:5:data", default="miss") == {"theme": "dark"}


@pytest.mark.usefixtures("cache_backend")
@pytest.mark.parametrize("lock_holder", ["this caller", "another caller"])
def test_an_unreadable_entry_stored_between_the_miss_and_the_lock_is_a_miss_not_an_error(
    lock_holder, acquiring, settings, caplog
):
    # given: as this caller asks for the lock after its miss, another process (a newer release, say) stores an entry
    # this one cannot read; this caller then holds the lock and looks again, or finds it taken and waits for the entry
    settings.CACHE_SINGLE_FLIGHT_WAIT = 0.05
    if lock_holder == "another caller":
        assert get_store().acquire(full_key("report:3"), 60_000)
    acquiring(lambda key: _damage("report:3"))

    # when
    with caplog.at_level(logging.WARNING, logger="core.cache"):
        computed = CacheManager.get_or_set("report:3", lambda: "computed", ttl=60)

    # then
    assert computed == "computed"
    assert "unreadable" in caplog.text


def test_a_caller_arriving_late_in_a_slow_computation_waits_for_it_instead_of_computing_again(
    monkeypatch, settings, later
):
    # given: on LocMem (whose entries expire by time.time(), which the test moves), a first caller computing slowly,
    # with waiters allowed to wait as long as it computes
    settings.CACHE_SINGLE_FLIGHT_WAIT = 60
    calls, waiting, results = [], [], []
    computing, finish = threading.Event(), threading.Event()
    real_wait_for = GenerationStore.wait_for

    def wait_for(self, key, timeout):
        waiting.append(key)
        return real_wait_for(self, key, timeout)

    monkeypatch.setattr(GenerationStore, "wait_for", wait_for)

    def compute():
        calls.append(1)
        if len(calls) == 1:
            computing.set()
            assert finish.wait(30)
        return {"computed": len(calls)}

    def caller():
        results.append(CacheManager.get_or_set("report:slow", compute, ttl=60))

    first = threading.Thread(target=caller)
    first.start()
    assert computing.wait(30)

    # when: a second later (the clock moved on), another caller asks
    later(1)
    second = threading.Thread(target=caller)
    second.start()
    arrived = until(lambda: waiting or len(calls) > 1)  # it waits, or it computes
    finish.set()
    first.join()
    second.join()

    # then: the lock still kept it out: it waited for the first caller's value
    assert arrived
    assert len(calls) == 1
    assert results == [{"computed": 1}] * 2


def test_redis_failing_while_a_caller_waits_for_the_lock_holder_is_a_miss_not_an_error(
    restartable_redis, settings, acquiring
):
    # given: another caller holds the key's lock, and Redis stops answering as this caller starts waiting for it
    settings.CACHE_SINGLE_FLIGHT_WAIT = 0.05
    assert get_store().acquire(full_key("report:4"), 60_000)
    acquiring(lambda key: restartable_redis.stop())

    # when
    value = CacheManager.get_or_set("report:4", lambda: "computed", ttl=60)

    # then: computed and returned, as on any outage
    assert value == "computed"
