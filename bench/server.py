"""What the bench's gunicorn serves besides the app: the limit view, a resolver counter and a sign-in failure counter.

All use the raw client of the app's own cache (same pool, same timeouts), so they cost what the app's calls cost.
"""

import contextlib

from django.contrib.auth.signals import user_login_failed
from django.core.cache import caches
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from redis.exceptions import RedisError

# Outside the runam: prefix, so the app never reads, counts or clears these.
LIMIT_KEY = "bench:limit"
RESOLVER_RUNS_KEY = "bench:resolver_runs"
LOGIN_FAILURES_KEY = "bench:login_failures"


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


def count_login_failure(sender, credentials, request=None, **kwargs) -> None:
    """One INCR per credential check that failed (Django sends user_login_failed when authenticate() finds no
    user), so bench_abuse sees how many of a request's guesses were checked, and how many refused before it."""
    with contextlib.suppress(RedisError):  # a counter must not turn a refused sign-in into a 500 (bench_outage)
        _redis().incr(LOGIN_FAILURES_KEY)


# Connected when the URLconf loads, i.e. before the first request the bench's gunicorn answers.
user_login_failed.connect(count_login_failure, dispatch_uid="bench.server.count_login_failure")
