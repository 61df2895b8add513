"""The generation store on LocMem and on a real redis-server: same semantics, proven by the same tests."""

import threading
import time

import pytest
import redis
from asgiref.sync import async_to_sync
from django.core.cache import caches

from core.cache import CacheManager, cache_user_data, cacheable
from core.cache.conf import key_prefix
from core.cache.invalidation import guarding_labels, tracked_labels
from core.cache.keys import clock_key, epoch_key, gen_key, make_key, strip_prefix, tag_of, with_prefix
from core.cache.store import TAG_PRUNE_BYTES, Lookup, RedisStore, get_store, new_token, parse_entry
from tests.fixtures.cache import redis_caches, store_backend

pytestmark = pytest.mark.cluster
# Relative: the store puts the prefix of the backend under test in front (a hash tag on a cluster).
KEY = "user:42:profile"


def fill(key: str = KEY, payload: str = "value", **store_kwargs) -> Lookup:
    store = get_store()
    found = store.lookup(key, clocks=store_kwargs.pop("clocks", ()))
    assert not found.hit and found.ticket is not None
    assert store.store(found.ticket, payload, 60, **store_kwargs)
    return found


def raw(name: str):
    """A key as stored, in the partition of KEY's entry (the one the tests fill)."""
    return caches["default"].get(stored(name))


def stored(name: str) -> str:
    return get_store().stored_name(name, entry=KEY)


def test_miss_then_hit(cache_backend):
    # given
    store = get_store()

    # when
    first = store.lookup(KEY)
    stored = store.store(first.ticket, "payload é", 60)
    second = store.lookup(KEY)

    # then
    assert (first.hit, first.payload) == (False, None)
    assert list(first.ticket.deps) == [epoch_key()] + [gen_key(f) for f in ("user", "user:42", "user:42:profile")]
    assert stored
    assert (second.hit, second.payload, second.ticket) == (True, "payload é", None)


def test_entry_lists_the_generations_it_was_computed_under(cache_backend):
    found = fill(families=["@accounts.user:5", "@accounts.user"])

    deps, payload = parse_entry(raw(KEY))

    assert payload == "value"
    model = {gen_key("@accounts.user"): str(raw(gen_key("@accounts.user")))}
    if cache_backend == "locmem":
        # a row's family is a generation the entry lists
        row = gen_key("@accounts.user:5")
        assert deps == {**found.ticket.deps, **model, row: str(raw(row))}
    else:
        # on Redis a row's family is a tag: the row's field in its model's tag hash names the entry, and a hit
        # reads no key per row (the header names keys as stored: in the entry's partition)
        assert deps == {stored(name): token for name, token in {**found.ticket.deps, **model}.items()}
        tag, row = tag_of("@accounts.user:5")
        expiry, entry = get_store().client.hget(stored(tag), row).decode().rstrip("\n").split(" ")
        assert entry == stored(KEY)
        assert 0 < int(expiry) - time.time() * 1000 <= 60_000


@pytest.mark.parametrize("family", ["user", "user:42", "user:42:profile"])
def test_bumping_any_prefix_family_invalidates(cache_backend, family):
    fill()

    get_store().bump(families=[family])

    assert not get_store().lookup(KEY).hit


def test_bumping_another_family_does_not(cache_backend):
    fill()

    get_store().bump(families=["user:43", "user_profile:42", "errand_list"])

    assert get_store().lookup(KEY).hit


def test_bump_between_lookup_and_store_makes_the_store_a_no_op(cache_backend):
    # given: a miss read the generations, then a write committed while the value was computed
    store = get_store()
    found = store.lookup(KEY)
    store.bump(families=["user:42"])

    # when
    stored = store.store(found.ticket, "computed before the write", 60)

    # then
    assert not stored
    assert not store.lookup(KEY).hit


def test_guarded_store_is_a_no_op_after_a_write_clock_moved(cache_backend):
    # given: a GraphQL miss guards the models it may show
    store = get_store()
    found = store.lookup(KEY, clocks=["accounts.user", "errands.errand"])
    # a clock nobody bumped yet is created by the lookup: "absent" would still match after an evicted bump
    assert set(found.ticket.guards) == {clock_key("accounts.user"), clock_key("errands.errand")}
    assert None not in found.ticket.guards.values()
    store.bump(clocks=["errands.errand"])

    # when
    stored = store.store(found.ticket, "may show the old row", 60, families=["@errands.errand:1"], guarded=True)

    # then
    assert not stored
    assert not store.lookup(KEY).hit


