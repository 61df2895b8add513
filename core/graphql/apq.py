"""Automatic persisted queries, as Apollo Client's PersistedQueryLink and Apollo Server speak them.

`extensions.persistedQuery = {"version": 1, "sha256Hash": "<64 hex>"}`. A hash alone names a document sent
before (or registered for the allow-list); a hash with its text registers the text. A hash names exactly one
text, so each process also keeps hash -> text in a small LRU: a known hash costs no round trip.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections import OrderedDict
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.signals import setting_changed
from django.dispatch import receiver

from core.graphql.request import BAD_REQUEST, GraphQLParams, RequestError
from core.selectors import persisted_query_text

logger = logging.getLogger(__name__)

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
PERSISTED_QUERY_NOT_ALLOWED = "PERSISTED_QUERY_NOT_ALLOWED"

_SHA256 = re.compile(r"[0-9a-f]{64}")
_LOCAL_SIZE = 1000
# Apollo Server 4 answers NotFound and NotSupported with 200 (proxies keep the body) and these headers (no HTTP cache
# keeps a "not found" for a hash that is about to be registered); Apollo Client reads the error from the body.
NO_CACHE = {"Cache-Control": "private, no-cache, must-revalidate"}


class _Texts:
    """hash -> text, least recently used out first. Safe to keep forever: a hash names one text."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sha256: str) -> str | None:
        with self._lock:
            text = self._entries.get(sha256)
            if text is not None:
                self._entries.move_to_end(sha256)
            return text

    def put(self, sha256: str, text: str) -> None:
        with self._lock:
            self._entries[sha256] = text
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_texts = _Texts(_LOCAL_SIZE)


@receiver(setting_changed)
def _forget(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("GRAPHQL_APQ"):
        _texts.clear()


def sha256_of(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8")).hexdigest()


def resolve_query(params: GraphQLParams) -> str | None:
    """The query text to run for these parameters (None when there is none), or a RequestError."""
    persisted = (params.extensions or {}).get("persistedQuery")
    allowlist = settings.GRAPHQL_APQ_ALLOWLIST
    if persisted is None:
        if allowlist and params.query is not None and not _registered(sha256_of(params.query)):
            raise _not_allowed()
        return params.query
    if not settings.GRAPHQL_APQ and not allowlist:
        raise RequestError(200, PERSISTED_QUERY_NOT_SUPPORTED, "PersistedQueryNotSupported", NO_CACHE)
    sha256 = _hash(persisted)
    if params.query is not None:
        if sha256_of(params.query) != sha256:
            raise RequestError(400, BAD_REQUEST, "provided sha does not match query")
        if allowlist:
            if not _registered(sha256):
                raise _not_allowed()
        else:
            _remember(sha256, params.query)
        return params.query
    text = _texts.get(sha256) or (_registered(sha256) if allowlist else _recall(sha256))
    if text is None:
        raise RequestError(200, PERSISTED_QUERY_NOT_FOUND, "PersistedQueryNotFound", NO_CACHE)
    _texts.put(sha256, text)
    return text


def _hash(persisted: Any) -> str:
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise RequestError(400, BAD_REQUEST, "extensions.persistedQuery must be {version: 1, sha256Hash: <hex>}.")
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise RequestError(400, BAD_REQUEST, "extensions.persistedQuery.sha256Hash must be 64 lowercase hex digits.")
    return sha256


def _not_allowed() -> RequestError:
    return RequestError(
        403, PERSISTED_QUERY_NOT_ALLOWED, "Only registered persisted queries may run on this server.", NO_CACHE
    )


def _registered(sha256: str) -> str | None:
    text = _texts.get(sha256)
    if text is None:
        text = persisted_query_text(sha256=sha256)
        if text is not None:
            _texts.put(sha256, text)
    return text


def _key(sha256: str) -> str:
    return f"apq:{sha256}"


def _recall(sha256: str) -> str | None:
    try:
        text = caches["default"].get(_key(sha256))
    except Exception:  # a cache outage makes a hash unknown: the client sends the text again
        logger.warning("persisted query lookup failed", exc_info=True)
        return None
    return text if isinstance(text, str) and sha256_of(text) == sha256 else None


def _remember(sha256: str, query: str) -> None:
    if _texts.get(sha256) is not None:
        return
    _texts.put(sha256, query)
    try:
        caches["default"].set(_key(sha256), query, settings.GRAPHQL_APQ_TTL)
    except Exception:
        logger.warning("persisted query store failed", exc_info=True)
