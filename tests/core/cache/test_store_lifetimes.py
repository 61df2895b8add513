"""How long what the store writes lives: entries, locks and generations go when their time is up, and no operation
leaves a key that never expires.

LocMem's clock is time.time(), which a test moves forward; Redis expires keys on the server's clock, so a test that
runs on both moves time.time() and then polls (bounded) for what Redis does by itself."""

import threading

import redis

from core.cache.conf import FILL_WINDOW
from core.cache.keys import gen_key, make_key
from core.cache.store import get_store
from tests.fixtures.cache import until

KEY = "report:1"  # relative: the store adds the prefix of the backend under test


def fill(key: str, ttl: int) -> None:
    store = get_store()
    found = store.lookup(key)
    assert not found.hit and found.ticket is not None
    assert store.store(found.ticket, "value", ttl)


def test_an_entry_is_not_served_past_its_ttl_even_while_a_longer_entry_keeps_its_family(cache_backend, later):
    # given: a short entry, then a longer one under it, which keeps the family generation both list alive
    fill("report", ttl=1)
    fill(KEY, ttl=60)
    store = get_store()

    # when
    later(2)

    # then
    assert until(lambda: not store.lookup("report").hit, limit=10)
    assert store.lookup(KEY).hit


def test_a_single_flight_lock_its_holder_never_released_lapses_after_its_ttl(cache_backend, later):
    # given: a holder that took the lock and went away without releasing it (killed, or an error before release)
    store = get_store()
    holder = threading.Thread(target=lambda: store.acquire(KEY, 1_000))
    holder.start()
    holder.join()
    assert not store.acquire(KEY, 5_000)

    # when
    later(2)

    # then: the next caller takes the lock instead of waiting for it on every request
    assert until(lambda: store.acquire(KEY, 5_000), limit=10)
    store.release(KEY)


def test_a_redis_delete_moves_the_generation_it_finds_keeping_its_ttl_and_creates_none(redis_cache, redis_url):
    # given: an entry that claimed its own generation for ten minutes
    server = redis.Redis.from_url(redis_url)
    store = get_store()
    found = store.lookup(KEY)
    assert store.store(found.ticket, "value", 600)
    lived = server.pttl(gen_key(KEY))

    # when: it is deleted, and so is a key nobody ever read
    deleted = store.delete(KEY)
    never_read = store.delete(make_key("never:read"))

    # then: the generation moved and goes when it would have; none was created for the other key
    assert (deleted, never_read) == (True, False)
    assert server.get(gen_key(KEY)).decode() != found.ticket.deps[gen_key(KEY)]
    assert 0 < server.pttl(gen_key(KEY)) <= lived
    assert not server.exists(gen_key("never:read"))


def test_on_locmem_what_an_entry_needs_lives_as_long_as_the_entry_and_nothing_else_outlives_what_needs_it(later):
    # given: on LocMem (the default here; Redis's twins are in test_space.py), the keys that live on whatever is
    # stored (the epoch, and the manual clock a first invalidation sets for a week)
    store = get_store()
    store.bump(families=["setup"])
    store.lookup("warm:up")
    later(FILL_WINDOW + 1)
    baseline = store.info()["keys"]

    # when: a read nobody stores, an hour's entry listing a family it was the first to name, then a second's entry
    # beside it in the same families
    store.lookup(make_key("abandoned:1"), clocks=["errands.errand"])
    long_entry = store.lookup(KEY)
    assert store.store(long_entry.ticket, "value", 3600, families=["errand_list"])
    short_entry = store.lookup("report:2")
    assert store.store(short_entry.ticket, "value", 1)
    later(600)

    # then: the hour's entry still validates (its generations and the epoch lasted with it, past the fill window
    # and past LocMem's default timeout, and the short entry did not shorten them)
    assert store.lookup(KEY).hit
    # and once a write has moved its family and its hour has passed, nothing it or the reads added is left
    store.bump(families=["errand_list"])
    later(3600)
    assert store.info()["keys"] == baseline
