import pytest

from core.factories import BankFactory, ErrandFactory, RoleFactory, UserFactory
from tests.fixtures.api import get_graphql_content, get_graphql_errors

pytestmark = pytest.mark.django_db

ME_QUERY = """
query Me {
  me {
    id
    username
    email
    profile { phone country accountNumber role { id name } bank { id name code country } }
  }
}
"""

BANKS_QUERY = """
query Banks($country: String!) {
  banks(country: $country) { id name code country }
}
"""

ROLES_QUERY = """
query Roles {
  roles { id name description }
}
"""

USER_EMAIL_QUERY = """
query ErrandCreatorEmail {
  errands { createdBy { id username email } }
}
"""

USER_TYPE_FIELDS_QUERY = """
query UserFields {
  __type(name: "User") { fields { name } }
}
"""


def test_me_returns_the_viewer_with_profile_role_and_bank(api_client_for):
    # given
    bank = BankFactory(country="NG", code="044", name="Access Bank")
    role = RoleFactory(name="runner")
    viewer = UserFactory(
        username="ada",
        email="ada@example.com",
        profile__phone="+2348012345678",
        profile__country="NG",
        profile__bank=bank,
        profile__role=role,
        profile__account_number="0123456789",
    )

    # when
    content = get_graphql_content(api_client_for(viewer).post_graphql(ME_QUERY))

    # then
    assert content["data"]["me"] == {
        "id": str(viewer.pk),
        "username": "ada",
        "email": "ada@example.com",
        "profile": {
            "phone": "+2348012345678",
            "country": "NG",
            "accountNumber": "0123456789",
            "role": {"id": str(role.pk), "name": "runner"},
            "bank": {"id": str(bank.pk), "name": "Access Bank", "code": "044", "country": "NG"},
        },
    }


def test_me_runs_one_query_after_authentication(user_api_client, django_assert_num_queries):
    # given
    user_api_client.user.profile.bank = BankFactory()
    user_api_client.user.profile.role = RoleFactory()
    user_api_client.user.profile.save()

    # when / then: one query authenticates the token, one loads the viewer with profile, role and bank
    with django_assert_num_queries(2):
        content = get_graphql_content(user_api_client.post_graphql(ME_QUERY))
    assert content["data"]["me"]["profile"]["bank"] is not None


def test_me_is_null_for_an_anonymous_caller(api_client):
    # when
    content = get_graphql_content(api_client.post_graphql(ME_QUERY))

    # then
    assert content["data"]["me"] is None


def test_banks_lists_one_country_by_name(api_client, django_assert_num_queries):
    # given
    for code, name in [
        ("058", "GTBank"),
        ("044", "Access Bank"),
        ("011", "First Bank"),
        ("057", "Zenith"),
        ("033", "UBA"),
    ]:
        BankFactory(country="NG", code=code, name=name)
    BankFactory(country="GH", code="040100", name="GCB Bank")

    # when
    with django_assert_num_queries(1):
        content = get_graphql_content(api_client.post_graphql(BANKS_QUERY, {"country": "NG"}))

    # then
    banks = content["data"]["banks"]
    assert [bank["name"] for bank in banks] == ["Access Bank", "First Bank", "GTBank", "UBA", "Zenith"]
    assert {bank["country"] for bank in banks} == {"NG"}


def test_banks_accepts_a_lowercase_country_code(api_client):
    # given
    BankFactory(country="KE", code="68", name="Equity Bank")

    # when
    content = get_graphql_content(api_client.post_graphql(BANKS_QUERY, {"country": "ke"}))

    # then
    assert [bank["name"] for bank in content["data"]["banks"]] == ["Equity Bank"]


def test_roles_lists_every_role_in_one_query(api_client, django_assert_num_queries):
    # given
    for name in ["support", "customer", "runner", "admin", "auditor"]:
        RoleFactory(name=name, description=f"The {name} role")

    # when
    with django_assert_num_queries(1):
        content = get_graphql_content(api_client.post_graphql(ROLES_QUERY))

    # then
    roles = content["data"]["roles"]
    assert [role["name"] for role in roles] == ["admin", "auditor", "customer", "runner", "support"]
    assert roles[0]["description"] == "The admin role"


def test_public_user_type_cannot_show_an_email(user_api_client):
    # given
    ErrandFactory()

    # when
    response = user_api_client.post_graphql(USER_EMAIL_QUERY)

    # then
    assert response.status_code == 200  # application/json: a validation failure is 200 with errors, no data
    assert "Cannot query field 'email' on type 'User'" in get_graphql_errors(response)[0]["message"]


def test_public_user_type_has_only_id_and_username(api_client):
    # when
    content = get_graphql_content(api_client.post_graphql(USER_TYPE_FIELDS_QUERY))

    # then
    assert {field["name"] for field in content["data"]["__type"]["fields"]} == {"id", "username"}
