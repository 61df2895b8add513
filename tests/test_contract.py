"""The live schema keeps everything in ../shared/contract/schema.graphql (additions allowed, no breaking change)."""

from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType, build_schema, find_breaking_changes

from runam.schema import schema

CONTRACT = Path(settings.BASE_DIR).parent / "shared" / "contract" / "schema.graphql"

pytestmark = pytest.mark.skipif(
    not CONTRACT.exists(), reason=f"contract not found at {CONTRACT} (clone next to ../shared to check it)"
)


def test_live_schema_has_no_breaking_change_against_the_contract():
    # given
    contract = build_schema(CONTRACT.read_text())

    # when
    changes = find_breaking_changes(contract, schema.graphql_schema)

    # then
    assert [change.description for change in changes] == []


def test_the_check_notices_a_missing_field():
    # given: the contract plus a field the live schema does not have
    contract = build_schema(CONTRACT.read_text().replace("type Role {", "type Role {\n  colour: String!"))

    # when
    changes = find_breaking_changes(contract, schema.graphql_schema)

    # then
    assert [change.description for change in changes] == ["Role.colour was removed."]


def _descriptions(graphql_schema, names) -> dict[str, str | None]:
    found = {}
    for name in names:
        kind = graphql_schema.type_map[name]
        found[name] = kind.description
        for field_name, field in getattr(kind, "fields", {}).items():
            found[f"{name}.{field_name}"] = field.description
            for arg_name, arg in getattr(field, "args", {}).items():
                found[f"{name}.{field_name}({arg_name})"] = arg.description
        for value_name, value in getattr(kind, "values", {}).items():
            found[f"{name}.{value_name}"] = value.description
    return found


def test_the_contract_descriptions_are_the_schema_descriptions():
    # given
    contract = build_schema(CONTRACT.read_text())
    kinds = (GraphQLObjectType, GraphQLInputObjectType, GraphQLEnumType)
    names = [name for name, kind in contract.type_map.items() if isinstance(kind, kinds) and not name.startswith("__")]
    expected = {name: text for name, text in _descriptions(contract, names).items() if text is not None}
    help_texts = {str(field.help_text) for model in apps.get_models() for field in model._meta.get_fields()
                  if getattr(field, "help_text", "")}  # fmt: skip

    # when
    live = _descriptions(schema.graphql_schema, [name for name in schema.graphql_schema.type_map if name[:2] != "__"])

    # then: the contract's text wherever it has one, and no model form hint anywhere
    assert {name: live[name] for name in expected} == expected
    assert {name: text for name, text in live.items() if text in help_texts} == {}
