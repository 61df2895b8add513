"""Requests as they travel over the wire, for the protocol tests: raw bodies, raw query strings, explicit headers.

The helpers of tests/fixtures/api.py build well-formed JSON; these send exactly the bytes and headers a given client
sends (or a hostile one), so that what a test asserts is what that client would see.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from django.http import HttpResponse

from tests.fixtures.api import GRAPHQL_URL, ApiClient

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
APPLICATION_JSON = "application/json"
# docs/http.md, "Status codes and media types": the Content-Type of every GraphQL response.
GRAPHQL_RESPONSE_JSON_UTF8 = "application/graphql-response+json; charset=utf-8"
APPLICATION_JSON_UTF8 = "application/json; charset=utf-8"


@dataclass(frozen=True)
class WireRequest:
    """One HTTP request to /graphql/. `content_type=None` sends no Content-Type header, `accept=None` no Accept."""

    method: str = "POST"
    body: str | bytes = b""
    content_type: str | None = APPLICATION_JSON
    accept: str | None = None
    query_string: str = ""
    headers: dict[str, str] = field(default_factory=dict)

    def send(self, client: ApiClient) -> HttpResponse:
        headers = dict(self.headers)
        if self.content_type is not None:
            headers["Content-Type"] = self.content_type
        if self.accept is not None:
            headers["Accept"] = self.accept
        token = getattr(client, "token", None)
        if token is not None:
            headers.setdefault("Authorization", f"Bearer {token}")
        path = f"{GRAPHQL_URL}?{self.query_string}" if self.query_string else GRAPHQL_URL
        body = self.body.encode() if isinstance(self.body, str) else self.body
        # content_type="" keeps the test client from inventing one; the header above, when given, wins.
        return client.generic(self.method, path, data=body, content_type="", headers=headers)


def post_json(payload: Any, *, accept: str | None = None, content_type: str = APPLICATION_JSON, **kw) -> WireRequest:
    """A POST of `payload` serialized as JavaScript's JSON.stringify does (compact, UTF-8, no ASCII escaping)."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return WireRequest("POST", body, content_type, accept, **kw)


def get_form(params: dict[str, str], *, accept: str | None = None, **kw) -> WireRequest:
    """A GET whose parameters are encoded as URLSearchParams does (application/x-www-form-urlencoded)."""
    return WireRequest("GET", b"", None, accept, query_string=urlencode(params), **kw)


def encode_uri_component(value: str) -> str:
    """JavaScript's encodeURIComponent: everything but A-Z a-z 0-9 - _ . ! ~ * ' ( ) is percent-encoded."""
    return quote(value, safe="-_.!~*'()")


def media_type(response: HttpResponse) -> str:
    return response.get("Content-Type", "")


def body_json(response: HttpResponse) -> Any:
    """The body decoded strictly as UTF-8 JSON (fails the test otherwise)."""
    return json.loads(response.content.decode("utf-8"))


def error_codes(response: HttpResponse) -> list[str | None]:
    """extensions.code of each top-level error, in order."""
    return [(error.get("extensions") or {}).get("code") for error in body_json(response)["errors"]]


def header_tokens(response: HttpResponse, name: str) -> set[str]:
    """The comma-separated tokens of a header, lower-cased and stripped: {"no-cache", "public"}."""
    return {token.strip().lower() for token in response.get(name, "").split(",") if token.strip()}
