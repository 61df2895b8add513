"""RunAm settings: twelve-factor, every value from the environment (see .env.example)."""

from pathlib import Path

import environ
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# python-dotenv rather than Env.read_env: a `#` starts a comment only after a space (`KEY=60  # 1 minute`), as in
# a shell, so unquoted values keep theirs (Django's generated secret keys contain `#`). Values stay literal (no
# ${VAR} expansion), and the real environment wins over the file.
load_dotenv(env.str("DJANGO_ENV_FILE", default=str(BASE_DIR / ".env")), override=False, interpolate=False)

# local | test | production. Insecure conveniences (a default SECRET_KEY) exist only outside production.
# manage.py and wsgi.py print an ImproperlyConfigured raised here as one line and exit 1.
DJANGO_ENV = env.str("DJANGO_ENV", default="local")
if DJANGO_ENV not in {"local", "test", "production"}:
    raise environ.ImproperlyConfigured("DJANGO_ENV must be one of local, test, production")
PRODUCTION = DJANGO_ENV == "production"
DEBUG = env.bool("DJANGO_DEBUG", default=DJANGO_ENV == "local")
if PRODUCTION:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
    if not SECRET_KEY:
        raise environ.ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required when DJANGO_ENV=production (see .env.example)"
        )
else:
    SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-local-only-runam-key-do-not-use-in-production")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS ------------------------------------------------------------------------------------------------------
# Production defaults are everything `check --deploy` asks for; elsewhere plain HTTP on a laptop must keep working.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=365 * 24 * 3600 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=PRODUCTION)
# `preload` only consents to the browsers' list: nothing happens until the registrable domain is submitted to it.
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=PRODUCTION)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=PRODUCTION)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=PRODUCTION)
# "HTTP_X_FORWARDED_PROTO,https" behind a TLS-terminating proxy that sets that header (and strips a client's own).
# Unset by default: trusting a header that clients can send would make any plain request look secure.
_proxy_ssl_header = env.list("DJANGO_SECURE_PROXY_SSL_HEADER", default=[])
if _proxy_ssl_header and len(_proxy_ssl_header) != 2:
    raise environ.ImproperlyConfigured(
        "DJANGO_SECURE_PROXY_SSL_HEADER must be HEADER,value, e.g. HTTP_X_FORWARDED_PROTO,https"
    )
SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header) or None
# Deploy checks refuse production on SQLite (no row locks: concurrent accepts and releases are unsafe) and on a
# per-process cache (no invalidation between machines) unless these say it is meant (a single-machine demo).
DJANGO_ALLOW_SQLITE_IN_PRODUCTION = env.bool("DJANGO_ALLOW_SQLITE_IN_PRODUCTION", default=False)
CACHE_ALLOW_LOCMEM_IN_PRODUCTION = env.bool("CACHE_ALLOW_LOCMEM_IN_PRODUCTION", default=False)

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
    # Serves STATIC_ROOT (admin and GraphiQL assets) under gunicorn with DEBUG off; from the apps' folders with DEBUG.
    "whitenoise.middleware.WhiteNoiseMiddleware",
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
# The first hashes new passwords (accounts/hashers.py says why); the others still verify older hashes, which are
# upgraded at the next sign-in.
PASSWORD_HASHERS = [
    "accounts.hashers.RunAmArgon2PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

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
# Filled by `manage.py collectstatic` (needed once per deploy when DEBUG is off) and served by WhiteNoise.
STATIC_ROOT = BASE_DIR / "staticfiles"
# Gzipped copies, no hashed names: GraphiQL's vendored folders carry their versions in their names, and the
# bundles' sourceMappingURL comments point at maps not vendored, which hashing storage would refuse.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- API -------------------------------------------------------------------------------------------------------
# Lifetime of a token issued by tokenAuth, in seconds.
AUTH_TOKEN_TTL = env.int("AUTH_TOKEN_TTL", default=7 * 24 * 3600)
# --- GraphQL endpoint budget (docs/http.md): every request is bounded before it is parsed ------------------------
GRAPHQL_MAX_BODY_BYTES = env.int("GRAPHQL_MAX_BODY_BYTES", default=1024 * 1024)
GRAPHQL_MAX_QUERY_LENGTH = env.int("GRAPHQL_MAX_QUERY_LENGTH", default=20_000)
GRAPHQL_MAX_TOKENS = env.int("GRAPHQL_MAX_TOKENS", default=2_000)
GRAPHQL_MAX_DEPTH = env.int("GRAPHQL_MAX_DEPTH", default=10)
GRAPHQL_MAX_ALIASES = env.int("GRAPHQL_MAX_ALIASES", default=30)
# Values an operation may select, lists counted at their page size (`first`, capped at 100).
GRAPHQL_MAX_COST = env.int("GRAPHQL_MAX_COST", default=10_000)
# Automatic persisted queries (Apollo's protocol); the allow-list mode runs only registered documents.
GRAPHQL_APQ = env.bool("GRAPHQL_APQ", default=True)
GRAPHQL_APQ_ALLOWLIST = env.bool("GRAPHQL_APQ_ALLOWLIST", default=False)
GRAPHQL_APQ_TTL = env.int("GRAPHQL_APQ_TTL", default=7 * 24 * 3600)
# The in-browser IDE on a GET that accepts HTML; off in production, where the API is for programs.
GRAPHQL_GRAPHIQL = env.bool("GRAPHQL_GRAPHIQL", default=not PRODUCTION)
# __schema and __type (never __typename). On everywhere: clients and code generators built on the contract read
# the schema this way. Turning it off hides nothing (the contract publishes the schema) and breaks those tools.
GRAPHQL_INTROSPECTION = env.bool("GRAPHQL_INTROSPECTION", default=True)

# Login throttling (docs/security.md): tokenAuth and /admin/login/ attempts allowed per username and per client
# address in each window of LOGIN_ATTEMPT_WINDOW seconds (0: no limit). A correct password does not count.
LOGIN_MAX_ATTEMPTS = env.int("LOGIN_MAX_ATTEMPTS", default=5)
LOGIN_MAX_ATTEMPTS_PER_ADDRESS = env.int("LOGIN_MAX_ATTEMPTS_PER_ADDRESS", default=20)
LOGIN_ATTEMPT_WINDOW = env.int("LOGIN_ATTEMPT_WINDOW", default=900)
# Reverse proxies in front of the app, each appending its peer to X-Forwarded-For (0: none, the peer is the client).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

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
# Redis Cluster: REDIS_CLUSTER=true with REDIS_URL naming any one node, or REDIS_CLUSTER_NODES=host:port,host:port
# (where discovery starts; the client learns the rest). docs/scale-out.md says what a cluster gives today.
REDIS_CLUSTER_NODES = [node.strip() for node in env.list("REDIS_CLUSTER_NODES", default=[]) if node.strip()]
REDIS_CLUSTER = env.bool("REDIS_CLUSTER", default=bool(REDIS_CLUSTER_NODES))
# Redis Sentinel: REDIS_SENTINELS=host:port,host:port (the sentinels) and REDIS_SENTINEL_SERVICE, the name they monitor
# (or REDIS_URL=redis://<service>/<db>). The client asks the sentinels where the master is, and again after a failover.
REDIS_SENTINELS = [node.strip() for node in env.list("REDIS_SENTINELS", default=[]) if node.strip()]
REDIS_SENTINEL_SERVICE = env.str("REDIS_SENTINEL_SERVICE", default="")
if REDIS_SENTINELS and REDIS_CLUSTER:
    raise environ.ImproperlyConfigured("REDIS_SENTINELS and REDIS_CLUSTER exclude each other")
if REDIS_SENTINELS and not (REDIS_SENTINEL_SERVICE or REDIS_URL):
    raise environ.ImproperlyConfigured(
        "REDIS_SENTINELS needs REDIS_SENTINEL_SERVICE (or REDIS_URL=redis://<service>/0)"
    )
if REDIS_SENTINELS and REDIS_SENTINEL_SERVICE:
    REDIS_URL = f"redis://{REDIS_SENTINEL_SERVICE}/0"
# Replicas that must hold an invalidation before it counts as done (WAIT, on single Redis or Sentinel; 0: no WAIT).
# Until they do, it is owed like one that never reached Redis: a failover cannot bring back what it invalidated.
CACHE_REDIS_MIN_REPLICAS = env.int("CACHE_REDIS_MIN_REPLICAS", default=0)
# Seconds an invalidation waits for those replicas; keep it below REDIS_SOCKET_TIMEOUT.
CACHE_REDIS_WAIT_TIMEOUT = env.float("CACHE_REDIS_WAIT_TIMEOUT", default=0.05)
if REDIS_CLUSTER and not (REDIS_URL or REDIS_CLUSTER_NODES):
    raise environ.ImproperlyConfigured("REDIS_CLUSTER=true needs REDIS_URL (one node) or REDIS_CLUSTER_NODES")
if REDIS_CLUSTER and (not CACHE_KEY_PREFIX or set(CACHE_KEY_PREFIX) & set("{}")):
    # On a cluster the prefix becomes the hash tag of each partition, `{prefix.n}` (core/cache/partitions.py).
    raise environ.ImproperlyConfigured("CACHE_KEY_PREFIX must be non-empty and without { or } on a Redis Cluster")
# Partitions the cache's keys are spread over, each under a hash tag of its own (docs/caching.md, "Design:
# partitions"); 0: the default, 1 on a single Redis and 12 on a cluster. The same on every host.
CACHE_PARTITIONS = env.int("CACHE_PARTITIONS", default=0)
# Which partition holds an entry: "thread" (one copy of a key per master, each thread of a process reading and
# filling one of them: a hot key loads every master), "process" (the same, one copy per process) or "key" (one copy).
CACHE_PARTITION_BY = env.str("CACHE_PARTITION_BY", default="thread")
# Seconds a family generation / write clock lives; losing one costs a miss, never a stale read.
CACHE_GENERATION_TTL = env.int("CACHE_GENERATION_TTL", default=7 * 24 * 3600)
# Seconds concurrent misses on one key wait for the first caller's value before computing it themselves.
CACHE_SINGLE_FLIGHT_WAIT = env.float("CACHE_SINGLE_FLIGHT_WAIT", default=2.0)
# Seconds between flushes of each process's hit/miss counters to Redis (0: never in the background).
CACHE_STATS_FLUSH_INTERVAL = env.float("CACHE_STATS_FLUSH_INTERVAL", default=1.0)
CACHE_STATS_MAX_FAMILIES = env.int("CACHE_STATS_MAX_FAMILIES", default=500)
# Longest wait (seconds) between attempts to reach a Redis that failed (the first comes after 50 ms, then the wait
# doubles); calls in between are misses that cost no time.
CACHE_OUTAGE_RETRY_INTERVAL = env.float("CACHE_OUTAGE_RETRY_INTERVAL", default=0.5)
# Seconds a begun write holds off GraphQL fills of its models if it never settles (rolled back, crashed): keep it
# longer than any transaction that writes cached models.
CACHE_WRITE_PENDING_TTL = env.float("CACHE_WRITE_PENDING_TTL", default=60.0)
# Server processes apply what writers left in the invalidation outbox (the cache did not answer, or the writer died
# right after its commit): a writer's row is the relay's after this many seconds, and the relay polls (SQLite) or
# retries that often. PostgreSQL wakes it by NOTIFY instead of polling. See docs/caching.md, "Design: faults".
CACHE_OUTBOX_RELAY = env.bool("CACHE_OUTBOX_RELAY", default=True)
CACHE_OUTBOX_RELAY_INTERVAL = env.float("CACHE_OUTBOX_RELAY_INTERVAL", default=0.5)
# Seconds an exiting process (a management command, a shell, a recycled worker) waits for the cache to take what it
# owes: a lost invalidation's epoch bump, its outbox rows, its counters.
CACHE_EXIT_FLUSH_TIMEOUT = env.float("CACHE_EXIT_FLUSH_TIMEOUT", default=2.0)
# Local memory only: the file through which this machine's processes pass their invalidations to each other.
# Unset: one per project and database in the temp directory; empty: off (a single process).
# (Not default=None: django-environ then reads an empty value as None, and "off" would mean "the default file".)
CACHE_LOCMEM_JOURNAL = env.str("CACHE_LOCMEM_JOURNAL") if "CACHE_LOCMEM_JOURNAL" in env.ENVIRON else None
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
if REDIS_URL or REDIS_CLUSTER or REDIS_SENTINELS:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    from core.cache.identity import checked_connect

    CACHES = {
        "default": {
            **_CACHE_COMMON,
            "BACKEND": "django_redis.cache.RedisCache",
            # One URL even for a cluster: django-redis reads a comma-separated LOCATION as a master and its replicas.
            "LOCATION": REDIS_URL or f"redis://{REDIS_CLUSTER_NODES[0]}",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                # JSON text, never pickle, on the read path of data coming from Redis.
                "SERIALIZER": "core.cache.serializers.TextSerializer",
                "SOCKET_CONNECT_TIMEOUT": env.float("REDIS_CONNECT_TIMEOUT", default=0.1),
                "SOCKET_TIMEOUT": env.float("REDIS_SOCKET_TIMEOUT", default=0.1),
                # No retries: one would double the time a caller can lose to a dead Redis (the cache fails open).
                # Every new connection first checks the server's run_id (core/cache/identity.py): a Redis restarted
                # from a snapshot or a promoted replica bumps the epoch before it serves anything.
                "CONNECTION_POOL_KWARGS": {
                    "max_connections": env.int("REDIS_MAX_CONNECTIONS", default=64),
                    "retry": Retry(NoBackoff(), 0),
                    "redis_connect_func": checked_connect,
                },
            },
        }
    }
    if REDIS_CLUSTER:
        CACHES["default"]["OPTIONS"]["CONNECTION_FACTORY"] = "core.cache.cluster.ClusterConnectionFactory"
        CACHES["default"]["OPTIONS"]["CLUSTER_NODES"] = REDIS_CLUSTER_NODES
    if REDIS_SENTINELS:
        from core.cache.cluster import parse_nodes

        CACHES["default"]["OPTIONS"].update(
            CLIENT_CLASS="django_redis.client.SentinelClient",
            CONNECTION_FACTORY="django_redis.pool.SentinelConnectionFactory",
            SENTINELS=parse_nodes(REDIS_SENTINELS),
            # The sentinels themselves: the same timeouts, none of the cache's connection hooks.
            # (No retries: asking sentinels that are down must fail open at once, like any cache call.)
            SENTINEL_KWARGS={
                "socket_timeout": env.float("REDIS_SOCKET_TIMEOUT", default=0.1),
                "socket_connect_timeout": env.float("REDIS_CONNECT_TIMEOUT", default=0.1),
                "retry": Retry(NoBackoff(), 0),
            },
        )
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
#   http_max_age / stale_while_revalidate (optional, default 0) seconds browsers may reuse an answer without
#           revalidating: a stated staleness outside the freshness promise (docs/http.md)
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
# Bytes of query text the document cache holds at most (the parsed trees it keeps grow with it).
GRAPHQL_DOCUMENT_CACHE_BYTES = env.int("GRAPHQL_DOCUMENT_CACHE_BYTES", default=4 * 1024 * 1024)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"core.cache": {"level": env.str("CACHE_LOG_LEVEL", default="INFO")}},
}
