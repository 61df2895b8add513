"""The operation fast path and the parsed-document cache, as a mixin for the GraphQL view.

- Every request: the query text is parsed and validated once per process (bounded LRU), then reused.
- When every root field of a query operation has an enabled policy, the whole response body is cached: TTL the
  smallest, scope user if any field is. A hit answers with the stored bytes before parsing, validating or executing.
- Cache-Control follows the same rule: `max-age=<smallest ttl>, public|private` for such a response, else no-store.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpResponseBadRequest, HttpResponseNotAllowed
from django.middleware.csrf import get_token
from graphene_django import settings as graphene_django_settings
from graphene_django.constants import MUTATION_ERRORS_FLAG
from graphene_django.settings import graphene_settings
from graphene_django.utils.utils import set_rollback
from graphene_django.views import GraphQLView, HttpError
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    execute,
    get_operation_ast,
    parse,
    print_ast,
    validate,
)

from core.cache import stats
from core.cache.conf import cache_enabled
from core.cache.execution import CachingExecutionContext
from core.cache.invalidation import in_transaction, tracked_labels
from core.cache.keys import make_key
from core.cache.middleware import viewer_id
from core.cache.policies import root_policies
from core.cache.store import get_store

logger = logging.getLogger(__name__)
OPERATION_FAMILY = "gql"


@dataclass(frozen=True, slots=True)
class OperationPlan:
    ttl: int
    private: bool
    fields: tuple[dict, ...]  # per root field: path, coordinate, family and TTL, for extensions.cache on a hit

    @property
    def cache_control(self) -> str:
        return f"max-age={self.ttl}, {'private' if self.private else 'public'}"


def plan_operation(operation: OperationDefinitionNode | None) -> OperationPlan | None:
    """A plan when every root selection is a plain field with an enabled policy; None otherwise."""
    if operation is None or operation.operation is not OperationType.QUERY:
        return None
    policies = root_policies()
    chosen, fields = [], []
    for selection in operation.selection_set.selections:
        policy = policies.get(selection.name.value) if isinstance(selection, FieldNode) else None
        if policy is None or not policy.enabled:
            return None
        chosen.append(policy)
        path = (selection.alias or selection.name).value
        fields.append({"path": path, "field": policy.coordinate, "ttl": policy.ttl, "family": policy.family_root})
    if not chosen:
        return None
    return OperationPlan(
        ttl=min(p.ttl for p in chosen),
        private=any(p.private for p in chosen),
        fields=tuple(fields),
    )


@dataclass(slots=True)
class ParsedDocument:
    document: DocumentNode | None
    errors: list[GraphQLError]
    digest: str  # of the normalized (re-printed) document: formatting does not split entries

    def operation(self, name: str | None) -> OperationDefinitionNode | None:
        return get_operation_ast(self.document, name) if self.document is not None else None


class DocumentCache:
    """Parsed and validated documents by query text; least recently used out first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[str, ParsedDocument] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, query: str, schema, rules) -> ParsedDocument:
        with self._lock:
            parsed = self._entries.get(query)
            if parsed is not None:
                self._entries.move_to_end(query)
                return parsed
        parsed = self._parse(query, schema, rules)
        with self._lock:
            self._entries[query] = parsed
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return parsed

    @staticmethod
    def _parse(query: str, schema, rules) -> ParsedDocument:
        try:
            document = parse(query)
        except GraphQLError as error:
            return ParsedDocument(None, [error], "")
        errors = validate(schema, document, rules, graphene_settings.MAX_VALIDATION_ERRORS)
        digest = hashlib.sha256(print_ast(document).encode()).hexdigest()
        return ParsedDocument(document, errors, digest)


@dataclass(slots=True)
class OperationFill:
    plan: OperationPlan
    key: str
    ticket: Any
    recorder: set[str]

    def store(self, body: str) -> None:
        stored = get_store().store(self.ticket, body, self.plan.ttl, families=self.recorder, guarded=True)
        if stored:
            stats.record(OPERATION_FAMILY, "set")


def operation_key(parsed: ParsedDocument, operation_name: str | None, variables: Any, user_id: int | None) -> str:
    material = json.dumps([parsed.digest, operation_name, variables or {}, user_id], sort_keys=True, default=str)
    digest = hashlib.sha256(material.encode()).hexdigest()[:40]
    return make_key("gql:{{scope}}:{{digest}}", {"scope": f"u{user_id}" if user_id else "public", "digest": digest})


@receiver(setting_changed)
def _forget_documents(*, setting: str, **kwargs) -> None:
    # Validation depends on these: a document validated under the old rules must be validated again.
    if setting in {"GRAPHQL_MAX_DEPTH", "GRAPHENE", "GRAPHQL_DOCUMENT_CACHE_SIZE"}:
        CachedGraphQLViewMixin._documents = None


