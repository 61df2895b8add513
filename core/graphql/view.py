"""/graphql/: GraphQL over HTTP, persisted queries, the whole-response cache and HTTP caching, in one flow.

The flow is owned here openly rather than forked from graphene-django's GraphQLView: graphene builds the schema
and names the middleware; graphql-core parses, validates and executes. docs/http.md walks through the steps.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.utils.functional import cached_property
from django.views import View
from graphene_django import settings as graphene_django_settings
from graphene_django.views import instantiate_middleware
from graphql import ExecutionResult, GraphQLError, OperationType, execute, specified_rules
from graphql.validation import NoSchemaIntrospectionCustomRule

from core.cache import request_state
from core.cache.conf import cache_enabled
from core.cache.execution import CachingExecutionContext
from core.cache.middleware import viewer_id
from core.cache.operations import begin_operation, declared_variables, operation_key, plan_operation
from core.graphql import apq
from core.graphql.documents import DocumentCache, ParsedDocument, too_long
from core.graphql.limits import Limits, check_operation
from core.graphql.request import (
    GRAPHQL_RESPONSE_JSON,
    JSON,
    METHOD_NOT_ALLOWED,
    NOT_ACCEPTABLE,
    RequestError,
    negotiate,
    read_params,
)

logger = logging.getLogger(__name__)

BAD_USER_INPUT = "BAD_USER_INPUT"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
GRAPHIQL_TEMPLATE = "graphiql/index.html"
VARY = ("Accept", "Authorization", "Cookie")

_documents: DocumentCache | None = None


def documents() -> DocumentCache:
    global _documents
    if _documents is None:
        _documents = DocumentCache(settings.GRAPHQL_DOCUMENT_CACHE_SIZE, settings.GRAPHQL_DOCUMENT_CACHE_BYTES)
    return _documents


@receiver(setting_changed)
def _forget_documents(*, setting: str, **kwargs: Any) -> None:
    # Documents were parsed and validated under the old limits and rules: parse them again.
    global _documents
    if setting.startswith("GRAPHQL_") or setting == "GRAPHENE":
        _documents = None


def limits() -> Limits:
    return Limits(settings.GRAPHQL_MAX_DEPTH, settings.GRAPHQL_MAX_ALIASES, settings.GRAPHQL_MAX_COST)


@dataclass(slots=True)
class Answer:
    """A GraphQL response body and how to send it."""

    body: str
    status: int = 200
    cache_control: str = "no-store"
    etag: str | None = None


def graphene_settings():
    # The module attribute, not an imported name: it is replaced when settings.GRAPHENE changes.
    return graphene_django_settings.graphene_settings


class GraphQLView(View):
    """Every method reaches dispatch(): GET and POST are served, others get a JSON 405."""

    @cached_property
    def schema(self):
        return graphene_settings().SCHEMA.graphql_schema

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        media = negotiate(request.META.get("HTTP_ACCEPT"))
        try:
            if self._shows_graphiql(request):
                get_token(request)  # the page posts with the session's CSRF token
                response = render(request, GRAPHIQL_TEMPLATE)
                patch_vary_headers(response, VARY)
                return response
            if media is None:
                raise RequestError(
                    406, NOT_ACCEPTABLE, f"Accept {GRAPHQL_RESPONSE_JSON} or {JSON} to get a GraphQL response."
                )
            params = read_params(request, max_body_bytes=settings.GRAPHQL_MAX_BODY_BYTES)
            query = apq.resolve_query(params)
            answer = self._answer(request, params.operation_name, params.variables, query, media)
        except RequestError as error:
            answer = Answer(_errors_body([_error(error.message, error.code)]), error.status)
            response = self._send(request, answer, media or JSON)
            for name, value in error.headers.items():
                response[name] = value
            return response
        return self._send(request, answer, media)

    def _shows_graphiql(self, request: HttpRequest) -> bool:
        return (
            request.method == "GET"
            and settings.GRAPHQL_GRAPHIQL
            and "text/html" in request.META.get("HTTP_ACCEPT", "")
            and "query" not in request.GET
            and "extensions" not in request.GET
        )

    # --- the GraphQL part ---------------------------------------------------------------------------------------

    def _answer(
        self, request: HttpRequest, operation_name: str | None, variables: dict | None, query: str | None, media: str
    ) -> Answer:
        strict = media == GRAPHQL_RESPONSE_JSON
        request_error = 400 if strict else 200  # the spec's status for a request GraphQL refuses, per media type
        if query is None:
            raise RequestError(400, "BAD_REQUEST", "Must provide query string.")
        refusal = too_long(query, settings.GRAPHQL_MAX_QUERY_LENGTH)
        if refusal is not None:
            return Answer(_errors_body([refusal.formatted]), request_error)
        parsed = documents().get(
            query, self.schema, self._rules(), max_tokens=settings.GRAPHQL_MAX_TOKENS, limits=limits()
        )
        if parsed.errors:
            return Answer(_errors_body([e.formatted for e in parsed.errors]), request_error)
        operation = parsed.operation(operation_name)
        if operation is None:
            message = (
                f"Unknown operation named '{operation_name}'."
                if operation_name
                else "Must provide operation name if query contains multiple operations."
            )
            return Answer(_errors_body([_error(message, "BAD_REQUEST")]), request_error)
        if request.method in ("GET", "HEAD") and operation.operation is not OperationType.QUERY:
            raise RequestError(
                405,
                METHOD_NOT_ALLOWED,
                f"Can only perform a {operation.operation.value} operation from a POST request.",
                {"Allow": "POST"},
            )
        variables = declared_variables(operation, variables)
        plan = plan_operation(operation)
        user_id = viewer_id(request) if plan is not None and plan.private else None
        cacheable = plan is not None and cache_enabled() and not (plan.private and user_id is None)
        fill = None
        state = request_state.begin(request)
        if cacheable:
            key = operation_key(parsed.digest, operation_name, variables, user_id)
            hit, fill = begin_operation(key, plan)
            if hit is not None:
                state.report = [{**field, "status": "HIT"} for field in plan.fields]
                return self._cacheable(request, hit, plan.cache_control, "HIT")
            if fill is not None:
                # The execution context records every row and family the response shows into this set.
                state.operation_recorder = fill.recorder
        # The document cache measured every operation with its variables' defaults; only the request's own values
        # (`first: $n`) can change the cost, so the pass runs again only when there are some.
        refusal = check_operation(self.schema, operation, parsed.fragments, variables, limits()) if variables else None
        if refusal is not None:
            return Answer(_errors_body([refusal.formatted]), request_error)
        result = self._execute(request, parsed, operation_name, variables)
        if result.data is None and result.errors and not any(error.path for error in result.errors):
            # Variables that do not coerce: the operation never ran.
            for error in result.errors:
                error.extensions = {"code": BAD_USER_INPUT, **(error.extensions or {})}
            return Answer(_errors_body([e.formatted for e in result.errors]), request_error)
        body = _result_body(result)
        if not cacheable or result.errors:
            return Answer(self._with_debug(request, body, "BYPASS"))
        if fill is not None:
            fill.store(body)
        return self._cacheable(request, body, plan.cache_control, "MISS" if fill is not None else "BYPASS")

    def _rules(self) -> tuple[type, ...]:
        rules = tuple(specified_rules)
        return rules if settings.GRAPHQL_INTROSPECTION else (*rules, NoSchemaIntrospectionCustomRule)

    def _execute(self, request: HttpRequest, parsed: ParsedDocument, operation_name, variables) -> ExecutionResult:
        try:
            result = execute(
                self.schema,
                parsed.document,
                context_value=request,
                variable_values=variables,
                operation_name=operation_name,
                middleware=list(instantiate_middleware(graphene_settings().MIDDLEWARE or ())),
                execution_context_class=CachingExecutionContext,
            )
        except Exception:
            logger.exception("GraphQL execution failed")
            return ExecutionResult(data=None, errors=[_internal_error()])
        if result.errors:
            result.errors = [_public(error) for error in result.errors]
        return result

    def _cacheable(self, request: HttpRequest, body: str, cache_control: str, status: str) -> Answer:
        etag = hashlib.blake2b(body.encode(), digest_size=16).hexdigest()
        sent = self._with_debug(request, body, status)
        # With debug extensions the bytes differ between a hit and a miss: the same data, a weak validator.
        return Answer(sent, 200, cache_control, f'"{etag}"' if sent is body else f'W/"{etag}"')

    def _with_debug(self, request: HttpRequest, body: str, operation_status: str) -> str:
        if not settings.GRAPHQL_CACHE_DEBUG:
            return body
        response = json.loads(body)
        response["extensions"] = {
            "cache": {
                "operation": operation_status,
                "fields": state.report if (state := request_state.of(request)) else [],
            }
        }
        return json.dumps(response, separators=(",", ":"))

    # --- HTTP ---------------------------------------------------------------------------------------------------

    def _send(self, request: HttpRequest, answer: Answer, media: str) -> HttpResponse:
        etag = answer.etag
        if etag is not None:
            # The representation differs by media type: so does its validator.
            etag = etag[:-1] + ("g" if media == GRAPHQL_RESPONSE_JSON else "j") + '"'
        if etag is not None and request.method in ("GET", "HEAD") and _matches(request, etag):
            response = HttpResponse(status=304)
        else:
            response = HttpResponse(
                b"" if request.method == "HEAD" else answer.body.encode(),
                status=answer.status,
                content_type=f"{media}; charset=utf-8",
            )
        response["Cache-Control"] = answer.cache_control
        if etag is not None:
            response["ETag"] = etag
        patch_vary_headers(response, VARY)
        return response


def _matches(request: HttpRequest, etag: str) -> bool:
    header = request.META.get("HTTP_IF_NONE_MATCH")
    if not header:
        return False
    if header.strip() == "*":
        return True
    # If-None-Match compares weakly (RFC 9110 13.1.2).
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


def _error(message: str, code: str) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code}}


def _errors_body(errors: list[dict[str, Any]]) -> str:
    return json.dumps({"errors": errors}, separators=(",", ":"))


def _result_body(result: ExecutionResult) -> str:
    response: dict[str, Any] = {}
    if result.errors:
        response["errors"] = [error.formatted for error in result.errors]
    response["data"] = result.data
    return json.dumps(response, separators=(",", ":"))


def _internal_error() -> GraphQLError:
    return GraphQLError("Internal server error.", extensions={"code": INTERNAL_SERVER_ERROR})


def _public(error: GraphQLError) -> GraphQLError:
    """An error a client may see: an unexpected exception's text (SQL, codec, ...) is logged, not sent."""
    original = error.original_error
    # Without a path the error comes from coercing the request's variables: its text is about the client's input.
    if original is None or isinstance(original, GraphQLError) or not error.path or settings.DEBUG:
        return error
    logger.error("GraphQL resolver failed at %s", error.path, exc_info=original)
    return GraphQLError(
        "Internal server error.",
        error.nodes,
        path=error.path,
        extensions={"code": INTERNAL_SERVER_ERROR},
    )
