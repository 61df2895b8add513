"""/graphql/ as HTTP: GraphiQL, 400s with JSON bodies, the depth limit, CSRF."""

import json

import pytest
from django.test import Client

from tests.fixtures.api import GRAPHQL_URL, ApiClient, get_graphql_content

pytestmark = pytest.mark.django_db

ROLES_QUERY = """
query Roles { roles { name } }
"""

DEEP_QUERY = """
query Deep { myEscrows { errand { createdBy { username } } } }
"""

CREATE_ERRAND_MUTATION = """
mutation { createErrand(input: {title: "t", description: "d", category: "c", budget: "10",
  pickupAddress: "a", dropoffAddress: "b"}) { errors { code } } }
"""


def _post(client, body: str, content_type="application/json"):
    return client.post(GRAPHQL_URL, data=body, content_type=content_type)


def _json_errors(response) -> list[dict]:
    assert response["Content-Type"].split(";")[0] in ("application/json", "application/graphql-response+json")
    return json.loads(response.content)["errors"]


def test_a_browser_get_serves_graphiql():
    # when
    response = Client().get(GRAPHQL_URL, headers={"Accept": "text/html"})

    # then
    assert response.status_code == 200
    assert b"graphiql" in response.content.lower()


def test_a_get_with_a_query_answers_json():
    # when
    response = Client().get(GRAPHQL_URL, {"query": ROLES_QUERY}, headers={"Accept": "application/json"})

    # then
    assert get_graphql_content(response)["data"] == {"roles": []}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "The request body is not valid JSON."),
        ("[1, 2]", "The request body must be a JSON object with a query."),
        ("{}", "Must provide query string."),
        (json.dumps({"query": ROLES_QUERY, "variables": "{oops"}), "The 'variables' parameter must be a JSON object"),
        (json.dumps({"query": 42}), "The 'query' parameter must be a string."),
        (json.dumps({"query": ROLES_QUERY, "extensions": "x"}), "The 'extensions' parameter must be a JSON object"),
        ('{"query": "{ roles { name } }", "x": ' + "[" * 2000 + "]" * 2000 + "}", "nested"),
        ('{"query": "{ roles { name } }", "variables": {"a": "\\ud800"}}', "lone surrogate"),
    ],
    ids=[
        "malformed-json",
        "not-an-object",
        "missing-query",
        "variables-not-a-map",
        "query-not-a-string",
        "extensions-not-a-map",
        "nested-2000-deep",
        "lone-surrogate",
    ],
)
def test_a_malformed_request_gets_a_400_with_a_json_error(body, message):
    # when
    response = _post(Client(), body)

    # then
    assert response.status_code == 400
    errors = _json_errors(response)
    assert message in errors[0]["message"]
    assert errors[0]["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize(
    ("body", "message", "code"),
    [
        (json.dumps({"query": ROLES_QUERY, "operationName": "Nope"}), "Unknown operation named 'Nope'.", "BAD_REQUEST"),
        (json.dumps({"query": "{ roles { name } "}), "Syntax Error", "GRAPHQL_PARSE_FAILED"),
        (json.dumps({"query": "{ roles { ...Missing } }"}), "Unknown fragment 'Missing'.", "GRAPHQL_VALIDATION_FAILED"),
        (
            json.dumps({"query": "{ roles { ...A } } fragment A on Role { ...B } fragment B on Role { ...A }"}),
            "Cannot spread fragment 'A' within itself",
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            json.dumps({"query": "query($n: Int!) { errands(first: $n) { id } }", "variables": {"n": "x"}}),
            "Variable '$n' got invalid value",
            "BAD_USER_INPUT",
        ),
    ],
    ids=["unknown-operation", "syntax-error", "unknown-fragment", "fragment-cycle", "variables-do-not-coerce"],
)
@pytest.mark.parametrize(
    ("accept", "status"), [("application/json", 200), ("application/graphql-response+json", 400)], ids=["json", "gql"]
)
def test_a_request_graphql_refuses_gets_errors_without_data_and_the_media_types_status(
    body, message, code, accept, status
):
    # when
    response = Client().post(GRAPHQL_URL, data=body, content_type="application/json", headers={"Accept": accept})

    # then: GraphQL over HTTP: 200 for application/json, 4xx for application/graphql-response+json
    assert response.status_code == status
    assert response["Content-Type"] == f"{accept}; charset=utf-8"
    content = json.loads(response.content)
    assert "data" not in content
    assert message in content["errors"][0]["message"]
    assert content["errors"][0]["extensions"]["code"] == code


