"""The generation store: validated entries on LocMem or Redis, failing open.

An entry is `header "\n" payload`; the header lists `genkey<TAB>token` pairs read before the value was computed,
and the entry is served only while every one of them still holds that token (see docs/caching.md, "Design").
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import os
import random
import secrets
import threading
import time
import zlib
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from asgiref.sync import sync_to_async
from django.core.cache import caches
from django.core.signals import setting_changed
from django_redis.exceptions import ConnectionInterrupted
from redis.cluster import RedisCluster
from redis.exceptions import NoScriptError, RedisClusterException, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeout

from core.cache import conf, identity, partitions
from core.cache.conf import key_prefix
from core.cache.journal import Journal
from core.cache.journal import default_path as journal_path
from core.cache.keys import (
    MANUAL_CLOCK,
    OPERATION_FAMILY,
    clock_key,
    epoch_key,
    family_from_pattern,
    family_of,
    gen_key,
    generation_glob,
    glob_regex,
    homes_key,
    is_internal,
    is_row_family,
    lock_key,
    prefix_families,
    queryset_family,
    runid_key,
    scoped_glob,
    stamps_key_of,
    stats_key,
    tag_glob,
    tag_of,
    type_family,
    with_prefix,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
# Partitions by thread: the number of the calling context (a thread of a sync server; an async task, which asgiref's
# sync_to_async carries into the threads it runs the store in), given once per context.
_CALLER: contextvars.ContextVar[int] = contextvars.ContextVar("cache_caller")
_CALLERS = itertools.count()

# What a backend raises when it is down or slow; anything else is a bug and is logged with its traceback.
# RedisClusterException is no RedisError: redis-py's cluster client raises it (and its subclasses
# SlotNotCoveredError, CrossSlotTransactionError) when no node answers or no node serves a slot.
BACKEND_ERRORS = (RedisError, RedisClusterException, ConnectionInterrupted, OSError)


def probe_delay(previous: float | None, interval: float) -> float:
    """How long calls skip the backend after a failure (`previous`: the last such wait in this outage, None at its
    first failure): soon at first, so that a stall that has just ended costs little, then doubling up to `interval`
    (CACHE_OUTAGE_RETRY_INTERVAL), so that a dead backend costs one caller a timeout that often. 0: every call."""
    interval = max(interval, 0.0)
    return min(RETRY_FIRST_DELAY if previous is None else previous * 2, interval)


class ReplicationLag(RedisError):
    """An invalidation reached the master but not CACHE_REDIS_MIN_REPLICAS replicas in time: a failover could lose
    it, so it counts as failed (owed), like one that never reached Redis."""


TIMEOUTS = (RedisTimeout, TimeoutError)
# What each failed call counts as: a failed read only costs a miss; a failed invalidation is owed (an epoch bump).
# "server_change": a new connection found a server with another run_id (a restart, a failover: identity.py).
FAULTS = ("read_timeout", "read_error", "write_timeout", "write_error", "server_change")
SCAN_BATCH = 1000
RETRY_FIRST_DELAY = 0.05  # seconds before the first retry of an owed invalidation (doubling up to the interval)
# A row's tag field is parsed whole (its expired entries dropped) when an added entry makes it longer than this many
# bytes, or than a doubling of it (clock.lua, add_tag); expired entries at its head go at every add.
TAG_PRUNE_BYTES = 8192
MISSING = "-"  # never a token (tokens are base36), so a dependency we could not read never validates
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(number: int, width: int) -> str:
    digits = []
    while number:
        number, digit = divmod(number, 36)
        digits.append(_BASE36[digit])
    return "".join(reversed(digits)).rjust(width, "0")


def new_token() -> str:
    """A generation token that never repeats: the clock keeps it unique across restarts, the random bits across
    processes (13 base36 digits hold 64 bits, so every token has the same shape)."""
    return _base36(time.time_ns(), 13) + _base36(secrets.randbits(64), 13)


@dataclass
class Ticket:
    """What a miss read before computing: the entry's generations and the write clocks to guard."""

    key: str
    deps: dict[str, str]  # generation key -> token
    guards: dict[str, str | None] = field(default_factory=dict)  # write clock key -> token (None: absent)
    started: float = field(default_factory=time.time)  # when the generations and clocks were read
    partition: int = 0  # where the entry and everything it read live (the names above are as callers see them)


@dataclass
class Lookup:
    hit: bool
    payload: str | None
    ticket: Ticket | None  # None when the backend did not answer: compute, but do not try to store


DOWN = Lookup(hit=False, payload=None, ticket=None)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def parse_entry(entry: str) -> tuple[dict[str, str], str] | None:
    header, newline, payload = entry.partition("\n")
    fields = header.split("\t")
    if not newline or len(fields) < 2 or len(fields) % 2:
        return None
    return dict(zip(fields[::2], fields[1::2], strict=True)), payload


def render_entry(deps: dict[str, str], payload: str) -> str:
    return "\t".join(f"{name}\t{token}" for name, token in deps.items()) + "\n" + payload


@dataclass
class Moves:
    """What one invalidation moves (GenerationStore._moves)."""

    tokens: dict[str, str]  # fresh tokens: the write clocks first, then the generations
    tags: list[tuple[str, str]]  # the (tag hash, row) fields whose entries go
    fallback: dict[str, str]  # fresh tokens for the clocks' type families, moved only after an eviction (Redis)
    rows: list[str] | None  # a write of known rows: the families it moves, stamped on its clocks; None: whole model


def guard_value(token: str, counter: int | str, now_ms: int) -> str:
    """A write clock as a ticket holds it: its token, its write counter and when it was read (server ms)."""
    return f"{token} {counter} {now_ms}"


def parse_guard(value: str | None) -> tuple[str, int, int] | None:
    parts = (value or "").split(" ")
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return parts[0], int(parts[1]), int(parts[2])


