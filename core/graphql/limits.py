"""Depth, alias and cost limits, checked in one pass that is linear in the document.

A document can reuse a fragment many times (`...F1 ... on Query { ...F1 }`, nested n deep, selects 2^n fields):
a walk that expands spreads costs what the expansion costs. Here each fragment is measured once, its measures
memoized, and a spread adds the memoized numbers, so the work is linear in the document's size whatever its
expansion would be. Depth is the deepest expansion, aliases and cost count every expansion.

Cost: a field costs 1 plus its children's cost times the number of items it may return: `first` (capped at
MAX_PAGE) or the argument's default for paged lists, LIST_ESTIMATE for other lists, 1 otherwise. Introspection
(`__schema`, `__type`) is walked without list multipliers against its own, larger depth limit: GraphiQL's schema
query nests `ofType` a dozen levels deep, and a deployment that fears introspection turns it off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
)

from core.paging import MAX_PAGE

# Items assumed for a list field without `first` (banks of a country, roles): small, fixed-size lists.
LIST_ESTIMATE = 10
# GraphiQL's introspection query is 13 levels deep; deeper introspection is not a schema browser.
INTROSPECTION_DEPTH = 20

QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int
    max_aliases: int
    max_cost: int


@dataclass(frozen=True, slots=True)
class Measure:
    depth: int = 0
    introspection_depth: int = 0
    aliases: int = 0
    cost: int = 0

    def beside(self, other: Measure) -> Measure:
        return Measure(
            max(self.depth, other.depth),
            max(self.introspection_depth, other.introspection_depth),
            self.aliases + other.aliases,
            self.cost + other.cost,
        )


_NOTHING = Measure()


class _Walker:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], variables: dict) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.memo: dict[tuple[str, bool], Measure] = {}
        self.active: set[str] = set()

    def selection_set(self, node: SelectionSetNode | None, parent: GraphQLNamedType | None, intro: bool) -> Measure:
        total = _NOTHING
        for selection in node.selections if node is not None else ():
            if isinstance(selection, FieldNode):
                total = total.beside(self.field(selection, parent, intro))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self._type(condition.name.value) if condition is not None else parent
                total = total.beside(self.selection_set(selection.selection_set, inner, intro))
            elif isinstance(selection, FragmentSpreadNode):
                total = total.beside(self.spread(selection.name.value, intro))
        return total

    def spread(self, name: str, intro: bool) -> Measure:
        key = (name, intro)
        if key in self.memo:
            return self.memo[key]
        fragment = self.fragments.get(name)
        if fragment is None or name in self.active:
            return _NOTHING  # unknown fragments and cycles are validation errors, reported after this pass
        self.active.add(name)
        try:
            measure = self.selection_set(fragment.selection_set, self._type(fragment.type_condition.name.value), intro)
        finally:
            self.active.discard(name)
        self.memo[key] = measure
        return measure

    def field(self, node: FieldNode, parent: GraphQLNamedType | None, intro: bool) -> Measure:
        name = node.name.value
        definition = getattr(parent, "fields", {}).get(name) if parent is not None else None
        if name in ("__schema", "__type"):
            intro = True
        field_type = definition.type if definition is not None else None
        child = self.selection_set(node.selection_set, get_named_type(field_type), intro)
        items = 1 if intro else self._items(node, definition)
        alias = 1 if node.alias is not None else 0
        # Depth counts the levels below the root fields, as graphene's validator did: `{ a { b } }` is 1 deep.
        below = 1 if node.selection_set is not None else 0
        if intro:
            return Measure(child.depth, child.introspection_depth + below, child.aliases + alias, 1 + child.cost)
        return Measure(child.depth + below, child.introspection_depth, child.aliases + alias, 1 + items * child.cost)

    def _items(self, node: FieldNode, definition: Any) -> int:
        if definition is None:
            return 1
        field_type = definition.type
        if isinstance(field_type, GraphQLNonNull):
            field_type = field_type.of_type
        if not isinstance(field_type, GraphQLList):
            return 1
        if "first" not in definition.args:
            return LIST_ESTIMATE
        default = definition.args["first"].default_value
        first = default
        for argument in node.arguments:
            if argument.name.value != "first":
                continue
            if isinstance(argument.value, IntValueNode):
                first = int(argument.value.value)
            elif isinstance(argument.value, VariableNode):
                first = self.variables.get(argument.value.name.value, default)
        if not isinstance(first, int) or isinstance(first, bool):
            first = default if isinstance(default, int) else MAX_PAGE
        return max(0, min(first, MAX_PAGE))

    def _type(self, name: str) -> GraphQLNamedType | None:
        return self.schema.get_type(name)


def measure_operation(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict | None,
) -> Measure:
    root = schema.get_root_type(operation.operation)
    return _Walker(schema, fragments, variables or {}).selection_set(operation.selection_set, root, False)


def check_operation(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict | None,
    limits: Limits,
) -> GraphQLError | None:
    """The first limit the operation exceeds, as an error with a stable code; None when within all of them."""
    measure = measure_operation(schema, operation, fragments, variables)
    if measure.depth > limits.max_depth or measure.introspection_depth > INTROSPECTION_DEPTH:
        return GraphQLError(
            f"The operation is nested {max(measure.depth, measure.introspection_depth)} levels deep; "
            f"at most {limits.max_depth} are allowed.",
            extensions={"code": QUERY_TOO_DEEP},
        )
    if measure.aliases > limits.max_aliases:
        return GraphQLError(
            f"The operation uses {measure.aliases} aliases; at most {limits.max_aliases} are allowed.",
            extensions={"code": QUERY_TOO_COMPLEX},
        )
    if measure.cost > limits.max_cost:
        return GraphQLError(
            f"The operation may select about {measure.cost} values; at most {limits.max_cost} are allowed. "
            "Ask for fewer fields or smaller pages (first).",
            extensions={"code": QUERY_TOO_COMPLEX},
        )
    return None
