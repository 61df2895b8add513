"""A GraphQL-over-HTTP request, read and checked before anything is parsed.

Everything a client can get wrong about the request itself (method, media types, size, JSON, the shapes of
`query`, `variables`, `operationName` and `extensions`) is a RequestError with a status and a stable code, which
the view answers as JSON. Nothing here raises anything else for any input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.http.request import RawPostDataException

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"

BAD_REQUEST = "BAD_REQUEST"
REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"

# JSON deeper than this is no GraphQL request; Python's own parser gives up near 1,000 levels with a RecursionError.
MAX_JSON_DEPTH = 64


class RequestError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


@dataclass(frozen=True, slots=True)
class GraphQLParams:
    query: str | None
    variables: dict[str, Any] | None
    operation_name: str | None
    extensions: dict[str, Any] | None = field(default=None)


def negotiate(accept: str | None) -> str | None:
    """The response media type for an Accept header, or None when the client accepts neither JSON type.

    No header (and `*/*`, `application/*`) means `application/json`, the spec's legacy default. On equal
    preference `application/graphql-response+json` wins: it is the one with exact status codes.
    """
    if not accept or not accept.strip():
        return JSON
    best, best_q, best_rank = None, 0.0, 0
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        media = media.lower()
        rank = {GRAPHQL_RESPONSE_JSON: 3, JSON: 2, "application/*": 1, "*/*": 1}.get(media)
        if rank is None:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0 and (q > best_q or (q == best_q and rank > best_rank)):
            best, best_q, best_rank = (GRAPHQL_RESPONSE_JSON if rank == 3 else JSON), q, rank
    return best


def read_params(request: HttpRequest, *, max_body_bytes: int) -> GraphQLParams:
    if request.method in ("GET", "HEAD"):
        # A GET's body and Content-Type are ignored: Apollo Client sends `Content-Type: application/json` on GET.
        return _params(
            {key: request.GET.get(key) for key in ("query", "variables", "operationName", "extensions")},
            encoded=True,
        )
    if request.method != "POST":
        raise RequestError(405, METHOD_NOT_ALLOWED, "GraphQL accepts GET and POST requests.", {"Allow": "GET, POST"})
    content_type, charset = _content_type(request)
    body = _body(request, max_body_bytes)
    if charset not in (None, "utf-8", "utf8"):
        raise RequestError(415, UNSUPPORTED_MEDIA_TYPE, f"Request bodies must be UTF-8, not {charset}.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(400, BAD_REQUEST, "The request body is not valid UTF-8.") from None
    if content_type == "application/graphql":
        return _params({"query": text}, encoded=False)
    if content_type != JSON:
        raise RequestError(
            415,
            UNSUPPORTED_MEDIA_TYPE,
            "POST a JSON body with 'Content-Type: application/json' (or the query alone as application/graphql).",
        )
    if not text.strip():
        raise RequestError(400, BAD_REQUEST, "The request body is empty: POST a JSON object with a query.")
    data = _json(text, "The request body")
    if not isinstance(data, dict):
        raise RequestError(400, BAD_REQUEST, "The request body must be a JSON object with a query.")
    return _params(data, encoded=False)


def _content_type(request: HttpRequest) -> tuple[str, str | None]:
    raw = request.META.get("CONTENT_TYPE", "")
    media, *params = (piece.strip() for piece in raw.split(";"))
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media.lower(), charset


def _body(request: HttpRequest, limit: int) -> bytes:
    too_large = RequestError(413, REQUEST_TOO_LARGE, f"The request body exceeds {limit} bytes.")
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise RequestError(400, BAD_REQUEST, "The Content-Length header is not a number.") from None
    if declared > limit:
        raise too_large
    # Read at most one byte past the limit, whatever Content-Length said: a chunked body has none.
    try:
        body = request.read(limit + 1)
    except RawPostDataException:  # something read request.body already (within Django's own upload limit)
        body = request.body
    if len(body) > limit:
        raise too_large
    return body


def _json(text: str, what: str) -> Any:
    try:
        value = json.loads(text)
    except RecursionError:
        raise RequestError(400, BAD_REQUEST, f"{what} is nested too deeply.") from None
    except ValueError:
        raise RequestError(400, BAD_REQUEST, f"{what} is not valid JSON.") from None
    _check_json(value, what)
    return value


def _check_json(value: Any, what: str) -> None:
    """Iteratively: no nesting past MAX_JSON_DEPTH, and no lone surrogate in any string (it cannot be encoded)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item, what)
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise RequestError(400, BAD_REQUEST, f"{what} is nested more than {MAX_JSON_DEPTH} levels deep.")
            children = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in children:
                if isinstance(key, str):
                    _check_text(key, what)
                stack.append((child, depth + 1))


def _check_text(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RequestError(400, BAD_REQUEST, f"{what} contains a lone surrogate, which is not valid Unicode.") from None


def _params(data: dict[str, Any], *, encoded: bool) -> GraphQLParams:
    """`encoded`: variables and extensions arrive as JSON text (GET's query string)."""
    query = data.get("query")
    if query is not None and not isinstance(query, str):
        raise RequestError(400, BAD_REQUEST, "The 'query' parameter must be a string.")
    if query is not None:
        _check_text(query, "The query")
    operation_name = data.get("operationName")
    if operation_name is not None and not isinstance(operation_name, str):
        raise RequestError(400, BAD_REQUEST, "The 'operationName' parameter must be a string or null.")
    variables = _map(data.get("variables"), "variables", encoded)
    extensions = _map(data.get("extensions"), "extensions", encoded)
    return GraphQLParams(query or None, variables, operation_name or None, extensions)


def _map(value: Any, name: str, encoded: bool) -> dict[str, Any] | None:
    if encoded and isinstance(value, str):
        value = _json(value, f"The '{name}' parameter") if value.strip() else None
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RequestError(400, BAD_REQUEST, f"The '{name}' parameter must be a JSON object (a map) or null.")
    return value
