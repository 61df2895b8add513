"""Cache space: what anonymous reads add to Redis goes with the entries that need it, and no entry grows unbounded."""

import json
import logging

import pytest
import redis
from django.core.management import call_command

from core.cache.conf import FILL_WINDOW
from core.cache.keys import epoch_key, gen_key, make_key, with_prefix
from core.cache.store import get_store, reset_store
from core.factories import BankFactory, ErrandFactory, UserFactory
from tests.fixtures.api import get_graphql_content
from tests.fixtures.cache import redis_caches

SEARCH_QUERY = "query Search($s: String) { errands(search: $s) { id title } }"
BANKS_QUERY = "query Banks($c: String!) { banks(country: $c) { id name } }"
ERRAND_QUERY = "query One($id: ID!) { errand(id: $id) { id title createdBy { username } } }"
BOARD_QUERY = "{ errands(first: 10) { id title createdBy { username } } }"
KEY = "report:1"  # relative: the store adds the prefix of the backend under test
STORE_LOGGER = "core.cache.store"


def variables_for(query: str, n: int, errand_id: int) -> dict:
    if query == SEARCH_QUERY:
        return {"s": f"term {n}"}
    if query == BANKS_QUERY:
        return {"c": f"C{n}"}
    return {"id": str(errand_id if n % 2 else 100_000 + n)}  # rows that exist and ids that do not


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("query", "ttl"), [(SEARCH_QUERY, 60), (BANKS_QUERY, 86400), (ERRAND_QUERY, 300)])
def test_every_key_unique_anonymous_requests_add_expires_within_the_entry_ttl_plus_a_minute(
    redis_cache, redis_url, api_client, query, ttl
):
    # given: data written beforehand, and what Redis holds once a first request has set up the bookkeeping
    errand = ErrandFactory(title="term 1 and more")
    BankFactory(country="C1")
    server = redis.Redis.from_url(redis_url)
    get_graphql_content(api_client.post_graphql(query, variables_for(query, 0, errand.id)))
    baseline = set(server.keys("*"))

    # when: unique anonymous requests (each a new entry for the field and one for the whole response)
    for n in range(1, 41):
        get_graphql_content(api_client.post_graphql(query, variables_for(query, n, errand.id)))

    # then: every key they added expires, no later than the entry it serves plus a minute
    added = set(server.keys("*")) - baseline
    assert len(added) >= 2 * 40
    ttls = {name.decode(): server.pttl(name) for name in added}
    assert {name: ms for name, ms in ttls.items() if not 0 < ms <= (ttl + 60) * 1000} == {}
    generations = [name for name in ttls if name.startswith(gen_key(""))]
    assert len(generations) >= 40  # the per-entry generations that used to live for seven days


def test_what_a_lookup_creates_lives_one_fill_window_until_an_entry_claims_it(redis_cache, redis_url):
    # given
    server = redis.Redis.from_url(redis_url)
    store = get_store()

    # when: a miss that is never stored, and one that is
    store.lookup(make_key("abandoned:1"))
    found = store.lookup(KEY)
    assert store.store(found.ticket, "value", 3600)

    # then
    assert 0 < server.pttl(gen_key("abandoned:1")) <= FILL_WINDOW * 1000
    assert 0 < server.pttl(gen_key("abandoned")) <= FILL_WINDOW * 1000
    assert FILL_WINDOW * 1000 < server.pttl(gen_key("report:1")) <= 3600 * 1000
    assert server.pttl(epoch_key()) == -1  # the epoch never expires


def test_a_store_never_shortens_a_shared_generation(redis_cache, redis_url):
    # given: a family a long entry has claimed for an hour, then a short entry in it
    server = redis.Redis.from_url(redis_url)
    store = get_store()
    long_entry = store.lookup(make_key("report:{{n}}", {"n": 2}))
    assert store.store(long_entry.ticket, "value", 3600)
    long_lived = server.pttl(gen_key("report"))
    assert long_lived > 3500 * 1000

    # when
    found = store.lookup(KEY)
    assert store.store(found.ticket, "value", 5)

    # then
    assert server.pttl(gen_key("report")) > long_lived - 60_000
    assert 0 < server.pttl(gen_key("report:1")) <= FILL_WINDOW * 1000  # created by the lookup: a minute at most


@pytest.mark.django_db(transaction=True)
def test_a_write_moves_the_generations_entries_list_and_creates_none(redis_cache, redis_url, api_client, settings):
    # given: one errand whose answer is cached (its row generations exist, living as long as that entry), and
    # another that no entry shows
    settings.CACHES = redis_caches(redis_url, timeout=5)  # the counts below must not depend on the machine's load
    reset_store()
    shown, unseen = ErrandFactory(title="shown"), ErrandFactory(title="unseen")
    server = redis.Redis.from_url(redis_url)
    get_graphql_content(api_client.post_graphql(ERRAND_QUERY, {"id": str(shown.id)}))
    before = {name: server.pttl(name) for name in server.keys(gen_key("*"))}
    tokens = dict(zip(before, server.mget(list(before)), strict=True))

    # when: both rows are written, as the service layer writes them
    shown.title, unseen.title = "shown, edited", "unseen, edited"
    shown.save()
    unseen.save()

    # then: no generation was added, none lives longer than before, the shown row's moved, and the next read is
    # fresh
    after = {name: server.pttl(name) for name in server.keys(gen_key("*"))}
    assert set(after) <= set(before), set(after) - set(before)
    assert [name for name in after if name.decode().endswith(f"errand:{unseen.id}")] == []  # created, then written
    assert {name: ms for name, ms in after.items() if ms > before[name]} == {}
    moved = [name.decode() for name in after if server.get(name) != tokens[name]]
    assert any(str(shown.id) in name for name in moved)
    reply = get_graphql_content(api_client.post_graphql(ERRAND_QUERY, {"id": str(shown.id)}))
    assert reply["data"]["errand"]["title"] == "shown, edited"


