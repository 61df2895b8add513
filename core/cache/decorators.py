"""@cache_result, @cacheable and @invalidate_cache: sync or async, bare or with arguments."""

from __future__ import annotations

import datetime
import functools
import inspect
import logging
import re
import sys
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from asgiref.sync import sync_to_async
from django.db import models

from core.cache import conf, keys, stats
from core.cache.manager import CacheManager, Outcome, _invalidate_one, acached_call, cached_call
from core.cache.store import get_store

log = logging.getLogger(__name__)

_MISSING = object()
_PLACEHOLDER = re.compile(r"\{\{\s*([^}\s]+)\s*\}\}")
# Rendered readably in default keys; anything else (dicts, lists, objects) is hashed.
_PLAIN = (str, int, float, bool, type(None), Decimal, uuid.UUID, datetime.date, datetime.time)


class KeySpec:
    """A key template bound to a function's signature: context = bound arguments with defaults applied."""

    def __init__(
        self,
        fn: Callable[..., Any],
        template: str | None = None,
        hash_params: Iterable[str] = (),
        key_prefix: str | None = None,
    ) -> None:
        self.signature = inspect.signature(fn)
        self.default = template is None
        self.template = _default_template(fn, key_prefix) if template is None else template
        self.hash_params = tuple(hash_params)
        self.warned = False
        _check_names(fn, self.signature, self.template, self.hash_params)

    def context(self, args: Sequence[Any], kwargs: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
        bind = self.signature.bind_partial if partial else self.signature.bind
        bound = bind(*args, **kwargs)
        bound.apply_defaults()
        return dict(bound.arguments)

    def resolve(self, context: Mapping[str, Any]) -> str:
        if not self.default:
            return keys.make_key(self.template, context, hash_params=self.hash_params)
        # Default keys name every argument: model instances stand for their pk, containers are hashed.
        plain = {n: v.pk if isinstance(v, models.Model) else v for n, v in context.items()}
        for name, value in plain.items():
            if not _keyable(value):
                # str() of an arbitrary object may hold its address, which a later object can reuse: a wrong hit.
                raise TypeError(f"argument {name!r} ({type(value).__name__}) has no stable key; give key=")
        hashed = [n for n, v in plain.items() if not isinstance(v, _PLAIN)]
        return keys.make_key(self.template, plain, hash_params=hashed)

    def key(self, *args: Any, **kwargs: Any) -> str:
        return self.resolve(self.context(args, kwargs, partial=True))


def _keyable(value: Any) -> bool:
    if isinstance(value, (*_PLAIN, models.Model)):
        return True
    if isinstance(value, dict):
        return all(_keyable(k) and _keyable(v) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(_keyable(item) for item in value)
    return False


def _module_name(fn: Callable[..., Any]) -> str:
    """A function of `python script.py` lives in `__main__`, and keys may not start with `_` (internal keys do):
    name it after the script (`script`), or the module `python -m` ran, instead."""
    if fn.__module__ != "__main__":
        return fn.__module__
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name and not spec.name.startswith("_"):
        return spec.name.removesuffix(".__main__")
    stem = Path(getattr(main, "__file__", "") or "main").stem.lstrip("_")
    return stem or "main"


def _default_template(fn: Callable[..., Any], key_prefix: str | None) -> str:
    prefix = key_prefix or f"{_module_name(fn)}.{fn.__qualname__}".replace("<locals>.", "")
    names = list(inspect.signature(fn).parameters)
    return ":".join([prefix, *(f"{{{{{name}}}}}" for name in names)])


def _check_names(fn: Callable[..., Any], sig: inspect.Signature, template: str, hashed: Iterable[str]) -> None:
    """Fail at import time, not on the first call in production, when a template names no argument."""
    if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        return
    for name in [*(m.split(".")[0] for m in _PLACEHOLDER.findall(template)), *hashed]:
        if name not in sig.parameters:
            raise TypeError(f"{fn.__qualname__}: cache key template names {name!r}, which is not an argument")


def _safe_key(spec: KeySpec, fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]) -> str | None:
    try:
        return spec.resolve(spec.context(args, kwargs))
    except (TypeError, ValueError) as exc:
        # A key we cannot build means "do not cache", never a broken call. Said once, not on every call.
        if not spec.warned:
            spec.warned = True
            log.warning("%s: cache key not built (%s): called uncached", fn.__qualname__, exc)
        return None


class _Debug:
    def __init__(self, fn: Callable[..., Any], spec: KeySpec, on: bool) -> None:
        self.name, self.spec, self.on = f"{fn.__module__}.{fn.__qualname__}", spec, on

    def before(self, key: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        if self.on:
            log.info("cache debug: function %s", self.name)
            log.info("cache debug: key template %s", self.spec.template)
            log.info("cache debug: resolved key %s", key)
            log.info("cache debug: context %r", self.spec.context(args, kwargs))

    def after(self, key: str, outcome: Outcome, ttl: int) -> None:
        if not self.on:
            return
        if outcome == "bypass":
            log.info("cache debug: BYPASS %s (cache disabled, or this transaction has written)", key)
            return
        log.info("cache debug: %s %s", "HIT" if outcome == "hit" else "MISS", key)
        if outcome == "stored":
            log.info("cache debug: stored %s (TTL %ss)", key, ttl)
        elif outcome == "not stored":
            log.info("cache debug: not stored %s (backend down, value not JSON, or invalidated meanwhile)", key)


def _decorate(fn: Callable[..., Any], spec: KeySpec, ttl: int | None, debug: bool) -> Callable[..., Any]:
    trace = _Debug(fn, spec, debug)

    def ttl_now() -> int:
        return conf.default_timeout() if ttl is None else ttl

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = _safe_key(spec, fn, args, kwargs) if conf.cache_enabled() else None
            if key is None:
                return await fn(*args, **kwargs)
            trace.before(key, args, kwargs)
            value, outcome = await acached_call(key, lambda: fn(*args, **kwargs), ttl_now())
            trace.after(key, outcome, ttl_now())
            return value

    else:

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = _safe_key(spec, fn, args, kwargs) if conf.cache_enabled() else None
            if key is None:
                return fn(*args, **kwargs)
            trace.before(key, args, kwargs)
            value, outcome = cached_call(key, lambda: fn(*args, **kwargs), ttl_now())
            trace.after(key, outcome, ttl_now())
            return value

    def invalidate(*args: Any, **kwargs: Any) -> bool:
        """Drop the entry for these arguments (a generation bump of that exact key: O(1))."""
        return CacheManager.delete(spec.key(*args, **kwargs))

    async def ainvalidate(*args: Any, **kwargs: Any) -> None:
        key = spec.key(*args, **kwargs)
        await get_store().abump(families=[keys.strip_prefix(key)])
        stats.record(keys.family_of(key), "invalidation")

    wrapper.key = spec.key  # type: ignore[attr-defined]
    wrapper.invalidate = invalidate  # type: ignore[attr-defined]
    wrapper.ainvalidate = ainvalidate  # type: ignore[attr-defined]
    wrapper.key_template = spec.template  # type: ignore[attr-defined]
    return wrapper


def cacheable(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    key: str | None = None,
    ttl: int | None = None,
    hash_params: Iterable[str] = (),
    debug: bool = False,
) -> Any:
    """Cache a function's result under a key template such as `errand:{{errand_id}}` or `user:{{user.id}}:banks`.

    Placeholders are filled from the bound arguments (defaults applied); names in `hash_params` are hashed from
    canonical JSON. Without `key`, the key is the function's dotted path followed by every argument.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        return _decorate(func, KeySpec(func, key, hash_params), ttl, debug)

    return decorate(fn) if fn is not None else decorate


def cache_result(
    fn: Callable[..., Any] | None = None, /, *, timeout: int | None = None, key_prefix: str | None = None
) -> Any:
    """Cache by `key_prefix` (default: the function's dotted path) followed by every argument, e.g.
    `@cache_result(key_prefix="user_profile")` on `get_profile(user_id)` → `runam:user_profile:5`."""

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        return _decorate(func, KeySpec(func, key_prefix=key_prefix), timeout, False)

    return decorate(fn) if fn is not None else decorate


class _Patterns:
    def __init__(self, fn: Callable[..., Any], templates: Sequence[str]) -> None:
        self.signature = inspect.signature(fn)
        self.templates = list(templates)
        for template in self.templates:
            _check_names(fn, self.signature, template, ())

    def resolve(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> list[str]:
        """For `.key()`/`.invalidate()`: a pattern that cannot be filled is the caller's error, raised."""
        bound = self.signature.bind_partial(*args, **kwargs)
        bound.apply_defaults()
        return [keys.make_pattern(t, bound.arguments) for t in self.templates]

    def after_call(self, fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]) -> list[str]:
        """After the function ran nothing may raise: a pattern that cannot be filled is skipped."""
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError:
            return []  # the call did not bind, so the function never ran
        bound.apply_defaults()
        resolved = []
        for template in self.templates:
            try:
                resolved.append(keys.make_pattern(template, bound.arguments))
            except ValueError as exc:
                if not _through_none(template, bound.arguments):
                    log.error("%s: invalidation %r skipped: %s", fn.__qualname__, template, exc)
        return resolved


def _through_none(template: str, context: Mapping[str, Any]) -> bool:
    """`user_errands:{{runner.id}}` with no runner: there is no such family, so nothing to invalidate."""
    for dotted in _PLACEHOLDER.findall(template):
        head, *rest = dotted.split(".")
        value = context.get(head, _MISSING)
        for name in rest:
            if value is None:
                return True
            value = value.get(name, _MISSING) if isinstance(value, Mapping) else getattr(value, name, _MISSING)
            if value is _MISSING:
                break
    return False


def _run(patterns: Iterable[str]) -> None:
    store = get_store()
    for pattern in patterns:
        _invalidate_one(store, pattern)


async def _arun(patterns: Iterable[str]) -> None:
    store = get_store()
    for pattern in patterns:
        family = keys.family_from_pattern(keys.strip_prefix(pattern))
        if family is not None:
            await store.abump(families=[family])
            stats.record(keys.family_of(pattern), "invalidation")
        else:
            await sync_to_async(_invalidate_one)(store, pattern)


def invalidate_cache(*templates: str, patterns: Sequence[str] = ()) -> Callable[[Callable[..., Any]], Any]:
    """After the function returns or raises, invalidate each pattern (`errand_list:*`, `user:{{user_id}}:*`).

    A pattern naming a family or an exact key is one generation bump (O(1)); other globs scan. Inside a
    transaction the invalidation waits for the commit (and is dropped on rollback): a reader can never cache
    the pre-commit state after the bump.
    """
    if templates and callable(templates[0]):
        raise TypeError("@invalidate_cache needs patterns: @invalidate_cache('errand_list:*')")
    every = [*templates, *patterns]
    if not every:
        raise TypeError("@invalidate_cache needs at least one pattern")

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        spec = _Patterns(fn, every)

        def fire(args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
            # Inside a transaction, invalidation.invalidate() bumps now and again after the commit.
            _run(spec.after_call(fn, args, kwargs))

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await fn(*args, **kwargs)
                finally:
                    await _arun(spec.after_call(fn, args, kwargs))

        else:

            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    return fn(*args, **kwargs)
                finally:
                    fire(args, kwargs)

        wrapper.key = lambda *a, **kw: spec.resolve(a, kw)  # type: ignore[attr-defined]
        wrapper.invalidate = lambda *a, **kw: _run(spec.resolve(a, kw))  # type: ignore[attr-defined]
        wrapper.patterns = spec.templates  # type: ignore[attr-defined]
        return wrapper

    return decorate