def test_a_guarded_fill_read_between_two_writes_of_the_whole_model_is_not_stored(cache_backend):
    # given: a write of the whole model (a bulk update), a guarded miss, then another such write while it computed
    store = get_store()
    store.bump(clocks=["errands.errand"])
    found = store.lookup(KEY, clocks=["errands.errand"])
    store.bump(clocks=["errands.errand"])

    # when: a whole-model write stamps no row, so only the clock's new token can tell the fill it raced
    stored = store.store(found.ticket, "read before the second write", 60, families=["@errands.errand"], guarded=True)

    # then
    assert not stored
    assert not store.lookup(KEY).hit


@pytest.mark.parametrize(
    "shown",
    ["@errands.errand:5", "@errands.errand", "queryset:errands.errand", "errand_list", "user_errands:7"],
    ids=["row", "model", "queryset", "root of a template", "template"],
)
def test_a_fill_whose_families_were_found_while_computing_is_held_off_by_a_write_of_their_model(cache_backend, shown):
    # given: a guarded miss, then a write of errands while it computed; the families the fill found while computing
    # were never read by its ticket, so only the clocks guarding_labels() names can refuse it
    store = get_store()
    found = store.lookup(KEY, clocks=tracked_labels())
    store.bump(clocks=["errands.errand"])

    stored = store.store(
        found.ticket, "may show the old row", 60, families=[shown], guarded=True, clocks=guarding_labels([shown])
    )

    assert not stored


def test_a_fill_whose_families_name_another_model_is_stored_after_a_write_of_errands(cache_backend):
    store = get_store()
    found = store.lookup(KEY, clocks=tracked_labels())
    store.bump(clocks=["errands.errand"])
    shown = ["@accounts.bank:1", "queryset:accounts.bank", "banks_list:NG"]

    assert store.store(found.ticket, "banks", 60, families=shown, guarded=True, clocks=guarding_labels(shown))


def test_guarded_store_succeeds_when_clocks_hold(cache_backend):
    store = get_store()
    store.bump(clocks=["accounts.user"])
    found = store.lookup(KEY, clocks=["accounts.user"])
    assert found.ticket.guards[clock_key("accounts.user")] is not None

    assert store.store(found.ticket, "fresh", 60, families=["@accounts.user:5"], guarded=True)
    assert store.lookup(KEY).payload == "fresh"


def test_unguarded_store_ignores_clocks(cache_backend):
    store = get_store()
    found = store.lookup(KEY, clocks=["accounts.user"])
    store.bump(clocks=["accounts.user"])

    assert store.store(found.ticket, "v", 60)


def test_bump_of_a_discovered_row_after_store_stops_the_entry_validating(cache_backend):
    fill(clocks=["accounts.user"], families=["@accounts.user:5"], guarded=True)
    assert get_store().lookup(KEY).hit

    get_store().bump(families=["@accounts.user:5"], clocks=["accounts.user"])

    assert not get_store().lookup(KEY).hit


def test_evicted_generation_never_validates_and_comes_back_new(cache_backend):
    # given
    found = fill()
    old = found.ticket.deps[gen_key("user:42")]

    # when: the backend loses the generation (eviction, restart)
    caches["default"].delete(stored(gen_key("user:42")))
    again = get_store().lookup(KEY)

    # then
    assert not again.hit
    assert again.ticket.deps[gen_key("user:42")] not in (old, "-")


def test_lost_epoch_invalidates_everything(cache_backend):
    fill()

    caches["default"].delete(stored(epoch_key()))

    assert not get_store().lookup(KEY).hit


def test_tokens_never_repeat_and_have_one_shape():
    tokens = [new_token() for _ in range(20_000)]

    assert len(set(tokens)) == len(tokens)
    assert {len(token) for token in tokens} == {26}
    assert all(token.isalnum() and token.islower() for token in tokens[:100])


def test_store_with_zero_ttl_stores_nothing(cache_backend):
    found = get_store().lookup(KEY)

    assert not get_store().store(found.ticket, "v", 0)
    assert not get_store().lookup(KEY).hit


def test_delete_removes_the_entry_and_bumps_its_family(cache_backend):
    # given: another process holds a ticket for the same key
    store = get_store()
    fill()
    other = store.lookup(make_key("user:{{id}}:profile", {"id": 42}))

    # when
    deleted, deleted_again = store.delete(KEY), store.delete(KEY)

    # then
    assert (deleted, deleted_again) == (True, False)
    assert other.hit  # it read before the delete...
    assert not store.lookup(KEY).hit