def test_a_generation_that_expires_before_the_store_refuses_it(redis_cache, redis_url):
    # given: a fill whose own generation expired while it computed (gone: the same as evicted)
    server = redis.Redis.from_url(redis_url)
    store = get_store()
    found = store.lookup(KEY)
    server.delete(gen_key("report:1"))

    # when
    stored = store.store(found.ticket, "value", 60)

    # then: a missing generation means "invalid", and a fresh lookup gets a fresh token
    assert stored is False
    again = store.lookup(KEY)
    assert again.ticket.deps[gen_key("report:1")] != found.ticket.deps[gen_key("report:1")]


@pytest.mark.django_db(transaction=True)
def test_clear_cache_pattern_star_removes_the_generations_reads_created(redis_cache, redis_url, api_client):
    # given
    errand = ErrandFactory()
    server = redis.Redis.from_url(redis_url)
    for n in range(5):
        get_graphql_content(api_client.post_graphql(ERRAND_QUERY, variables_for(ERRAND_QUERY, n, errand.id)))
    assert server.keys(gen_key("*"))

    # when
    call_command("clear_cache", pattern="*")

    # then: only the bookkeeping that holds no entry's data is left (epoch, run id, write clocks and their stamps)
    left = sorted(name.decode() for name in server.keys("*"))
    assert left and all(name.split(":")[1] in {"_epoch", "_runid", "_c", "_s"} for name in left), left


# --- bounded entries ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [0, 1])
def test_an_entry_over_the_byte_limit_is_not_stored(cache_backend, settings, caplog, extra):
    # given
    settings.CACHE_MAX_ENTRY_BYTES = 100
    store = get_store()
    found = store.lookup(KEY)
    payload = "é" * 50 + "x" * extra  # 100 bytes in UTF-8, then 101

    # when
    with caplog.at_level(logging.DEBUG, logger=STORE_LOGGER):
        stored = store.store(found.ticket, payload, 60)

    # then
    assert stored is (extra == 0)
    assert store.lookup(KEY).hit is (extra == 0)
    if extra:
        assert store.refusal() == "101 bytes, above CACHE_MAX_ENTRY_BYTES (100)"
        assert f"entry {with_prefix(KEY)} not stored: 101 bytes" in caplog.text


@pytest.mark.parametrize("rows", [3, 4])
def test_an_entry_over_the_dependency_limit_is_not_stored(cache_backend, settings, rows):
    # given: the entry's own four generations (epoch, report, report:1 and none other) plus some rows
    settings.CACHE_MAX_ENTRY_DEPENDENCIES = 6
    store = get_store()
    found = store.lookup(KEY)
    assert len(found.ticket.deps) == 3

    # when
    stored = store.store(found.ticket, "value", 60, families=[f"@app.row:{n}" for n in range(rows)])

    # then
    assert stored is (rows == 3)
    if rows == 4:
        assert store.refusal() == "7 dependencies, above CACHE_MAX_ENTRY_DEPENDENCIES (6)"


@pytest.fixture
def board():
    creators = UserFactory.create_batch(3)
    return [ErrandFactory(created_by=creators[n % 3]) for n in range(6)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("setting", "limit", "reason"),
    [
        ("CACHE_MAX_ENTRY_BYTES", 200, "bytes, above CACHE_MAX_ENTRY_BYTES (200)"),
        ("CACHE_MAX_ENTRY_DEPENDENCIES", 8, "dependencies, above CACHE_MAX_ENTRY_DEPENDENCIES (8)"),
    ],
)
def test_a_reply_over_a_limit_is_served_but_not_cached(
    cache_backend, board, api_client, settings, cache_debug, django_assert_num_queries, setting, limit, reason
):
    # given: the same reply without limits
    expected = get_graphql_content(api_client.post_graphql(BOARD_QUERY))["data"]
    call_command("clear_cache", all=True)
    setattr(settings, setting, limit)

    # when: asked twice
    first = api_client.post_graphql(BOARD_QUERY)
    with django_assert_num_queries(1):  # the errands with their creators: computed again, not served from the cache
        second = api_client.post_graphql(BOARD_QUERY)

    # then: served in full both times, never stored, and the debug extension says why
    assert get_graphql_content(first)["data"] == expected == get_graphql_content(second)["data"]
    field = json.loads(second.content)["extensions"]["cache"]["fields"][0]
    assert field["status"] == "MISS"
    assert reason in field["reason"]
