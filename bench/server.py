"""What the bench's gunicorn serves besides the app: the limit view and a resolver counter.

Both use the raw client of the app's own cache (same pool, same timeouts), so they cost what the app's calls cost.
"""

from django.core.cache import caches
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

# Outside the runam: prefix, so the app never reads, counts or clears these.
LIMIT_KEY = "bench:limit"
RESOLVER_RUNS_KEY = "bench:resolver_runs"


def _redis():
    return caches["default"].client.get_client(write=True)


@csrf_exempt
def limit_view(request) -> HttpResponse:
    """The floor under any cached GraphQL response: the same middleware, one Redis GET, the stored bytes."""
    return HttpResponse(_redis().get(LIMIT_KEY), content_type="application/json")


class ResolverCounter:
    """Graphene middleware: one INCR per root field resolver run, shared by every worker process."""

    def resolve(self, next, root, info, **args):
        if root is None:
            _redis().hincrby(RESOLVER_RUNS_KEY, info.field_name, 1)
        return next(root, info, **args)