def _fill_many() -> None:
    for template, ctx in [
        ("user:{{id}}:a", {"id": 1}),
        ("user:{{id}}:b", {"id": 1}),
        ("user:{{id}}:a", {"id": 2}),
        ("errand:{{id}}", {"id": 1}),
    ]:
        fill(make_key(template, ctx))


def test_count_and_delete_pattern(cache_backend):
    _fill_many()
    store = get_store()

    assert store.count("*") == 4
    assert store.count("user:*") == 3
    assert store.count("user:[^1]:*") == 1
    assert store.count("user:\\1:?") == 2
    assert store.delete_pattern("user:1:*", dry_run=True) == 2
    assert store.count("user:*") == 3
    assert store.delete_pattern(f"{key_prefix()}:user:1:*") == 2
    assert store.count("*") == 2
    assert store.delete_pattern("u?er:[0-9]:*") == 1
    assert store.count("*") == 1
    assert raw(epoch_key()) is not None  # internal keys are never swept by a pattern


def test_delete_pattern_bumps_the_family_so_other_tickets_go_stale(cache_backend):
    store = get_store()
    key = make_key("user:{{id}}:a", {"id": 1})
    found = store.lookup(key)

    store.delete_pattern("user:1:*")

    assert not store.store(found.ticket, "computed before the delete", 60)


def test_delete_pattern_leaves_the_tags_of_the_entries_it_keeps(redis_cache):
    # given: an entry the pattern matches showing row 1, one it does not match showing row 2
    fill(make_key("report:{{id}}", {"id": 1}), families=["@accounts.user:1"])
    fill(make_key("board:{{id}}", {"id": 1}), families=["@accounts.user:2"])
    store = get_store()
    tag, _ = tag_of("@accounts.user:1")

    # when
    store.delete_pattern("report:*")

    # then: row 1's field forgot the deleted entry; row 2's still names the kept one, which a write of row 2 reaches
    assert store.client.hkeys(tag) == [b"2"]
    store.bump(families=["@accounts.user:2"], clocks=["accounts.user"], rows=True)
    assert not store.lookup(make_key("board:{{id}}", {"id": 1})).hit


def test_clear_all_only_touches_our_prefix(cache_backend):
    # given: a key that belongs to someone else on the same backend
    _fill_many()
    cache = caches["default"]
    cache.set("other-app:session:1", "theirs", 60)
    epoch = raw(epoch_key())

    # when
    would = get_store().clear_all(dry_run=True)
    removed = get_store().clear_all()

    # then
    assert would == removed >= 4
    assert get_store().count("*") == 0
    assert cache.get("other-app:session:1") == "theirs"
    assert raw(epoch_key()) not in (None, epoch)


def test_acquire_is_exclusive_until_released(cache_backend):
    store = get_store()
    results = []

    assert store.acquire(KEY, 5_000)
    thread = threading.Thread(target=lambda: results.append(store.acquire(KEY, 5_000)))
    thread.start()
    thread.join()
    store.release(KEY)

    assert results == [False]
    assert store.acquire(KEY, 5_000)
    store.release(KEY)


def test_release_by_a_thread_that_does_not_hold_the_lock_is_a_no_op(cache_backend):
    store = get_store()
    assert store.acquire(KEY, 5_000)

    thread = threading.Thread(target=lambda: store.release(KEY))
    thread.start()
    thread.join()

    assert not store.acquire(KEY, 5_000)
    store.release(KEY)


def test_wait_for_returns_the_value_another_caller_stores(cache_backend):
    # given
    store = get_store()
    found = store.lookup(KEY)
    started = threading.Event()

    def waiter(out: list) -> None:
        started.set()
        out.append(store.wait_for(KEY, 10))

    out: list = []
    thread = threading.Thread(target=waiter, args=(out,))
    thread.start()
    started.wait()

    # when
    store.store(found.ticket, "from the lock holder", 60)
    thread.join()

    # then
    assert out[0].hit and out[0].payload == "from the lock holder"


def test_wait_for_gives_up_with_a_ticket(cache_backend):
    found = get_store().wait_for(KEY, 0.02)

    assert not found.hit and found.ticket is not None


