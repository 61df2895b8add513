"""GraphiQL in a real browser with no way out to the internet: the page, its assets and its queries stay local."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect

from core.auth import token_for_user
from core.factories import ErrandFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
BOARD_QUERY = "{ errands { title } }"
ME_QUERY = "{ me { username } }"


@pytest.fixture
def offsite_requests(page: Page) -> list[str]:
    """Every URL the page asked for outside this machine; each is aborted, as it would be with no network.

    Routing turns Chromium's HTTP cache off, so tests about browser caching must not use this fixture.
    """
    offsite: list[str] = []

    def local_only(route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            offsite.append(url)
            route.abort("internetdisconnected")

    page.context.route("**/*", local_only)
    return offsite


def set_editor(page: Page, editor_selector: str, text: str) -> None:
    """Replace an editor's text as a user would: click into it, select all, type."""
    page.click(f"{editor_selector} .CodeMirror-lines")
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)


def run_and_expect(page: Page, text: str) -> None:
    page.click(".graphiql-execute-button")
    expect(page.locator(".graphiql-response")).to_contain_text(text)


@pytest.fixture
def token() -> str:
    ErrandFactory(title="Carry the gas cylinder upstairs")
    return token_for_user(UserFactory(username="amaka"))


def test_graphiql_runs_queries_with_no_request_leaving_the_machine(token, page, offsite_requests, screenshot):
    # given: an errand on the board and a user's token (made before the browser starts: see conftest.py)

    # when: GraphiQL is opened and a query typed and run
    page.goto("/graphql/")  # returns once the page's scripts and styles have loaded
    assert offsite_requests == [], "GraphiQL asked the internet for its assets"
    expect(page.locator(".graphiql-container")).to_be_visible()
    set_editor(page, ".graphiql-query-editor", BOARD_QUERY)
    run_and_expect(page, "Carry the gas cylinder upstairs")
    screenshot("board")

    # and: a bearer token is added in the headers editor, and the viewer asked for
    set_editor(page, ".graphiql-editor-tool .graphiql-editor:not(.hidden)", f'{{"Authorization": "Bearer {token}"}}')
    set_editor(page, ".graphiql-query-editor", ME_QUERY)
    run_and_expect(page, '"username": "amaka"')
    screenshot("me-with-bearer-token")

    # then: the page, its scripts, styles and fonts and both queries were all served by this machine
    assert offsite_requests == []
