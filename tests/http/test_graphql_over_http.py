"""The GraphQL over HTTP reference audit, test by test, and what docs/http.md adds to it.

Source: the npm package graphql-http 1.23.1, lib/audits/server.js, `serverAudits` (61 audits). Each row below is one
audit: its id, its title verbatim, the request it sends (headers and body as written there) and the outcome it
asserts. Where the audit allows a choice (SHOULD / MAY), the row asserts the one docs/http.md makes:

- a malformed request (body, parameter shapes, method, media type) is a 4xx with a JSON `errors` body,
  `extensions.code` BAD_REQUEST, and no `data`;
- a document that does not parse or validate, or variables that do not coerce, is 200 with `errors` and no `data`
  under `Accept: application/json`, and 400 under `application/graphql-response+json`;
- the response media type follows the negotiation table (both with `; charset=utf-8`).

Two notes on fidelity: the audits run on fetch(), which sends `Accept: */*` when the audit sets no Accept, and
`Content-Type: text/plain;charset=UTF-8` for a string body without one (the Fetch standard); 80D8 and 9ABE are also
checked with the header truly missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from core.factories import UserFactory
from errands.models import Errand
from tests.http.wire import (
    APPLICATION_JSON,
    APPLICATION_JSON_UTF8,
    GRAPHQL_RESPONSE_JSON,
    GRAPHQL_RESPONSE_JSON_UTF8,
    WireRequest,
    body_json,
    error_codes,
    get_form,
    header_tokens,
    media_type,
    post_json,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("no_cache_debug")]

TYPENAME_QUERY = "{ __typename }"
NAMED_QUERY = "query Query { __typename }"
TYPE_BY_NAME_QUERY = "query Type($name: String!) { __type(name: $name) { name } }"
UNICODE_TYPE_QUERY = '{ __type(name: "Run🏃Swim🏊") { name } }'
MUTATION_TYPENAME = "mutation { __typename }"
QUERY_AND_MUTATION_DOCUMENT = "query Q { __typename } mutation M { __typename }"
PARSE_FAILURE_QUERY = "{"
UNKNOWN_FIELD_QUERY = "{ 8f31403dfe404bccbb0e835f2629c6a7 }"  # the audit's way of naming a field that cannot exist
COERCE_FAILURE_QUERY = "query CoerceFailure($id: ID!){ __typename }"
NOT_JSON_BODY = '{ "not a JSON'
CREATE_ERRAND_MUTATION = (
    'mutation { createErrand(input: {title: "t", description: "d", category: "c", budget: "10", '
    'pickupAddress: "a", dropoffAddress: "b"}) { errand { id } errors { code } } }'
)

FETCH_DEFAULT_ACCEPT = "*/*"  # Fetch standard: added when the request has no Accept header
FETCH_STRING_BODY_CONTENT_TYPE = "text/plain;charset=UTF-8"  # Fetch standard: a string body without Content-Type

ABSENT = object()  # `data` must not be a key of the body
TYPENAME_DATA = {"__typename": "Query"}
NULL_TYPE_DATA = {"__type": None}


@dataclass(frozen=True)
class Audit:
    id: str
    title: str  # verbatim from serverAudits
    request: WireRequest
    status: int
    content_type: str = APPLICATION_JSON_UTF8
    data: Any = field(default_factory=lambda: TYPENAME_DATA)  # the exact `data`, or ABSENT
    error_code: str | None = None  # extensions.code of every error; None: the body has no `errors`


# extensions.code of a malformed request, by its status (docs/http.md).
REQUEST_ERROR_CODES = {
    400: "BAD_REQUEST",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def bad_request(audit_id: str, title: str, request: WireRequest, status: int = 400) -> Audit:
    """An audit of a malformed request: docs/http.md answers it with a JSON error and no data."""
    content_type = GRAPHQL_RESPONSE_JSON_UTF8 if request.accept == GRAPHQL_RESPONSE_JSON else APPLICATION_JSON_UTF8
    return Audit(audit_id, title, request, status, content_type, ABSENT, REQUEST_ERROR_CODES[status])


def _query_with(**params) -> dict:
    return {"query": TYPENAME_QUERY, **params}


INVALID_QUERIES = [{"obj": "ect"}, 0, False, ["array"]]  # the audit's `[{ obj: 'ect' }, 0, false, ['array']]`
INVALID_MAPS = ["string", 0, False, ["array"]]  # the audit's `['string', 0, false, ['array']]`
KIND = {dict: "object", int: "number", bool: "boolean", list: "array", str: "string"}  # extendedTypeof


def _kind(value) -> str:
    return KIND[type(value)]


AUDITS: list[Audit] = [
    # --- Media Types -----------------------------------------------------------------------------------------------
    Audit(
        "22EB",
        "SHOULD accept application/graphql-response+json and match the content-type",
        post_json({"query": TYPENAME_QUERY}, accept=GRAPHQL_RESPONSE_JSON),
        200,
        GRAPHQL_RESPONSE_JSON_UTF8,
    ),
    Audit(
        "4655",
        "MUST accept application/json and match the content-type",
        post_json({"query": TYPENAME_QUERY}, accept=APPLICATION_JSON),
        200,
    ),
    Audit(
        "47DE",
        "SHOULD accept */* and use application/json for the content-type",
        post_json({"query": TYPENAME_QUERY}, accept="*/*"),
        200,
    ),
    Audit(
        "80D8",
        "SHOULD assume application/json content-type when accept is missing",
        post_json({"query": TYPENAME_QUERY}),
        200,
    ),
    Audit("82A3", "MUST use utf-8 encoding when responding", post_json({"query": TYPENAME_QUERY}), 200),
    Audit(
        "BF61",
        "MUST accept utf-8 encoded request",
        post_json({"query": UNICODE_TYPE_QUERY}, content_type="application/json; charset=utf-8"),
        200,
        data=NULL_TYPE_DATA,
    ),
    Audit(
        "78D5",
        "MUST assume utf-8 in request if encoding is unspecified",
        post_json({"query": TYPENAME_QUERY}),
        200,
    ),
    # --- Request ---------------------------------------------------------------------------------------------------
    Audit("2C94", "MUST accept POST requests", post_json({"query": TYPENAME_QUERY}), 200),
    Audit(
        "5A70",
        "MAY accept application/x-www-form-urlencoded formatted GET requests",
        get_form({"query": TYPENAME_QUERY}, accept=FETCH_DEFAULT_ACCEPT),
        200,
    ),
    # --- Request GET -----------------------------------------------------------------------------------------------
    bad_request(
        "9C48",
        "MAY NOT allow executing mutations on GET requests",
        get_form({"query": MUTATION_TYPENAME}, accept=GRAPHQL_RESPONSE_JSON),
        status=405,  # GraphQL over HTTP: a mutation over GET is 405 Method Not Allowed (the audit: any 4xx)
    ),
    # --- Request POST ----------------------------------------------------------------------------------------------
    bad_request(
        "9ABE",
        "SHOULD respond with 4xx status code if content-type is not supplied on POST requests",
        WireRequest("POST", json.dumps({"query": TYPENAME_QUERY}), content_type=FETCH_STRING_BODY_CONTENT_TYPE),
        status=415,  # what fetch() really sends here is text/plain, which docs/http.md answers with 415
    ),
    Audit("03D4", "MUST accept application/json POST requests", post_json({"query": TYPENAME_QUERY}), 200),
    bad_request(
        "A5BF",
        "MAY use 400 status code when request body is missing on POST",
        WireRequest("POST", b"", APPLICATION_JSON),
    ),
    # --- Request Parameters ----------------------------------------------------------------------------------------
    bad_request(
        "423L",
        "MAY use 400 status code on missing {query} parameter",
        post_json({"notquery": TYPENAME_QUERY}, accept=GRAPHQL_RESPONSE_JSON),
    ),
    *[
        bad_request(f"LKJ{i}", f"MAY use 400 status code on {_kind(v)} {{query}} parameter", post_json({"query": v}))
        for i, v in enumerate(INVALID_QUERIES)
    ],
    Audit(
        "34A2",
        "SHOULD allow string {query} parameter when accepting application/graphql-response+json",
        post_json({"query": TYPENAME_QUERY}, accept=GRAPHQL_RESPONSE_JSON),
        200,
        GRAPHQL_RESPONSE_JSON_UTF8,
    ),
    Audit(
        "13EE",
        "MUST allow string {query} parameter when accepting application/json",
        post_json({"query": TYPENAME_QUERY}, accept=APPLICATION_JSON),
        200,
    ),
    *[
        bad_request(
            f"6C0{i}",
            f"MAY use 400 status code on {_kind(v)} {{operationName}} parameter",
            post_json({"operationName": v, "query": TYPENAME_QUERY}),
        )
        for i, v in enumerate(INVALID_QUERIES)
    ],
    Audit(
        "8161",
        "SHOULD allow string {operationName} parameter when accepting application/graphql-response+json",
        post_json({"operationName": "Query", "query": NAMED_QUERY}, accept=GRAPHQL_RESPONSE_JSON),
        200,
        GRAPHQL_RESPONSE_JSON_UTF8,
    ),
    Audit(
        "B8B3",
        "MUST allow string {operationName} parameter when accepting application/json",
        post_json({"operationName": "Query", "query": NAMED_QUERY}, accept=APPLICATION_JSON),
        200,
    ),
    *[
        audit
        for i, parameter in enumerate(["variables", "operationName", "extensions"])
        for audit in (
            Audit(
                f"94B{i}",
                f"SHOULD allow null {{{parameter}}} parameter when accepting application/graphql-response+json",
                post_json(_query_with(**{parameter: None}), accept=GRAPHQL_RESPONSE_JSON),
                200,
                GRAPHQL_RESPONSE_JSON_UTF8,
            ),
            Audit(
                f"022{i}",
                f"MUST allow null {{{parameter}}} parameter when accepting application/json",
                post_json(_query_with(**{parameter: None}), accept=APPLICATION_JSON),
                200,
            ),
        )
    ],
    *[
        bad_request(
            f"476{i}",
            f"MAY use 400 status code on {_kind(v)} {{variables}} parameter",
            post_json(_query_with(variables=v)),
        )
        for i, v in enumerate(INVALID_MAPS)
    ],
    Audit(
        "2EA1",
        "SHOULD allow map {variables} parameter when accepting application/graphql-response+json",
        post_json({"query": TYPE_BY_NAME_QUERY, "variables": {"name": "sometype"}}, accept=GRAPHQL_RESPONSE_JSON),
        200,
        GRAPHQL_RESPONSE_JSON_UTF8,
        data=NULL_TYPE_DATA,
    ),
    Audit(
        "28B9",
        "MUST allow map {variables} parameter when accepting application/json",
        post_json({"query": TYPE_BY_NAME_QUERY, "variables": {"name": "sometype"}}, accept=APPLICATION_JSON),
        200,
        data=NULL_TYPE_DATA,
    ),
    Audit(
        "D6D5",
        "MAY allow URL-encoded JSON string {variables} parameter in GETs when accepting "
        "application/graphql-response+json",
        get_form(
            {"query": TYPE_BY_NAME_QUERY, "variables": json.dumps({"name": "sometype"})}, accept=GRAPHQL_RESPONSE_JSON
        ),
        200,
        GRAPHQL_RESPONSE_JSON_UTF8,
        data=NULL_TYPE_DATA,
    ),
    Audit(
        "6A70",
        "MAY allow URL-encoded JSON string {variables} parameter in GETs when accepting application/json",
        get_form({"query": TYPE_BY_NAME_QUERY, "variables": json.dumps({"name": "sometype"})}, accept=APPLICATION_JSON),
        200,
        data=NULL_TYPE_DATA,
    ),
    *[
        bad_request(
            f"58B{i}",
            f"MAY use 400 status code on {_kind(v)} {{extensions}} parameter",
            post_json(_query_with(extensions=v)),
        )
        for i, v in enumerate(INVALID_MAPS)
    ],
    Audit(
        "428F",
        "SHOULD allow map {extensions} parameter when accepting application/graphql-response+json",
        post_json(_query_with(extensions={"some": "value"}), accept=GRAPHQL_RESPONSE_JSON),
        200,
        GRAPHQL_RESPONSE_JSON_UTF8,
    ),
    Audit(
        "1B7A",
        "MUST allow map {extensions} parameter when accepting application/json",
        post_json(_query_with(extensions={"some": "value"}), accept=APPLICATION_JSON),
        200,
    ),
    bad_request(
        "B6DC",
        "MAY use 2xx, 4xx, or 5xx status codes on JSON parsing failure when accepting application/json",
        WireRequest("POST", NOT_JSON_BODY, APPLICATION_JSON, APPLICATION_JSON),
    ),
    bad_request(
        "BCF8",
        "SHOULD use 400 status code on JSON parsing failure when accepting application/json",
        WireRequest("POST", NOT_JSON_BODY, APPLICATION_JSON, APPLICATION_JSON),
    ),
    bad_request(
        "B7N8",
        "SHOULD use 400 status code on JSON parsing failure when accepting application/graphql-response+json",
        WireRequest("POST", NOT_JSON_BODY, APPLICATION_JSON, GRAPHQL_RESPONSE_JSON),
    ),
    bad_request(
        "8764",
        "MAY use 4xx or 5xx status codes if parameters are invalid",
        post_json({"qeury": TYPENAME_QUERY}),  # sic: the audit's typo is the point
    ),
    bad_request("3E3A", "MAY use 400 status code if parameters are invalid", post_json({"qeury": TYPENAME_QUERY})),
    # --- Response application/json ---------------------------------------------------------------------------------
    Audit(
        "572B",
        "SHOULD use 200 status code on document parsing failure when accepting application/json",
        post_json({"query": PARSE_FAILURE_QUERY}, accept=APPLICATION_JSON),
        200,
        data=ABSENT,
        error_code="GRAPHQL_PARSE_FAILED",
    ),
    Audit(
        "FDE2",
        "SHOULD use 200 status code on document validation failure when accepting application/json",
        post_json({"query": UNKNOWN_FIELD_QUERY}, accept=APPLICATION_JSON),
        200,
        data=ABSENT,
        # The audit's "unknown field" starts with a digit: graphql-core (like graphql-js) fails it in the lexer.
        error_code="GRAPHQL_PARSE_FAILED",
    ),
    Audit(
        "7B9B",
        "SHOULD use a status code of 200 on variable coercion failure when accepting application/json",
        post_json({"query": COERCE_FAILURE_QUERY, "variables": {"id": None}}, accept=APPLICATION_JSON),
        200,
        data=ABSENT,
        # `$id` is declared and never used, so validation (NoUnusedVariables) refuses it before coercion.
        error_code="GRAPHQL_VALIDATION_FAILED",
    ),
    # --- Response application/graphql-response+json ----------------------------------------------------------------
    *[
        Audit(
            audit_id,
            title,
            post_json({"query": PARSE_FAILURE_QUERY}, accept=GRAPHQL_RESPONSE_JSON),
            400,
            GRAPHQL_RESPONSE_JSON_UTF8,
            data=ABSENT,
            error_code="GRAPHQL_PARSE_FAILED",
        )
        for audit_id, title in [
            (
                "865D",
                "SHOULD use 4xx or 5xx status codes on document parsing failure when accepting "
                "application/graphql-response+json",
            ),
            (
                "556A",
                "SHOULD use 400 status code on document parsing failure when accepting "
                "application/graphql-response+json",
            ),
            (
                "D586",
                "SHOULD not contain the data entry on document parsing failure when accepting "
                "application/graphql-response+json",
            ),
        ]
    ],
    *[
        Audit(
            audit_id,
            title,
            post_json({"query": UNKNOWN_FIELD_QUERY}, accept=GRAPHQL_RESPONSE_JSON),
            400,
            GRAPHQL_RESPONSE_JSON_UTF8,
            data=ABSENT,
            error_code="GRAPHQL_PARSE_FAILED",  # as for FDE2: the lexer refuses the name
        )
        for audit_id, title in [
            (
                "51FE",
                "SHOULD use 4xx or 5xx status codes on document validation failure when accepting "
                "application/graphql-response+json",
            ),
            (
                "74FF",
                "SHOULD use 400 status code on document validation failure when accepting "
                "application/graphql-response+json",
            ),
            (
                "5E5B",
                "SHOULD not contain the data entry on document validation failure when accepting "
                "application/graphql-response+json",
            ),
        ]
    ],
    Audit(
        "86EE",
        "SHOULD use a status code of 400 on variable coercion failure when accepting application/graphql-response+json",
        post_json({"query": COERCE_FAILURE_QUERY, "variables": {"id": None}}, accept=GRAPHQL_RESPONSE_JSON),
        400,
        GRAPHQL_RESPONSE_JSON_UTF8,
        data=ABSENT,
        error_code="GRAPHQL_VALIDATION_FAILED",  # as for 7B9B
    ),
]


def test_the_table_holds_every_server_audit_of_graphql_http_1_23_1():
    # graphql-http 1.23.1 serverAudits() returns 61 audits with these ids; a row lost or doubled fails here.
    assert len(AUDITS) == 61
    assert len({audit.id for audit in AUDITS}) == 61


@pytest.mark.parametrize("audit", AUDITS, ids=[audit.id for audit in AUDITS])
def test_server_audit(api_client, audit: Audit):
    # when
    response = audit.request.send(api_client)

    # then: the audit's own assertion, narrowed to the choice docs/http.md makes
    assert response.status_code == audit.status, (audit.title, response.content)
    assert media_type(response) == audit.content_type, audit.title
    body = body_json(response)  # every answer is UTF-8 JSON (82A3, and bodyAsExecutionResult in the others)
    if audit.data is ABSENT:
        assert "data" not in body, audit.title
    else:
        assert body.get("data") == audit.data, (audit.title, body)
    if audit.error_code is None:
        assert "errors" not in body, (audit.title, body)
    else:
        assert set(error_codes(response)) == {audit.error_code}, (audit.title, body)


def test_9abe_post_without_any_content_type_is_a_4xx(api_client):
    # given: 9ABE as its title says it, with no Content-Type at all (fetch() would have added text/plain)
    request = WireRequest("POST", json.dumps({"query": TYPENAME_QUERY}), content_type=None)

    # when
    response = request.send(api_client)

    # then
    assert 400 <= response.status_code <= 499
    assert error_codes(response) == ["UNSUPPORTED_MEDIA_TYPE"]


def test_80d8_post_without_any_accept_header_answers_application_json(api_client):
    # given: 80D8 with the Accept header truly absent (fetch() would have sent */*)
    request = WireRequest("POST", json.dumps({"query": TYPENAME_QUERY}), APPLICATION_JSON, accept=None)

    # when
    response = request.send(api_client)

    # then
    assert response.status_code == 200
    assert media_type(response) == APPLICATION_JSON_UTF8
    assert body_json(response) == {"data": TYPENAME_DATA}


# --- docs/http.md beyond the audit ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON_UTF8),
        ("application/graphql-response+json,application/json;q=0.9", GRAPHQL_RESPONSE_JSON_UTF8),  # Apollo Client 4
        ("application/json;q=0.9, application/graphql-response+json", GRAPHQL_RESPONSE_JSON_UTF8),
        ("application/json, application/graphql-response+json;q=0.5", APPLICATION_JSON_UTF8),
        (APPLICATION_JSON, APPLICATION_JSON_UTF8),
        (None, APPLICATION_JSON_UTF8),
        ("*/*", APPLICATION_JSON_UTF8),
        ("application/*", APPLICATION_JSON_UTF8),
    ],
    ids=["graphql-response", "apollo", "graphql-response-preferred", "json-preferred", "json", "missing", "any", "app"],
)
def test_media_type_negotiation_table(api_client, accept, expected):
    # when
    response = post_json({"query": TYPENAME_QUERY}, accept=accept).send(api_client)

    # then
    assert response.status_code == 200
    assert media_type(response) == expected
    assert body_json(response) == {"data": TYPENAME_DATA}


@pytest.mark.parametrize("accept", ["text/plain", "text/html", "application/xml, text/csv;q=0.5"])
def test_accepting_only_other_media_types_is_406_with_a_json_error(api_client, accept):
    # when
    response = post_json({"query": TYPENAME_QUERY}, accept=accept).send(api_client)

    # then
    assert response.status_code == 406
    assert media_type(response).startswith(APPLICATION_JSON)
    assert "data" not in body_json(response)
    assert error_codes(response) == ["NOT_ACCEPTABLE"]


@pytest.mark.parametrize(
    "request_",
    [
        post_json({"query": TYPENAME_QUERY}),
        get_form({"query": TYPENAME_QUERY}, accept=APPLICATION_JSON),
        post_json({"query": "{ roles { id } }"}, accept=GRAPHQL_RESPONSE_JSON),
        post_json({"query": PARSE_FAILURE_QUERY}, accept=APPLICATION_JSON),
        post_json({"query": UNKNOWN_FIELD_QUERY}, accept=GRAPHQL_RESPONSE_JSON),
        WireRequest("POST", NOT_JSON_BODY, APPLICATION_JSON),
        get_form({"query": MUTATION_TYPENAME}, accept=APPLICATION_JSON),
        WireRequest("PUT", json.dumps({"query": TYPENAME_QUERY}), APPLICATION_JSON),
    ],
    ids=["post", "get", "cacheable", "parse-failure", "validation-failure", "bad-json", "mutation-get", "put"],
)
def test_every_response_varies_on_accept_authorization_and_cookie(api_client, request_):
    # when
    response = request_.send(api_client)

    # then
    assert {"accept", "authorization", "cookie"} <= header_tokens(response, "Vary")


def test_an_unsupported_method_is_405_with_allow(api_client):
    # when
    response = WireRequest("PUT", json.dumps({"query": TYPENAME_QUERY}), APPLICATION_JSON).send(api_client)

    # then: docs/http.md step 1; RFC 9110 15.5.6 requires Allow on a 405
    assert response.status_code == 405
    assert header_tokens(response, "Allow") == {"get", "post"}
    assert error_codes(response) == ["METHOD_NOT_ALLOWED"]


@pytest.mark.parametrize("accept", [APPLICATION_JSON, GRAPHQL_RESPONSE_JSON])
def test_a_mutation_over_get_is_405_and_does_not_run(api_client_for, accept):
    # given
    client = api_client_for(UserFactory())

    # when
    response = get_form({"query": CREATE_ERRAND_MUTATION}, accept=accept).send(client)

    # then: GraphQL over HTTP, "GET": a mutation over GET MUST be 405 Method Not Allowed; RFC 9110 wants Allow
    assert response.status_code == 405
    assert "post" in header_tokens(response, "Allow")
    assert "data" not in body_json(response)
    assert error_codes(response) == ["METHOD_NOT_ALLOWED"]
    assert not Errand.objects.exists()


def test_a_get_with_a_query_chooses_the_query_operation_of_a_mixed_document(api_client):
    # given: GraphQL over HTTP forbids executing a mutation over GET, not documents that merely contain one
    params = {"query": QUERY_AND_MUTATION_DOCUMENT, "operationName": "Q"}

    # when
    response = get_form(params, accept=APPLICATION_JSON).send(api_client)

    # then
    assert response.status_code == 200
    assert body_json(response) == {"data": TYPENAME_DATA}


def test_head_is_answered_as_get_without_a_body(api_client):
    # given: docs/http.md step 1, "HEAD as GET"
    request = replace(get_form({"query": TYPENAME_QUERY}, accept=APPLICATION_JSON), method="HEAD")

    # when
    response = request.send(api_client)

    # then
    assert response.status_code == 200
    assert media_type(response) == APPLICATION_JSON_UTF8
    assert response.content == b""


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/graphql", TYPENAME_QUERY),  # the body is the query
        ("application/json; charset=UTF-8", json.dumps({"query": TYPENAME_QUERY})),
        ("application/json;charset=utf-8", json.dumps({"query": TYPENAME_QUERY})),
    ],
    ids=["graphql", "json-upper-charset", "json-no-space"],
)
def test_post_media_types_that_run(api_client, content_type, body):
    # when
    response = WireRequest("POST", body, content_type, APPLICATION_JSON).send(api_client)

    # then
    assert response.status_code == 200
    assert body_json(response) == {"data": TYPENAME_DATA}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", f"query={TYPENAME_QUERY}"),
        (
            "multipart/form-data; boundary=x",
            f'--x\r\nContent-Disposition: form-data; name="query"\r\n\r\n{TYPENAME_QUERY}\r\n--x--',
        ),
        ("text/plain", json.dumps({"query": TYPENAME_QUERY})),
    ],
    ids=["form", "multipart", "text"],
)
def test_post_media_types_that_are_415(api_client, content_type, body):
    # when: docs/http.md step 4, "other content types are 415" (a form POST is also how CSRF rides)
    response = WireRequest("POST", body, content_type, APPLICATION_JSON).send(api_client)

    # then
    assert response.status_code == 415
    assert "data" not in body_json(response)
    assert error_codes(response) == ["UNSUPPORTED_MEDIA_TYPE"]
