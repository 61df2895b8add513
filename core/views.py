"""Views of core that are not the GraphQL endpoint (which lives in core/graphql/view.py)."""

from django.http import HttpResponse, JsonResponse
from django.urls import reverse
from django.views.csrf import csrf_failure as django_csrf_failure


def csrf_failure(request, reason: str = "") -> HttpResponse:
    """CSRF refusals as JSON on the API (a GraphQL client cannot show Django's HTML page), HTML elsewhere."""
    if request.path_info != reverse("graphql"):
        return django_csrf_failure(request, reason)
    message = (
        f"CSRF check failed ({reason}). A request authenticated by a session cookie must send the csrftoken "
        "cookie's value in an X-CSRFToken header; API clients should send 'Authorization: Bearer <token>' instead."
    )
    return JsonResponse({"errors": [{"message": message, "extensions": {"code": "CSRF_FAILED"}}]}, status=403)
