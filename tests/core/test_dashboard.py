"""The admin cache dashboard: who may see and clear, what it shows on LocMem and Redis, outages, clearing."""

import logging
import re

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.test import Client

from core.cache.conf import key_prefix
from core.cache.store import get_store
from core.factories import AdminUserFactory, ErrandFactory, StaffUserFactory, UserFactory
from tests.fixtures.api import ApiClient, get_graphql_content
from tests.fixtures.cache import store_backend

# Transactional: inside a test transaction that has written, the cache is (rightly) neither read nor filled.
pytestmark = pytest.mark.django_db(transaction=True)

DASHBOARD_URL = "/admin/core/cachedashboard/"
CLEAR_URL = DASHBOARD_URL + "clear/"
ERRAND_QUERY = "query Errand($id: ID!) { errand(id: $id) { id title } }"
ROLES_QUERY = "{ roles { name } }"


def browser_for(user, **kwargs) -> Client:
    browser = Client(**kwargs)
    browser.force_login(user)
    return browser


@pytest.fixture
def staff_with(db):
    """staff_with("view_cache_dashboard", ...) is a logged-in Client of a staff user holding those core perms."""

    def make(*codenames: str) -> Client:
        staff = StaffUserFactory()
        staff.user_permissions.add(*Permission.objects.filter(content_type__app_label="core", codename__in=codenames))
        return browser_for(staff)

    return make


@pytest.fixture
def cache_admin(staff_with) -> Client:
    return staff_with("view_cache_dashboard", "clear_cache")


def load_errands(api_client, errands, times: int = 1) -> None:
    for _ in range(times):
        for errand in errands:
            get_graphql_content(api_client.post_graphql(ERRAND_QUERY, {"id": str(errand.pk)}))


def row(response, family: str) -> dict:
    return next(r for r in response.context["rows"] if r.family == family).__dict__


def row_html(response, family: str) -> str:
    match = re.search(rf'<tr id="family-{family}".*?</tr>', response.content.decode(), re.DOTALL)
    assert match, f"no row for {family}"
    return match.group(0)


# --- who may see it -------------------------------------------------------------------------------------------


def test_anonymous_visitors_get_the_admin_login(client):
    # when
    page = client.get(DASHBOARD_URL)
    clear = client.post(CLEAR_URL, {"everything": "on", "confirm": "yes"})

    # then
    assert page.status_code == 302
    assert page["Location"] == f"/admin/login/?next={DASHBOARD_URL}"
    assert clear.status_code == 302
    assert clear["Location"].startswith("/admin/login/")


def test_signed_in_non_staff_users_get_the_admin_login():
    # given
    user = UserFactory()
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="core"))
    browser = browser_for(user)

    # when
    page = browser.get(DASHBOARD_URL)

    # then
    assert page.status_code == 302
    assert page["Location"].startswith("/admin/login/")


def test_staff_without_the_permission_get_403_and_no_link(staff_with):
    # given
    browser = staff_with()

    # when
    page = browser.get(DASHBOARD_URL)
    clear = browser.post(CLEAR_URL, {"everything": "on", "confirm": "yes"})
    index = browser.get("/admin/")

    # then
    assert page.status_code == 403
    assert clear.status_code == 403
    assert DASHBOARD_URL.encode() not in index.content


def test_view_permission_shows_the_page_without_clearing(staff_with, api_client):
    # given
    browser = staff_with("view_cache_dashboard")
    load_errands(api_client, [ErrandFactory()])

    # when
    page = browser.get(DASHBOARD_URL)
    clear = browser.post(CLEAR_URL, {"everything": "on", "confirm": "yes"})

    # then
    assert page.status_code == 200
    assert b'id="clear-keys"' not in page.content
    assert clear.status_code == 403
    assert get_store().count("errand:*") == 1


@pytest.mark.parametrize("make_browser", ["cache_admin", "superuser"])
def test_the_admin_index_links_the_dashboard_for_those_allowed(request, make_browser):
    # given
    browser = request.getfixturevalue("cache_admin") if make_browser == "cache_admin" else None
    browser = browser or browser_for(AdminUserFactory())

    # when
    index = browser.get("/admin/")
    page = browser.get(DASHBOARD_URL)

    # then
    assert f'href="{DASHBOARD_URL}"'.encode() in index.content
    assert page.status_code == 200
    assert b'id="clear-keys"' in page.content
    assert b'id="clear-all"' in page.content


# --- what it shows --------------------------------------------------------------------------------------------


