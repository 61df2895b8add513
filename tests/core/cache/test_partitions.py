"""Partitions on a single redis-server (CACHE_PARTITIONS > 1): an entry and what it reads live in one partition,
every invalidation reaches all of them, a process reads and fills its own copy of a key, and one partition costs what
the single-Redis design always cost. The cluster's side (tags, slots, masters) is in test_cluster.py.
"""

import threading

import pytest
import redis
from django.core.cache import caches
from redis.client import Pipeline
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot
from redis.exceptions import ConnectionError as RedisConnectionError

from core.cache import partitions
from core.cache.conf import key_prefix
from core.cache.keys import epoch_key, make_key, runid_key
from core.cache.store import RedisStore, get_store, reset_store

KEY = "report:7"
PARTITIONS = 4


@pytest.fixture
def partitioned(redis_cache, settings) -> int:
    """django-redis on the session's redis-server, its keys in PARTITIONS partitions, a home per process."""
    settings.CACHE_PARTITIONS = PARTITIONS
    settings.CACHE_PARTITION_BY = "process"
    reset_store()
    return PARTITIONS


def other_process() -> RedisStore:
    """A store as another process builds it: the same settings, a home of its own."""
    return RedisStore(caches["default"])


def fill(store: RedisStore, key: str = KEY, payload: str = "value") -> None:
    found = store.lookup(key)
    assert not found.hit and found.ticket is not None
    assert store.store(found.ticket, payload, 60)


@pytest.mark.parametrize("count", [2, 3, 12, 16])
def test_partition_heads_are_spread_evenly_over_the_slot_space(count):
    # when
    heads = partitions.heads("runam", count, True)

    # then: partition i's tag hashes into the i-th of count equal ranges of slots, each head a distinct tag
    assert len(set(heads)) == count
    for index, head in enumerate(heads):
        assert head.startswith("{runam.") and head.endswith("}")
        assert index * REDIS_CLUSTER_HASH_SLOTS // count <= key_slot(head[1:-1].encode())
        assert key_slot(head[1:-1].encode()) < (index + 1) * REDIS_CLUSTER_HASH_SLOTS // count


def test_one_partition_keeps_the_prefix_itself_on_a_single_redis_and_a_tag_on_a_cluster():
    assert partitions.heads("runam", 1, False) == ("runam",)
    assert partitions.heads("runam", 1, True) == ("{runam}",)


def test_one_partition_is_the_default_on_a_single_redis_and_stores_keys_as_callers_name_them(redis_cache):
    # when
    store = get_store()
    fill(store)

    # then
    assert partitions.current() == (key_prefix(),)
    assert store.stored_name(KEY, entry=KEY) == make_key(KEY)
    assert store.client.exists(make_key(KEY))


def test_each_process_fills_its_own_copy_in_its_home_partition(partitioned):
    # given: two processes, homes taken in turn
    first, second = get_store(), other_process()

    # when
    fill(first, payload="first's")
    fill(second, payload="second's")

    # then: two entries in two partitions, each answering its own process
    assert first.stored_name(KEY, entry=KEY) != second.stored_name(KEY, entry=KEY)
    assert first.lookup(KEY).payload == "first's"
    assert second.lookup(KEY).payload == "second's"
    assert first.count("report:*") == 2


def test_a_bump_by_one_process_invalidates_every_copy(partitioned):
    # given
    stores = [get_store(), other_process(), other_process()]
    for store in stores:
        fill(store)

    # when
    stores[0].bump(families=["report"])

    # then
    assert [store.lookup(KEY).hit for store in stores] == [False, False, False]


def test_a_write_s_begin_holds_off_guarded_fills_in_every_partition_until_it_settles(partitioned):
    # given: a fill of another process read its ticket before the write began
    writer, reader = get_store(), other_process()
    found = reader.lookup(KEY, clocks=["errands.errand"])

    # when
    write_id = writer.begin_write(families=["@errands.errand:5"], clocks=["errands.errand"], rows=True)

    # then: refused in the reader's partition, and so is a fill that starts while the write is pending
    assert not reader.store(found.ticket, "old rows", 60, families=["@errands.errand:5"], guarded=True)
    pending = reader.lookup(KEY, clocks=["errands.errand"])
    assert not reader.store(pending.ticket, "maybe old", 60, families=["@errands.errand:5"], guarded=True)

    # when the write settles
    assert writer.settle_write(write_id, families=["@errands.errand:5"], clocks=["errands.errand"], rows=True)

    # then
    after = reader.lookup(KEY, clocks=["errands.errand"])
    assert reader.store(after.ticket, "new rows", 60, families=["@errands.errand:5"], guarded=True)


def test_a_row_write_deletes_the_entries_showing_the_row_in_every_partition(partitioned):
    # given: each process's copy shows row 5
    stores = [get_store(), other_process()]
    for store in stores:
        found = store.lookup(KEY)
        assert store.store(found.ticket, "shows row 5", 60, families=["@errands.errand:5"])

    # when
    stores[1].bump(families=["@errands.errand:5"], clocks=["errands.errand"], rows=True)

    # then
    assert not any(store.lookup(KEY).hit for store in stores)


def test_delete_and_clear_all_reach_every_partition(partitioned):
    # given
    stores = [get_store(), other_process()]
    for store in stores:
        fill(store)
        fill(store, "other:1")

    # when
    assert stores[0].delete(KEY)

    # then
    assert not any(store.lookup(KEY).hit for store in stores)
    assert stores[1].count("*") == 2

    # when
    epochs = [stores[0].client.get(stores[0].stored_name(epoch_key(), entry=KEY)) for _ in stores]
    assert stores[1].clear_all() >= 2

    # then
    assert stores[0].count("*") == 0
    assert not any(store.lookup("other:1").hit for store in stores)
    assert stores[0].client.get(stores[0].stored_name(epoch_key(), entry=KEY)) not in epochs


