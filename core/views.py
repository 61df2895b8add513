"""/graphql/: GraphiQL for a browser's GET, JSON for everything else.

graphene-django's GraphQLView already answers malformed JSON, a missing query and an unknown operation name with
a 400 and a JSON `{"errors": [...]}` body; this subclass adds the depth limit and keeps that promise for the
documents that would crash graphene's depth validator.
"""

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.views.csrf import csrf_failure as django_csrf_failure
from graphene.validation import depth_limit_validator
from graphene_django.views import GraphQLView
from graphql import ValidationRule, specified_rules

from core.cache.operations import CachedGraphQLViewMixin


def depth_limit_rule(max_depth: int) -> type[ValidationRule]:
    """graphene's depth limit, tolerant of documents it cannot walk.

    The validator follows fragment spreads while building itself: an unknown fragment raises KeyError and a
    spread cycle RecursionError (a 500). Both documents are invalid anyway, and graphql-core's own rules
    (KnownFragmentNames, NoFragmentCycles) report them as a 400, so the depth check simply stands aside.
    """
    rule = depth_limit_validator(max_depth=max_depth)

    class DepthLimit(rule):
        def __init__(self, context):
            try:
                super().__init__(context)
            except (KeyError, RecursionError):
                ValidationRule.__init__(self, context)

    return DepthLimit


class RunAmGraphQLView(CachedGraphQLViewMixin, GraphQLView):
    graphiql_template = "graphiql/index.html"  # assets from our static files, not graphene-django's CDN links

    def __init__(self, *args, validation_rules=None, **kwargs):
        # Passing rules replaces graphql-core's defaults, so they are listed too. Built per request (as_view
        # instantiates the view each time) so that GRAPHQL_MAX_DEPTH overrides apply at once.
        validation_rules = validation_rules or (*specified_rules, depth_limit_rule(settings.GRAPHQL_MAX_DEPTH))
        super().__init__(*args, validation_rules=validation_rules, **kwargs)


def csrf_failure(request, reason: str = "") -> HttpResponse:
    """CSRF refusals as JSON on the API (a GraphQL client cannot show Django's HTML page), HTML elsewhere."""
    if request.path_info != reverse("graphql"):
        return django_csrf_failure(request, reason)
    message = (
        f"CSRF check failed ({reason}). A request authenticated by a session cookie must send the csrftoken "
        "cookie's value in an X-CSRFToken header; API clients should send 'Authorization: Bearer <token>' instead."
    )
    return JsonResponse({"errors": [{"message": message, "extensions": {"code": "CSRF_FAILED"}}]}, status=403)
