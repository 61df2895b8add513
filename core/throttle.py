"""Attempt limits: fixed-window counters on the project's cache, and the client address they are keyed by.

Every attempt is counted (an atomic increment) before the work it guards is done, so concurrent attempts cannot
race past a limit: of any number sent at once, at most `attempts` per window get through. When the shared cache is
down, each process counts in its own memory instead: limits then hold per process rather than not at all (see
docs/security.md, "Login throttling").
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.http import HttpRequest

from core.cache.keys import with_prefix
from core.cache.store import BACKEND_ERRORS
from core.errors import THROTTLED, DomainError

log = logging.getLogger(__name__)

# Counters used while the shared cache is unreachable: per process, bounded, and never read once it answers again.
_fallback = LocMemCache("runam-throttle-fallback", {"OPTIONS": {"MAX_ENTRIES": 10_000}})
_outage = threading.Event()  # set while the shared cache fails, so that an outage is logged once


def now() -> float:
    """The clock windows are cut from (a seam, so that tests can move to the next window without waiting)."""
    return time.time()


@dataclass(frozen=True)
class Limit:
    """At most `attempts` attempts per `window` seconds for one value of one scope (0 attempts: no limit)."""

    scope: str  # what is counted, e.g. "login:user"; part of the key
    value: str  # whose attempts, e.g. a username; hashed into the key
    attempts: int
    window: int


class Throttled(DomainError):
    """Refused before any work was done; `retry_after` is the number of seconds until the window ends."""

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(THROTTLED, message)
        self.retry_after = retry_after


@dataclass
class Hit:
    """One counted attempt: `retry_after` is None when every limit allows it."""

    retry_after: int | None
    _counted: list[tuple[Any, str]] = field(default_factory=list)  # (cache, key) incremented

    def refund(self) -> None:
        """Uncount this attempt (it turned out not to be one the limit is about, e.g. a correct password)."""
        for cache, key in self._counted:
            try:
                cache.decr(key)
            except ValueError:
                pass  # the window ended meanwhile and its counter expired: nothing left to give back
            except BACKEND_ERRORS:
                pass  # a refund is a courtesy; the count expires with its window anyway


def throttle_hit(limits: Sequence[Limit]) -> Hit:
    """Count one attempt against every limit, then say whether any of them is exceeded.

    Refused attempts count too: hammering a locked bucket keeps it locked to the end of its window, no longer.
    """
    moment = now()
    hit = Hit(retry_after=None)
    for limit in limits:
        if limit.attempts <= 0 or limit.window <= 0:
            continue
        window = int(moment // limit.window)
        key = with_prefix(f"_throttle:{limit.scope}:{limit.window}:{_digest(limit.value)}:{window}")
        cache, count = _count(key, limit.window)
        hit._counted.append((cache, key))
        if count > limit.attempts:
            left = max(1, math.ceil((window + 1) * limit.window - moment))
            hit.retry_after = max(hit.retry_after or 0, left)
    return hit


def client_address(request: HttpRequest) -> str:
    """Whom to count a request against: its peer address, or behind TRUSTED_PROXY_COUNT proxies the address the
    outermost of them saw (the X-Forwarded-For entry that many places from the right; entries further left are
    the client's own to invent). IPv6 clients count by /64, the block one subscriber usually holds."""
    address = request.META.get("REMOTE_ADDR") or ""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= proxies:
            address = hops[-proxies]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:100] or "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _digest(value: str) -> str:
    # Bounded keys, and no value can add a segment or a glob character to one.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _count(key: str, window: int) -> tuple[Any, int]:
    """(the cache that counted, the count after this attempt): the shared cache, or this process's own while the
    shared one is down."""
    shared = caches["default"]
    try:
        count = _increment(shared, key, window)
    except BACKEND_ERRORS as error:
        if not _outage.is_set():
            _outage.set()
            log.warning("throttle: cache unreachable (%s); counting attempts per process until it answers", error)
        return _fallback, _increment(_fallback, key, window)
    if _outage.is_set():
        _outage.clear()
        _fallback.clear()  # never read again: the shared counters are the ones that hold across processes
        log.info("throttle: cache answers again; counting attempts there")
    return shared, count


def _increment(cache: Any, key: str, window: int) -> int:
    # One round trip while the window's counter exists; the first attempt of a window creates it with its TTL.
    try:
        return cache.incr(key)
    except ValueError:
        if cache.add(key, 1, timeout=window):
            return 1
        return cache.incr(key)  # another request created it in between
