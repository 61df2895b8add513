"""Every environment variable settings.py reads is documented in .env.example and README.md."""

import re

from django.conf import settings

from tests.fixtures.processes import clean_env, settings_in

SETTINGS_VARIABLE = re.compile(r"""env(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]*)["']""")


def _read_by_settings() -> set[str]:
    return set(SETTINGS_VARIABLE.findall((settings.BASE_DIR / "runam" / "settings.py").read_text()))


def test_settings_read_some_variables():
    # The pattern must keep matching how settings.py reads the environment, or the checks below prove nothing.
    assert {"DATABASE_URL", "AUTH_TOKEN_TTL", "REDIS_URL"} <= _read_by_settings()


def test_env_example_lists_every_variable_read():
    # given
    documented = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]*)=", (settings.BASE_DIR / ".env.example").read_text(), re.M))

    # then
    assert sorted(_read_by_settings() - documented) == []


def test_readme_configuration_table_lists_every_variable_read():
    # given
    documented = set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", (settings.BASE_DIR / "README.md").read_text(), re.M))

    # then
    assert sorted(_read_by_settings() - documented) == []


# The `.env` block of the RunAm caching documentation our users were given, verbatim (comments included).
SEED_DOC_ENV_BLOCK = """\
# Enable/disable caching (default: True)
CACHE_ENABLED=True

# Default cache timeout in seconds (default: 300 = 5 minutes)
CACHE_DEFAULT_TIMEOUT=300

# Redis URL (optional, uses local memory if not provided)
REDIS_URL=redis://127.0.0.1:6379/1

# Cache timeouts for specific data types
CACHE_TIMEOUT_USER_PROFILE=3600      # 1 hour
CACHE_TIMEOUT_USER_ERRANDS=300      # 5 minutes
CACHE_TIMEOUT_USER_ESCROWS=300      # 5 minutes
CACHE_TIMEOUT_ERRAND_LIST=60        # 1 minute
CACHE_TIMEOUT_ERRAND_DETAIL=300     # 5 minutes
CACHE_TIMEOUT_BANKS_LIST=86400      # 24 hours
CACHE_TIMEOUT_ROLES=3600            # 1 hour
"""


def _ttls(policies: dict) -> dict[str, int]:
    return {coordinate: policy["ttl"] for coordinate, policy in policies.items()}


def test_the_seed_docs_env_block_pasted_verbatim_loads(tmp_path):
    # given
    env_file = tmp_path / ".env"
    env_file.write_text(SEED_DOC_ENV_BLOCK)

    # when (settings only: nothing connects to the Redis it names)
    seen = settings_in(
        clean_env(DJANGO_ENV_FILE=str(env_file)),
        "CACHE_ENABLED",
        "CACHE_DEFAULT_TIMEOUT",
        "REDIS_URL",
        "GRAPHQL_CACHE_POLICIES",
    )

    # then
    assert (seen["CACHE_ENABLED"], seen["CACHE_DEFAULT_TIMEOUT"]) == (True, 300)
    assert seen["REDIS_URL"] == "redis://127.0.0.1:6379/1"
    assert _ttls(seen["GRAPHQL_CACHE_POLICIES"]) == {
        "Query.errands": 60,
        "Query.errand": 300,
        "Query.myErrands": 300,
        "Query.myEscrows": 300,
        "Query.banks": 86400,
        "Query.roles": 3600,
        "Query.me": 3600,
    }


def test_env_file_comments_need_a_space_before_the_hash(tmp_path):
    # given: Django's generated secret keys may contain `#`
    env_file = tmp_path / ".env"
    env_file.write_text(
        "DJANGO_SECRET_KEY=k#y-with-a-hash\n"
        "CACHE_KEY_PREFIX=runam-blue  # a comment, and no trailing blanks left in the value\n"
    )

    # when
    seen = settings_in(clean_env(DJANGO_ENV_FILE=str(env_file)), "SECRET_KEY", "CACHE_KEY_PREFIX")

    # then
    assert seen == {"SECRET_KEY": "k#y-with-a-hash", "CACHE_KEY_PREFIX": "runam-blue"}


def test_the_environment_wins_over_the_env_file(tmp_path):
    # given
    env_file = tmp_path / ".env"
    env_file.write_text("CACHE_TIMEOUT_ROLES=3600\n")

    # when
    seen = settings_in(clean_env(DJANGO_ENV_FILE=str(env_file), CACHE_TIMEOUT_ROLES="7"), "GRAPHQL_CACHE_POLICIES")

    # then
    assert seen["GRAPHQL_CACHE_POLICIES"]["Query.roles"]["ttl"] == 7
