"""Depth, alias and cost limits: linear in the document, whatever its fragments would expand to."""

import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse

from core.graphql import limits
from core.graphql.limits import measure_operation
from runam.schema import schema

pytestmark = pytest.mark.django_db


def doubling_fragments(n: int) -> str:
    """`query { ...F0 }` where each fragment spreads the next twice: 2^n fields once expanded."""
    body = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ... on Query {{ ...F{i + 1} }} }}" for i in range(n))
    return f"query {{ ...F0 }} {body} fragment F{n} on Query {{ __typename }}"


def measure(query: str, variables=None):
    document = parse(query, max_tokens=100_000)
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    return measure_operation(schema.graphql_schema, operation, fragments, variables)


def test_fragment_doubling_is_measured_in_linear_work(monkeypatch):
    # given: 60 levels, 2^60 fields expanded
    visits = []
    real = limits._Walker.selection_set

    def counted(self, *args):
        visits.append(1)
        return real(self, *args)

    monkeypatch.setattr(limits._Walker, "selection_set", counted)

    # when
    measured = measure(doubling_fragments(60))

    # then: every expansion is counted, each fragment walked once
    assert measured.cost == 2**60
    assert len(visits) <= 3 * 62


@pytest.mark.parametrize(
    ("query", "variables", "cost"),
    [
        ("{ roles { id name } }", None, 1 + 10 * 2),  # a list without `first`: LIST_ESTIMATE items
        ("{ errands { id } }", None, 1 + 20 * 1),  # the argument's default page
        ("{ errands(first: 500) { id } }", None, 1 + 100 * 1),  # capped at MAX_PAGE
        ("query($n: Int) { errands(first: $n) { id } }", {"n": 3}, 1 + 3 * 1),
        ("{ errand(id: 1) { id createdBy { id username } } }", None, 1 + (1 + (1 + 2))),
    ],
)
def test_cost_counts_lists_at_their_page_size(query, variables, cost):
    assert measure(query, variables).cost == cost


def test_depth_counts_levels_below_the_root_fields_and_introspection_apart():
    assert measure("{ myEscrows { errand { createdBy { username } } } }").depth == 3
    measured = measure("{ __schema { types { fields { type { ofType { name } } } } } }")
    assert (measured.depth, measured.introspection_depth) == (0, 5)


def test_aliases_are_counted_through_fragments():
    assert measure("{ a: roles { id } ...F ...F } fragment F on Query { b: roles { c: id } }").aliases == 5
