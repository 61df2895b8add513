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
    assert response["Content-Type"] == "application/json"
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
        ("{not json", "POST body sent invalid JSON."),
        ("[1, 2]", "The received data is not a valid JSON query."),
        ("{}", "Must provide query string."),
        (json.dumps({"query": ROLES_QUERY, "variables": "{oops"}), "Variables are invalid JSON."),
        (json.dumps({"query": ROLES_QUERY, "operationName": "Nope"}), "Unknown operation named 'Nope'."),
        (json.dumps({"query": "{ roles { name } "}), "Syntax Error"),
        (json.dumps({"query": "{ roles { ...Missing } }"}), "Unknown fragment 'Missing'."),
        (
            json.dumps({"query": "{ roles { ...A } } fragment A on Role { ...B } fragment B on Role { ...A }"}),
            "Cannot spread fragment 'A' within itself",
        ),
    ],
    ids=[
        "malformed-json",
        "not-an-object",
        "missing-query",
        "bad-variables",
        "unknown-operation",
        "syntax-error",
        "unknown-fragment",
        "fragment-cycle",
    ],
)
def test_a_bad_request_gets_a_400_with_a_json_error(body, message):
    # when
    response = _post(Client(), body)

    # then
    assert response.status_code == 400
    assert message in _json_errors(response)[0]["message"]


def test_a_mutation_over_get_is_refused_with_json():
    # when
    response = Client().get(GRAPHQL_URL, {"query": CREATE_ERRAND_MUTATION}, headers={"Accept": "application/json"})

    # then
    assert response.status_code == 405
    assert "POST" in _json_errors(response)[0]["message"]


def test_a_query_deeper_than_the_limit_is_refused(user_api_client, settings):
    # given
    settings.GRAPHQL_MAX_DEPTH = 2

    # when
    response = user_api_client.post_graphql(DEEP_QUERY)

    # then
    assert response.status_code == 400
    assert _json_errors(response)[0]["message"] == "'Deep' exceeds maximum operation depth of 2."


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
