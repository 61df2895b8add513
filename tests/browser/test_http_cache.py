"""The browser's own HTTP cache must not undo the freshness promise: one browser, two accounts, a write, a reread.

These use no request routing: Playwright turns Chromium's HTTP cache off while a route is set, and these tests are
about that cache. `fromBrowserCache` (Resource Timing: nothing transferred) says where a stale answer came from.
"""

import json
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page

from core.auth import token_for_user
from core.factories import ErrandFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ME_QUERY = "{ me { username } }"
BOARD_QUERY = "{ errands(first: 50) { title } }"
CREATE_ERRAND_MUTATION = """
mutation CreateErrand($input: CreateErrandInput!) {
  createErrand(input: $input) { errand { id title } errors { field code message } }
}
"""
NEW_TITLE = "Queue at the embassy for my visa appointment"
# Run in the page, as a front end would: a GET by URL (cacheable) or a POST, with the caller's bearer token if any.
FETCH_GRAPHQL = """async ([url, init]) => {
  const response = await fetch(url, init);
  const body = await response.json();  // a resource's timing entry is recorded once its body is read
  const entries = performance.getEntriesByName(new URL(url, location.href).href);
  const timing = entries[entries.length - 1];
  return {
    status: response.status,
    body,
    fromBrowserCache: Boolean(timing) && timing.transferSize === 0 && timing.decodedBodySize > 0,
  };
}"""


def graphql_url(query: str) -> str:
    return "/graphql/?" + urlencode({"query": query})


def headers(token: str | None) -> dict[str, str]:
    if token is None:
        return {"Accept": "application/json"}
    return {"Accept": "application/json", "Authorization": f"Bearer {token}"}


def get(page: Page, url: str, token: str | None = None) -> dict:
    result = page.evaluate(FETCH_GRAPHQL, [url, {"headers": headers(token)}])
    assert result["status"] == 200, result
    return result


def post(page: Page, query: str, variables: dict, token: str) -> dict:
    init = {
        "method": "POST",
        "headers": {**headers(token), "Content-Type": "application/json"},
        "body": json.dumps({"query": query, "variables": variables}),
    }
    result = page.evaluate(FETCH_GRAPHQL, ["/graphql/", init])
    assert result["status"] == 200, result
    return result


@pytest.fixture
def tokens() -> dict[str, str]:
    # Made before the browser starts: see tests/browser/conftest.py.
    return {username: token_for_user(UserFactory(username=username)) for username in ("amaka", "bola")}


@pytest.fixture
def board_token() -> str:
    ErrandFactory(title="Buy bread")
    return token_for_user(UserFactory(username="chidi"))


def test_two_accounts_in_one_browser_each_see_only_their_own_data(tokens, page: Page):
    # given: a page of the site open, and amaka's viewer read by URL with her token
    page.goto("/admin/login/")
    url = graphql_url(ME_QUERY)
    first = get(page, url, tokens["amaka"])
    assert first["body"]["data"]["me"] == {"username": "amaka"}

    # when: bola, in the same browser, reads the same URL with his token
    second = get(page, url, tokens["bola"])

    # then: he sees himself, never amaka's answer kept by the browser
    assert second["body"]["data"]["me"] == {"username": "bola"}, second


def test_a_write_then_a_read_in_the_browser_shows_the_write(board_token, page: Page):
    # given: the board read by URL, as a page would
    page.goto("/admin/login/")
    url = graphql_url(BOARD_QUERY)
    before = get(page, url)
    assert [errand["title"] for errand in before["body"]["data"]["errands"]] == ["Buy bread"]

    # when: an errand is posted
    created = post(
        page,
        CREATE_ERRAND_MUTATION,
        {
            "input": {
                "title": NEW_TITLE,
                "description": "Passport and forms are in the blue folder.",
                "category": "errands",
                "budget": "5000.00",
                "pickupAddress": "12 Allen Avenue, Ikeja",
                "dropoffAddress": "Walter Carrington Crescent, Victoria Island",
            }
        },
        board_token,
    )
    assert created["body"]["data"]["createErrand"]["errors"] == [], created

    # then: the same URL read again shows it
    after = get(page, url)
    assert NEW_TITLE in [errand["title"] for errand in after["body"]["data"]["errands"]], after