def test_info(cache_backend):
    fill()

    info = get_store().info()

    assert info["backend"] == store_backend(cache_backend)
    assert info["healthy"] is True
    assert info["error"] is None
    assert info["keys"] >= 5  # the entry, the epoch and its three generations
    if cache_backend != "locmem":
        assert info["memory"] > 0
    else:
        assert info["memory"] is None


def test_a_header_with_thousands_of_generations(cache_backend, settings):
    settings.CACHE_MAX_ENTRY_DEPENDENCIES = 5000  # more than a Lua unpack() takes at once
    rows = [f"@errands.errand:{n}" for n in range(2500)]
    fill(families=rows)
    assert get_store().lookup(KEY).hit

    get_store().bump(families=[rows[-1]])

    assert not get_store().lookup(KEY).hit


def test_a_hit_is_one_round_trip_and_a_miss_two_on_redis(redis_cache, redis_round_trips):
    store = get_store()
    store.lookup("warm:up")  # connection handshake, script already known to the server
    redis_round_trips.reset()

    found = store.lookup(KEY, clocks=["accounts.user"])
    miss_trips = redis_round_trips.count
    store.store(found.ticket, "v", 60, families=["@accounts.user:1"], guarded=True)
    store_trips = redis_round_trips.count - miss_trips
    redis_round_trips.reset()
    hit = store.lookup(KEY)

    assert hit.hit
    assert (miss_trips, store_trips, redis_round_trips.count) == (2, 1, 1)


@pytest.mark.parametrize("rows", [5, 500])
def test_a_redis_hit_reads_the_same_keys_however_many_rows_the_entry_shows(redis_cache, redis_round_trips, rows):
    # given: an entry showing `rows` rows of one model (and the model's type family, as every caller lists)
    fill(families=[*(f"@accounts.user:{n}" for n in range(rows)), "@accounts.user"], clocks=["accounts.user"])
    store = get_store()
    assert store.lookup(KEY).hit  # this process now knows the entry's header
    read: list[list[str]] = []
    original = store.client.pipeline

    def recording_pipeline(*args, **kwargs):
        pipe = original(*args, **kwargs)
        mget = pipe.mget
        pipe.mget = lambda names: read.append(list(names)) or mget(names)
        return pipe

    store.client.pipeline = recording_pipeline
    redis_round_trips.reset()

    # when
    hit = store.lookup(KEY)

    # then: one round trip, reading the epoch, the key's three families and the model's type family
    assert hit.hit
    assert redis_round_trips.count == 1
    assert read == [[epoch_key(), *(gen_key(f) for f in ("user", "user:42", "user:42:profile", "@accounts.user"))]]


def _tag_keys() -> list[str]:
    return sorted(name.decode() for name in get_store().client.scan_iter(match=f"{key_prefix()}:_t:*"))


def test_the_rows_an_entry_shows_cost_one_tag_key_per_model_on_redis(redis_cache):
    # given: two entries showing 50 user rows and 3 errand rows between them
    fill(families=[*(f"@accounts.user:{n}" for n in range(50)), "@errands.errand:1", "@errands.errand:2"])
    fill("other:key", families=["@accounts.user:7", "@errands.errand:3"])

    # then: one tag hash per model, a field per row
    assert _tag_keys() == [tag_of("@accounts.user:0")[0], tag_of("@errands.errand:0")[0]]
    assert get_store().client.hlen(tag_of("@accounts.user:0")[0]) == 50

    # when: row 7 is written
    get_store().bump(families=["@accounts.user:7"], clocks=["accounts.user"], rows=True)

    # then: both entries showing it go, and its field with them; the other rows keep theirs
    assert not get_store().lookup(KEY).hit
    assert not get_store().lookup("other:key").hit
    assert get_store().client.hlen(tag_of("@accounts.user:0")[0]) == 49


def test_a_write_of_a_row_leaves_entries_that_do_not_show_it(redis_cache):
    fill(families=["@accounts.user:1"])
    fill("other:key", families=["@accounts.user:2"])

    get_store().bump(families=["@accounts.user:2"], clocks=["accounts.user"], rows=True)

    assert get_store().lookup(KEY).hit
    assert not get_store().lookup("other:key").hit