class _Headers:
    """A bounded LRU of entry key -> the generation names its header lists (what a hit must read)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._names: OrderedDict[str, list[str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> list[str] | None:
        with self._lock:
            names = self._names.get(key)
            if names is not None:
                self._names.move_to_end(key)
            return names

    def put(self, key: str, names: list[str]) -> None:
        with self._lock:
            self._names[key] = names
            self._names.move_to_end(key)
            while len(self._names) > self.size:
                self._names.popitem(last=False)

    def __len__(self) -> int:
        return len(self._names)


class GenerationStore:
    """What every backend shares: outage handling and the public API. Subclasses supply the primitives."""

    backend = ""

    def __init__(self, cache: Any) -> None:
        self.cache = cache
        self._healthy = True
        self._down = False  # a call failed: until the next probe, calls are misses that do not touch the backend
        self._owed = False  # an invalidation may not have reached the backend: bump the epoch before anything else
        self._next_probe = 0.0  # monotonic time before which an outage is assumed to go on
        self._probe_delay = 0.0  # the last wait between probes: 50 ms after the first failure, doubling to the interval
        self._state_lock = threading.Lock()
        self._recover_lock = threading.Lock()
        self._write_lock = threading.Lock()  # LocMem: makes guarded stores atomic with respect to bumps
        self._retry_thread: threading.Thread | None = None
        self._held = threading.local()
        self._server_checked = False  # see _check_server: once per process, and again after every outage
        self._check_lock = threading.Lock()
        # Pending marks whose settle failed, to lift on recovery: (write id, clocks, when the mark expires anyway).
        # Only unexpired ones are kept, so this holds at most the writes of one pending TTL.
        self._owed_settles: deque[tuple[str, list[str], float]] = deque()
        self._faults: Counter[str] = Counter()  # failed calls by kind (FAULTS), until stats take them
        self._refusal = threading.local()  # why this thread's last store() stored nothing

    # --- faults ---------------------------------------------------------------------------------------------

    @property
    def healthy(self) -> bool:
        return self._healthy

    def _skip(self, *, invalidates: bool) -> bool:
        """True when a call must not touch the backend: an outage is on and it is not yet time to probe again
        (a hung Redis would otherwise cost every call its full timeout), or what is owed could not be paid."""
        # Reads wait for the next probe; an invalidation always tries at once: a write is rare, and skipping its
        # bump while Redis is already back would let other processes serve what it changed until the retry.
        if (invalidates or time.monotonic() >= self._next_probe) and self.recover():
            return False
        if invalidates:
            self._start_retry()
        return True

    def _call(self, operation: Callable[[], T], default: T, *, invalidates: bool = False) -> T:
        if (self._down or self._owed) and self._skip(invalidates=invalidates):
            return default
        try:
            if not self._server_checked:
                self._checked_server()
            result = operation()
            if self._down:
                self._answered()
            return result
        except BACKEND_ERRORS as first:
            error: BaseException = first
            if invalidates:
                # A pooled connection that a Redis restart reset fails once; a fresh one may not. An invalidation is
                # worth that second try: skipping it would leave other processes serving what it changed.
                try:
                    return operation()
                except BACKEND_ERRORS as again:
                    error = again
            self._failed(error, invalidates=invalidates)
        except Exception:
            log.exception("cache store error; the call is treated as a miss")
        return default

    def _checked_server(self) -> None:
        # One thread checks; the others wait for it. Each thread checking on its own would let a late one bump the
        # epoch after an early one had read its ticket: that fill is refused, and single flight waiters get nothing.
        with self._check_lock:
            if not self._server_checked:
                self._check_server()

    def _check_server(self) -> None:
        """Backends that can restart with old data (Redis from a snapshot) check that here."""
        self._server_checked = True

    def _failed(self, exc: BaseException, *, invalidates: bool) -> None:
        """A failed read is a miss and nothing more. A failed invalidation may not have reached the backend: the
        epoch bump that makes up for it is owed until the backend answers."""
        kind = ("write_" if invalidates else "read_") + ("timeout" if isinstance(exc, TIMEOUTS) else "error")
        with self._state_lock:
            self._faults[kind] += 1
            # A Redis that restarted from a snapshot meanwhile is only recognised by its run_id: check it again.
            self._server_checked = False
            self._next_probe = time.monotonic() + self._next_delay(first=not self._down)
            self._down = True
            self._owed = self._owed or invalidates
            if self._healthy:
                self._healthy = False
                log.warning("cache backend unreachable: %s (serving misses until it answers)", exc)
        if invalidates:
            self._start_retry()

    def _next_delay(self, *, first: bool) -> float:
        self._probe_delay = probe_delay(None if first else self._probe_delay, conf.outage_retry_interval())
        return self._probe_delay

    def _answered(self) -> None:
        with self._state_lock:
            if not self._down or self._owed:
                return
            self._down = False
            self._healthy = True
        log.info("cache backend answers again; only reads failed, so nothing was owed")

    def take_faults(self) -> dict[str, int]:
        """The failed calls counted since the last take, by kind (FAULTS), and forget them."""
        with self._state_lock:
            faults, self._faults = self._faults, Counter()
        if changes := identity.take_changes():
            faults["server_change"] += changes
        return dict(faults)

    def recover(self) -> bool:
        """Bump the epoch if an invalidation of this process was lost; True once the backend answers (or nothing
        was owed: then the next call itself is the probe)."""
        if not self._owed:
            return True
        if not self._recover_lock.acquire(blocking=False):
            return False  # another thread is trying right now; do not queue every request behind it
        try:
            if not self._owed:
                return True
            try:
                self._set_tokens({epoch_key(): new_token()}, ttl=None)
                with self._state_lock:
                    owed, self._owed_settles = self._owed_settles, deque()
                now = time.monotonic()
                for write_id, owed_clocks, _ in (item for item in owed if item[2] > now):
                    self._write(write_id, "-", Moves({name: new_token() for name in owed_clocks}, [], {}, None))
            except BACKEND_ERRORS:
                self._next_probe = time.monotonic() + self._next_delay(first=False)
                return False
            with self._state_lock:
                self._owed = False
                self._down = False
                self._healthy = True
            log.info("cache backend recovered; epoch bumped so entries from before the outage are not served")
            return True
        finally:
            self._recover_lock.release()

    def _start_retry(self) -> None:
        # A lost invalidation must not wait for this process's next request: retry in the background.
        with self._state_lock:
            if self._retry_thread is not None and self._retry_thread.is_alive():
                return
            self._retry_thread = threading.Thread(target=self._retry_loop, name="cache-epoch-retry", daemon=True)
            self._retry_thread.start()

    def _retry_loop(self) -> None:
        # Soon at first, then less often: a stall that has just ended costs other processes stale reads until the
        # owed bump lands, while a backend that stays down is probed no more than every CACHE_OUTAGE_RETRY_INTERVAL.
        interval = max(conf.outage_retry_interval(), 0.01)
        delay = min(RETRY_FIRST_DELAY, interval)
        while self._owed and _store is self:  # a replaced store (settings changed) owes nothing
            time.sleep(delay)
            self.recover()
            delay = min(delay * 2, interval)

    # --- public API -------------------------------------------------------------------------------------------

    @staticmethod
    def _probes(key: str, clocks: Sequence[str]) -> tuple[str, list[str], list[str]]:
        """The entry key, the generations every entry depends on (epoch first), and the write clocks to guard."""
        key = with_prefix(key)
        gens = [epoch_key()] + [gen_key(family) for family in prefix_families(key)]
        return key, gens, [clock_key(label) for label in clocks]

    def lookup(self, key: str, *, clocks: Sequence[str] = ()) -> Lookup:
        key, gens, clock_keys = self._probes(key, clocks)
        return self._call(lambda: self._lookup(key, gens, clock_keys), DOWN)

    def ticket(self, key: str, *, clocks: Sequence[str] = ()) -> Ticket | None:
        """A ticket for writing `key` now whatever it holds (an overwrite): the current generations, created if
        missing, and clocks, without reading the entry. None when the backend is down."""
        key, gens, clock_keys = self._probes(key, clocks)
        return self._call(lambda: self._lookup(key, gens, clock_keys, read_entry=False), DOWN).ticket

    def store(
        self,
        ticket: Ticket | None,
        payload: str,
        ttl: int,
        *,
        families: Iterable[str] = (),
        guarded: bool = False,
        clocks: Iterable[str] | None = None,
    ) -> bool:
        """Store the entry unless anything it depends on moved since the ticket; False (and refusal() says why)
        when nothing was stored. `guarded`: also unless a write clock the ticket read moved or holds a pending
        write; `clocks` narrows that to the models the value shows (labels), since a write to another model cannot
        change it."""
        self._refusal.reason = None
        if ticket is None or ttl <= 0:  # no ticket: the lookup found the backend down
            return self._refuse(ticket, "the cache backend did not answer" if ticket is None else "no TTL")
        if guarded and time.time() - ticket.started > conf.write_pending_ttl():
            # A write that began meanwhile and never settled has let its pending mark expire: the clock alone
            # cannot tell this fill's data from before that write's commit.
            return self._refuse(ticket, "the fill took longer than CACHE_WRITE_PENDING_TTL")
        if (size := len(payload.encode())) > conf.max_entry_bytes():
            return self._refuse(ticket, f"{size} bytes, above CACHE_MAX_ENTRY_BYTES ({conf.max_entry_bytes()})")
        gens, tags = self._split(families)
        extra = [name for name in dict.fromkeys(gen_key(family) for family in gens) if name not in ticket.deps]
        row_tags = [tag_of(family) for family in tags]
        if (count := len(ticket.deps) + len(extra) + len(row_tags)) > conf.max_entry_dependencies():
            limit = conf.max_entry_dependencies()
            return self._refuse(ticket, f"{count} dependencies, above CACHE_MAX_ENTRY_DEPENDENCIES ({limit})")
        guards = ticket.guards if guarded else {}
        if guarded and clocks is not None:
            wanted = {clock_key(label) for label in clocks}
            guards = {name: token for name, token in guards.items() if name in wanted}
        shown = [*gens, *tags]
        if self._call(lambda: self._store(ticket, payload, ttl, extra, guards, row_tags, shown), False):
            return True
        return self._refuse(ticket, "a write raced with the read" if self._healthy else "the cache backend failed")

    def _refuse(self, ticket: Ticket | None, reason: str) -> bool:
        self._refusal.reason = reason
        log.debug("entry %s not stored: %s", ticket.key if ticket else "(no ticket)", reason)
        return False

    def refusal(self) -> str | None:
        """Why this thread's last store() stored nothing (None after a stored entry)."""
        return getattr(self._refusal, "reason", None)

    def bump(self, *, families: Iterable[str] = (), clocks: Iterable[str] = (), rows: bool = False) -> None:
        """Move the families (and the clocks: a write of those models). `rows`: the write touched known rows, and
        the families are all it can change, so only fills that show one of them are held off; otherwise every
        guarded fill of the clocks' models is (a bulk write, a manual invalidation)."""
        # One atomic step on both backends (a script on Redis, the write lock on LocMem). Were it not, clocks first
        # would still be safe: a guarded store in between sees a new clock, or reads row generations about to move.
        families = list(families)
        # A bump that names no model is a manual invalidation: its clock holds off GraphQL fills racing with it.
        clocks = list(clocks) or ([MANUAL_CLOCK] if families else [])
        if clocks or families:
            moves = self._moves(clocks, families, rows=rows)
            self._call(lambda: self._write("", "", moves), None, invalidates=True)

    # A row's family is a tag on Redis (an entry stored there is added to the row's field of its model's tag
    # hash, and a write of the row deletes the entries the field lists), so a hit reads a number of keys that does
    # not grow with the rows it shows. On LocMem, where a hit costs no round trip, a row's family stays a generation
    # the entry lists.
    tags_rows = False

    def _split(self, families: Iterable[str]) -> tuple[list[str], list[str]]:
        """(generation families, tag families) of what an entry lists or a write moves."""
        families = list(dict.fromkeys(families))
        if not self.tags_rows:
            return families, []
        return [f for f in families if not is_row_family(f)], [f for f in families if is_row_family(f)]

    def _moves(self, clocks: Iterable[str], families: Iterable[str], *, rows: bool = False) -> Moves:
        """What an invalidation moves: fresh tokens for the clocks (first) and generations; the tag fields whose
        entries go; and the fallback, fresh tokens for the type families of the clocks' models, which the write
        moves only if Redis has evicted keys since that model's last write (a tag hash may have gone with them)."""
        clocks = list(dict.fromkeys(clocks))
        gens, tags = self._split(families)
        tokens = {name: new_token() for name in [*map(clock_key, clocks), *map(gen_key, gens)]}
        fallback = [type_family(label) for label in clocks if label != MANUAL_CLOCK]
        fallback += [queryset_family(label) for label in clocks if label != MANUAL_CLOCK]
        fallback_tokens = {gen_key(family): new_token() for family in fallback} if tags else {}
        return Moves(tokens, [tag_of(family) for family in tags], fallback_tokens, [*gens, *tags] if rows else None)

    def begin_write(
        self, *, families: Iterable[str] = (), clocks: Iterable[str] = (), rows: bool = False
    ) -> str | None:
        """Before a write's SQL runs: move its clocks and generations and mark it pending on each clock, so that
        until settle_write() (after commit) no guarded fill that shows what it writes (`rows`: one of its families;
        otherwise anything of those models) is stored. Returns the write's id, or None when the backend is down (the
        lost invalidation is then owed as an epoch bump)."""
        moves = self._moves(clocks, families, rows=rows)
        write_id = new_token()
        done = self._call(lambda: self._write(write_id, "+", moves) or True, False, invalidates=True)
        return write_id if done else None

    def settle_write(
        self, write_id: str | None, *, families: Iterable[str] = (), clocks: Iterable[str] = (), rows: bool = False
    ) -> bool:
        """After commit: bump again (what a fill stored between the two bumps read the old data) and lift the
        pending mark, atomically. True when the backend did it; False when it did not answer (then owed)."""
        moves = self._moves(clocks, families, rows=rows)
        action = "-" if write_id else ""
        done = self._call(lambda: self._write(write_id or "", action, moves) or True, False, invalidates=True)
        if not done and write_id:
            # The epoch bump on recovery covers the tokens; the mark would hold off fills until it expires.
            now = time.monotonic()
            owed = (write_id, [clock_key(label) for label in dict.fromkeys(clocks)], now + conf.write_pending_ttl())
            with self._state_lock:
                while self._owed_settles and self._owed_settles[0][2] <= now:
                    self._owed_settles.popleft()  # appended in order of expiry: the expired are at the front
                self._owed_settles.append(owed)
        return done

    def bump_epoch(self) -> bool:
        """Invalidate everything; True when the backend did it (else the bump is owed)."""
        return self._call(
            lambda: self._set_tokens({epoch_key(): new_token()}, ttl=None) or True, False, invalidates=True
        )

    @property
    def owes(self) -> bool:
        """True while an invalidation of this process may not have reached the backend (an epoch bump is owed)."""
        return self._owed

    def delete(self, key: str) -> bool:
        key = with_prefix(key)
        own = {gen_key(prefix_families(key)[-1]): new_token()}
        return self._call(lambda: self._delete_entry(key, own), False, invalidates=True)

    def delete_pattern(self, glob: str, *, dry_run: bool = False) -> int:
        """Delete the entries a glob matches; returns how many. The generations of the families it matches go
        too (a missing generation only means "invalid"), so that nothing reads created outlives the sweep."""
        if dry_run:
            return self._call(lambda: self._sweep(scoped_glob(glob), dry_run=True, internal=False), 0)
        # A family pattern is one bump; any other glob cannot find what whole GraphQL responses contain, so they
        # all go. The manual clock stops fills that raced with this from being stored.
        family = family_from_pattern(glob)
        self.bump(families=[family if family is not None else OPERATION_FAMILY], clocks=[MANUAL_CLOCK])
        removed = self._call(lambda: self._sweep(scoped_glob(glob), dry_run=False, internal=False), 0)
        self._call(lambda: self._sweep(generation_glob(glob), dry_run=False), 0, invalidates=True)
        # The tag hashes stay (one may name an entry stored meanwhile), but forget the entries the sweep deleted.
        self._call(self._tidy_tags, None)
        return removed

    def count(self, glob: str = "*") -> int:
        return self._call(lambda: self._sweep(scoped_glob(glob), dry_run=True, internal=False), 0)

    def families(self) -> list[str]:
        """The first segments of the entries under our prefix (bookkeeping keys left out): what a glob can match."""
        names = self._call(lambda: [self._logical(name) for name in self._keys(scoped_glob("*"))], [])
        names = [name for name in names if not is_internal(name)]
        return sorted({family_of(name) for name in names})

    def clear_all(self, *, dry_run: bool = False) -> int:
        removed = self._call(lambda: self._sweep(scoped_glob("*"), dry_run=dry_run), 0)
        if not dry_run:
            # Last, so that a fill that read the old epoch while we were deleting can never be served.
            self.bump_epoch()
        return removed

    def acquire(self, key: str, ttl_ms: int) -> bool:
        token = new_token()
        # Down: nobody can hold the lock, and waiting would only delay the caller's own computation.
        acquired = self._call(lambda: self._acquire(with_prefix(key), token, ttl_ms), True)
        if acquired:
            self._held_tokens()[key] = token
        return acquired

    def release(self, key: str) -> None:
        token = self._held_tokens().pop(key, None)
        if token is not None:
            self._call(lambda: self._release(with_prefix(key), token), None)

    def _held_tokens(self) -> dict[str, str]:
        # Per thread: a lock is released by the thread that took it, and only while it still holds our token.
        if not hasattr(self._held, "tokens"):
            self._held.tokens = {}
        return self._held.tokens

    def wait_for(self, key: str, timeout: float) -> Lookup:
        """Poll for the entry another caller holds the lock of and computes (found in any copy it may have filled),
        until `timeout`; then a miss with a ticket of this caller's own."""
        deadline = time.monotonic() + timeout
        prefixed, gens, _ = self._probes(key, ())
        while True:
            if (found := self._call(lambda: self._waited(prefixed, gens), None)) is not None:
                return found
            found = self.lookup(key)
            remaining = deadline - time.monotonic()
            if found.hit or found.ticket is None or remaining <= 0:
                return found
            time.sleep(min(0.01, remaining))

    def info(self) -> dict[str, Any]:
        try:
            keys, memory = self._info()
        except BACKEND_ERRORS as exc:
            self._failed(exc, invalidates=False)
            return {"backend": self.backend, "healthy": False, "keys": None, "memory": None, "error": str(exc)}
        return {"backend": self.backend, "healthy": self._healthy, "keys": keys, "memory": memory, "error": None}

    def slowlog(self, count: int = 5) -> dict[str, Any] | None:
        """The backend's slow log: {"length", "entries": newest first, "error"}; None where there is none."""
        return None

    # --- async ------------------------------------------------------------------------------------------------
    # Django 5.2's BaseCache.aget_many awaits aget once per key, and django-redis 7 has no native async methods, so
    # the async cache API would cost a round trip and a thread hop per key. The sync operation in a worker thread
    # has the same semantics (guards included) in one round trip.

    async def alookup(self, key: str, *, clocks: Sequence[str] = ()) -> Lookup:
        return await sync_to_async(self.lookup, thread_sensitive=False)(key, clocks=tuple(clocks))

    async def astore(
        self, ticket: Ticket | None, payload: str, ttl: int, *, families: Iterable[str] = (), guarded: bool = False
    ) -> bool:
        run = sync_to_async(self.store, thread_sensitive=False)
        return await run(ticket, payload, ttl, families=tuple(families), guarded=guarded)

    async def abump(self, *, families: Iterable[str] = (), clocks: Iterable[str] = ()) -> None:
        await sync_to_async(self.bump, thread_sensitive=False)(families=tuple(families), clocks=tuple(clocks))

    # --- helpers for the Python (LocMem) path -------------------------------------------------------------------

    @staticmethod
    def _valid(deps: dict[str, str], current: dict[str, str | None]) -> bool:
        return bool(deps) and all(current.get(name) == token for name, token in deps.items())

    @staticmethod
    def _ticket(key: str, gens: list[str], clocks: list[str], values: dict[str, str | None]) -> Lookup:
        deps = {name: values.get(name) or MISSING for name in gens}
        return Lookup(hit=False, payload=None, ticket=Ticket(key, deps, {name: values.get(name) for name in clocks}))

    # --- primitives -------------------------------------------------------------------------------------------

    def _lookup(self, key: str, gens: list[str], clocks: list[str], *, read_entry: bool = True) -> Lookup:
        raise NotImplementedError

    def _waited(self, key: str, gens: list[str]) -> Lookup | None:
        """A hit in a copy of `key` other callers fill (Redis with partitions); None: look up as usual."""
        return None

    def _store(
        self,
        ticket: Ticket,
        payload: str,
        ttl: int,
        extra: list[str],
        guards: dict[str, str | None],
        tags: list[tuple[str, str]],
        shown: list[str],
    ) -> bool:
        """Store unless the ticket's generations moved or, for each guard (a clock as the ticket read it), a write
        since then concerns the entry: a write of the whole model, a pending one, or one that stamped a family in
        `shown` (the families the entry lists beyond the ticket's)."""
        raise NotImplementedError

    def _set_tokens(self, tokens: dict[str, str], *, ttl: int | None) -> None:
        raise NotImplementedError

    def _write(self, write_id: str, action: str, moves: Moves) -> None:
        """Atomically: move the generations, delete the entries the written rows' tag fields list (and the fields),
        count the write on each clock (a new token for a write of the whole model, stamps of its families for known
        rows), and for action "+" (begin) or "-" (settle), add or lift the write's pending mark on each clock."""
        raise NotImplementedError

    def _delete_entry(self, key: str, own: dict[str, str]) -> bool:
        raise NotImplementedError

    def _keys(self, glob: str) -> Iterator[str]:
        """The names of the keys a glob (over the keyspace as callers see it: scoped_glob) matches, as stored."""
        raise NotImplementedError

    def _logical(self, name: str) -> str:
        """A stored key's name as callers see it (under key_prefix())."""
        return name

    def stored_name(self, name: str, *, entry: str | None = None) -> str:
        """Where `name` (a key as callers see it: an entry, a generation, a clock) is stored: in the partition of
        entry `entry` for this process, or the first partition. For tools and tests that read Redis directly."""
        return with_prefix(name)

    def _tidy_tags(self) -> None:
        """Make the tag hashes forget entries that are gone (Redis; LocMem has none)."""

    def _remove(self, names: list[str], *, dry_run: bool) -> int:
        raise NotImplementedError

    def _acquire(self, key: str, token: str, ttl_ms: int) -> bool:
        """Take the single-flight lock of entry `key`."""
        raise NotImplementedError

    def _release(self, key: str, token: str) -> None:
        raise NotImplementedError

    def _info(self) -> tuple[int | None, int | None]:
        raise NotImplementedError

    def _sweep(self, glob: str, *, dry_run: bool, internal: bool = True) -> int:
        """Count (and unless dry_run delete) keys matching glob in batches; internal keys only if asked."""
        keep = {epoch_key(), stats_key(), runid_key()}
        internal_head = key_prefix() + ":_"
        # A write in flight keeps its mark (on its clock) and its stamps whatever is cleared.
        clock_head, stamps_head = clock_key(""), stamps_key_of(clock_key(""))
        batch: list[str] = []
        total = 0
        for name in self._keys(glob):
            logical = self._logical(name)
            if (
                logical in keep
                or logical.startswith((clock_head, stamps_head))
                or (not internal and logical.startswith(internal_head))
            ):
                continue
            batch.append(name)
            if len(batch) >= SCAN_BATCH:
                total += self._remove(batch, dry_run=dry_run)
                batch = []
        return total + (self._remove(batch, dry_run=dry_run) if batch else 0)

    def flush_stats(self, counts: dict[str, int]) -> bool:
        """Add counts to the shared stats; False when there is nothing shared (LocMem) or the backend is down."""
        return False

    def read_stats(self) -> dict[str, int] | None:
        return None

    def reset_stats(self) -> None:
        return None


