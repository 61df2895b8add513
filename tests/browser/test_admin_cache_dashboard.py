"""An admin's day in a real browser: sign in, edit an errand, see it through /graphql/, watch and clear the cache."""

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import Page, expect

from core.factories import DEFAULT_PASSWORD, ErrandFactory, StaffUserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DASHBOARD_URL = "/admin/core/cachedashboard/"
ERRAND_QUERY = "query Errand($id: ID!) { errand(id: $id) { id title } }"
NEW_TITLE = "Collect the blue parcel from the post office"
PERMISSIONS = [
    ("core", "view_cache_dashboard"),
    ("core", "clear_cache"),
    ("errands", "view_errand"),
    ("errands", "change_errand"),
]
# Run in the page, as a front end would: the session cookie signs the request in, the CSRF cookie goes in a header.
FETCH_GRAPHQL = """async ([query, variables]) => {
  const token = (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1];
  const response = await fetch("/graphql/", {
    method: "POST",
    headers: {"Content-Type": "application/json", "X-CSRFToken": token},
    body: JSON.stringify({query, variables}),
  });
  return {status: response.status, body: await response.json()};
}"""


@pytest.fixture
def staff():
    staff = StaffUserFactory()
    for app_label, codename in PERMISSIONS:
        staff.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return staff


@pytest.fixture
def errand():
    return ErrandFactory(title="Buy bread")


def errand_title(page: Page, errand_id: int) -> str:
    result = page.evaluate(FETCH_GRAPHQL, [ERRAND_QUERY, {"id": str(errand_id)}])
    assert result["status"] == 200, result
    assert "errors" not in result["body"], result["body"]
    return result["body"]["data"]["errand"]["title"]


def cell(page: Page, family: str, column: str) -> int:
    return int(page.inner_text(f"#family-{family} .{column}"))


@pytest.mark.usefixtures("cache_backend")
def test_admin_edit_is_served_fresh_and_the_dashboard_counts_and_clears(staff, errand, live_server, page, screenshot):
    # given: a staff member signed in through the admin login form (data first: see tests/browser/conftest.py)
    page.goto("/admin/")
    page.fill("#id_username", staff.username)
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.click("input[type=submit]")
    dashboard_link = page.locator("#content-main").get_by_role("link", name="Cache dashboard")
    expect(dashboard_link).to_have_attribute("href", DASHBOARD_URL)
    screenshot("admin-index")
    assert errand_title(page, errand.pk) == "Buy bread"  # now cached

    # when: the title is changed in the errand's admin change form
    page.goto(f"/admin/errands/errand/{errand.pk}/change/")
    page.fill("#id_title", NEW_TITLE)
    page.click("input[name=_save]")
    expect(page.locator("ul.messagelist li.success")).to_contain_text("was changed successfully")

    # then: /graphql/ serves the new title, not the cached one
    assert errand_title(page, errand.pk) == NEW_TITLE

    # when: the dashboard is opened from the admin index and the same query runs three more times
    page.goto("/admin/")
    dashboard_link.click()
    expect(page).to_have_url(live_server.url + DASHBOARD_URL)
    hits_before = cell(page, "gql", "hits")
    for _ in range(3):
        assert errand_title(page, errand.pk) == NEW_TITLE
    page.reload()
    screenshot("dashboard-after-queries")

    # then: each was a whole-response hit, and the errand's field entry is in the cache
    assert cell(page, "gql", "hits") == hits_before + 3
    assert cell(page, "errand", "keys") >= 1
    expect(page.locator("#cache-health")).to_contain_text("Healthy")

    # when: the errand family is cleared, after its preview
    page.select_option("#id_family", "errand")
    page.click("#clear-keys input[type=submit]")
    expect(page.locator("#preview-count")).to_contain_text("matching “errand:*”")
    screenshot("clear-preview")
    page.click("input[value^='Yes, clear']")

    # then: back on the dashboard, its keys are gone
    expect(page.locator("ul.messagelist li.success")).to_contain_text("Removed")
    assert cell(page, "errand", "keys") == 0
    screenshot("dashboard-after-clear")
