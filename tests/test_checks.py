"""Deploy checks: a cache that workers would not share, production on SQLite or without Redis."""

import re

import pytest
from django.core.management import call_command

from tests.fixtures.processes import A_SECRET_KEY, clean_env, manage


def test_deploy_check_warns_when_workers_would_not_share_the_cache(settings, capsys):
    # given
    settings.REDIS_URL = ""
    settings.CACHE_ENABLED = True
    # when
    call_command("check", "--deploy", "--fail-level", "CRITICAL")
    # then
    assert "runam.W001" in capsys.readouterr().err


def test_deploy_check_is_quiet_with_redis(settings, capsys):
    # given
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    # when
    call_command("check", "--deploy", "--fail-level", "CRITICAL")
    # then
    assert "runam.W001" not in capsys.readouterr().err


def test_production_with_only_the_secret_key_is_refused():
    # given: production on the defaults, SQLite and local memory
    env = clean_env(DJANGO_ENV="production", DJANGO_SECRET_KEY=A_SECRET_KEY)

    # when
    done = manage("check", "--deploy", env=env)

    # then errors, not warnings: the check fails
    assert done.returncode == 1
    assert "ERRORS:" in done.stderr
    assert "(runam.E001) Production on SQLite (database 'default')." in done.stderr
    assert "(runam.E002) Production without REDIS_URL" in done.stderr
    assert "runam.W001" not in done.stderr


def test_production_on_sqlite_and_local_memory_passes_when_explicitly_allowed():
    # given
    env = clean_env(
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=A_SECRET_KEY,
        DJANGO_ALLOW_SQLITE_IN_PRODUCTION="true",
        CACHE_ALLOW_LOCMEM_IN_PRODUCTION="true",
    )

    # when
    done = manage("check", "--deploy", env=env)

    # then
    assert done.returncode == 0, done.stderr
    assert re.findall(r"\((runam\.\w+)\)", done.stderr) == []


@pytest.mark.parametrize(
    ("allowance", "still_refused"),
    [("DJANGO_ALLOW_SQLITE_IN_PRODUCTION", "runam.E002"), ("CACHE_ALLOW_LOCMEM_IN_PRODUCTION", "runam.E001")],
)
def test_each_allowance_excuses_only_its_own_error(allowance, still_refused):
    # given
    env = clean_env(DJANGO_ENV="production", DJANGO_SECRET_KEY=A_SECRET_KEY, **{allowance: "true"})

    # when
    done = manage("check", "--deploy", env=env)

    # then
    assert done.returncode == 1
    assert re.findall(r"\((runam\.\w+)\)", done.stderr) == [still_refused]
