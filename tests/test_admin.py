import pytest
from django.test import Client

from accounts.models import User, UserProfile
from core.factories import AdminUserFactory, BankFactory, ErrandFactory, RoleFactory

pytestmark = pytest.mark.django_db

CHANGELISTS = [
    "/admin/accounts/user/",
    "/admin/accounts/userprofile/",
    "/admin/accounts/role/",
    "/admin/accounts/bank/",
    "/admin/errands/errand/",
    "/admin/escrows/escrow/",
]


@pytest.fixture
def admin_browser() -> Client:
    browser = Client()
    browser.force_login(AdminUserFactory())
    return browser


@pytest.mark.parametrize("url", CHANGELISTS)
def test_every_model_has_a_working_changelist_with_search(admin_browser, url):
    # given
    ErrandFactory.create_batch(3, paid=True)
    BankFactory()
    RoleFactory()

    # when
    listing = admin_browser.get(url)
    searched = admin_browser.get(url, {"q": "a"})

    # then
    assert listing.status_code == 200
    assert searched.status_code == 200
    assert b'id="searchbar"' in listing.content


@pytest.mark.parametrize(("trait", "amount_editable"), [("assigned", True), ("in_progress", False), ("paid", False)])
def test_escrow_amount_is_read_only_once_funded(admin_browser, trait, amount_editable):
    # given
    escrow = ErrandFactory(**{trait: True}).escrow

    # when
    page = admin_browser.get(f"/admin/escrows/escrow/{escrow.pk}/change/")

    # then
    assert page.status_code == 200
    assert (b'name="amount"' in page.content) is amount_editable


def test_users_are_found_by_autocomplete_from_the_errand_form(admin_browser):
    # given
    errand = ErrandFactory()

    # when
    response = admin_browser.get(
        "/admin/autocomplete/",
        {
            "app_label": "errands",
            "model_name": "errand",
            "field_name": "created_by",
            "term": errand.created_by.username,
        },
    )

    # then
    assert response.status_code == 200
    assert [result["text"] for result in response.json()["results"]] == [errand.created_by.username]


def test_adding_a_user_in_the_admin_creates_exactly_one_profile(admin_browser):
    # when
    response = admin_browser.post(
        "/admin/accounts/user/add/",
        {
            "username": "newcomer",
            "password1": "a-long-pass-42!",
            "password2": "a-long-pass-42!",
            "usable_password": "true",
        },
    )

    # then
    assert response.status_code == 302, response.content
    user = User.objects.get(username="newcomer")
    assert UserProfile.objects.filter(user=user).count() == 1
    profile_page = admin_browser.get(f"/admin/accounts/user/{user.pk}/change/")
    assert b'name="profile-0-country"' in profile_page.content
