"""Production switches: GraphiQL and introspection, HTTPS settings, and start-up without a required variable."""

import json
import re

import pytest
from django.test import Client

from tests.fixtures.api import GRAPHQL_URL, get_graphql_content
from tests.fixtures.processes import A_SECRET_KEY, BIN, clean_env, manage, readme_production_env, run, settings_in

INTROSPECTION_QUERY = """
{ __schema { types { name } } }
"""

TYPE_QUERY = """
{ __type(name: "Errand") { name } }
"""

TYPENAME_QUERY = """
{ __typename }
"""

MISSING_SECRET = "error: DJANGO_SECRET_KEY is required when DJANGO_ENV=production (see .env.example)\n"


def _json(response) -> dict:
    assert response["Content-Type"].split(";")[0] in ("application/json", "application/graphql-response+json")
    return json.loads(response.content)


def _production_env(tmp_path, **overrides: str) -> dict[str, str]:
    """The README's production `.env`, as a file the process reads; overrides win, as the real environment does."""
    env_file = tmp_path / ".env"
    env_file.write_text(readme_production_env())
    return clean_env(DJANGO_ENV_FILE=str(env_file), **overrides)


# --- GraphiQL ---------------------------------------------------------------------------------------------------


def test_graphiql_is_served_to_a_browser_when_on(settings):
    # given
    settings.GRAPHQL_GRAPHIQL = True

    # when
    response = Client().get(GRAPHQL_URL, headers={"Accept": "text/html"})

    # then
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"graphiql" in response.content.lower()


def test_graphiql_is_not_served_when_off(settings):
    # given
    settings.GRAPHQL_GRAPHIQL = False

    # when: a browser's Accept (HTML first, anything at a lower preference)
    response = Client().get(GRAPHQL_URL, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})

    # then
    assert response.status_code == 400
    assert b"graphiql" not in response.content.lower()
    assert _json(response)["errors"][0]["message"] == "Must provide query string."


# --- Introspection ----------------------------------------------------------------------------------------------


def test_introspection_answers_when_on(settings, api_client):
    # given
    settings.GRAPHQL_INTROSPECTION = True

    # when
    response = api_client.post_graphql(INTROSPECTION_QUERY)

    # then
    names = {t["name"] for t in get_graphql_content(response)["data"]["__schema"]["types"]}
    assert {"Query", "Errand", "Escrow"} <= names


@pytest.mark.parametrize(
    ("query", "field"), [(INTROSPECTION_QUERY, "__schema"), (TYPE_QUERY, "__type")], ids=["__schema", "__type"]
)
def test_introspection_is_refused_when_off(settings, api_client, query, field):
    # given
    settings.GRAPHQL_INTROSPECTION = False

    # when
    response = api_client.post_graphql(query, headers={"Accept": "application/graphql-response+json"})

    # then: a validation failure (400 for this media type)
    assert response.status_code == 400
    body = _json(response)
    assert "data" not in body
    # graphql-core names the field, then any selection below it whose type is an introspection type
    messages = [e["message"] for e in body["errors"]]
    assert messages[0] == (
        f"GraphQL introspection has been disabled, but the requested query contained the field '{field}'."
    )
    assert all(m.startswith("GraphQL introspection has been disabled") for m in messages)


def test_typename_still_answers_when_introspection_is_off(settings, api_client):
    # given
    settings.GRAPHQL_INTROSPECTION = False

    # when
    response = api_client.post_graphql(TYPENAME_QUERY)

    # then
    assert get_graphql_content(response)["data"] == {"__typename": "Query"}


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({"DJANGO_ENV": "local"}, {"GRAPHQL_GRAPHIQL": True, "GRAPHQL_INTROSPECTION": True}),
        ({"DJANGO_ENV": "production"}, {"GRAPHQL_GRAPHIQL": False, "GRAPHQL_INTROSPECTION": True}),
        (
            {"DJANGO_ENV": "production", "GRAPHQL_GRAPHIQL": "true", "GRAPHQL_INTROSPECTION": "false"},
            {"GRAPHQL_GRAPHIQL": True, "GRAPHQL_INTROSPECTION": False},
        ),
    ],
    ids=["local-defaults", "production-defaults", "production-switched"],
)
def test_graphiql_and_introspection_come_from_the_environment(variables, expected):
    # when
    seen = settings_in(clean_env(DJANGO_SECRET_KEY=A_SECRET_KEY, **variables), *expected)

    # then
    assert seen == expected