def test_the_summary_shows_entries_apart_from_bookkeeping_keys(cache_backend, cache_admin, api_client):
    # given: two errands loaded: two field entries and two whole responses, and their generations
    load_errands(api_client, ErrandFactory.create_batch(2))

    # when
    page = cache_admin.get(DASHBOARD_URL)

    # then
    store = get_store()
    entries, everything = store.count("*"), store.info()["keys"]
    assert entries == 4 and everything > entries
    assert (page.context["entries"], page.context["bookkeeping"]) == (entries, everything - entries)
    html = page.content.decode()
    assert re.search(rf'id="cache-entries">.*?<span class="value">{entries}</span>', html, re.DOTALL)
    assert re.search(rf'id="cache-bookkeeping">.*?<span class="value">{everything - entries}</span>', html, re.DOTALL)
    assert "incl. generations" not in html


def test_policies_show_ttl_scope_counters_ratio_and_keys(cache_backend, cache_admin, api_client):
    # given: one errand loaded three times (a miss, then two whole-response hits), another once
    errands = ErrandFactory.create_batch(2)
    load_errands(api_client, errands[:1], times=3)
    load_errands(api_client, errands[1:])

    # when
    page = cache_admin.get(DASHBOARD_URL)

    # then
    assert page.status_code == 200
    assert row(page, "gql") == {
        "label": "Whole responses (fast path)",
        "family": "gql",
        "ttl": "shortest of its fields",
        "scope": "as its fields",
        "enabled": True,
        "hits": 2,
        "misses": 2,
        "keys": 2,
    }
    assert row(page, "errand") == {
        "label": "Query.errand",
        "family": "errand",
        "ttl": "5 min",
        "scope": "public",
        "enabled": True,
        "hits": 0,
        "misses": 2,
        "keys": 2,
    }
    assert row(page, "roles")["keys"] == 0
    assert {r.label for r in page.context["rows"]} >= {"Query.errands", "Query.myErrands", "Query.me", "Query.banks"}
    assert 'style="width: 50%"' in row_html(page, "gql")
    assert 'style="width: 0%"' in row_html(page, "errand")
    assert "no lookups yet" in row_html(page, "roles")
    assert page.context["overall"].hits == 2
    assert page.context["overall"].misses == 4
    assert page.context["backend"]["backend"] == store_backend(cache_backend)
    assert b"\xe2\x97\x8f Healthy" in page.content


def test_a_redis_outage_is_a_red_status_not_an_error(restartable_redis, cache_admin, api_client):
    # given
    load_errands(api_client, [ErrandFactory()])
    restartable_redis.stop()

    # when
    page = cache_admin.get(DASHBOARD_URL)
    clear = cache_admin.post(CLEAR_URL, {"family": "errand", "confirm": "yes"}, follow=True)

    # then
    assert page.status_code == 200
    assert page.context["backend"]["healthy"] is False
    assert 'class="status-down-box"' in page.content.decode()
    assert b"Unreachable" in page.content
    assert "does not answer" in page.content.decode()
    assert all(r.keys is None for r in page.context["rows"])
    assert clear.status_code == 200
    assert "unreachable: nothing was removed" in clear.content.decode()
    assert not LogEntry.objects.exists()


# --- clearing -------------------------------------------------------------------------------------------------


def test_clearing_a_family_previews_then_removes_and_records_the_admin(cache_backend, cache_admin, api_client, caplog):
    # given
    load_errands(api_client, ErrandFactory.create_batch(2))
    get_graphql_content(api_client.post_graphql(ROLES_QUERY))
    store = get_store()
    assert store.count("errand:*") == 2
    roles_before = store.count("roles:*")

    # when
    preview = cache_admin.post(CLEAR_URL, {"family": "errand"})
    after_preview = store.count("errand:*")
    with caplog.at_level(logging.INFO, logger="core.admin"):
        done = cache_admin.post(CLEAR_URL, {"family": "errand", "confirm": "yes"})
    page = cache_admin.get(DASHBOARD_URL)
    index = cache_admin.get("/admin/")

    # then
    assert preview.status_code == 200
    assert preview.context["count"] == 2
    assert "2 keys matching “errand:*”" in preview.content.decode()
    assert after_preview == 2
    assert done.status_code == 302
    assert done["Location"] == DASHBOARD_URL
    assert store.count("errand:*") == 0
    assert store.count("roles:*") == roles_before == 1
    assert row(page, "errand")["keys"] == 0
    message = f"Removed 2 keys matching “errand:*” ({store_backend(cache_backend)})."
    assert message in page.content.decode()
    entry = LogEntry.objects.get()
    assert (entry.user, entry.action_flag, entry.change_message) == (
        page.wsgi_request.user,
        CHANGE,
        message,
    )
    assert index.status_code == 200
    assert b'<span class="mini quiet">Cache dashboard</span>' in index.content  # in "Recent actions"
    admin_name = page.wsgi_request.user.username
    assert [r.getMessage() for r in caplog.records if r.name == "core.admin"] == [
        f"cache cleared by admin {admin_name}: {message}"
    ]


