"""GraphQL cache policies: one settings dict, keyed by schema coordinate, checked against the schema at start-up."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

SCOPES = ("public", "user")
_PLACEHOLDER = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")


@dataclass(frozen=True, slots=True)
class Policy:
    coordinate: str  # "Query.errands"
    field_name: str
    ttl: int
    scope: str
    family: str  # key template, e.g. "errand:{{id}}"
    enabled: bool
    # Seconds browsers and proxies may reuse an answer without asking (0: they must revalidate every reuse). A
    # policy that sets them accepts that much staleness outside the server's freshness promise.
    http_max_age: int = 0
    stale_while_revalidate: int = 0

    @property
    def family_root(self) -> str:
        """The family's first segment: what stats, the dashboard and clear-by-family speak of."""
        return self.family.split(":", 1)[0]

    @property
    def private(self) -> bool:
        return self.scope == "user"


def _parse(coordinate: str, raw: object) -> Policy:
    if not isinstance(raw, dict):
        raise ImproperlyConfigured(f"GRAPHQL_CACHE_POLICIES[{coordinate!r}] must be a dict, not {type(raw).__name__}")
    unknown = set(raw) - {"ttl", "scope", "family", "enabled", "http_max_age", "stale_while_revalidate"}
    if unknown:
        raise ImproperlyConfigured(f"GRAPHQL_CACHE_POLICIES[{coordinate!r}] has unknown keys: {sorted(unknown)}")
    type_name, _, field_name = coordinate.partition(".")
    if type_name != "Query" or not field_name:
        raise ImproperlyConfigured(
            f"GRAPHQL_CACHE_POLICIES key {coordinate!r} must be a root query coordinate like 'Query.errands'"
        )
    scope = raw.get("scope", "public")
    if scope not in SCOPES:
        raise ImproperlyConfigured(f"GRAPHQL_CACHE_POLICIES[{coordinate!r}]: scope {scope!r} is not one of {SCOPES}")
    ttl = raw.get("ttl", settings.CACHE_DEFAULT_TIMEOUT)
    if not isinstance(ttl, int) or isinstance(ttl, bool) or ttl <= 0:
        raise ImproperlyConfigured(f"GRAPHQL_CACHE_POLICIES[{coordinate!r}]: ttl must be a positive int, got {ttl!r}")
    family = raw.get("family") or field_name
    if not isinstance(family, str) or family.startswith("_") or "*" in family:
        raise ImproperlyConfigured(
            f"GRAPHQL_CACHE_POLICIES[{coordinate!r}]: family {family!r} must be a key template "
            "not starting with '_' and without '*'"
        )
    if scope == "user" and "user_id" not in _PLACEHOLDER.findall(family):
        # Without the viewer in the family, invalidating one user's entries would mean invalidating everyone's.
        raise ImproperlyConfigured(
            f"GRAPHQL_CACHE_POLICIES[{coordinate!r}]: a user-scoped family must contain {{{{user_id}}}}"
        )
    seconds = {}
    for name in ("http_max_age", "stale_while_revalidate"):
        value = raw.get(name, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ImproperlyConfigured(
                f"GRAPHQL_CACHE_POLICIES[{coordinate!r}]: {name} must be an int >= 0, got {value!r}"
            )
        seconds[name] = value
    return Policy(coordinate, field_name, ttl, scope, family, bool(raw.get("enabled", True)), **seconds)


@cache
def root_policies() -> dict[str, Policy]:
    """Policies of root query fields by field name (the middleware's per-field lookup)."""
    raw = getattr(settings, "GRAPHQL_CACHE_POLICIES", {}) or {}
    if not isinstance(raw, dict):
        raise ImproperlyConfigured("GRAPHQL_CACHE_POLICIES must be a dict keyed by schema coordinate")
    policies = (_parse(coordinate, value) for coordinate, value in raw.items())
    return {policy.field_name: policy for policy in policies}


def check_policies(schema) -> None:
    """Refuse policies naming fields the schema does not have, or whose family needs unknown arguments."""
    query_type = schema.query_type
    for policy in root_policies().values():
        field = query_type.fields.get(policy.field_name)
        if field is None:
            raise ImproperlyConfigured(
                f"GRAPHQL_CACHE_POLICIES: {policy.coordinate!r} is not a field of the schema's Query type"
            )
        for name in _PLACEHOLDER.findall(policy.family):
            if name.split(".")[0] not in {*field.args, "user_id"}:
                raise ImproperlyConfigured(
                    f"GRAPHQL_CACHE_POLICIES[{policy.coordinate!r}]: family placeholder {{{{{name}}}}} is neither "
                    f"an argument of the field ({', '.join(field.args) or 'none'}) nor user_id"
                )


@receiver(setting_changed)
def _reload(*, setting: str, **kwargs) -> None:
    if setting in {"GRAPHQL_CACHE_POLICIES", "CACHE_DEFAULT_TIMEOUT"}:
        root_policies.cache_clear()
