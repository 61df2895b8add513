"""The whole-response cache of a GraphQL operation (the fast path), used by the view in core/graphql/view.py.

- When every root field of a query operation has an enabled policy, the whole response body is cached: TTL the
  smallest, scope user if any field is. A hit answers with the stored bytes before validating limits or executing.
- A query whose root fields are all public is keyed once for everyone, signed in or not; a user-scoped one is keyed
  per viewer and never cached for an anonymous one.
- Only the variables the operation declares are part of the key: an undeclared extra variable does not split
  entries (and cannot change the answer).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from graphql import FieldNode, OperationDefinitionNode, OperationType

from core.cache import stats
from core.cache.invalidation import guarding_labels, in_transaction, tracked_labels
from core.cache.keys import OPERATION_FAMILY, make_key
from core.cache.policies import root_policies
from core.cache.store import get_store

__all__ = ["OPERATION_FAMILY", "OperationFill", "OperationPlan", "begin_operation", "operation_key", "plan_operation"]


@dataclass(frozen=True, slots=True)
class OperationPlan:
    ttl: int
    private: bool
    http_max_age: int  # 0 unless every root field's policy opts in to browser reuse without revalidation
    stale_while_revalidate: int
    fields: tuple[dict, ...]  # per root field: path, coordinate, family and TTL, for extensions.cache on a hit

    @property
    def cache_control(self) -> str:
        scope = "private" if self.private else "public"
        if self.http_max_age <= 0:
            # Browsers and proxies may keep the answer but must ask before each reuse (ETag makes that cheap):
            # the freshness promise holds through them.
            return f"{scope}, no-cache"
        swr = f", stale-while-revalidate={self.stale_while_revalidate}" if self.stale_while_revalidate else ""
        return f"{scope}, max-age={self.http_max_age}{swr}"


def plan_operation(operation: OperationDefinitionNode | None) -> OperationPlan | None:
    """A plan when every root selection is a plain field with an enabled policy; None otherwise."""
    if operation is None or operation.operation is not OperationType.QUERY:
        return None
    policies = root_policies()
    chosen, fields = [], []
    for selection in operation.selection_set.selections:
        policy = policies.get(selection.name.value) if isinstance(selection, FieldNode) else None
        if policy is None or not policy.enabled:
            return None
        chosen.append(policy)
        path = (selection.alias or selection.name).value
        fields.append({"path": path, "field": policy.coordinate, "ttl": policy.ttl, "family": policy.family_root})
    if not chosen:
        return None
    http_max_age = min(p.http_max_age for p in chosen)
    return OperationPlan(
        ttl=min(p.ttl for p in chosen),
        private=any(p.private for p in chosen),
        http_max_age=http_max_age,
        stale_while_revalidate=min(p.stale_while_revalidate for p in chosen) if http_max_age else 0,
        fields=tuple(fields),
    )


def declared_variables(operation: OperationDefinitionNode, variables: dict[str, Any] | None) -> dict[str, Any]:
    """The request's variables that the operation declares; the others cannot change its answer."""
    if not variables:
        return {}
    names = {definition.variable.name.value for definition in operation.variable_definitions}
    return {name: value for name, value in variables.items() if name in names}


def operation_key(digest: str, operation_name: str | None, variables: dict[str, Any], user_id: int | None) -> str:
    """`user_id` only for a private plan: a public answer is the same for everyone."""
    material = json.dumps([digest, operation_name, variables, user_id], sort_keys=True, default=str)
    hashed = hashlib.sha256(material.encode()).hexdigest()[:40]
    return make_key("gql:{{scope}}:{{digest}}", {"scope": f"u{user_id}" if user_id else "public", "digest": hashed})


@dataclass(slots=True)
class OperationFill:
    plan: OperationPlan
    key: str
    ticket: Any
    recorder: set[str]  # every row and family the response shows, filled in by the execution context

    def store(self, body: str) -> None:
        shown = self.recorder
        stored = get_store().store(
            self.ticket, body, self.plan.ttl, families=shown, guarded=True, clocks=guarding_labels(shown)
        )
        if stored:
            stats.record(OPERATION_FAMILY, "set")


def begin_operation(key: str, plan: OperationPlan) -> tuple[str | None, OperationFill | None]:
    """(stored body, None) on a hit; (None, fill or None) on a miss. No fill inside a transaction."""
    if in_transaction():
        return None, None
    lookup = get_store().lookup(key, clocks=tracked_labels())
    if lookup.hit:
        stats.record(OPERATION_FAMILY, "hit")
        return lookup.payload, None
    stats.record(OPERATION_FAMILY, "miss")
    if lookup.ticket is None:
        return None, None
    return None, OperationFill(plan, key, lookup.ticket, set())
