"""The LocMem journal: two stores with separate memories stand for two processes on one machine."""

import os
import uuid

import pytest
from django.core.cache.backends.locmem import LocMemCache

from core.cache.keys import gen_key, make_key, prefix_families, strip_prefix
from core.cache.store import LocMemStore

KEY = make_key("banks_list:{{country}}:x", {"country": "NG"})


@pytest.fixture
def journal_path(settings, tmp_path):
    settings.CACHE_LOCMEM_JOURNAL = str(tmp_path / "cache.journal")
    return settings.CACHE_LOCMEM_JOURNAL


def process(name: str) -> LocMemStore:
    """A store over a memory of its own, as another process would have (LocMem shares memory by name)."""
    memory = LocMemCache(f"{name}-{uuid.uuid4()}", {"KEY_FUNCTION": "core.cache.keys.backend_key"})
    return LocMemStore(memory)


def cached(store: LocMemStore, payload: str = "banks") -> None:
    found = store.lookup(KEY, clocks=["accounts.bank"])
    assert store.store(found.ticket, payload, 60, guarded=True)
    assert store.lookup(KEY).hit


def test_a_bump_in_one_process_invalidates_the_others_memory(journal_path):
    # given
    server, command = process("server"), process("command")
    cached(server)
    # when
    command.bump(families=["banks_list"], clocks=["accounts.bank"])
    # then
    assert not server.lookup(KEY).hit


def test_a_delete_in_one_process_reaches_the_others_entries_and_leaves_no_key_there(journal_path):
    # given: the server holds an entry; another entry's family it has never read
    server, command = process("server"), process("command")
    cached(server)
    other = make_key("banks_list:{{country}}:x", {"country": "GH"})
    # when: a command deletes both
    command.delete(KEY)
    command.delete(other)
    # then: the server no longer serves its entry, and holds no generation of the family it never read (a
    # generation a delete created would outlive every entry: a missing one already means "invalid")
    assert not server.lookup(KEY).hit
    assert server.cache.get(gen_key(prefix_families(other)[-1])) is None


def test_a_write_pending_in_one_process_holds_off_fills_in_the_others(journal_path):
    # given
    server, command = process("server"), process("command")
    write = command.begin_write(families=["banks_list"], clocks=["accounts.bank"])
    during = server.lookup(KEY, clocks=["accounts.bank"])
    # when / then
    assert not server.store(during.ticket, "maybe old", 60, guarded=True)
    command.settle_write(write, families=["banks_list"], clocks=["accounts.bank"])
    cached(server, "fresh")


def test_a_new_process_starts_at_the_end_of_the_journal(journal_path):
    # given: a write that began long ago and never settled (its process died)
    process("dead").begin_write(clocks=["accounts.bank"])
    # when: a process starting now
    fresh = process("fresh")
    # then: its empty memory has nothing stale to protect, so the old mark does not block it
    cached(fresh)


def test_a_journal_replaced_under_a_process_invalidates_everything_it_holds(journal_path):
    # given
    server, other = process("server"), process("other")
    cached(server)
    other.bump(families=["roles"])  # some line the server has not read yet
    # when: the file is replaced (rotation), so lines may have been missed
    os.replace(journal_path, journal_path + ".old")
    other.bump(families=["roles"])
    # then
    assert not server.lookup(KEY).hit


def test_rotation_happens_past_the_size_limit(journal_path, settings):
    # given
    settings.CACHE_LOCMEM_JOURNAL_MAX_BYTES = 200
    writer = process("writer")
    # when
    for _ in range(10):
        writer.bump(families=[strip_prefix(KEY)])
    # then
    assert os.path.exists(journal_path + ".old")
    assert os.path.getsize(journal_path) < 400


def test_an_empty_setting_turns_the_journal_off(settings, tmp_path):
    # given
    settings.CACHE_LOCMEM_JOURNAL = ""
    server, command = process("server"), process("command")
    cached(server)
    # when
    command.bump(families=["banks_list"])
    # then: nothing reaches the server
    assert server.lookup(KEY).hit