class LocMemStore(GenerationStore):
    """Per-process memory: the lock stands in for Lua atomicity. Writers in other processes of this machine reach
    it through the journal (core/cache/journal.py): every bump is appended there and applied here."""

    backend = "locmem"

    def __init__(self, cache: Any) -> None:
        super().__init__(cache)
        # Per write clock, in this object (LocMem's culling could drop them): pending writes {id: (expiry, the
        # families they move, or None for the whole model)}, the write counter, and stamps {family: (counter, when)}.
        self._marks: dict[str, dict[str, tuple[float, frozenset[str] | None]]] = {}
        self._counters: Counter[str] = Counter()
        self._stamps: dict[str, dict[str, tuple[int, float]]] = {}
        self._pruned: dict[str, int] = {}
        path = journal_path()
        self._journal = None
        if path:
            try:
                self._journal = Journal(path)
            except OSError as exc:
                log.warning(
                    "cache journal %s unusable (%s): writes from other processes will not reach this one", path, exc
                )

    def _sync(self) -> None:
        if self._journal is not None:
            with self._write_lock:
                self._sync_locked()

    def _sync_locked(self) -> None:
        if self._journal is None:
            return
        reset, records = self._journal.read_new()
        if reset:
            self.cache.set(epoch_key(), new_token(), None)
        for record in records:
            if "write" in record:
                self._apply_locked(record["write"])
            elif record.get("bump"):
                self._bump_locked(record["tokens"])
            else:
                self.cache.set_many(record.get("tokens", {}), record.get("ttl"))

    def _publish(self, record: dict[str, Any]) -> None:
        if self._journal is not None:
            self._journal.append(record)

    def _get_many(self, names: Iterable[str]) -> dict[str, str | None]:
        return {name: _text(value) for name, value in self.cache.get_many(list(names)).items()}

    def _extend(self, names: Iterable[str], ttl: int) -> None:
        """Make each key live at least ttl seconds more (never shorter): LocMem has no PEXPIRE GT."""
        until = time.time() + ttl
        for name in names:
            expiry = self.cache._expire_info.get(name, 0)  # None: never expires
            if expiry is not None and expiry < until:
                self.cache.touch(name, ttl)

    def _lookup(self, key: str, gens: list[str], clocks: list[str], *, read_entry: bool = True) -> Lookup:
        self._sync()
        values = self._get_many([key, *gens, *clocks] if read_entry else [*gens, *clocks])
        if (entry := values.get(key)) is not None and (parsed := parse_entry(entry)) is not None:
            values.update(self._get_many(name for name in parsed[0] if name not in values))
            if self._valid(parsed[0], values):
                return Lookup(hit=True, payload=parsed[1], ticket=None)
        # Missing clocks are created too: a guard read as "absent" would still match after a bumped clock was
        # evicted, and let a racing fill store. What a read creates lives the fill window unless an entry claims it.
        if absent := [name for name in [*gens, *clocks] if name not in values]:
            token = new_token()
            for name in absent:
                self.cache.add(name, token, None if name == epoch_key() else conf.FILL_WINDOW)
            values.update(self._get_many(absent))
        now_ms = int(time.time() * 1000)
        for name in clocks:
            values[name] = guard_value(values[name] or MISSING, self._counters[name], now_ms)
        return self._ticket(key, gens, clocks, values)

    def _store(
        self,
        ticket: Ticket,
        payload: str,
        ttl: int,
        extra: list[str],
        guards: dict[str, str | None],
        tags: list[tuple[str, str]],
        shown: list[str],
    ) -> bool:
        # No tags here (tags_rows is off): a row's family is one of the generations in `extra`.
        with self._write_lock:
            self._sync_locked()
            current = self._get_many([*ticket.deps, *guards, *extra])
            if not self._valid(ticket.deps, current):
                return False
            families = set(shown)
            if any(self._guard_refuses(clock, value, current.get(clock), families) for clock, value in guards.items()):
                return False
            if absent := {name: new_token() for name in extra if name not in current}:
                self.cache.set_many(absent, ttl)
                current.update(absent)
            self._extend([*ticket.deps, *guards, *extra], ttl)
            deps = {**ticket.deps, **{name: current[name] or MISSING for name in extra}}
            self.cache.set(ticket.key, render_entry(deps, payload), ttl)
            return True

    def _set_tokens(self, tokens: dict[str, str], *, ttl: int | None) -> None:
        with self._write_lock:
            self._sync_locked()
            self.cache.set_many(tokens, ttl)
            self._publish({"tokens": tokens, "ttl": ttl})

    def _guard_refuses(self, clock: str, value: str | None, token: str | None, shown: set[str]) -> bool:
        """As store.lua: the clock's token moved, the ticket is too old, a pending write concerns the entry, or a
        write since the ticket stamped one of the families it shows. Call under the lock."""
        parsed = parse_guard(value)
        if parsed is None or token != parsed[0]:
            return True
        now = time.time()
        if now * 1000 - parsed[2] > conf.write_pending_ttl() * 1000:
            return True
        for until, families in self._marks.get(clock, {}).values():
            if until > now and (families is None or families & shown):
                return True
        if self._counters[clock] > parsed[1]:
            stamps = self._stamps.get(clock, {})
            return any(stamps.get(family, (0, 0.0))[0] > parsed[1] for family in shown)
        return False

    def _write(self, write_id: str, action: str, moves: Moves) -> None:
        record = {
            "id": write_id,
            "action": action,
            "tokens": moves.tokens,
            "rows": moves.rows,
            "until": time.time() + conf.write_pending_ttl(),
        }
        with self._write_lock:
            self._sync_locked()
            self._apply_locked(record)
            self._publish({"write": record})

    def _apply_locked(self, record: dict[str, Any]) -> None:
        """One write, from this process or from the journal: count it on each clock, stamp or re-token, mark or
        unmark, move the generations. Call under the lock."""
        now, rows = time.time(), record["rows"]
        clocks = [name for name in record["tokens"] if name.startswith(clock_key(""))]
        keep = 2 * conf.write_pending_ttl()
        for name in clocks:
            self._counters[name] += 1
            marks = self._marks.setdefault(name, {})
            for write_id in [w for w, (until, _) in marks.items() if until <= now]:
                del marks[write_id]
            if record["action"] == "+":
                marks[record["id"]] = (record["until"], frozenset(rows) if rows is not None else None)
            elif record["action"] == "-":
                marks.pop(record["id"], None)
            if rows is not None:
                stamps = self._stamps.setdefault(name, {})
                stamps.update(dict.fromkeys(rows, (self._counters[name], now)))
                if len(stamps) > 64 and len(stamps) > 2 * self._pruned.get(name, 0):
                    self._stamps[name] = {f: s for f, s in stamps.items() if s[1] >= now - keep}
                    self._pruned[name] = len(self._stamps[name])
        self._bump_locked(record["tokens"], whole=rows is None)

    def _bump_locked(self, tokens: dict[str, str], *, whole: bool = True) -> None:
        """Write clocks live CACHE_GENERATION_TTL, with a new token for a write of the whole model (or a missing
        clock); a generation gets its new token only if it exists, keeping its lifetime (as write.lua): a missing
        generation already means "invalid", and one a write created would outlive every entry."""
        now = time.time()
        for name, token in tokens.items():
            if name.startswith(clock_key("")):
                if whole or not self.cache.touch(name, conf.generation_ttl()):
                    self.cache.set(name, token, conf.generation_ttl())
            elif self.cache.get(name) is not None:
                expiry = self.cache._expire_info.get(name)  # None: never expires
                self.cache.set(name, token, None if expiry is None else max(expiry - now, 0.001))

    def _delete_entry(self, key: str, own: dict[str, str]) -> bool:
        with self._write_lock:
            self._sync_locked()
            self._bump_locked(own)
            self._publish({"tokens": own, "bump": 1})
        return bool(self.cache.delete(key))

    def _keys(self, glob: str) -> Iterator[str]:
        # LocMem keeps its data in a private dict; a snapshot under its lock is the only way to enumerate it.
        matcher, now = glob_regex(glob), time.time()
        with self.cache._lock:
            names = [name for name in self.cache._cache if (self.cache._expire_info.get(name) or now + 1) > now]
        yield from (name for name in names if matcher.match(name))

    def _remove(self, names: list[str], *, dry_run: bool) -> int:
        if not dry_run:
            self.cache.delete_many(names)
        return len(names)

    def _acquire(self, key: str, token: str, ttl_ms: int) -> bool:
        return bool(self.cache.add(lock_key(key), token, max(ttl_ms, 1) / 1000))

    def _release(self, key: str, token: str) -> None:
        with self._write_lock:
            if self.cache.get(lock_key(key)) == token:
                self.cache.delete(lock_key(key))

    def _info(self) -> tuple[int | None, int | None]:
        return sum(1 for _ in self._keys(scoped_glob("*"))), None


