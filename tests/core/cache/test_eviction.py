"""Under `maxmemory` with `allkeys-lru` Redis may evict any key, bookkeeping included: nothing stale is ever served.

Each test runs on its own redis-server (restartable_redis): eviction counts are per server and must not leak.
"""

import json
import random

import pytest

from core.cache.keys import clock_key, epoch_key, gen_key, make_key, stamps_key_of, tag_of
from core.cache.store import get_store

LABEL = "shop.item"
KEY = make_key("item_page:{{n}}", {"n": 1})


def row(n: int) -> str:
    return f"@{LABEL}:{n}"


def force_an_eviction(client) -> None:
    """Make Redis evict at least one key, as a full cache does, then lift the limit again."""
    client.config_set("maxmemory-policy", "allkeys-lru")
    client.set("filler:0", "x" * 1024)
    client.config_set("maxmemory", int(client.info("memory")["used_memory"]))
    for n in range(1, 50):
        client.set(f"filler:{n}", "x" * 1024)
    client.config_set("maxmemory", 0)
    assert client.info("stats")["evicted_keys"] > 0


@pytest.mark.parametrize("lost", ["clock", "row tag hash", "family generation", "epoch"])
def test_bookkeeping_lost_between_a_fills_ticket_and_its_store_refuses_the_store(restartable_redis, lost):
    # given: a guarded fill has read its ticket
    client = restartable_redis.client()
    store = get_store()
    store.bump(families=[row(1)], clocks=[LABEL])
    found = store.lookup(KEY, clocks=[LABEL])
    name = {
        "clock": clock_key(LABEL),
        "row tag hash": tag_of(row(1))[0],
        "family generation": gen_key("item_page"),
        "epoch": epoch_key(),
    }[lost]

    # when: the key goes (evicted; DEL stands in for the eviction), then the fill stores
    client.delete(name)
    stored = store.store(found.ticket, "value", 60, families=[row(1)], guarded=True)

    # then: refused, or, for a tag hash (which the store creates again), stored and reached by the row's next write
    if lost == "row tag hash":
        assert stored
        store.bump(families=[row(1)], clocks=[LABEL])
        assert not store.lookup(KEY).hit
    else:
        assert stored is False


def test_stamps_lost_after_a_write_refuse_the_fills_whose_tickets_are_older(restartable_redis):
    # given: a fill showing row 1 has read its ticket; then row 1 is written, and the model's stamps hash is evicted
    # (DEL stands in) and created again by a write of row 2
    client = restartable_redis.client()
    store = get_store()
    found = store.lookup(KEY, clocks=[LABEL])
    store.bump(families=[row(1)], clocks=[LABEL], rows=True)
    client.delete(stamps_key_of(clock_key(LABEL)))
    store.bump(families=[row(2)], clocks=[LABEL], rows=True)

    # when
    stored = store.store(found.ticket, "read before the write of row 1", 60, families=[row(1)], guarded=True)

    # then: the new stamps begin after the ticket, so they cannot say row 1 was not written: refused
    assert stored is False
    again = store.lookup(KEY, clocks=[LABEL])
    assert store.store(again.ticket, "read after", 60, families=[row(1)], guarded=True)


def test_a_tag_hash_evicted_after_the_store_falls_back_to_the_type_family_at_the_next_write(restartable_redis):
    # given: an entry showing row 1 (listing the model's type family, as every entry showing a row does)
    client = restartable_redis.client()
    store = get_store()
    store.bump(families=[row(2)], clocks=[LABEL])  # the model's clock records that nothing was evicted yet
    found = store.lookup(KEY, clocks=[LABEL])
    assert store.store(found.ticket, "value", 60, families=[row(1), f"@{LABEL}"], guarded=True)
    store.bump(families=[row(2)], clocks=[LABEL])
    assert store.lookup(KEY).hit  # a write of a row the entry does not show leaves it alone

    # when: Redis evicts keys, the model's tag hash among them, and then a row of the model is written
    force_an_eviction(client)
    client.delete(tag_of(row(1))[0])
    store.bump(families=[row(2)], clocks=[LABEL])

    # then: the write could not know which entries the lost hash named, so every entry showing the model goes
    assert not store.lookup(KEY).hit