def test_a_store_drops_tag_fields_whose_entries_have_all_expired(redis_cache):
    # given: a field whose only entry expired long ago (as a row no live entry shows any more leaves it)
    store = get_store()
    tag, _ = tag_of("@accounts.user:1")
    store.client.hset(tag, "99", f"1000 {with_prefix('gone:key')}\n")

    # when: an entry showing row 1 of the model is stored (the hash now has two fields; the store samples two)
    fill(families=["@accounts.user:1"])

    # then: the dead field went, the live one stayed
    assert sorted(store.client.hkeys(tag)) == [b"1"]


def test_an_entry_stored_again_is_listed_once_in_each_tag_field(redis_cache):
    # given: row 1's field lists another entry whose key ends like ours (it must keep its item)
    store = get_store()
    tag, row = tag_of("@accounts.user:1")
    later = int(time.time() * 1000) + 600_000
    other = f"{later} x {with_prefix(KEY)}\n"  # a key with a space: " <our key>\n" is inside its item
    store.client.hset(tag, row, other)

    # when: our entry is stored three times (a refill after each deletion of it)
    for _ in range(3):
        store.delete(KEY)
        fill(families=["@accounts.user:1"])

    # then: one item for our entry, and the other entry still listed
    items = store.client.hget(tag, row).decode().splitlines()
    assert sorted(item.split(" ", 1)[1] for item in items) == sorted([f"x {with_prefix(KEY)}", with_prefix(KEY)])


def _item(name: str, expiry: int = 1000) -> str:
    """A tag field's item for entry `name` (expired unless given a later expiry, ms)."""
    return f"{expiry} {with_prefix(name)}\n"


def _listed(tag: str, row: str) -> list[str]:
    """The entries a tag field lists."""
    return sorted(item.split(" ")[1] for item in get_store().client.hget(tag, row).decode().splitlines())


def test_a_long_tag_field_drops_its_expired_entries_when_an_entry_is_added(redis_cache):
    # given: row 1's field lists thousands of entries that have expired, and one that has not
    store = get_store()
    tag, row = tag_of("@accounts.user:1")
    later = int(time.time() * 1000) + 600_000
    dead = "".join(_item(f"gone:{n}") for n in range(2000))
    store.client.hset(tag, row, dead + _item("alive:key", later))

    # when
    fill(families=["@accounts.user:1"])

    # then: only the live entries are left (the one already there, and the new one)
    assert _listed(tag, row) == [with_prefix("alive:key"), with_prefix(KEY)]


def test_expired_entries_behind_a_live_one_go_when_the_field_passes_a_doubling(redis_cache):
    # given: row 1's field starts with an entry that lives long, then expired ones, just short of twice
    # TAG_PRUNE_BYTES (items behind a live head are not dropped at every add: that would parse the whole field)
    store = get_store()
    tag, row = tag_of("@accounts.user:1")
    later = int(time.time() * 1000) + 600_000
    field = _item("alive:key", later)
    while len(field) < 2 * TAG_PRUNE_BYTES - 40:
        field += _item(f"gone:{len(field)}")
    store.client.hset(tag, row, field)

    # when: an entry is added and the field passes 2 x TAG_PRUNE_BYTES
    fill(families=["@accounts.user:1"])

    # then: the expired entries went, the live ones stayed
    assert _listed(tag, row) == [with_prefix("alive:key"), with_prefix(KEY)]


def test_a_field_of_live_entries_keeps_every_one_as_it_grows(redis_cache):
    # when: entries showing row 1 are stored until its field is past two doublings of TAG_PRUNE_BYTES
    store = get_store()
    tag, row = tag_of("@accounts.user:1")
    stored = 0
    while len(store.client.hget(tag, row) or b"") <= 2 * TAG_PRUNE_BYTES + 100:
        fill(f"page:{stored}", families=["@accounts.user:1"])
        stored += 1

    # then: every one is listed, and served
    assert len(store.client.hget(tag, row).decode().splitlines()) == stored
    assert all(store.lookup(f"page:{n}").hit for n in range(stored))


def test_a_hit_checks_every_generation_its_header_lists_not_only_those_remembered(redis_cache):
    # given: this process remembers the entry's header from a first read; the entry is then stored again after an
    # invalidation, now also listing the family `banks_list`
    fill(families=["errand_list"])
    store = get_store()
    assert store.lookup(KEY).hit
    store.bump(families=["errand_list"])
    fill(families=["errand_list", "banks_list"])

    # when: the new family is bumped
    store.bump(families=["banks_list"])

    # then: the hit read it too, and found the entry invalid
    assert not store.lookup(KEY).hit