def test_clearing_a_glob_scans_only_what_matches(cache_backend, cache_admin, api_client):
    # given
    load_errands(api_client, ErrandFactory.create_batch(3))
    get_graphql_content(api_client.post_graphql(ROLES_QUERY))

    # when
    preview = cache_admin.post(CLEAR_URL, {"pattern": "runam:[e]rrand:*"})
    cache_admin.post(CLEAR_URL, {"pattern": "runam:[e]rrand:*", "confirm": "yes"})

    # then
    assert preview.context["count"] == 3
    assert get_store().count("errand:*") == 0
    assert get_store().count("roles:*") == 1
    assert (
        LogEntry.objects.get().change_message
        == f"Removed 3 keys matching “[e]rrand:*” ({store_backend(cache_backend)})."
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"pattern": "   "}, "an empty pattern clears nothing"),
        ({"pattern": "runam:"}, "an empty pattern clears nothing"),
        ({}, "an empty pattern clears nothing"),
        ({"family": "errand", "pattern": "roles:*"}, "not both"),
        ({"family": "no_such_family"}, "Select a valid choice"),
    ],
)
def test_bad_requests_are_refused_with_a_message_and_remove_nothing(cache_admin, api_client, data, message):
    # given
    load_errands(api_client, [ErrandFactory()])
    keys_before = get_store().count("*")

    # when
    response = cache_admin.post(CLEAR_URL, {**data, "confirm": "yes"})

    # then
    assert response.status_code == 200
    assert message in response.content.decode()
    assert 'class="errornote"' in response.content.decode()
    assert get_store().count("*") == keys_before > 0
    assert not LogEntry.objects.exists()


def test_clear_all_asks_for_confirmation_first(cache_backend, cache_admin, api_client):
    # given
    load_errands(api_client, ErrandFactory.create_batch(2))
    store = get_store()
    keys_before = store.count("*")

    # when
    asked = cache_admin.post(CLEAR_URL, {"everything": "on"})
    kept = store.count("*")
    cache_admin.post(CLEAR_URL, {"everything": "on", "confirm": "yes"})

    # then
    assert asked.status_code == 200
    assert "Yes, clear everything" in asked.content.decode()
    assert kept == keys_before == 4
    assert store.count("*") == 0
    assert f"under the prefix “{key_prefix()}:”" in LogEntry.objects.get().change_message


def test_clearing_needs_the_csrf_token():
    # given
    browser = browser_for(AdminUserFactory(), enforce_csrf_checks=True)
    load_errands(ApiClient(), [ErrandFactory()])
    token = browser.get(DASHBOARD_URL).cookies["csrftoken"].value

    # when
    forged = browser.post(CLEAR_URL, {"family": "errand", "confirm": "yes"})
    kept = get_store().count("errand:*")
    genuine = browser.post(CLEAR_URL, {"family": "errand", "confirm": "yes", "csrfmiddlewaretoken": token})

    # then
    assert forged.status_code == 403
    assert kept == 1
    assert genuine.status_code == 302
    assert get_store().count("errand:*") == 0


def test_the_clear_url_only_takes_posts(cache_admin):
    # when
    response = cache_admin.get(CLEAR_URL)

    # then
    assert response.status_code == 302
    assert response["Location"] == DASHBOARD_URL


def test_failed_calls_and_the_slowlog_are_shown(restartable_redis, cache_admin, api_client):
    # given: a read that timed out, and a slow log with entries
    admin = restartable_redis.client()
    admin.config_set("slowlog-log-slower-than", 0)  # log every command
    load_errands(api_client, [ErrandFactory()])
    admin.client_pause(30_000, all=False)  # WRITE: scripts wait, CLIENT UNPAUSE does not
    get_store().lookup("roles")
    admin.client_unpause()

    # when
    page = cache_admin.get(DASHBOARD_URL)

    # then
    html = page.content.decode()
    faults = {"read_timeout": 1, "read_error": 0, "write_timeout": 0, "write_error": 0, "server_change": 0}
    assert page.context["faults"] == faults
    assert re.search(r'<td class="num" id="server-changes">0</td>', html)
    assert re.search(r'<td class="num" id="read-timeouts">1</td>', html)
    assert page.context["slowlog"]["length"] > 0
    assert re.search(r'<span id="slowlog-length">\d+</span> entries', html)
    assert len(page.context["slowlog"]["entries"]) == 5
    assert len(re.findall(r'<td class="num">\d+\.\d ms</td>', html)) == 5
