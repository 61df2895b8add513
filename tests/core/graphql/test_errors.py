"""What a client may read in an error: its own input's faults, never the server's internals."""

import json

import pytest

from errands import schema as errand_schema
from tests.fixtures.api import get_graphql_content, get_graphql_errors

pytestmark = pytest.mark.django_db

SEARCH_QUERY = "query($s: String) { errands(search: $s) { id } }"
CREATE_ERRAND_MUTATION = """
mutation($title: String!, $budget: Decimal!) {
  createErrand(input: {title: $title, description: "d", category: "c", budget: $budget,
                       pickupAddress: "a", dropoffAddress: "b"}) { errand { id } errors { field code message } }
}
"""
BANKS_QUERY = "query($c: String!) { banks(country: $c) { id } }"


def test_an_unexpected_resolver_failure_is_logged_not_shown(api_client, monkeypatch, caplog, settings):
    # given
    settings.DEBUG = False

    def broken(**kwargs):
        raise RuntimeError('relation "errands_errand" does not exist')

    monkeypatch.setattr(errand_schema, "errand_list", broken)

    # when
    errors = get_graphql_errors(api_client.post_graphql("{ errands { id } }"))

    # then
    assert errors[0]["message"] == "Internal server error."
    assert errors[0]["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert errors[0]["path"] == ["errands"]
    assert "errands_errand" in caplog.text


def test_a_nul_in_a_search_is_an_invalid_argument(api_client):
    # when
    errors = get_graphql_errors(api_client.post_graphql(SEARCH_QUERY, {"s": "milk\x00"}))

    # then
    assert errors[0]["extensions"] == {"code": "INVALID", "field": "search"}
    assert "NUL" in errors[0]["message"]


def test_a_nul_in_a_bank_country_finds_no_bank(api_client):
    assert get_graphql_content(api_client.post_graphql(BANKS_QUERY, {"c": "N\x00G"}))["data"] == {"banks": []}


def test_a_nul_in_a_mutation_input_is_a_payload_error(user_api_client):
    # when
    content = get_graphql_content(
        user_api_client.post_graphql(CREATE_ERRAND_MUTATION, {"title": "a\x00b", "budget": "10"})
    )

    # then: the contract's payload errors, not a top-level error
    assert content["data"]["createErrand"] == {
        "errand": None,
        "errors": [{"field": "title", "code": "INVALID", "message": "This field cannot contain a NUL character."}],
    }


def test_a_variable_that_does_not_coerce_keeps_its_message(user_api_client):
    # when
    response = user_api_client.post_graphql(CREATE_ERRAND_MUTATION, {"title": "t", "budget": "lots"})

    # then: the client's own input, named, with the request-error code
    content = json.loads(response.content)
    assert "data" not in content
    assert "$budget" in content["errors"][0]["message"]
    assert content["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