def test_bump_is_one_round_trip_on_redis(redis_cache, redis_round_trips):
    get_store().lookup("warm:up")
    redis_round_trips.reset()

    get_store().bump(families=["user:1", "user:2", "errand_list"], clocks=["accounts.user"])

    assert redis_round_trips.count == 1


def test_async_api_round_trip(cache_backend):
    async def scenario():
        store = get_store()
        miss = await store.alookup(KEY)
        stored = await store.astore(miss.ticket, "async value", 60, families=["@accounts.user:7"])
        hit = await store.alookup(KEY)
        await store.abump(families=["@accounts.user:7"])
        return miss, stored, hit, await store.alookup(KEY)

    # when
    miss, stored, hit, after_bump = async_to_sync(scenario)()

    # then
    assert not miss.hit and stored
    assert hit.payload == "async value"
    assert not after_bump.hit


def test_async_store_after_a_bump_is_a_no_op(cache_backend):
    async def scenario():
        store = get_store()
        found = await store.alookup(KEY)
        await store.abump(families=["user:42"])
        return await store.astore(found.ticket, "stale", 60), await store.alookup(KEY)

    stored, after = async_to_sync(scenario)()

    assert not stored
    assert not after.hit


def test_async_and_sync_paths_read_each_other(cache_backend):
    fill()
    async_seen = async_to_sync(get_store().alookup)(KEY)
    other = make_key("errand:{{id}}", {"id": 1})

    async def async_fill():
        found = await get_store().alookup(other)
        return await get_store().astore(found.ticket, "from async", 60)

    assert async_seen.payload == "value"
    assert async_to_sync(async_fill)()
    assert get_store().lookup(other).payload == "from async"


def test_ticket_overwrites_an_entry_that_hits(cache_backend):
    # given
    fill(payload="old")
    store = get_store()

    # when
    ticket = store.ticket(KEY)
    stored = store.store(ticket, "new", 60)

    # then
    assert stored
    assert store.lookup(KEY).payload == "new"


def test_ticket_goes_stale_like_any_other(cache_backend):
    store = get_store()
    ticket = store.ticket(KEY, clocks=["accounts.user"])
    store.bump(clocks=["accounts.user"])

    assert set(ticket.guards) == {clock_key("accounts.user")}
    assert not store.store(ticket, "v", 60, guarded=True)


def test_async_hit_is_one_round_trip_on_redis(redis_cache, redis_round_trips):
    fill()
    redis_round_trips.reset()

    found = async_to_sync(get_store().alookup)(KEY)

    assert found.hit
    assert redis_round_trips.count == 1


def test_async_guarded_store_respects_clocks(cache_backend):
    async def scenario():
        store = get_store()
        found = await store.alookup(KEY, clocks=["accounts.user"])
        await store.abump(clocks=["accounts.user"])
        return await store.astore(found.ticket, "stale", 60, families=["@accounts.user:1"], guarded=True)

    assert async_to_sync(scenario)() is False
    assert not get_store().lookup(KEY).hit


def test_two_processes_share_entries_and_invalidations(redis_cache):
    # given: two processes, each with its own store (own outage state, own locks) on one Redis
    web, worker = RedisStore(caches["default"]), RedisStore(caches["default"])
    found = web.lookup(KEY)
    web.store(found.ticket, "from web", 60)

    # when
    seen_by_worker = worker.lookup(KEY)
    worker.bump(families=["user:42"])

    # then
    assert seen_by_worker.payload == "from web"
    assert not web.lookup(KEY).hit


def test_redis_holds_text_and_never_unpickles(redis_cache, redis_url):
    # given
    fill(payload='{"name":"ada"}')

    # when
    raw_entry = redis.Redis.from_url(redis_url).get(with_prefix(KEY))

    # then: the entry is the header and the JSON text; the backend refuses anything that would need pickle
    assert raw_entry.endswith(b'\n{"name":"ada"}')
    assert caches["default"].client._serializer.__class__.__name__ == "TextSerializer"
    with pytest.raises(TypeError):
        caches["default"].set(f"{key_prefix()}:x", {"a": 1})


def test_store_without_a_ticket_stores_nothing(cache_backend):
    assert get_store().store(None, "v", 60) is False