class CachedGraphQLViewMixin:
    """Put before graphene_django's GraphQLView: adds the document cache, the fast path and Cache-Control."""

    execution_context_class = CachingExecutionContext
    _documents: DocumentCache | None = None

    def __init__(self, *args, middleware=None, **kwargs):
        if middleware is None:
            # graphene_django.views holds the GrapheneSettings object it imported first; the module attribute is
            # the one replaced when settings.GRAPHENE changes, so the middleware list stays live.
            middleware = graphene_django_settings.graphene_settings.MIDDLEWARE
        super().__init__(*args, middleware=middleware, **kwargs)

    @classmethod
    def documents(cls) -> DocumentCache:
        if CachedGraphQLViewMixin._documents is None:
            CachedGraphQLViewMixin._documents = DocumentCache(settings.GRAPHQL_DOCUMENT_CACHE_SIZE)
        return CachedGraphQLViewMixin._documents

    def parsed(self, query: str) -> ParsedDocument:
        return self.documents().get(query, self.schema.graphql_schema, self.validation_rules)

    def dispatch(self, request, *args, **kwargs):
        request.runam_cache_control = "no-store"
        # graphene-django wraps dispatch in ensure_csrf_cookie, so every API response would mint a CSRF token and
        # set a cookie (a sixth of a cache hit's cost). Only GraphiQL, the page a browser session posts from,
        # needs one; the undecorated dispatch runs, and the page gets its token here.
        if request.method == "GET" and self.graphiql and self.request_wants_html(request):
            get_token(request)
        response = GraphQLView.dispatch.__wrapped__(self, request, *args, **kwargs)
        response["Cache-Control"] = request.runam_cache_control
        return response

    def get_response(self, request, data, show_graphiql=False):
        query, variables, operation_name, request_id = self.get_graphql_params(request, data)
        fill = None
        plan = None
        cacheable_request = not show_graphiql and not self.batch and not (self.pretty or request.GET.get("pretty"))
        if query and cacheable_request and cache_enabled():
            parsed = self.parsed(query)
            plan = plan_operation(parsed.operation(operation_name)) if not parsed.errors else None
            if plan is not None:
                hit, fill = self._begin(request, plan, parsed, operation_name, variables)
                if hit is not None:
                    request.runam_cache_control = plan.cache_control
                    request.runam_cache_report = [{**field, "status": "HIT"} for field in plan.fields]
                    return self._with_extensions(request, hit, "HIT"), 200
        result = self.execute_graphql_request(request, data, query, variables, operation_name, show_graphiql)
        if getattr(request, MUTATION_ERRORS_FLAG, False) is True:
            set_rollback()
        if result is None:
            return None, 200
        body, status = self._encode(request, result, request_id, show_graphiql)
        if plan is not None and status == 200 and not result.errors:
            request.runam_cache_control = plan.cache_control
            if fill is not None:
                fill.store(body)
        return self._with_extensions(request, body, "MISS" if fill is not None else "BYPASS"), status

    def _begin(self, request, plan, parsed, operation_name, variables):
        """(stored body, None) on a hit; (None, fill or None) on a miss."""
        user_id = viewer_id(request)
        if not cache_enabled() or (plan.private and user_id is None) or in_transaction():
            return None, None
        store = get_store()
        key = operation_key(parsed, operation_name, variables, user_id)
        lookup = store.lookup(key, clocks=tracked_labels())
        if lookup.hit:
            stats.record(OPERATION_FAMILY, "hit")
            return lookup.payload, None
        stats.record(OPERATION_FAMILY, "miss")
        if lookup.ticket is None:
            return None, None
        # The execution context records every row and family the response shows into this set.
        request.runam_operation_recorder = recorder = set()
        return None, OperationFill(plan, key, lookup.ticket, recorder)

    def _encode(self, request, result: ExecutionResult, request_id, show_graphiql) -> tuple[str, int]:
        response: dict[str, Any] = {}
        status = 200
        if result.errors:
            set_rollback()
            response["errors"] = [self.format_error(e) for e in result.errors]
        if result.errors and any(not getattr(e, "path", None) for e in result.errors):
            status = 400
        else:
            response["data"] = result.data
        if self.batch:
            response["id"] = request_id
            response["status"] = status
        return self.json_encode(request, response, pretty=show_graphiql), status

    def _with_extensions(self, request, body: str | None, operation_status: str) -> str | None:
        if body is None or not settings.GRAPHQL_CACHE_DEBUG:
            return body
        response = json.loads(body)
        response["extensions"] = {
            "cache": {"operation": operation_status, "fields": getattr(request, "runam_cache_report", [])}
        }
        return self.json_encode(request, response)

    def execute_graphql_request(self, request, data, query, variables, operation_name, show_graphiql=False):
        """graphene-django's flow, with parse and validate served from the document cache."""
        if not query:
            if show_graphiql:
                return None
            raise HttpError(HttpResponseBadRequest("Must provide query string."))
        parsed = self.parsed(query)
        if parsed.document is None or parsed.errors:
            return ExecutionResult(data=None, errors=parsed.errors)
        operation = parsed.operation(operation_name)
        if request.method.lower() == "get" and operation is not None and operation.operation != OperationType.QUERY:
            if show_graphiql:
                return None
            raise HttpError(
                HttpResponseNotAllowed(
                    ["POST"], f"Can only perform a {operation.operation.value} operation from a POST request."
                )
            )
        try:
            return execute(
                self.schema.graphql_schema,
                parsed.document,
                root_value=self.get_root_value(request),
                context_value=self.get_context(request),
                variable_values=variables,
                operation_name=operation_name,
                middleware=self.get_middleware(request),
                execution_context_class=self.execution_context_class,
            )
        except Exception as error:  # graphene-django's contract: execution failures become errors, not 500s
            logger.exception("GraphQL execution failed")
            return ExecutionResult(errors=[GraphQLError(str(error))])