def test_a_mutation_over_get_is_refused_with_json():
    # when
    response = Client().get(GRAPHQL_URL, {"query": CREATE_ERRAND_MUTATION}, headers={"Accept": "application/json"})

    # then
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert "POST" in _json_errors(response)[0]["message"]


def test_a_query_deeper_than_the_limit_is_refused(user_api_client, settings):
    # given
    settings.GRAPHQL_MAX_DEPTH = 2

    # when
    response = user_api_client.post_graphql(DEEP_QUERY, headers={"Accept": "application/graphql-response+json"})

    # then
    assert response.status_code == 400
    error = _json_errors(response)[0]
    assert error["message"] == "The operation is nested 3 levels deep; at most 2 are allowed."
    assert error["extensions"] == {"code": "QUERY_TOO_DEEP"}


def test_a_query_within_the_limit_runs(user_api_client, settings):
    # given
    settings.GRAPHQL_MAX_DEPTH = 3

    # when
    content = get_graphql_content(user_api_client.post_graphql(DEEP_QUERY))

    # then
    assert content["data"] == {"myEscrows": []}


def test_the_default_depth_limit_is_ten(settings):
    assert settings.GRAPHQL_MAX_DEPTH == 10


def test_introspection_is_not_counted_against_the_depth_limit(settings):
    # given: GraphiQL's schema query nests __type/ofType far deeper than 1
    settings.GRAPHQL_MAX_DEPTH = 1

    # when
    response = _post(Client(), json.dumps({"query": "{ __schema { types { fields { type { ofType { name } } } } } }"}))

    # then
    assert response.status_code == 200


def test_a_session_request_without_a_csrf_token_is_refused(user):
    # given
    browser = ApiClient()
    browser.force_login(user)

    # when
    response = browser.post_graphql(ROLES_QUERY)

    # then
    assert response.status_code == 403
    assert _json_errors(response)[0]["extensions"] == {"code": "CSRF_FAILED"}


def test_a_session_request_with_its_csrf_token_is_accepted(user):
    # given
    browser = ApiClient()
    browser.force_login(user)
    browser.get(GRAPHQL_URL, headers={"Accept": "text/html"})  # sets the csrftoken cookie

    # when
    response = browser.post_graphql(
        "query { me { username } }", headers={"X-CSRFToken": browser.cookies["csrftoken"].value}
    )

    # then
    assert get_graphql_content(response)["data"]["me"] == {"username": user.username}


def test_a_bearer_request_needs_no_csrf_token_even_with_a_session_cookie(user, other_user):
    # given
    client = ApiClient(user)
    client.force_login(other_user)

    # when
    response = client.post_graphql("query { me { username } }")

    # then
    assert get_graphql_content(response)["data"]["me"] == {"username": user.username}


def test_an_anonymous_request_without_cookies_needs_no_csrf_token():
    # when
    response = ApiClient().post_graphql(ROLES_QUERY)

    # then
    assert get_graphql_content(response)["data"] == {"roles": []}


def test_the_admin_login_form_keeps_csrf_protection_without_a_session(user):
    # when: no session cookie, no CSRF token
    response = Client(enforce_csrf_checks=True).post("/admin/login/", {"username": "x", "password": "y"})

    # then
    assert response.status_code == 403