def test_a_glob_clear_finds_matching_entries_in_every_partition_and_nothing_else(partitioned):
    # given: the same keys in two partitions, and a key of another application
    stores = [get_store(), other_process()]
    for store in stores:
        fill(store, "user:1:a")
        fill(store, "user:2:a")
    stores[0].client.set(f"{key_prefix()}.x:user:1:a", "theirs")

    # when
    removed = stores[0].delete_pattern("user:[1]:*")

    # then
    assert removed == 2
    assert stores[0].count("user:*") == 2
    assert stores[0].client.get(f"{key_prefix()}.x:user:1:a") == b"theirs"


def test_the_run_id_is_recorded_in_every_partition(partitioned):
    # when
    store = get_store()
    store.lookup(KEY)

    # then
    run_id = store.client.info("server")["run_id"]
    assert [store.client.get(head + runid_key()[len(key_prefix()) :]) for head in partitions.current()] == [
        run_id.encode()
    ] * PARTITIONS


def test_a_partition_s_restart_record_that_changed_bumps_its_epoch(partitioned):
    # given
    store = get_store()
    fill(store)
    home = store.stored_name(runid_key(), entry=KEY)

    # when: the record no longer matches (as after a restart of its master), and the store checks again
    store.client.set(home, "another server")
    store._server_checked = False

    # then
    assert not store.lookup(KEY).hit


def test_an_invalidation_that_did_not_reach_every_partition_is_owed(partitioned, monkeypatch):
    # given
    store = get_store()
    fill(store)

    def fail(self, *args, **kwargs):
        raise RedisConnectionError("one partition's master does not answer")

    monkeypatch.setattr(Pipeline, "execute", fail)

    # when
    store.bump(families=["report"])

    # then: owed, and paid as an epoch bump of every partition once the backend answers
    assert store.owes
    monkeypatch.undo()
    assert store.recover()
    assert not store.lookup(KEY).hit


def test_a_write_is_one_round_trip_whatever_the_number_of_partitions(partitioned, redis_round_trips):
    # given: the server has run the write script once (its first call loads it: NOSCRIPT, SCRIPT LOAD, again)
    store = get_store()
    fill(store)
    store.bump(families=["other"])
    redis_round_trips.reset()

    # when
    store.bump(families=["report"], clocks=["errands.errand"])

    # then
    assert redis_round_trips.count == 1


def test_a_hit_and_a_miss_cost_what_they_cost_with_one_partition(partitioned, redis_round_trips):
    # given
    store = get_store()
    fill(store)
    store.lookup(KEY)
    redis_round_trips.reset()

    # when
    hit = store.lookup(KEY)
    hit_trips = redis_round_trips.count
    store.bump(families=["report"])
    redis_round_trips.reset()
    miss = store.lookup(KEY)

    # then
    assert hit.hit and hit_trips == 1
    assert not miss.hit and redis_round_trips.count == 2


def test_a_server_that_lost_the_write_script_gets_it_again(partitioned, redis_url):
    # given
    store = get_store()
    fill(store)
    redis.Redis.from_url(redis_url).script_flush()

    # when
    store.bump(families=["report"])

    # then
    assert not store.owes
    assert not store.lookup(KEY).hit


def test_by_thread_the_threads_of_one_process_read_and_fill_their_own_copies(partitioned, settings):
    # given: one process, partitions picked per thread
    settings.CACHE_PARTITION_BY = "thread"
    reset_store()
    store = get_store()
    seen = {}

    def fill_in_a_thread(name: str) -> None:
        found = store.lookup(KEY)
        assert store.store(found.ticket, name, 60)
        seen[name] = (store.stored_name(KEY, entry=KEY), store.lookup(KEY).payload)

    # when
    for name in ("one", "two"):
        thread = threading.Thread(target=fill_in_a_thread, args=(name,))
        thread.start()
        thread.join()

    # then: two copies in two partitions, each thread answered from its own; a write reaches both
    assert seen["one"][0] != seen["two"][0]
    assert (seen["one"][1], seen["two"][1]) == ("one", "two")
    store.bump(families=["report"])
    assert store.count("report:*") == 2
    assert not store.lookup(KEY).hit


def test_by_key_every_process_shares_one_copy(partitioned, settings):
    # given
    settings.CACHE_PARTITION_BY = "key"
    reset_store()
    first, second = get_store(), other_process()

    # when
    fill(first)

    # then
    assert second.lookup(KEY).payload == "value"
    assert first.count("*") == 1


def test_by_thread_single_flight_is_one_per_key_and_a_waiter_finds_the_holder_s_copy(partitioned, settings):
    # given: partitions per thread; this thread holds the key's lock and computes
    settings.CACHE_PARTITION_BY = "thread"
    reset_store()
    store = get_store()
    found = store.lookup(KEY)
    assert store.acquire(KEY, 10_000)
    refused = threading.Event()
    seen = {}

    def another_request() -> None:
        seen["acquired"] = store.acquire(KEY, 10_000)
        seen["copy"] = store.stored_name(KEY, entry=KEY)
        refused.set()
        seen["waited"] = store.wait_for(KEY, 30)

    thread = threading.Thread(target=another_request)
    thread.start()
    refused.wait(30)

    # when
    assert store.store(found.ticket, "the holder's", 60)
    store.release(KEY)
    thread.join()

    # then: the other thread (another copy) could not take the lock, and got the holder's value from its copy
    assert seen["acquired"] is False
    assert seen["copy"] != store.stored_name(KEY, entry=KEY)
    assert (seen["waited"].hit, seen["waited"].payload) == (True, "the holder's")
