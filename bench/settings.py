"""Settings of the bench's servers: the app's own, plus bench/urls.py (the limit view) and two switches:

BENCH_COUNT_RESOLVERS=true       a graphene middleware counts root resolver runs (bench_stampede);
BENCH_FAST_PASSWORD_HASHER=true  MD5 first, for tests/bench only: signing in, even with an unknown name (Django
                                 hashes once for timing parity), would otherwise cost a real hash a call.
"""

from runam.settings import *  # noqa: F403
from runam.settings import GRAPHENE, PASSWORD_HASHERS, env

ROOT_URLCONF = "bench.urls"

if env.bool("BENCH_COUNT_RESOLVERS", default=False):
    # graphql-core runs the last middleware outermost: the counter sits inside the cache, so only misses reach it.
    GRAPHENE = {**GRAPHENE, "MIDDLEWARE": ["bench.server.ResolverCounter", *GRAPHENE["MIDDLEWARE"]]}

if env.bool("BENCH_FAST_PASSWORD_HASHER", default=False):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