def test_bump_is_one_script_on_redis(redis_cache, redis_url, redis_round_trips):
    # given: a guarded store script must never run between a write clock and a row generation of one bump
    server = redis.Redis.from_url(redis_url)
    get_store().bump(families=["user:1"])  # the first call checks the server's run_id and loads the script
    scripts = server.info("commandstats")["cmdstat_evalsha"]["calls"]
    redis_round_trips.reset()

    # when
    get_store().bump(families=["@accounts.user:5"], clocks=["accounts.user"])

    # then: one request, one script call (atomic on the server)
    assert redis_round_trips.count == 1
    assert server.info("commandstats")["cmdstat_evalsha"]["calls"] == scripts + 1


def test_guarded_store_refuses_while_a_write_is_pending_and_accepts_once_it_settles(cache_backend):
    # given: a write has begun (its SQL may commit at any moment) and a fill reads in the meantime
    store = get_store()
    write = store.begin_write(families=["@errands.errand:1"], clocks=["errands.errand"])
    during = store.lookup(KEY, clocks=["errands.errand"])
    # when / then: nothing computed while the write is pending is stored
    assert write is not None
    assert not store.store(during.ticket, "maybe old", 60, families=["@errands.errand:1"], guarded=True)
    # when: the write settles after its commit
    store.settle_write(write, families=["@errands.errand:1"], clocks=["errands.errand"])
    after = store.lookup(KEY, clocks=["errands.errand"])
    # then
    assert store.store(after.ticket, "fresh", 60, families=["@errands.errand:1"], guarded=True)
    assert store.lookup(KEY).payload == "fresh"


def test_a_write_that_never_settles_blocks_fills_only_until_its_pending_ttl(cache_backend, settings):
    # given: a write that began and never settled (its transaction rolled back, or a commit hook failed); that it
    # blocks fills while pending is the test above, with the default TTL: here no assertion races the short TTL
    settings.CACHE_WRITE_PENDING_TTL = 1.0
    store = get_store()
    store.begin_write(clocks=["errands.errand"])
    # when: its mark expires (the expiry is wall-clock time, on the Redis server's clock: no clock to fake)
    time.sleep(1.1)
    # then: a fill stores again (its lookup-to-store gap must only stay under the 1 s TTL)
    later = store.lookup(KEY, clocks=["errands.errand"])
    assert store.store(later.ticket, "v", 60, guarded=True)


def test_writes_of_many_rows_keep_refusing_fills_that_raced_them_and_keep_invalidating(cache_backend, later):
    # given: a guarded miss, then a write of row 1 while it computed
    store = get_store()
    racing = store.lookup("racing:1", clocks=["errands.errand"])
    store.bump(families=["@errands.errand:1"], clocks=["errands.errand"], rows=True)
    # on LocMem a process reads its own writes back from the journal at its next call and stamps them again: this
    # read does it now, so that row 1's stamp is older than the hundred below
    assert not store.lookup("racing:1").hit
    # a second later (the fill still computing, well within the pending TTL), writes of a hundred other rows: what
    # the model's clock remembers of its rows is pruned, but only of writes no storable ticket can have raced
    later(1)
    for row in range(100, 200):
        store.bump(families=[f"@errands.errand:{row}"], clocks=["errands.errand"], rows=True)

    # when
    stored = store.store(
        racing.ticket, "read before row 1 was written", 60, families=["@errands.errand:1"], guarded=True
    )

    # then: the fill is refused...
    assert not stored
    # ...and a later write of row 1 still drops what shows it
    fill(families=["@errands.errand:1"], clocks=["errands.errand"], guarded=True)
    store.bump(families=["@errands.errand:1"], clocks=["errands.errand"], rows=True)
    assert not store.lookup(KEY).hit


def test_begin_write_invalidates_at_once_and_unguarded_stores_are_not_blocked(cache_backend):
    # given
    store = get_store()
    fill()
    assert store.lookup(KEY).hit
    # when
    store.begin_write(families=[strip_prefix(KEY)], clocks=["errands.errand"])
    # then: the entry stopped validating before the write's SQL even ran; decorator-style fills still store
    again = store.lookup(KEY)
    assert not again.hit
    assert store.store(again.ticket, "v", 60)


def test_async_stores_are_unguarded_unless_asked_as_the_sync_ones(cache_backend):
    # given: a write of the rows the entry shows has begun and not settled
    store = get_store()
    store.begin_write(families=["@errands.errand:1"], clocks=["errands.errand"])

    async def fill(**guard):
        found = await store.alookup(KEY, clocks=["errands.errand"])
        return await store.astore(found.ticket, "v", 60, families=["@errands.errand:1"], **guard)

    # then: a decorator-style fill stores (the write's settle drops it), a guarded one does not
    assert async_to_sync(fill)()
    store.delete(KEY)
    assert not async_to_sync(fill)(guarded=True)


