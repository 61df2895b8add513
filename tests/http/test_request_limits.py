"""Hostile input at /graphql/ (docs/http.md, steps 3, 4 and 6): every request is bounded before it costs much, and
every refusal is a JSON answer with a stable code, never a 500 and never an internal message.

Error codes: REQUEST_TOO_LARGE (413), QUERY_TOO_LARGE (length or tokens), QUERY_TOO_DEEP, QUERY_TOO_COMPLEX (aliases
or cost), BAD_REQUEST (malformed request). A document refused by a limit is answered like one that fails validation:
400 under application/graphql-response+json, 200 with `errors` and no `data` under application/json.
Depth is counted as tests/test_endpoint.py pins it (graphene's count): a root field is at depth 0.
"""

from __future__ import annotations

import json

import pytest

from core.cache.store import get_store
from core.factories import RoleFactory
from errands.models import Errand
from tests.http.wire import (
    APPLICATION_JSON,
    APPLICATION_JSON_UTF8,
    GRAPHQL_RESPONSE_JSON,
    GRAPHQL_RESPONSE_JSON_UTF8,
    WireRequest,
    body_json,
    error_codes,
    media_type,
    post_json,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_cache_debug")]

TYPENAME_QUERY = "{ __typename }"
ROLES_QUERY = "{ roles { id name } }"
SEARCH_QUERY = "query Search($search: String) { errands(search: $search) { id } }"
CREATE_ERRAND_MUTATION = """
mutation Create($input: CreateErrandInput!) {
  createErrand(input: $input) { errand { id } errors { field code } }
}
"""
ERRAND_INPUT = {
    "title": "Pick up a parcel",
    "description": "From the front desk",
    "category": "delivery",
    "budget": "1500",
    "pickupAddress": "12 Allen Avenue",
    "dropoffAddress": "3 Awolowo Road",
}
# psycopg's refusal of a NUL in a query parameter; a client must never see it (docs/http.md, "Status codes").
DATABASE_INTERNALS = ("PostgreSQL", "psycopg", "NUL (0x00)", "0x00", "Traceback")
# Far beyond what a JSON parser's recursion copes with (CPython's json gives up near 1,000 levels).
HOSTILE_JSON_NESTING = 2_000


def doubling_fragments(n: int) -> str:
    """F0 selects roles; each Fk spreads F(k-1) twice: 2**n fields from a document of n+1 fragments."""
    fragments = ["fragment F0 on Query { roles { id } }"]
    fragments += [f"fragment F{k} on Query {{ ...F{k - 1} ...F{k - 1} }}" for k in range(1, n + 1)]
    return f"query Doubling {{ ...F{n} }} " + " ".join(fragments)


def aliased_errands(count: int) -> str:
    return "query Aliases { " + " ".join(f"a{i}: errands(first: 100) {{ id }}" for i in range(count)) + " }"


def nested_unknown_fields(depth: int) -> str:
    """errands { createdBy { f2 { f3 ... } } } with its deepest field at `depth` (a root field is at depth 0)."""
    names = ["errands", "createdBy"] + [f"f{level}" for level in range(2, depth + 1)]
    return "{ " + " { ".join(names) + " }" * depth + " }"


def refused(response, code: str, accept: str) -> None:
    """The answer docs/http.md gives to a document refused by a limit, under each media type."""
    if accept == GRAPHQL_RESPONSE_JSON:
        assert response.status_code == 400
        assert media_type(response) == GRAPHQL_RESPONSE_JSON_UTF8
    else:
        assert response.status_code == 200
        assert media_type(response) == APPLICATION_JSON_UTF8
    assert "data" not in body_json(response)
    assert error_codes(response) == [code]


BOTH_MEDIA_TYPES = pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE_JSON, APPLICATION_JSON])


@pytest.fixture
def roomy_documents(settings) -> None:
    """Size limits far above the document under test, so that what refuses it is its shape, not its size."""
    settings.GRAPHQL_MAX_QUERY_LENGTH = 1_000_000
    settings.GRAPHQL_MAX_TOKENS = 1_000_000


# --- body size --------------------------------------------------------------------------------------------------------


def padded_body(size: int) -> bytes:
    """A valid request of exactly `size` bytes: the query and an unused padding variable."""
    skeleton = json.dumps({"query": TYPENAME_QUERY, "variables": {"pad": ""}}, separators=(",", ":"))
    return json.dumps(
        {"query": TYPENAME_QUERY, "variables": {"pad": "x" * (size - len(skeleton))}}, separators=(",", ":")
    ).encode()


