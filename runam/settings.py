"""RunAm settings: twelve-factor, every value from the environment (see .env.example)."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

# local | test | production. Insecure conveniences (a default SECRET_KEY) exist only outside production.
DJANGO_ENV = env.str("DJANGO_ENV", default="local")
if DJANGO_ENV not in {"local", "test", "production"}:
    raise environ.ImproperlyConfigured("DJANGO_ENV must be one of local, test, production")
DEBUG = env.bool("DJANGO_DEBUG", default=DJANGO_ENV == "local")
if DJANGO_ENV == "production":
    SECRET_KEY = env.str("DJANGO_SECRET_KEY")
else:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-local-only-runam-key-do-not-use-in-production")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "graphene_django",
]
LOCAL_APPS = [
    "core",
    "accounts",
    "errands",
    "escrows",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before CSRF: a request authenticated by a bearer token carries no cookie to forge, so it is exempt.
    "core.auth.BearerTokenMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "core.auth.TokenUserMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# JSON 403 on /graphql/ when a session request lacks its CSRF token.
CSRF_FAILURE_VIEW = "core.views.csrf_failure"

ROOT_URLCONF = "runam.urls"
WSGI_APPLICATION = "runam.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# --- API -------------------------------------------------------------------------------------------------------
# Lifetime of a token issued by tokenAuth, in seconds.
AUTH_TOKEN_TTL = env.int("AUTH_TOKEN_TTL", default=7 * 24 * 3600)
GRAPHQL_MAX_DEPTH = env.int("GRAPHQL_MAX_DEPTH", default=10)

GRAPHENE = {
    "SCHEMA": "runam.schema.schema",
    # graphql-core runs the LAST middleware outermost: keep the cache last so a hit skips every other one.
    "MIDDLEWARE": ["core.cache.middleware.FieldCacheMiddleware"],
}

# --- Cache -----------------------------------------------------------------------------------------------------
CACHE_ENABLED = env.bool("CACHE_ENABLED", default=True)
CACHE_DEFAULT_TIMEOUT = env.int("CACHE_DEFAULT_TIMEOUT", default=300)
CACHE_KEY_PREFIX = env.str("CACHE_KEY_PREFIX", default="runam")
REDIS_URL = env.str("REDIS_URL", default="")
# Seconds a family generation / write clock lives; losing one costs a miss, never a stale read.
CACHE_GENERATION_TTL = env.int("CACHE_GENERATION_TTL", default=7 * 24 * 3600)
# Seconds concurrent misses on one key wait for the first caller's value before computing it themselves.
CACHE_SINGLE_FLIGHT_WAIT = env.float("CACHE_SINGLE_FLIGHT_WAIT", default=2.0)
# Seconds between flushes of each process's hit/miss counters to Redis (0: never in the background).
CACHE_STATS_FLUSH_INTERVAL = env.float("CACHE_STATS_FLUSH_INTERVAL", default=1.0)
# Seconds between attempts to reach a Redis that failed; calls in between are misses that cost no time.
CACHE_OUTAGE_RETRY_INTERVAL = env.float("CACHE_OUTAGE_RETRY_INTERVAL", default=1.0)
# Seconds a begun write holds off GraphQL fills of its models if it never settles (rolled back, crashed): keep it
# longer than any transaction that writes cached models.
CACHE_WRITE_PENDING_TTL = env.float("CACHE_WRITE_PENDING_TTL", default=60.0)
# Local memory only: the file through which this machine's processes pass their invalidations to each other.
# Unset: one per project and database in the temp directory; empty: off (a single process).
CACHE_LOCMEM_JOURNAL = env.str("CACHE_LOCMEM_JOURNAL", default=None)
# An entry larger than this, or listing more generations than this, is served but not stored: a bounded hit costs a
# bounded read. 1 MiB holds the largest page many times over; 2,000 dependencies are six times what the largest page
# (100 errands with their creators and runners: at most 300 rows) lists. See docs/caching.md, "Design: cache space".
CACHE_MAX_ENTRY_BYTES = env.int("CACHE_MAX_ENTRY_BYTES", default=1024 * 1024)
CACHE_MAX_ENTRY_DEPENDENCIES = env.int("CACHE_MAX_ENTRY_DEPENDENCIES", default=2000)
# Adds extensions.cache (per field HIT/MISS, family, TTL) to GraphQL responses.
GRAPHQL_CACHE_DEBUG = env.bool("GRAPHQL_CACHE_DEBUG", default=DEBUG)

# Our keys are built whole by core.cache.keys.make_key ("runam:..."); the backend must not rewrite them.
_CACHE_COMMON = {
    "TIMEOUT": CACHE_DEFAULT_TIMEOUT,
    "KEY_FUNCTION": "core.cache.keys.backend_key",
}
if REDIS_URL:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    CACHES = {
        "default": {
            **_CACHE_COMMON,
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # JSON text, never pickle, on the read path of data coming from Redis.
                "SERIALIZER": "core.cache.serializers.TextSerializer",
                "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_CONNECT_TIMEOUT", default=0.1),
                "SOCKET_TIMEOUT": env.float("REDIS_SOCKET_TIMEOUT", default=0.1),
                # No retries: one would double the time a caller can lose to a dead Redis (the cache fails open).
                "CONNECTION_POOL_KWARGS": {
                    "max_connections": env.int("REDIS_MAX_CONNECTIONS", default=64),
                    "retry": Retry(NoBackoff(), 0),
                },
            },
        }
    }
else:
    CACHES = {
        "default": {
            **_CACHE_COMMON,
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "runam",
            "OPTIONS": {"MAX_ENTRIES": env.int("CACHE_LOCMEM_MAX_ENTRIES", default=100_000)},
        }
    }

# One entry per cached GraphQL field, keyed by schema coordinate. Adding a field's policy is one entry here.
#   ttl     seconds an entry may live (memory bound; freshness comes from invalidation)
#   scope   "public" (one entry for everyone) or "user" (one per signed-in viewer; anonymous never cached)
#   family  key template: {{arg}} from the field's arguments, {{user_id}} the viewer; invalidation targets it
#   enabled False keeps the policy but bypasses the cache
GRAPHQL_CACHE_POLICIES = {
    "Query.errands": {
        "ttl": env.int("CACHE_TIMEOUT_ERRAND_LIST", default=60),
        "scope": "public",
        "family": "errand_list",
    },
    "Query.errand": {
        "ttl": env.int("CACHE_TIMEOUT_ERRAND_DETAIL", default=300),
        "scope": "public",
        "family": "errand:{{id}}",
    },
    "Query.myErrands": {
        "ttl": env.int("CACHE_TIMEOUT_USER_ERRANDS", default=300),
        "scope": "user",
        "family": "user_errands:{{user_id}}",
    },
    "Query.myEscrows": {
        "ttl": env.int("CACHE_TIMEOUT_USER_ESCROWS", default=300),
        "scope": "user",
        "family": "user_escrows:{{user_id}}",
    },
    "Query.banks": {
        "ttl": env.int("CACHE_TIMEOUT_BANKS_LIST", default=86400),
        "scope": "public",
        "family": "banks_list:{{country}}",
    },
    "Query.roles": {
        "ttl": env.int("CACHE_TIMEOUT_ROLES", default=3600),
        "scope": "public",
        "family": "roles",
    },
    "Query.me": {
        "ttl": env.int("CACHE_TIMEOUT_USER_PROFILE", default=3600),
        "scope": "user",
        "family": "user_profile:{{user_id}}",
    },
}

# What a write to each model invalidates, besides the row itself (its row generation reaches every cached result
# that showed it, however deeply nested). Templates are filled from the written instance's attributes. Every model
# listed here must use core.cache.invalidation.TrackedQuerySet so bulk writes invalidate too.
CACHE_INVALIDATION = {
    "accounts.User": ["user:{{id}}", "user_profile:{{id}}"],
    "accounts.UserProfile": ["user:{{user_id}}", "user_profile:{{user_id}}"],
    "accounts.Role": ["roles"],
    # All countries: a country argument may be spelled in any case, so "banks_list:NG" alone could miss one.
    "accounts.Bank": ["banks_list"],
    "errands.Errand": ["errand:{{id}}", "errand_list", "user_errands:{{created_by_id}}", "user_errands:{{runner_id}}"],
    "escrows.Escrow": [
        "escrow:{{id}}",
        "user_escrows:{{payer_id}}",
        "user_escrows:{{payee_id}}",
        "errand:{{errand_id}}",
    ],
}
# Bound of the per-process cache of parsed and validated GraphQL documents (every request uses it).
GRAPHQL_DOCUMENT_CACHE_SIZE = env.int("GRAPHQL_DOCUMENT_CACHE_SIZE", default=1000)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"core.cache": {"level": env.str("CACHE_LOG_LEVEL", default="INFO")}},
}
