"""The execution context that lets a cached field skip completion and records what a result shows.

FieldCacheMiddleware decides hit or miss, but only the execution context sees a field's *completed* value. So the
middleware returns markers and this context acts on them:
- CachedValue: the field's completed JSON from the cache; returned as the completed value, so no resolver below
  the field runs and no SQL is issued.
- PendingFill: a miss; the value is completed normally while every model row completed beneath it is recorded, and
  the JSON is stored with those rows as dependencies unless the field produced errors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model
from graphql import ExecutionContext, GraphQLObjectType

from core.cache import request_state


@dataclass(slots=True)
class CachedValue:
    data: Any
    families: list[str]


@dataclass(slots=True)
class PendingFill:
    result: Any
    fill: Any  # middleware.FieldFill: stores or gives up, and releases the single-flight lock
    families: set[str] = field(default_factory=set)


def encode_entry(families: set[str] | list[str], data: Any) -> str:
    return json.dumps([sorted(families), data], separators=(",", ":"), ensure_ascii=False)


def decode_entry(payload: str) -> CachedValue:
    families, data = json.loads(payload)
    return CachedValue(data, families)


def note_row(families: set[str], row: Model) -> None:
    label = row._meta.label_lower
    families.add(f"@{label}:{row.pk}")
    # The type generation: what a bulk update of this model, whose rows are unknown, bumps.
    families.add(f"@{label}")


class CachingExecutionContext(ExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Active dependency sets: a field fill's own, and the operation fill's (set by the view) if any.
        self.recorders: list[set[str]] = []
        if (state := request_state.of(self.context_value)) is not None:
            if state.operation_recorder is not None:
                self.recorders.append(state.operation_recorder)
            state.executing = True  # tells the middleware its markers will be understood

    def complete_value(self, return_type, field_nodes, info, path, result):
        kind = type(result)
        if kind is CachedValue:
            if self.recorders:
                self.recorders[-1].update(result.families)
            return result.data
        if kind is PendingFill:
            return self._complete_fill(return_type, field_nodes, info, path, result)
        # Once per row: at the object type, not again at its NonNull wrapper; into the innermost set only, since a
        # fill's set joins the outer ones when the fill completes.
        if self.recorders and isinstance(return_type, GraphQLObjectType) and isinstance(result, Model):
            note_row(self.recorders[-1], result)
        return super().complete_value(return_type, field_nodes, info, path, result)

    def _complete_fill(self, return_type, field_nodes, info, path, pending: PendingFill):
        errors_before = len(self.collected_errors.errors)
        self.recorders.append(pending.families)
        if isinstance(return_type, GraphQLObjectType) and isinstance(pending.result, Model):
            note_row(pending.families, pending.result)  # a nullable root object: graphene completes it directly
        try:
            completed = super().complete_value(return_type, field_nodes, info, path, pending.result)
        except BaseException:
            pending.fill.abandon("resolver or completion raised")
            raise
        finally:
            self.recorders.pop()  # fills do not nest: only root fields have policies
            for recorder in self.recorders:
                recorder.update(pending.families)
        if self.is_awaitable(completed):
            pending.fill.abandon("asynchronous result")
        elif len(self.collected_errors.errors) != errors_before:
            pending.fill.abandon("result has errors")
        else:
            pending.fill.store(completed, pending.families)
        return completed
