from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import User, UserProfile
from core.factories import AdminUserFactory, BankFactory, ErrandFactory, RoleFactory, UserFactory
from errands.models import Errand

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


def _errand_form(errand: Errand, **changes) -> dict:
    """What the errand change form posts when only `changes` are edited."""
    fields = {
        "title": errand.title,
        "description": errand.description,
        "category": errand.category,
        "budget": str(errand.budget),
        "currency": errand.currency,
        "pickup_address": errand.pickup_address,
        "dropoff_address": errand.dropoff_address,
        "deadline_0": "",
        "deadline_1": "",
        "created_by": errand.created_by_id,
    }
    return {**fields, **changes}


def test_admin_cannot_make_an_errand_and_its_funded_escrow_disagree(admin_browser):
    # given: an IN_PROGRESS errand whose escrow holds 100.00 NGN
    errand = ErrandFactory(in_progress=True, budget=Decimal("100.00"), currency="NGN")
    url = f"/admin/errands/errand/{errand.pk}/change/"

    # when
    response = admin_browser.post(url, _errand_form(errand, budget="5.00", currency="USD"))

    # then
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "can only change while it is OPEN" in errors["budget"][0]
    assert f"{errand.escrow.reference} is FUNDED, 100.00 NGN" in errors["currency"][0]
    errand.refresh_from_db()
    errand.escrow.refresh_from_db()
    assert (errand.budget, errand.currency) == (Decimal("100.00"), "NGN")
    assert (errand.escrow.amount, errand.escrow.currency) == (Decimal("100.00"), "NGN")


@pytest.mark.parametrize(
    ("budget", "message"),
    [("0", "greater than 0"), ("20000000", "at most 10,000,000"), ("12.345", "2 decimal places")],
)
def test_admin_budget_obeys_the_money_rules(admin_browser, budget, message):
    # given
    errand = ErrandFactory(budget=Decimal("50.00"))

    # when
    response = admin_browser.post(f"/admin/errands/errand/{errand.pk}/change/", _errand_form(errand, budget=budget))

    # then
    assert response.status_code == 200
    assert message in str(response.context["adminform"].form.errors["budget"])
    errand.refresh_from_db()
    assert errand.budget == Decimal("50.00")


def test_admin_edits_an_open_errand_budget(admin_browser):
    # given
    errand = ErrandFactory(budget=Decimal("50.00"), currency="NGN")

    # when
    response = admin_browser.post(
        f"/admin/errands/errand/{errand.pk}/change/", _errand_form(errand, budget="75.50", currency="GHS")
    )

    # then
    assert response.status_code == 302
    errand.refresh_from_db()
    assert (errand.budget, errand.currency) == (Decimal("75.50"), "GHS")


def test_admin_cannot_move_the_lifecycle_or_edit_an_escrow(admin_browser):
    # given
    errand = ErrandFactory(assigned=True)

    # when
    errand_page = admin_browser.get(f"/admin/errands/errand/{errand.pk}/change/")
    escrow_page = admin_browser.get(f"/admin/escrows/escrow/{errand.escrow.pk}/change/")
    add_escrow = admin_browser.get("/admin/escrows/escrow/add/")

    # then
    assert b'name="status"' not in errand_page.content and b'name="runner"' not in errand_page.content
    assert b'name="amount"' not in escrow_page.content and b'name="status"' not in escrow_page.content
    assert add_escrow.status_code == 403


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


def test_admin_adds_an_open_errand_under_the_api_rules(admin_browser):
    # given
    creator = UserFactory()
    form = {
        "title": "Buy bread",
        "description": "Two loaves.",
        "category": "groceries",
        "budget": "1500.00",
        "currency": "NGN",
        "pickup_address": "Market",
        "dropoff_address": "Home",
        "deadline_0": "2001-01-01",
        "deadline_1": "12:00:00",
        "created_by": creator.pk,
    }

    # when
    refused = admin_browser.post("/admin/errands/errand/add/", form)
    added = admin_browser.post("/admin/errands/errand/add/", {**form, "deadline_0": "", "deadline_1": ""})

    # then
    assert "The deadline must be in the future." in str(refused.context["adminform"].form.errors["deadline"])
    assert added.status_code == 302
    errand = Errand.objects.get()
    assert (errand.status, errand.runner, errand.created_by) == ("OPEN", None, creator)