def test_a_guarded_fill_older_than_the_pending_ttl_is_not_stored(cache_backend, settings):
    # given: a fill whose ticket was read long ago (a write that began meanwhile may have let its mark expire)
    settings.CACHE_WRITE_PENDING_TTL = 0.1
    store = get_store()
    found = store.lookup(KEY, clocks=["errands.errand"])
    time.sleep(0.2)
    # when / then
    assert not store.store(found.ticket, "maybe old", 60, guarded=True)
    assert store.store(found.ticket, "unguarded fills are not concerned", 60)


def test_a_redis_entry_lives_for_its_ttl_and_no_longer(redis_cache, redis_url):
    # given
    @cacheable(key="roles:async", ttl=60)
    async def roles():
        return ["runner"]

    # when: stored through each public way that takes a TTL, sync and async
    CacheManager.set("banks_list:NG", ["044"], ttl=60)
    CacheManager.get_or_set("roles", lambda: ["runner"], ttl=60)
    cache_user_data(7, {"theme": "dark"}, timeout=60)
    async_to_sync(roles)()

    # then: none lives longer than asked (the default would be 300 s)
    client = redis.Redis.from_url(redis_url)
    for key in ("banks_list:NG", "roles", "user:7:data", "roles:async"):
        assert 0 < client.pttl(make_key(key)) <= 60_000, key


def test_clearing_everything_keeps_the_marks_of_writes_in_flight(cache_backend):
    # given: a write that has begun and not yet settled
    store = get_store()
    store.begin_write(clocks=["errands.errand"])

    # when
    CacheManager.clear_all()

    # then: a fill racing with that write is still refused
    found = store.lookup(KEY, clocks=["errands.errand"])
    assert not store.store(found.ticket, "maybe old", 60, guarded=True)


def test_info_counts_our_keys_only_and_reports_the_memory_redis_uses(redis_cache, redis_url):
    # given: our entries, and another application's key in the same Redis
    CacheManager.set("user:1:data", 1)
    CacheManager.set("errand:7", {"title": "Buy bread"})
    client = redis.Redis.from_url(redis_url)
    client.set("otherapp:session:1", "x")

    # when
    info = get_store().info()

    # then
    assert info["keys"] == len(client.keys(f"{key_prefix()}:*"))
    assert info["memory"] > 0
    assert (info["backend"], info["healthy"], info["error"]) == ("redis", True, None)


def test_the_slow_log_shows_the_newest_commands_cut_to_200_characters(redis_cache, redis_url):
    # given: a store that has checked its server, every command counting as slow, and a long last one
    store = get_store()
    store.lookup("user:1")
    client = redis.Redis.from_url(redis_url)
    client.config_set("slowlog-log-slower-than", 0)
    client.slowlog_reset()
    try:
        for _ in range(10):
            client.ping()
        client.mset({f"otherapp:{n}": "x" * 100 for n in range(5)})

        # when
        log = store.slowlog(count=2)
        default = store.slowlog()
    finally:
        client.config_set("slowlog-log-slower-than", 10_000)

    # then: newest first (the store's own SLOWLOG LEN, then the MSET)
    assert log["error"] is None and log["length"] >= 2
    newest, entry = log["entries"]
    assert newest["command"] == "SLOWLOG LEN"
    assert set(entry) == {"id", "start_time", "duration_us", "command"}
    assert entry["command"].startswith("MSET otherapp:0 xxx") and len(entry["command"]) == 200
    assert len(default["entries"]) == 5  # what the dashboard shows


def test_a_redis_that_refuses_the_slow_log_says_so(redis_url, settings):
    # given: a Redis user that may not run SLOWLOG, as on some managed services
    admin = redis.Redis.from_url(redis_url)
    admin.acl_setuser("limited", enabled=True, passwords=["+secret"], keys=["*"], commands=["+@all", "-slowlog"])
    host, port = admin.connection_pool.connection_kwargs["host"], admin.connection_pool.connection_kwargs["port"]
    settings.CACHES = redis_caches(f"redis://limited:secret@{host}:{port}/0")
    try:
        # when
        log = get_store().slowlog()
    finally:
        admin.acl_deluser("limited")

    # then
    assert log["length"] is None and log["entries"] == []
    assert "slowlog" in log["error"].lower()
