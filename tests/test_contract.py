"""The live schema keeps everything in ../shared/contract/schema.graphql (additions allowed, no breaking change)."""

from pathlib import Path

import pytest
from django.conf import settings
from graphql import build_schema, find_breaking_changes

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
