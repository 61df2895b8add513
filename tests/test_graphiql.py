"""GraphiQL's page and assets over HTTP: every asset is ours, and static files are served with DEBUG off too."""

import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.template.loader import render_to_string
from django.test import Client, RequestFactory

from tests.fixtures.api import GRAPHQL_URL

pytestmark = pytest.mark.django_db

ASSET_URL = re.compile(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]+)"')
GRAPHIQL_JS = "graphiql/graphiql@3.9.0/graphiql.min.js"


def asset_urls(html: str) -> list[str]:
    return ASSET_URL.findall(html)


def test_graphiql_loads_every_script_and_style_from_our_own_static_files(settings):
    # when
    response = Client().get(GRAPHQL_URL, headers={"Accept": "text/html"})

    # then: four scripts and a stylesheet, all under STATIC_URL and all shipped in the repository
    assert response.status_code == 200
    urls = asset_urls(response.content.decode())
    assert len(urls) == 5, urls
    static_url = settings.STATIC_URL
    for url in urls:
        assert url.startswith(static_url), url
        assert finders.find(unquote(url.removeprefix(static_url))), f"{url} is not in any static folder"


def test_graphiql_template_needs_only_the_request():
    # given: a view other than graphene-django's renders it, with no context of its own
    request = RequestFactory().get(GRAPHQL_URL, headers={"Accept": "text/html"})

    # when
    html = render_to_string("graphiql/index.html", request=request)

    # then: the page is whole, with the CSRF token a signed-in admin's queries need
    assert len(asset_urls(html)) == 5
    assert 'name="csrfmiddlewaretoken"' in html


def test_with_debug_off_collected_static_files_are_served(settings, tmp_path: Path):
    # given: production-like settings, and collectstatic run as a deploy runs it
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path
    call_command("collectstatic", "--noinput", verbosity=0)

    # when: a fresh client (its middleware is built with these settings) asks for GraphiQL's bundle, gzip accepted
    response = Client().get(settings.STATIC_URL + GRAPHIQL_JS, headers={"Accept-Encoding": "gzip"})

    # then: WhiteNoise serves it, compressed
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert (tmp_path / f"{GRAPHIQL_JS}.gz").exists()