# --- HTTPS ------------------------------------------------------------------------------------------------------


def test_the_readme_production_env_passes_every_deploy_check(tmp_path):
    # given
    example = readme_production_env()
    assert re.search(r"^DJANGO_ENV=production$", example, re.M)
    assert re.search(r"^DATABASE_URL=postgres://", example, re.M)
    assert re.search(r"^REDIS_URL=redis://", example, re.M)

    # when
    done = manage("check", "--deploy", "--fail-level", "WARNING", env=_production_env(tmp_path))

    # then
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "System check identified no issues (0 silenced).\n"


@pytest.mark.parametrize(
    ("switches", "warnings"),
    [
        (
            {
                "DJANGO_SECURE_SSL_REDIRECT": "false",
                "DJANGO_SECURE_HSTS_SECONDS": "0",
                "DJANGO_SESSION_COOKIE_SECURE": "false",
                "DJANGO_CSRF_COOKIE_SECURE": "false",
            },
            {"security.W004", "security.W008", "security.W012", "security.W016"},
        ),
        (
            {"DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "false", "DJANGO_SECURE_HSTS_PRELOAD": "false"},
            {"security.W005", "security.W021"},
        ),
    ],
    ids=["redirect-hsts-cookies", "hsts-subdomains-preload"],
)
def test_each_https_switch_is_read_from_the_environment(tmp_path, switches, warnings):
    # when
    done = manage("check", "--deploy", env=_production_env(tmp_path, **switches))

    # then
    assert done.returncode == 0, done.stderr
    assert set(re.findall(r"\((security\.W\d+)\)", done.stderr)) == warnings


def test_the_proxy_ssl_header_is_a_header_and_a_value(tmp_path):
    # when
    seen = settings_in(_production_env(tmp_path), "SECURE_PROXY_SSL_HEADER", "SECURE_SSL_REDIRECT")

    # then
    assert seen == {"SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"], "SECURE_SSL_REDIRECT": True}


def test_a_malformed_proxy_ssl_header_stops_start_up_with_one_line(tmp_path):
    # when
    done = manage("check", env=_production_env(tmp_path, DJANGO_SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO"))

    # then
    assert done.returncode == 1
    assert done.stderr == (
        "error: DJANGO_SECURE_PROXY_SSL_HEADER must be HEADER,value, e.g. HTTP_X_FORWARDED_PROTO,https\n"
    )


# --- Start-up without a required variable -----------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, ""], ids=["unset", "empty"])
def test_manage_py_without_the_secret_key_exits_with_one_line(secret):
    # given
    env = clean_env(DJANGO_ENV="production")
    if secret is not None:
        env["DJANGO_SECRET_KEY"] = secret

    # when
    done = manage("check", env=env)

    # then
    assert (done.returncode, done.stdout, done.stderr) == (1, "", MISSING_SECRET)


def test_gunicorn_without_the_secret_key_stops_with_one_line():
    # given
    # One worker: when several fail at once, gunicorn 27 can trip over its own halt and print a traceback of its own
    command = [str(BIN / "gunicorn"), "runam.wsgi:application", "--bind", "127.0.0.1:0", "--workers", "1"]
    command += ["--no-control-socket"]

    # when
    done = run(command, clean_env(DJANGO_ENV="production"))

    # then the workers do not respawn forever (run() would time out): the server stops, saying why
    assert done.returncode == 3
    assert MISSING_SECRET in done.stderr
    assert "Traceback" not in done.stderr
    assert "Reason: Worker failed to boot." in done.stderr
