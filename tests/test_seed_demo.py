from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from accounts.models import Bank, Role, User
from core.management.commands.seed_demo import ADMIN_PASSWORD, DEMO_PASSWORD
from errands.models import Errand, ErrandStatus
from escrows.models import Escrow, EscrowStatus
from tests.fixtures.api import ApiClient, get_graphql_content

pytestmark = pytest.mark.django_db


def _seed(errands: int = 40) -> str:
    out = StringIO()
    call_command("seed_demo", errands=errands, stdout=out)
    return out.getvalue()


def _snapshot() -> dict:
    return {
        "users": sorted(User.objects.values_list("username", "is_staff", "is_superuser")),
        "roles": sorted(Role.objects.values_list("name", flat=True)),
        "banks": sorted(Bank.objects.values_list("country", "code", "name")),
        "errands": sorted(Errand.objects.values_list("id", "title", "status", "budget", "runner_id")),
        "escrows": sorted(Escrow.objects.values_list("id", "errand_id", "status", "amount")),
    }


def test_seed_demo_creates_people_banks_roles_and_errands():
    # when
    output = _seed()

    # then
    assert set(User.objects.values_list("username", flat=True)) == {"alice", "bob", "carol", "admin"}
    admin = User.objects.get(username="admin")
    assert admin.is_staff and admin.is_superuser and admin.check_password(ADMIN_PASSWORD)
    assert User.objects.get(username="alice").check_password(DEMO_PASSWORD)
    assert set(Bank.objects.values_list("country", flat=True)) == {"NG", "GH", "KE"}
    assert Role.objects.count() == 3
    assert Errand.objects.count() == 40
    assert len(set(Errand.objects.values_list("status", flat=True))) == len(ErrandStatus.values)
    assert DEMO_PASSWORD in output and ADMIN_PASSWORD in output


def test_seed_demo_escrows_match_their_errands():
    # when
    _seed()

    # then
    for errand in Errand.objects.select_related("escrow"):
        escrow = getattr(errand, "escrow", None)
        if errand.runner_id is None:
            assert escrow is None
            continue
        assert (escrow.amount, escrow.currency) == (errand.budget, errand.currency)
        assert (escrow.payer_id, escrow.payee_id) == (errand.created_by_id, errand.runner_id)
        expected = {
            ErrandStatus.ASSIGNED: {EscrowStatus.PENDING},
            ErrandStatus.IN_PROGRESS: {EscrowStatus.FUNDED},
            ErrandStatus.COMPLETED: {EscrowStatus.FUNDED, EscrowStatus.RELEASED},
            ErrandStatus.CANCELLED: {EscrowStatus.REFUNDED},
        }[errand.status]
        assert escrow.status in expected


def test_seed_demo_twice_changes_nothing():
    # given
    _seed()
    before = _snapshot()

    # when
    output = _seed()

    # then
    assert _snapshot() == before
    assert "already there" in output


CREATE_ERRAND_MUTATION = """
mutation CreateErrand($input: CreateErrandInput!) {
  createErrand(input: $input) { errand { id } errors { code message } }
}
"""


def test_seed_demo_does_not_count_errands_made_through_the_api_as_demo_errands():
    # given
    _seed(errands=40)
    alice = User.objects.get(username="alice")
    created = ApiClient(alice).post_graphql(
        CREATE_ERRAND_MUTATION,
        {
            "input": {
                "title": "Collect my passport",
                "description": "From the embassy, before noon.",
                "category": "documents",
                "budget": "2500.00",
                "pickupAddress": "Embassy",
                "dropoffAddress": "Home",
            }
        },
    )
    assert get_graphql_content(created)["data"]["createErrand"]["errors"] == []

    # when
    output = _seed(errands=40)

    # then
    assert "40 demo errands already there" in output
    assert "1 other errand by the demo people left alone" in output
    assert Errand.objects.count() == 41


def test_admin_header_greets_the_demo_admin_by_name():
    # given
    _seed(errands=0)
    browser = Client()
    assert browser.login(username="admin", password=ADMIN_PASSWORD)

    # when
    page = browser.get("/admin/")

    # then
    assert page.status_code == 200
    assert b"<strong>admin</strong>" in page.content