def test_a_body_over_the_limit_is_413(api_client, settings):
    # given
    settings.GRAPHQL_MAX_BODY_BYTES = 1024

    # when
    response = WireRequest("POST", padded_body(1025), APPLICATION_JSON, GRAPHQL_RESPONSE_JSON).send(api_client)

    # then
    assert response.status_code == 413
    assert "data" not in body_json(response)
    assert error_codes(response) == ["REQUEST_TOO_LARGE"]


def test_a_body_at_the_limit_runs(api_client, settings):
    # given
    settings.GRAPHQL_MAX_BODY_BYTES = 1024

    # when
    response = WireRequest("POST", padded_body(1024), APPLICATION_JSON, GRAPHQL_RESPONSE_JSON).send(api_client)

    # then
    assert response.status_code == 200
    assert body_json(response)["data"] == {"__typename": "Query"}


def test_a_content_length_over_the_limit_is_413_before_the_body_is_read(api_client, settings):
    # given: the header announces a gigabyte; the test client's input stream refuses reads past what it holds, so a
    # server that read up to Content-Length would fail here rather than answer
    settings.GRAPHQL_MAX_BODY_BYTES = 1024
    announced = WireRequest("POST", padded_body(100), APPLICATION_JSON, headers={"Content-Length": str(10**9)})

    # when
    response = announced.send(api_client)

    # then
    assert response.status_code == 413
    assert error_codes(response) == ["REQUEST_TOO_LARGE"]


# --- document size ----------------------------------------------------------------------------------------------------


@BOTH_MEDIA_TYPES
def test_a_query_over_the_length_limit_is_query_too_large(api_client, settings, accept):
    # given
    settings.GRAPHQL_MAX_QUERY_LENGTH = 100
    query = ROLES_QUERY.ljust(101)

    # when
    response = post_json({"query": query}, accept=accept).send(api_client)

    # then
    refused(response, "QUERY_TOO_LARGE", accept)


def test_a_query_at_the_length_limit_runs(api_client, settings):
    # given
    settings.GRAPHQL_MAX_QUERY_LENGTH = 100

    # when
    response = post_json({"query": ROLES_QUERY.ljust(100)}, accept=GRAPHQL_RESPONSE_JSON).send(api_client)

    # then
    assert response.status_code == 200
    assert body_json(response)["data"] == {"roles": []}


@BOTH_MEDIA_TYPES
def test_a_query_over_the_token_limit_is_query_too_large(api_client, settings, accept):
    # given: short in characters, long in tokens
    settings.GRAPHQL_MAX_QUERY_LENGTH = 10_000
    settings.GRAPHQL_MAX_TOKENS = 20
    query = "{ roles { " + "id " * 30 + "} }"

    # when
    response = post_json({"query": query}, accept=accept).send(api_client)

    # then
    refused(response, "QUERY_TOO_LARGE", accept)


# --- document shape ---------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("roomy_documents")
@pytest.mark.parametrize("n", [22, 40])
def test_fragment_doubling_is_query_too_complex(api_client, n):
    # given: 2**40 fields from 41 fragments. Expanding them, as a naive depth or cost walk does, would never
    # finish; one linear pass that visits each fragment once (docs/http.md, step 6) answers at once.
    query = doubling_fragments(n)

    # when
    response = post_json({"query": query}, accept=GRAPHQL_RESPONSE_JSON).send(api_client)

    # then
    refused(response, "QUERY_TOO_COMPLEX", GRAPHQL_RESPONSE_JSON)


@pytest.mark.usefixtures("roomy_documents")
@BOTH_MEDIA_TYPES
def test_two_hundred_aliased_pages_of_errands_is_query_too_complex(api_client, accept):
    # when
    response = post_json({"query": aliased_errands(200)}, accept=accept).send(api_client)

    # then
    refused(response, "QUERY_TOO_COMPLEX", accept)


@pytest.mark.usefixtures("roomy_documents")
@BOTH_MEDIA_TYPES
def test_a_document_deeper_than_ten_is_query_too_deep(api_client, settings, accept):
    # given
    assert settings.GRAPHQL_MAX_DEPTH == 10

    # when: refused for its depth before validation could complain of its unknown fields (docs/http.md, step 6)
    response = post_json({"query": nested_unknown_fields(11)}, accept=accept).send(api_client)

    # then
    refused(response, "QUERY_TOO_DEEP", accept)


@pytest.mark.usefixtures("roomy_documents")
def test_a_document_ten_deep_passes_the_depth_limit(api_client):
    # when: the same shape one level shallower reaches validation, which refuses its unknown fields
    response = post_json({"query": nested_unknown_fields(10)}, accept=GRAPHQL_RESPONSE_JSON).send(api_client)

    # then
    refused(response, "GRAPHQL_VALIDATION_FAILED", GRAPHQL_RESPONSE_JSON)