class _Scripts(NamedTuple):
    lookup: Any
    store: Any
    write: Any
    release: Any
    tidy: Any


class RedisStore(GenerationStore):
    """django-redis: the raw redis-py client for scripts and pipelines, one round trip per operation.

    With several partitions (docs/caching.md, "Design: partitions") an entry and everything its hit, its ticket and
    its store read live in one partition; every invalidation goes to all of them, one script per partition, pipelined
    (a cluster pipeline sends each master its share in one round trip). Names come in as callers see them
    (`runam:_g:user`) and are put under the partition's head here (`_at`)."""

    backend = "redis"
    tags_rows = True
    _SCRIPTS = Path(__file__).with_name("scripts")

    def __init__(self, cache: Any) -> None:
        super().__init__(cache)
        self._connection: tuple[Any, _Scripts] | None = None
        self._connect_lock = threading.Lock()
        self._headers = _Headers(conf.headers_remembered())
        self._heads = partitions.current()
        self._cut = len(key_prefix())
        # One partition under the prefix itself (a single Redis): every name is stored as given, at no cost.
        self._plain = self._heads == (key_prefix(),)
        self._mode = conf.partition_by()
        self._order: tuple[int, ...] = tuple(range(len(self._heads)))  # the partitions, masters taking turns
        self._copies = 1  # copies of a key (by process or thread): one per master
        self._home = 0

    @property
    def client(self) -> Any:
        """django-redis's raw client (redis-py's RedisCluster on a cluster)."""
        return self._connected()[0]

    @property
    def scripts(self) -> _Scripts:
        return self._connected()[1]

    def _connected(self) -> tuple[Any, _Scripts]:
        # Taken at the first call, not when the store is built: a cluster client connects as it is built, so a
        # cluster that is down when the process starts raises inside a call, which fails open (a miss; an owed
        # invalidation), instead of out of get_store(). Nothing is kept until it succeeds: the next call tries again.
        if self._connection is None:
            with self._connect_lock:
                if self._connection is None:
                    client = self.cache.client.get_client(write=True)
                    scripts = self._register(client)
                    if len(self._heads) > 1 and self._mode != "key":
                        self._order, self._copies, self._home = self._placement(client)
                    self._connection = (client, scripts)
        return self._connection

    def _placement(self, client: Any) -> tuple[tuple[int, ...], int, int]:
        """The partitions in an order where consecutive ones are on different masters (each master's partitions in
        turn), how many masters there are (so many copies of a key), and this process's home: the next number of a
        counter every process increments once, so that the processes of a deployment take the masters in turn (a
        random one if the counter does not answer: balance only, never freshness, depends on it)."""
        by_node: dict[str, list[int]] = {}
        for index, head in enumerate(self._heads):
            node = client.get_node_from_key(head).name if isinstance(client, RedisCluster) else ""
            by_node.setdefault(node, []).append(index)
        columns = list(by_node.values())
        order = [column[row] for row in range(max(map(len, columns))) for column in columns if row < len(column)]
        try:
            home = int(client.incr(self._at(homes_key(), 0)))
        except BACKEND_ERRORS:
            home = random.randrange(len(order))
        # One copy per master. On one Redis (several partitions there only exercise the fan-out, in tests) one per
        # partition, so that processes and threads still fill copies of their own.
        copies = len(columns) if isinstance(client, RedisCluster) else len(order)
        return tuple(order), copies, home

    def _copies_of(self, key: str) -> list[int]:
        """The partitions that may hold entry `key` (a name as callers see it): by key, the one a hash of the key
        picks; otherwise one per master, consecutive in the order from there (so each on another master)."""
        if len(self._heads) == 1:
            return [0]
        spot = zlib.crc32(key.encode())
        if self._mode == "key":
            return [spot % len(self._heads)]
        self._connected()  # the order and the copies come with the connection
        return [self._order[(spot + copy) % len(self._order)] for copy in range(self._copies)]

    def _partition(self, key: str) -> int:
        """The copy of entry `key` this caller reads and fills: the process's home picks it ("process"), or the home
        plus a number given to each context ("thread": each thread of a sync server, which takes requests in turn, or
        each task of an async one), so the reads of one host spread over every master."""
        if len(self._heads) == 1:
            return 0
        copies = self._copies_of(key)
        if len(copies) == 1:
            return copies[0]
        offset = self._home
        if self._mode == "thread":
            if (number := _CALLER.get(None)) is None:
                number = next(_CALLERS)
                _CALLER.set(number)
            offset += number
        return copies[offset % len(copies)]

    def _lock_name(self, key: str) -> str:
        """A key's single-flight lock, in its first copy whichever copy the caller fills: one lock per key."""
        return self._at(lock_key(key), self._copies_of(key)[0])

    def _waited(self, key: str, gens: list[str]) -> Lookup | None:
        """A hit in another copy of `key` than this caller's (the lock holder filled its own), or None."""
        if len(self._heads) == 1:
            return None  # one copy: the caller's own lookup reads it
        own = self._partition(key)
        for partition in (copy for copy in self._copies_of(key) if copy != own):
            payload = self._hit(self._at(key, partition), [self._at(name, partition) for name in gens])
            if payload is not None:
                return Lookup(hit=True, payload=payload, ticket=None)
        return None

    def _at(self, name: str, partition: int) -> str:
        """Where a name (under key_prefix()) lives in a partition."""
        return name if self._plain else self._heads[partition] + name[self._cut :]

    def stored_name(self, name: str, *, entry: str | None = None) -> str:
        return self._at(with_prefix(name), self._partition(with_prefix(entry)) if entry is not None else 0)

    def _logical(self, name: str) -> str:
        if self._plain:
            return name
        for head in self._heads:
            if name.startswith(head + ":"):
                return key_prefix() + name[len(head) :]
        return name

    def _register(self, client: Any) -> _Scripts:
        # register_script keeps the SHA and sends EVALSHA; the source goes over the wire only after NOSCRIPT.
        # A script with flags (the shebang) is refused before it starts when Redis is out of memory, never half-way
        # through; an invalidation may run even then (allow-oom): it must not be lost for want of memory.
        clock = (self._SCRIPTS / "clock.lua").read_text()  # helpers the scripts that touch write clocks share
        return _Scripts(
            lookup=client.register_script("#!lua\n" + clock + (self._SCRIPTS / "lookup.lua").read_text()),
            store=client.register_script("#!lua\n" + clock + (self._SCRIPTS / "store.lua").read_text()),
            write=client.register_script("#!lua flags=allow-oom\n" + clock + (self._SCRIPTS / "write.lua").read_text()),
            release=client.register_script((self._SCRIPTS / "release.lua").read_text()),
            tidy=client.register_script("#!lua\n" + clock + (self._SCRIPTS / "tidy.lua").read_text()),
        )

    def _everywhere(self, script: Any, calls: list[tuple[list[str], list[Any]]]) -> list[Any]:
        """Run a script once per (keys, args), pipelined: on a cluster each master gets its share in one round trip.
        Raises if any call failed (after all were sent): the caller counts the whole as not done."""
        if len(calls) == 1:
            keys, args = calls[0]
            return [script(keys=keys, args=args)]
        for attempt in (1, 2):
            # EVALSHA as a plain command: redis-py refuses `evalsha` on a cluster pipeline (it could not load a
            # missing script there), and a plain pipeline would ask SCRIPT EXISTS first, a round trip per write.
            # Each EVALSHA goes to the master of its keys' slot like any other keyed command.
            pipe = self.client.pipeline(transaction=False)
            for keys, args in calls:
                pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
            try:
                return pipe.execute()
            except NoScriptError:
                # A server that never ran this script (new, restarted, or a replica promoted since) refused it.
                # SCRIPT LOAD goes to every master; then once more.
                if attempt == 2:
                    raise
                self.client.script_load(script.script)
        raise AssertionError("unreachable")

    def _masters(self) -> dict[str, Any]:
        """Where a command about the server (INFO, SLOWLOG) must go: every master (a RedisCluster would send it to one
        arbitrary default node); a single Redis needs no target."""
        if isinstance(self.client, RedisCluster):
            return {"target_nodes": RedisCluster.PRIMARIES}
        return {}

    def _per_master(self, reply: Any) -> list[Any]:
        """A reply to a command sent to _masters(), one item per master."""
        return list(reply.values()) if self._masters() else [reply]

    def _check_server(self) -> None:
        """A Redis that restarted from a snapshot brings back entries whose invalidation may have been lost by a
        process that has since exited (nobody owes the epoch bump any more). Its run_id changes on every start:
        when it differs from the one recorded by the last process that checked, bump the epoch. Per partition: the
        run_id is that of the master serving the partition, and the record and the epoch are the partition's. A
        replica that a failover promoted has its own run_id, so the epochs of the partitions it took over move then
        (the old master may have acknowledged bumps it never passed on); the other partitions keep their entries."""
        run_ids = self._run_ids()
        seen = [_text(value) for value in self._mget([self._at(runid_key(), p) for p in range(len(self._heads))])]
        for partition, (recorded, run_id) in enumerate(zip(seen, run_ids, strict=True)):
            if recorded != run_id:
                pipe = self.client.pipeline(transaction=True)
                pipe.set(self._at(epoch_key(), partition), new_token())
                pipe.set(self._at(runid_key(), partition), run_id)
                pipe.execute()
                if recorded is not None:
                    log.warning("redis restarted (run_id changed): epoch bumped, entries from before are not served")
        self._server_checked = True

    def _run_ids(self) -> list[str]:
        """The run_id of the master serving each partition."""
        if not isinstance(self.client, RedisCluster):
            return [self.client.info("server").get("run_id", "")] * len(self._heads)
        by_node = self.client.info("server", target_nodes=RedisCluster.PRIMARIES)
        return [by_node[self.client.get_node_from_key(head).name].get("run_id", "") for head in self._heads]

    def _mget(self, names: list[str]) -> list[Any]:
        """MGET of names in any slots (a cluster splits it per slot)."""
        return self.client.mget_nonatomic(names) if isinstance(self.client, RedisCluster) else self.client.mget(names)

    def _lookup(self, key: str, gens: list[str], clocks: list[str], *, read_entry: bool = True) -> Lookup:
        partition = self._partition(key)
        if read_entry:
            payload = self._hit(self._at(key, partition), [self._at(name, partition) for name in gens])
            if payload is not None:
                return Lookup(hit=True, payload=payload, ticket=None)
        pending_ms = int(conf.write_pending_ttl() * 1000)
        args = [len(gens), new_token(), conf.FILL_WINDOW * 1000, pending_ms]
        data = self.scripts.lookup(keys=[self._at(name, partition) for name in (*gens, *clocks)], args=args)
        values = dict(zip([*gens, *clocks], (_text(value) for value in data), strict=True))
        found = self._ticket(key, gens, clocks, values)
        if found.ticket is not None:
            found.ticket.partition = partition
        return found

    def _hit(self, key: str, gens: list[str]) -> str | None:
        """The entry's payload if it validates, in one round trip of plain commands: a GET of the entry and an MGET
        of the generations its header lists, which this process remembers from the entry's last read (the first
        read of a key, or a header that changed, costs a second MGET). No script: Lua copies the payload twice
        and costs about ten times a GET of the same bytes. The two reads need not be atomic: tokens never repeat,
        so a generation that still holds the entry's token at the MGET held it ever since the entry was stored.
        Names as stored (one partition's)."""
        known = self._headers.get(key) or gens
        pipe = self.client.pipeline(transaction=False)
        pipe.get(key)
        if isinstance(self.client, RedisCluster):
            for name in known:  # a cluster pipeline refuses MGET; its GETs (one slot) still go in one round trip
                pipe.get(name)
            raw, *tokens = pipe.execute()
        elif replicas := self._replicas():
            pipe.mget(known)
            pipe.execute_command("ROLE")
            raw, tokens, role = pipe.execute()
            self._check_role(role, replicas)
        else:
            pipe.mget(known)
            raw, tokens = pipe.execute()
        if raw is None or (parsed := parse_entry(_text(raw) or "")) is None:
            return None
        deps, payload = parsed
        current = dict(zip(known, (_text(token) for token in tokens), strict=True))
        if unread := [name for name in deps if name not in current]:
            current.update(zip(unread, (_text(token) for token in self._mget(unread)), strict=True))
        self._headers.put(key, list(deps))
        return payload if self._valid(deps, current) else None

    def _check_role(self, role: list[Any], replicas: int) -> None:
        """With CACHE_REDIS_MIN_REPLICAS, a hit is served only by a master that still has that many replicas. A
        master that a failover replaced but that is still up (a forced Sentinel failover, before the sentinels demote
        it) has lost its replica to the promotion: it no longer receives the invalidations other processes send to
        the new master. Its answer is not served; the pool's connections are dropped, so the next call asks the
        sentinels where the master is (and checks the new one's identity)."""
        kind = _text(role[0]) if role else None
        if kind == "master" and len(role) > 2 and len(role[2]) >= replicas:
            return
        self.client.connection_pool.disconnect()
        raise ReplicationLag(f"the server is a {kind} with {len(role[2]) if kind == 'master' else 0} replicas")

    def _store(
        self,
        ticket: Ticket,
        payload: str,
        ttl: int,
        extra: list[str],
        guards: dict[str, str | None],
        tags: list[tuple[str, str]],
        shown: list[str],
    ) -> bool:
        keys = [ticket.key, *ticket.deps, *guards, *map(stamps_key_of, guards), *extra, *(tag for tag, _ in tags)]
        expected = [*ticket.deps.values(), *(token or "" for token in guards.values())]
        pending_ms = int(conf.write_pending_ttl() * 1000)
        families = shown if guards else []
        args = [len(ticket.deps), len(guards), payload, ttl * 1000, new_token(), len(tags), TAG_PRUNE_BYTES]
        args += [pending_ms, len(families)]
        rows = [row for _, row in tags]
        keys = [self._at(name, ticket.partition) for name in keys]
        return bool(self.scripts.store(keys=keys, args=[*args, *expected, *rows, *families]))

    def _set_tokens(self, tokens: dict[str, str], *, ttl: int | None) -> None:
        # The epoch (recovery, clear_all), in every partition. One partition: one MULTI/EXEC round trip, or one SET for
        # one token. Plain commands also let a cluster client re-read the slot map after a failover; its MULTI/EXEC
        # never does (redis-py 8.1), and recovery's bump is the only call a process that owes one makes: it would
        # stay down for good. Several partitions: a pipeline without MULTI, one round trip per master; a SET that
        # failed raises after the others were sent, and the bump counts as not done (still owed).
        px = ttl * 1000 if ttl else None
        if len(tokens) == 1 and len(self._heads) == 1 and not self._replicas():
            [(name, token)] = tokens.items()
            self.client.set(self._at(name, 0), token, px=px)
            return
        pipe = self.client.pipeline(transaction=len(self._heads) == 1)
        for partition in range(len(self._heads)):
            for name, token in tokens.items():
                pipe.set(self._at(name, partition), token, px=px)
        self._execute_replicated(pipe)

    def _replicas(self) -> int:
        """Replicas an invalidation must reach (CACHE_REDIS_MIN_REPLICAS; not on a cluster, whose pipelines cannot
        send WAIT on the connection of the write: docs/scale-out.md)."""
        return 0 if isinstance(self.client, RedisCluster) else conf.min_replicas()

    def _execute_replicated(self, pipe: Any) -> list[Any]:
        """Execute an invalidation's pipeline; with replicas, followed by WAIT on the same connection, and raise
        ReplicationLag unless enough replicas acknowledged it (the caller then owes it, as for any failure)."""
        if not (replicas := self._replicas()):
            return pipe.execute()
        pipe.execute_command("WAIT", replicas, max(int(conf.replica_wait_timeout() * 1000), 1))
        *results, acknowledged = pipe.execute()
        if int(acknowledged) < replicas:
            raise ReplicationLag(f"an invalidation reached {acknowledged} of {replicas} replicas")
        return results

    def _write(self, write_id: str, action: str, moves: Moves) -> None:
        clocks = [name for name in moves.tokens if name.startswith(clock_key(""))]  # _moves() puts clocks first
        gens = list(moves.tokens)[len(clocks) :]
        rows = moves.rows or []
        pending_ms = int(conf.write_pending_ttl() * 1000)
        args = [write_id, action, pending_ms, conf.generation_ttl() * 1000, len(clocks), len(gens), len(moves.tags)]
        args += ["0" if moves.rows is not None else "1", len(rows), *moves.tokens.values(), *moves.fallback.values()]
        args += [*(row for _, row in moves.tags), *rows]
        keys = [*clocks, *map(stamps_key_of, clocks), *gens, *(tag for tag, _ in moves.tags), *moves.fallback]
        # Every partition, each in one script: an entry anywhere may list what this write moves.
        calls = [([self._at(name, p) for name in keys], args) for p in range(len(self._heads))]
        if not self._replicas():
            self._everywhere(self.scripts.write, calls)
            return
        pipe = self.client.pipeline(transaction=False)
        for partition_keys, partition_args in calls:
            self.scripts.write(keys=partition_keys, args=partition_args, client=pipe)
        self._execute_replicated(pipe)

    def _delete_entry(self, key: str, own: dict[str, str]) -> bool:
        # Every partition: entries of other partitions list the key's family too, and with a home per process
        # several partitions hold a copy of the key.
        pipe = self.client.pipeline(transaction=False)
        for partition in range(len(self._heads)):
            for name, token in own.items():
                pipe.set(self._at(name, partition), token, xx=True, keepttl=True)  # as write.lua: only existing
            pipe.delete(self._at(key, partition))
        replies = self._execute_replicated(pipe)
        return any(replies[len(own) :: len(own) + 1])

    def _keys(self, glob: str) -> Iterator[str]:
        if self._plain:
            for name in self.client.scan_iter(match=glob, count=SCAN_BATCH):
                yield _text(name) or ""
            return
        # One SCAN (of every master) for all partitions: their heads as a glob, then each name checked exactly.
        scope = scoped_glob("")
        rest = glob[len(scope) :] if glob.startswith(scope) else glob
        matcher = glob_regex(rest)
        open_tag, close_tag = ("{", "}") if self._heads[0].startswith("{") else ("", "")
        heads = "\\" + open_tag + scope[:-1] + ".*\\" + close_tag if open_tag else scope[:-1] + ".*"
        for raw in self.client.scan_iter(match=f"{heads}:{rest}", count=SCAN_BATCH):
            name = _text(raw) or ""
            for head in self._heads:
                if name.startswith(head + ":") and matcher.match(name[len(head) + 1 :]):
                    yield name
                    break
        # And the keys under the prefix as callers name it, which no partition holds: the login counters
        # (core/throttle.py) and anything written there through the raw cache API.
        for raw in self.client.scan_iter(match=glob, count=SCAN_BATCH):
            yield _text(raw) or ""

    def _tidy_tags(self) -> None:
        for tag in list(self._keys(tag_glob())):
            rows = [_text(row) for row, _ in self.client.hscan_iter(tag, count=SCAN_BATCH)]
            for start in range(0, len(rows), SCAN_BATCH):
                self.scripts.tidy(keys=[tag], args=rows[start : start + SCAN_BATCH])

    def _remove(self, names: list[str], *, dry_run: bool) -> int:
        # UNLINK frees memory off the main thread; its count skips keys that expired since the scan. A cluster client
        # sends each slot its own UNLINK.
        return len(names) if dry_run else int(self.client.unlink(*names))

    def _acquire(self, key: str, token: str, ttl_ms: int) -> bool:
        return bool(self.client.set(self._lock_name(key), token, nx=True, px=max(ttl_ms, 1)))

    def _release(self, key: str, token: str) -> None:
        self.scripts.release(keys=[self._lock_name(key)], args=[token])

    def _info(self) -> tuple[int | None, int | None]:
        replies = self._per_master(self.client.info("memory", **self._masters()))
        memory = sum(int(reply.get("used_memory", 0)) for reply in replies)
        return sum(1 for _ in self._keys(scoped_glob("*"))), memory

    def slowlog(self, count: int = 5) -> dict[str, Any] | None:
        def read() -> dict[str, Any]:
            # Two calls, each to every master on a cluster (a cluster pipeline refuses SLOWLOG); the dashboard's only.
            masters = self._masters()
            try:
                lengths = self._per_master(self.client.slowlog_len(**masters))
                per_master = self._per_master(self.client.slowlog_get(count, **masters))
            except ResponseError as exc:  # a managed Redis may refuse SLOWLOG: that is no outage
                return {"length": None, "entries": [], "error": str(exc)}
            length = sum(int(n) for n in lengths)
            entries = sorted((e for got in per_master for e in got), key=lambda e: -e["start_time"])[:count]
            rows = [
                {
                    "id": entry["id"],
                    "start_time": entry["start_time"],
                    "duration_us": entry["duration"],
                    "command": (_text(entry["command"]) or "")[:200],
                }
                for entry in entries
            ]
            return {"length": int(length), "entries": rows, "error": None}

        return self._call(read, None)

    def flush_stats(self, counts: dict[str, int]) -> bool:
        def send() -> bool:
            pipe = self.client.pipeline(transaction=False)
            for name, amount in counts.items():
                pipe.hincrby(self._at(stats_key(), 0), name, amount)
            pipe.execute()
            return True

        return self._call(send, False)

    def read_stats(self) -> dict[str, int] | None:
        raw = self._call(lambda: self.client.hgetall(self._at(stats_key(), 0)), None)
        return None if raw is None else {_text(name) or "": int(value) for name, value in raw.items()}

    def reset_stats(self) -> None:
        self._call(lambda: self.client.delete(self._at(stats_key(), 0)), None)


_store: GenerationStore | None = None
_store_lock = threading.Lock()
_store_pid = os.getpid()


def get_store() -> GenerationStore:
    """The store for settings.CACHES["default"], built once per process and per settings change."""
    global _store, _store_pid
    store = _store
    if store is not None and _store_pid == os.getpid():
        return store
    with _store_lock:
        if _store is None or _store_pid != os.getpid():
            cache = caches["default"]
            _store = RedisStore(cache) if conf.backend_name() == "redis" else LocMemStore(cache)
            _store_pid = os.getpid()
        return _store


def current_store() -> GenerationStore | None:
    """This process's store if one was built (None: nothing was cached or invalidated, so nothing can be owed)."""
    store = _store
    return store if store is not None and _store_pid == os.getpid() else None


def reset_store() -> None:
    """Forget the store (and its outage state, and the server changes not yet counted); the next get_store()
    builds a fresh one."""
    global _store
    with _store_lock:
        _store = None
    identity.take_changes()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "CACHES" or setting.startswith("CACHE_"):
        reset_store()


setting_changed.connect(_on_setting_changed, dispatch_uid="core.cache.store.reset")