def test_a_clock_evicted_while_a_write_is_pending_holds_fills_off_until_the_mark_would_have_expired(
    restartable_redis,
):
    # given: a write has begun (its mark lives on the clock), and Redis has evicted keys
    client = restartable_redis.client()
    store = get_store()
    write = store.begin_write(families=[row(1)], clocks=[LABEL])
    force_an_eviction(client)

    # when: the clock (with the mark) is evicted, and a fill reads and stores before the write settles
    client.delete(clock_key(LABEL))
    found = store.lookup(KEY, clocks=[LABEL])
    stored = store.store(found.ticket, "read before the commit", 60, families=[row(1)], guarded=True)

    # then: the re-created clock carries a blanket mark: the store is refused
    assert stored is False
    store.settle_write(write, families=[row(1)], clocks=[LABEL])
    still = store.lookup(KEY, clocks=[LABEL])
    assert store.store(still.ticket, "after the settle", 60, families=[row(1)], guarded=True) is False
    assert client.pttl(clock_key(LABEL)) > 0


def test_a_clock_created_on_a_redis_that_never_evicted_has_no_blanket(restartable_redis):
    # given: an empty Redis (nothing evicted since it started)
    store = get_store()

    # when
    found = store.lookup(KEY, clocks=[LABEL])

    # then: the first fill of a model is stored at once
    assert store.store(found.ticket, "value", 60, families=[row(1)], guarded=True)
    assert store.lookup(KEY, clocks=[LABEL]).hit


def test_aggressive_lru_eviction_during_writes_and_reads_never_serves_stale_data(restartable_redis):
    # given: a Redis far too small for the entries, evicting any key (bookkeeping included) on every write. An
    # evicted clock holds its model's fills off for the pending TTL (60 s): so the run is made of rounds, each on a
    # model of its own and with the eviction count reset, so that every round fills until its clock goes.
    client = restartable_redis.client()
    client.config_set("maxmemory-policy", "allkeys-lru")
    client.config_set("maxmemory", int(client.info("memory")["used_memory"]) + 800_000)
    store = get_store()
    rng = random.Random(20261201)
    rows = 12
    pad = "x" * 20_000  # every entry is large, so that eviction is constant
    hits = stores = evicted = 0

    def shown(page: int) -> list[int]:
        return [page % rows, (page * 5 + 1) % rows, (page * 7 + 3) % rows]

    for round_ in range(30):
        label = f"shop.item{round_}"
        committed = dict.fromkeys(range(rows), 0)  # the database: each row's version
        in_flight: list[tuple[str | None, int, int]] = []  # begun, not committed: (write id, row, new version)
        unsettled: list[tuple[str | None, int]] = []  # committed, not settled
        fills: list[tuple[object, int, dict[int, int]]] = []  # tickets read, values computed, not yet stored
        client.config_resetstat()

        def families(n: int, label: str = label) -> list[str]:
            return [f"@{label}:{n}"]

        def key(page: int, label: str = label) -> str:
            return make_key(label + "_page:{{n}}", {"n": page})

        # when: interleaved steps of writes (begin, commit, settle) and fills (ticket, compute, store)
        for _ in range(250):
            step, page = rng.random(), rng.randrange(60)
            if step < 0.6:
                found = store.lookup(key(page), clocks=[label])
                if found.hit:
                    # then (for every hit): each row shows the version committed before the read began
                    hits += 1
                    versions = json.loads(found.payload)["versions"]
                    assert {int(n): v for n, v in versions.items()} == {n: committed[n] for n in shown(page)}
                elif found.ticket is not None:
                    fills.append((found.ticket, page, {n: committed[n] for n in shown(page)}))
            elif step < 0.85 and fills:
                ticket, page, versions = fills.pop(rng.randrange(len(fills)))
                payload = json.dumps({"versions": versions, "pad": pad})
                shows = [f"@{label}:{n}" for n in shown(page)] + [f"@{label}"]  # rows and their type, as callers do
                stores += store.store(ticket, payload, 60, families=shows, guarded=True)
            elif step < 0.88:
                n = rng.randrange(rows)
                write = store.begin_write(families=families(n), clocks=[label], rows=True)
                in_flight.append((write, n, committed[n] + 1))
            elif step < 0.94 and in_flight:
                write, n, version = in_flight.pop(rng.randrange(len(in_flight)))
                committed[n] = max(committed[n], version)
                unsettled.append((write, n))
            elif unsettled:
                write, n = unsettled.pop(rng.randrange(len(unsettled)))
                store.settle_write(write, families=families(n), clocks=[label], rows=True)
        evicted += client.info("stats")["evicted_keys"]
        for write, n, _version in in_flight:  # rolled back
            store.settle_write(write, families=families(n), clocks=[label], rows=True)
        for write, n in unsettled:
            store.settle_write(write, families=families(n), clocks=[label], rows=True)

    # then: the run evicted a lot and still served from the cache (so the checks above mean something)
    # (With keys evicted between writes, each write of a model also drops every entry showing it: the fallback.)
    assert evicted > 300
    assert stores > 100 and hits > 20
    assert store.healthy