# --- malformed JSON and parameters ------------------------------------------------------------------------------------


def deeply_nested_array(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "body",
    [
        '{"query":"{ __typename }","variables":{"deep":' + deeply_nested_array(HOSTILE_JSON_NESTING) + "}}",
        '{"query":"{ __typename }","junk":' + deeply_nested_array(HOSTILE_JSON_NESTING) + "}",
        '{"query":"{ __typename }","extensions":{"deep":' + deeply_nested_array(HOSTILE_JSON_NESTING) + "}}",
    ],
    ids=["in-variables", "in-an-extra-key", "in-extensions"],
)
def test_json_nested_two_thousand_deep_is_400(api_client, body):
    # when
    response = WireRequest("POST", body, APPLICATION_JSON, APPLICATION_JSON).send(api_client)

    # then
    assert response.status_code == 400
    assert media_type(response) == APPLICATION_JSON_UTF8
    assert "data" not in body_json(response)
    assert error_codes(response) == ["BAD_REQUEST"]


@pytest.mark.parametrize(
    "body",
    [
        '{"query":42}',
        '{"query":null}',
        '{"query":["{ __typename }"]}',
        '{"query":{"text":"{ __typename }"}}',
        '{"query":"{ __typename }","operationName":7}',
        '{"query":"{ __typename }","variables":"{}"}',
        '{"query":"{ __typename }","extensions":[]}',
        "[]",
        "42",
        '"{ __typename }"',
        "null",
        "",
        b"\xff\xfe",  # not UTF-8
    ],
)
def test_a_request_of_the_wrong_shape_is_400_json(api_client, body):
    # when
    response = WireRequest("POST", body, APPLICATION_JSON, APPLICATION_JSON).send(api_client)

    # then
    assert response.status_code == 400
    assert media_type(response) == APPLICATION_JSON_UTF8
    assert "data" not in body_json(response)
    assert error_codes(response) == ["BAD_REQUEST"]


def test_a_lone_surrogate_in_a_variable_is_400_json(api_client):
    # given: valid JSON text (RFC 8259 allows the escape) that decodes to no Unicode string at all
    body = (
        r'{"query":"query Search($search: String) { errands(search: $search) { id } }","variables":{"search":"\ud800"}}'
    )

    # when
    response = WireRequest("POST", body, APPLICATION_JSON, APPLICATION_JSON).send(api_client)

    # then
    assert response.status_code == 400
    assert media_type(response) == APPLICATION_JSON_UTF8
    assert error_codes(response) == ["BAD_REQUEST"]


# --- NUL characters ---------------------------------------------------------------------------------------------------


def test_a_nul_in_a_search_is_a_graphql_error_without_internals(api_client):
    # when
    response = post_json(
        {"query": SEARCH_QUERY, "variables": {"search": "par\u0000cel"}}, accept=APPLICATION_JSON
    ).send(api_client)

    # then: PostgreSQL refuses NUL in text; the client sees a contract error, not the driver's words
    assert response.status_code == 200
    errors = body_json(response)["errors"]
    assert set(error_codes(response)) <= {"INVALID", "INTERNAL_SERVER_ERROR"}
    for error in errors:
        assert not any(internal in error["message"] for internal in DATABASE_INTERNALS), error["message"]


def test_a_nul_in_a_new_errand_title_is_a_payload_error(api_client_for, user):
    # when
    response = post_json(
        {"query": CREATE_ERRAND_MUTATION, "variables": {"input": {**ERRAND_INPUT, "title": "Pick up\u0000"}}},
        accept=APPLICATION_JSON,
    ).send(api_client_for(user))

    # then
    assert response.status_code == 200
    assert body_json(response) == {
        "data": {"createErrand": {"errand": None, "errors": [{"field": "title", "code": "INVALID"}]}}
    }
    assert not Errand.objects.exists()


# --- variables that the operation does not declare --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_undeclared_variables_do_not_split_the_whole_response_entry(api_client, cache_debug, django_assert_num_queries):
    # given
    RoleFactory.create_batch(2)
    first = post_json({"query": ROLES_QUERY, "variables": {}}).send(api_client)

    # when: the same operation with a variable it does not declare (coercion ignores it)
    with django_assert_num_queries(0):
        second = post_json({"query": ROLES_QUERY, "variables": {"cacheBuster": "1"}}).send(api_client)

    # then
    assert body_json(second)["data"] == body_json(first)["data"]
    assert body_json(second)["extensions"]["cache"]["operation"] == "HIT"
    assert get_store().count("gql:*") == 1
