import pytest

from accounts.models import UserProfile
from core.factories import DEFAULT_PASSWORD, BankFactory, UserFactory
from tests.fixtures.api import get_graphql_content

pytestmark = pytest.mark.django_db

TOKEN_AUTH_MUTATION = """
mutation TokenAuth($username: String!, $password: String!) {
  tokenAuth(username: $username, password: $password) {
    token
    errors { field code message }
  }
}
"""

ME_QUERY = """
query Me { me { username } }
"""

UPDATE_PROFILE_MUTATION = """
mutation UpdateProfile($input: UpdateProfileInput!) {
  updateProfile(input: $input) {
    viewer { id username email profile { phone country accountNumber bank { code country } } }
    errors { field code message }
  }
}
"""


def test_token_auth_issues_a_token_that_authenticates(api_client, api_client_for):
    # given
    UserFactory(username="ada")

    # when
    content = get_graphql_content(
        api_client.post_graphql(TOKEN_AUTH_MUTATION, {"username": "ada", "password": DEFAULT_PASSWORD})
    )

    # then
    payload = content["data"]["tokenAuth"]
    assert payload["errors"] == []
    me = get_graphql_content(api_client_for(None, token=payload["token"]).post_graphql(ME_QUERY))
    assert me["data"]["me"] == {"username": "ada"}


@pytest.mark.parametrize(
    ("username", "password"), [("ada", "wrong-password"), ("nobody", DEFAULT_PASSWORD)], ids=["bad-password", "no-user"]
)
def test_token_auth_refuses_wrong_credentials(api_client, username, password):
    # given
    UserFactory(username="ada")

    # when
    content = get_graphql_content(
        api_client.post_graphql(TOKEN_AUTH_MUTATION, {"username": username, "password": password})
    )

    # then
    payload = content["data"]["tokenAuth"]
    assert payload["token"] is None
    assert [(error["code"], error["field"]) for error in payload["errors"]] == [("UNAUTHENTICATED", None)]


def test_token_auth_refuses_an_inactive_user(api_client):
    # given
    UserFactory(username="ada", is_active=False)

    # when
    content = get_graphql_content(
        api_client.post_graphql(TOKEN_AUTH_MUTATION, {"username": "ada", "password": DEFAULT_PASSWORD})
    )

    # then
    assert content["data"]["tokenAuth"]["token"] is None
    assert content["data"]["tokenAuth"]["errors"][0]["code"] == "UNAUTHENTICATED"


def test_update_profile_changes_every_field(user_api_client, user):
    # given
    BankFactory(country="NG", code="044", name="Access Bank")

    # when
    content = get_graphql_content(
        user_api_client.post_graphql(
            UPDATE_PROFILE_MUTATION,
            {"input": {"phone": "+2348012345678", "country": "ng", "bankCode": "044", "accountNumber": "0123456789"}},
        )
    )

    # then
    payload = content["data"]["updateProfile"]
    assert payload["errors"] == []
    assert payload["viewer"]["profile"] == {
        "phone": "+2348012345678",
        "country": "NG",
        "accountNumber": "0123456789",
        "bank": {"code": "044", "country": "NG"},
    }
    profile = UserProfile.objects.get(user=user)
    assert (profile.country, profile.bank.code, profile.account_number) == ("NG", "044", "0123456789")


def test_update_profile_leaves_out_fields_alone_and_clears_the_bank_with_an_empty_code(api_client_for):
    # given
    bank = BankFactory(country="GH", code="040100")
    viewer = UserFactory(profile__country="GH", profile__bank=bank, profile__phone="+233201234567")

    # when
    content = get_graphql_content(
        api_client_for(viewer).post_graphql(UPDATE_PROFILE_MUTATION, {"input": {"bankCode": ""}})
    )

    # then
    profile = content["data"]["updateProfile"]["viewer"]["profile"]
    assert profile["bank"] is None
    assert (profile["country"], profile["phone"]) == ("GH", "+233201234567")


def test_update_profile_refuses_an_anonymous_caller(api_client):
    # when
    content = get_graphql_content(
        api_client.post_graphql(UPDATE_PROFILE_MUTATION, {"input": {"phone": "+2348012345678"}})
    )

    # then
    payload = content["data"]["updateProfile"]
    assert payload["viewer"] is None
    assert [error["code"] for error in payload["errors"]] == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    ("given", "field"),
    [
        ({"country": "Nigeria"}, "country"),
        ({"phone": "call me maybe"}, "phone"),
        ({"accountNumber": "12AB"}, "accountNumber"),
        ({"country": "NG", "bankCode": "999"}, "bankCode"),
        ({"country": "GH", "bankCode": "044"}, "bankCode"),
    ],
    ids=["country-not-iso2", "phone-not-digits", "account-not-digits", "unknown-bank", "bank-of-another-country"],
)
def test_update_profile_refuses_invalid_input_naming_the_field(user_api_client, user, given, field):
    # given
    BankFactory(country="NG", code="044")

    # when
    content = get_graphql_content(user_api_client.post_graphql(UPDATE_PROFILE_MUTATION, {"input": given}))

    # then
    payload = content["data"]["updateProfile"]
    assert payload["viewer"] is None
    assert [(error["code"], error["field"]) for error in payload["errors"]] == [("INVALID", field)]
    assert UserProfile.objects.get(user=user).country == ""


def test_update_profile_reports_every_invalid_field_at_once(user_api_client):
    # when
    content = get_graphql_content(
        user_api_client.post_graphql(UPDATE_PROFILE_MUTATION, {"input": {"phone": "x", "accountNumber": "y"}})
    )

    # then
    assert {error["field"] for error in content["data"]["updateProfile"]["errors"]} == {"phone", "accountNumber"}


def test_update_profile_refuses_a_country_that_strands_the_bank(api_client_for):
    # given
    viewer = UserFactory(profile__country="NG", profile__bank=BankFactory(country="NG", code="044"))

    # when
    content = get_graphql_content(
        api_client_for(viewer).post_graphql(UPDATE_PROFILE_MUTATION, {"input": {"country": "KE"}})
    )

    # then
    errors = content["data"]["updateProfile"]["errors"]
    assert [(error["code"], error["field"]) for error in errors] == [("INVALID", "bankCode")]
    assert UserProfile.objects.get(user=viewer).country == "NG"
