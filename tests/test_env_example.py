"""Every environment variable settings.py reads is documented in .env.example and README.md."""

import re

from django.conf import settings

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
