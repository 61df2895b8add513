"""FieldCacheMiddleware: applies settings.GRAPHQL_CACHE_POLICIES to root query fields.

A field's key covers its family (filled from its arguments and the viewer), its arguments, the values of the
variables it uses and its selection set as written (alias, fragments inlined), and for user scope the viewer.
On a hit it hands the execution context the field's completed JSON; on a miss a PendingFill that the context
completes, records and stores (core/cache/execution.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from graphql import GraphQLID, OperationType, get_named_type, print_ast
from graphql.language import FragmentSpreadNode, VariableNode, Visitor, visit

from core.cache import request_state, stats
from core.cache.conf import cache_enabled
from core.cache.execution import PendingFill, decode_entry, encode_entry
from core.cache.invalidation import guarding_labels, in_dirty_transaction, in_transaction, tracked_labels
from core.cache.keys import make_key, prefix_families
from core.cache.policies import Policy, root_policies
from core.cache.store import get_store

logger = logging.getLogger(__name__)


def viewer_id(request: Any) -> int | None:
    user = getattr(request, "user", None)
    return user.pk if user is not None and user.is_authenticated else None


def report(request: Any, entry: dict) -> None:
    """Per-field cache outcome, for extensions.cache and the logs."""
    if (state := request_state.of(request)) is not None:
        state.report.append(entry)


# --- the selection part of a key ----------------------------------------------------------------------------------


class _Collect(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.fragments: set[str] = set()
        self.variables: set[str] = set()

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> None:
        self.fragments.add(node.name.value)

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        self.variables.add(node.name.value)


@dataclass(frozen=True, slots=True)
class _Selection:
    text: str  # the field nodes and the fragments they use, printed
    variables: tuple[str, ...]


# Least recently used out first, at GRAPHQL_DOCUMENT_CACHE_SIZE entries: an entry holds its field nodes, so a memo
# that outlived the document cache would keep evicted documents alive.
_selections: OrderedDict[tuple[int, ...], tuple[list, _Selection]] = OrderedDict()
_selections_lock = threading.Lock()


def _selection(info) -> _Selection:
    """Printed once per set of merged field nodes: the document cache hands out the same nodes on every request.

    The memo is keyed by every merged node, not the first: which nodes merge depends on directives above the field
    (`... @include(if: $more) { errands { title } }`) and on the operation, and each set prints differently.
    """
    nodes = info.field_nodes
    memo_key = tuple(map(id, nodes))
    with _selections_lock:
        cached = _selections.get(memo_key)
        if cached is not None:
            _selections.move_to_end(memo_key)
    if cached is not None and all(a is b for a, b in zip(cached[0], nodes, strict=True)):
        return cached[1]
    collect = _Collect()
    pending = list(nodes)
    seen: set[str] = set()
    while pending:
        visit(pending.pop(), collect)
        for name in collect.fragments - seen:
            seen.add(name)
            pending.append(info.fragments[name])
    parts = [print_ast(n) for n in nodes] + [print_ast(info.fragments[n]) for n in sorted(seen)]
    selection = _Selection("\n".join(parts), tuple(sorted(collect.variables)))
    with _selections_lock:
        _selections[memo_key] = (list(nodes), selection)
        while len(_selections) > settings.GRAPHQL_DOCUMENT_CACHE_SIZE:
            _selections.popitem(last=False)
    return selection


def _family_context(info, args: dict, user_id: int | None) -> dict:
    context = dict(args)
    field_def = info.parent_type.fields[info.field_name]
    for name, value in args.items():
        # errand(id: "007") shows errand 7: its family must be the one a write to errand 7 bumps.
        if get_named_type(field_def.args[name].type) is GraphQLID and isinstance(value, str):
            with contextlib.suppress(ValueError):
                context[name] = int(value)
    context["user_id"] = user_id
    return context


def field_key(policy: Policy, info, args: dict, user_id: int | None) -> tuple[list[str], str]:
    """(families, key) of one field in one request. The families (`banks_list`, `banks_list:NG`) are what an
    operation entry containing this field depends on: a bump of any of them must reach it too."""
    selection = _selection(info)
    context = _family_context(info, args, user_id)
    material = [
        selection.text,
        args,
        {name: info.variable_values.get(name) for name in selection.variables},
        user_id if policy.private else None,
    ]
    digest = hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:32]
    family_key = make_key(policy.family, context)
    return prefix_families(family_key), make_key(policy.family + ":{{_selection}}", {**context, "_selection": digest})


# --- fills --------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class FieldFill:
    policy: Policy
    families: list[str]
    key: str
    ticket: Any
    locked: bool
    entry: dict = field(default_factory=dict)

    def store(self, completed: Any, families: set[str]) -> None:
        store = get_store()
        stored = store.store(
            self.ticket,
            encode_entry(families, completed),
            self.policy.ttl,
            families=families,
            guarded=True,
            clocks=guarding_labels(families),
        )
        if stored:
            stats.record(self.policy.family_root, "set")
        else:
            # Too large, too many dependencies, or a write raced with the read: the store says which.
            self.entry["reason"] = store.refusal() or "a write raced with the read"
            logger.debug("field %s not cached: %s", self.policy.coordinate, self.entry["reason"])
        self._release()

    def abandon(self, reason: str) -> None:
        self.entry["reason"] = reason
        logger.debug("field %s not cached: %s", self.policy.coordinate, reason)
        self._release()

    def _release(self) -> None:
        if self.locked:
            self.locked = False
            get_store().release(self.key)


def _bypass_reason(policy: Policy, info, user_id: int | None) -> str | None:
    if not policy.enabled:
        return "policy disabled"
    if not cache_enabled():
        return "cache disabled"
    if info.operation.operation is not OperationType.QUERY:
        return "not a query"
    if policy.private and user_id is None:
        return "anonymous viewer"
    if not ((state := request_state.of(info.context)) is not None and state.executing):
        return "not executed by CachingExecutionContext"
    if in_dirty_transaction():
        return "in a transaction that has written"
    if in_transaction():
        # Under snapshot isolation the transaction may read a snapshot older than the generations it would store.
        return "inside a transaction"
    return None


class FieldCacheMiddleware:
    def resolve(self, next, root, info, **args):
        if root is not None or info.parent_type.name != "Query":
            return next(root, info, **args)
        policy = root_policies().get(info.field_name)
        if policy is None:
            if logger.isEnabledFor(logging.DEBUG) and not info.field_name.startswith("__"):
                logger.debug("field Query.%s not cached: no policy", info.field_name)
            return next(root, info, **args)
        request = info.context
        user_id = viewer_id(request)
        entry = {"path": info.path.key, "field": policy.coordinate, "ttl": policy.ttl, "family": policy.family_root}
        reason = _bypass_reason(policy, info, user_id)
        if reason is not None:
            logger.debug("field %s not cached: %s", policy.coordinate, reason)
            report(request, {**entry, "status": "BYPASS", "reason": reason})
            return next(root, info, **args)
        return self._cached(next, root, info, args, policy, user_id, entry)

    def _cached(self, next, root, info, args, policy: Policy, user_id: int | None, entry: dict):
        store = get_store()
        families, key = field_key(policy, info, args, user_id)
        lookup = store.lookup(key, clocks=tracked_labels())
        if not lookup.hit and lookup.ticket is not None:
            if store.acquire(key, _lock_ms()):
                # The last holder may have stored the entry and let go between our lookup and our acquire: look
                # once more, or a stampede computes the same entry twice.
                again = store.lookup(key, clocks=tracked_labels())
                if again.hit:
                    store.release(key)
                    lookup = again
            else:
                # Another request is computing this entry: wait for it a bounded time, then compute ourselves.
                waited = store.wait_for(key, _wait_seconds())
                if waited.hit:
                    lookup = waited
                else:
                    return self._fill(next, root, info, args, policy, families, key, lookup.ticket, False, entry)
        if lookup.hit:
            stats.record(policy.family_root, "hit")
            report(info.context, {**entry, "status": "HIT"})
            cached = decode_entry(lookup.payload)
            cached.families.extend(families)
            return cached
        stats.record(policy.family_root, "miss")
        if lookup.ticket is None:
            report(info.context, {**entry, "status": "MISS", "reason": "cache backend unavailable"})
            return next(root, info, **args)
        return self._fill(next, root, info, args, policy, families, key, lookup.ticket, True, entry)

    def _fill(self, next, root, info, args, policy, families, key, ticket, locked, entry):
        fill = FieldFill(policy, families, key, ticket, locked, {**entry, "status": "MISS"})
        report(info.context, fill.entry)
        try:
            result = next(root, info, **args)
        except BaseException:
            fill.abandon("resolver raised")
            raise
        return PendingFill(result, fill, set(families))


def _wait_seconds() -> float:
    return getattr(settings, "CACHE_SINGLE_FLIGHT_WAIT", 2.0)


def _lock_ms() -> int:
    # Held at most as long as others wait for it, plus slack: a crashed holder never blocks a key for long.
    return int(_wait_seconds() * 1000) + 1000
