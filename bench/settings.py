"""Settings of the bench's gunicorn: the app's own, plus bench/urls.py (the limit view) and, with
BENCH_COUNT_RESOLVERS=true, a graphene middleware that counts root resolver runs (bench_stampede)."""

from runam.settings import *  # noqa: F403
from runam.settings import GRAPHENE, env

ROOT_URLCONF = "bench.urls"

if env.bool("BENCH_COUNT_RESOLVERS", default=False):
    # graphql-core runs the last middleware outermost: the counter sits inside the cache, so only misses reach it.
    GRAPHENE = {**GRAPHENE, "MIDDLEWARE": ["bench.server.ResolverCounter", *GRAPHENE["MIDDLEWARE"]]}
