"""Bearer tokens (core.auth) and sessions, as seen through /graphql/."""

import time
from unittest import mock

import pytest
from django.core import signing
from django.test import Client

from core.auth import TOKEN_SALT, token_for_user, user_from_token
from core.factories import DEFAULT_PASSWORD, StaffUserFactory, UserFactory
from tests.fixtures.api import GRAPHQL_URL, get_graphql_content, get_graphql_errors

pytestmark = pytest.mark.django_db

ME_QUERY = """
query Me { me { username } }
"""

MY_ERRANDS_QUERY = """
query MyErrands { myErrands { id } }
"""


def test_a_token_names_its_user(user):
    # when
    found, error = user_from_token(token_for_user(user))

    # then
    assert (found, error) == (user, None)


def test_an_expired_token_is_anonymous_and_says_so(api_client_for, user, settings):
    # given: a token issued longer ago than the TTL
    issued_at = time.time() - settings.AUTH_TOKEN_TTL - 60
    with mock.patch("time.time", return_value=issued_at):
        token = token_for_user(user)
    client = api_client_for(None, token=token)

    # when
    me = get_graphql_content(client.post_graphql(ME_QUERY))
    errors = get_graphql_errors(client.post_graphql(MY_ERRANDS_QUERY))

    # then
    assert me["data"]["me"] is None
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "expired" in errors[0]["message"]


def test_a_token_still_within_its_ttl_works(api_client_for, user, settings):
    # given
    with mock.patch("time.time", return_value=time.time() - settings.AUTH_TOKEN_TTL + 60):
        token = token_for_user(user)

    # when
    content = get_graphql_content(api_client_for(None, token=token).post_graphql(ME_QUERY))

    # then
    assert content["data"]["me"] == {"username": user.username}


@pytest.mark.parametrize(
    "tamper",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        lambda token: signing.dumps({"uid": 1, "pwd": "x"}, salt="another.salt"),
        lambda token: "not-a-token",
    ],
    ids=["changed-signature", "other-salt", "garbage"],
)
def test_a_tampered_token_is_anonymous_and_says_so(api_client_for, user, tamper):
    # given
    client = api_client_for(None, token=tamper(token_for_user(user)))

    # when
    me = get_graphql_content(client.post_graphql(ME_QUERY))
    errors = get_graphql_errors(client.post_graphql(MY_ERRANDS_QUERY))

    # then
    assert me["data"]["me"] is None
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "invalid" in errors[0]["message"]


def test_a_forged_payload_for_another_user_is_refused(user, other_user):
    # given: a validly shaped payload naming other_user, signed with the wrong salt
    forged = signing.dumps({"uid": other_user.pk, "pwd": "anything"}, salt=TOKEN_SALT + "x")

    # when
    found, error = user_from_token(forged)

    # then
    assert found is None
    assert error == "The token is invalid."


def test_changing_the_password_revokes_earlier_tokens(api_client_for, user):
    # given
    token = token_for_user(user)
    user.set_password("a-new-password-42")
    user.save()

    # when
    errors = get_graphql_errors(api_client_for(None, token=token).post_graphql(MY_ERRANDS_QUERY))

    # then
    assert "revoked" in errors[0]["message"]


def test_a_deactivated_user_token_is_refused(user):
    # given
    token = token_for_user(user)
    user.is_active = False
    user.save()

    # when
    found, error = user_from_token(token)

    # then
    assert found is None
    assert error == "The token has been revoked."


def test_an_anonymous_caller_is_told_how_to_authenticate(api_client):
    # when
    errors = get_graphql_errors(api_client.post_graphql(MY_ERRANDS_QUERY))

    # then
    assert errors[0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert "Authorization: Bearer" in errors[0]["message"]


def test_a_bearer_token_wins_over_a_session(api_client_for, user, other_user):
    # given: a session for `user`, a token for `other_user`
    client = api_client_for(other_user)
    client.force_login(user)

    # when
    content = get_graphql_content(client.post_graphql(ME_QUERY))

    # then
    assert content["data"]["me"] == {"username": other_user.username}


def test_a_bad_token_does_not_fall_back_to_the_session(api_client_for, user):
    # given
    client = api_client_for(None, token="not-a-token")
    client.force_login(user)

    # when
    content = get_graphql_content(client.post_graphql(ME_QUERY))

    # then
    assert content["data"]["me"] is None


def test_a_session_from_the_admin_login_works_on_graphql():
    # given: a staff member logs in through /admin/ like a browser (CSRF enforced)
    StaffUserFactory(username="root")
    browser = Client(enforce_csrf_checks=True)
    browser.get("/admin/login/")
    csrf_token = browser.cookies["csrftoken"].value
    login = browser.post(
        "/admin/login/?next=/admin/",
        {"username": "root", "password": DEFAULT_PASSWORD, "csrfmiddlewaretoken": csrf_token, "next": "/admin/"},
    )
    assert login.status_code == 302, login.content

    # when
    response = browser.post(
        GRAPHQL_URL,
        data={"query": ME_QUERY},
        content_type="application/json",
        headers={"X-CSRFToken": browser.cookies["csrftoken"].value},
    )

    # then
    assert get_graphql_content(response)["data"]["me"] == {"username": "root"}


def test_a_non_bearer_authorization_header_is_ignored(api_client):
    # given
    UserFactory(username="ada")

    # when
    content = get_graphql_content(api_client.post_graphql(ME_QUERY, headers={"Authorization": "Basic YWRhOnB3"}))

    # then
    assert content["data"]["me"] is None
