"""Domain errors and how the API shows them: payload `errors` for mutations, GraphQL errors for queries."""

from __future__ import annotations

import graphene
from graphql import GraphQLError

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
INVALID_TRANSITION = "INVALID_TRANSITION"
INVALID = "INVALID"
# Too many attempts: the payload says after how many seconds to try again.
THROTTLED = "THROTTLED"

# Largest primary key a BigAutoField can hold: bigger ids cannot exist, and PostgreSQL would reject them.
_MAX_PK = 2**63 - 1


NUL_PROBLEM = "This field cannot contain a NUL character."


def has_nul(*values: object) -> bool:
    """Whether any text contains NUL, which PostgreSQL text columns (and so every query on them) refuse."""
    return any(isinstance(value, str) and "\x00" in value for value in values)


class DomainError(Exception):
    """A refusal a client can act on. `field` names the GraphQL input at fault, or None for the whole operation."""

    def __init__(self, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def as_field_errors(self) -> list[FieldError]:
        return [FieldError(field=self.field, code=self.code, message=self.message)]

    def as_graphql_error(self) -> GraphQLError:
        extensions = {"code": self.code}
        if self.field is not None:
            extensions["field"] = self.field
        return GraphQLError(self.message, extensions=extensions)


class InvalidInput(DomainError):
    """Several INVALID fields at once, so that a client can fix a form in one round trip."""

    def __init__(self, problems: dict[str, str]):
        field, message = next(iter(problems.items()))
        super().__init__(INVALID, message, field)
        self.problems = problems

    def as_field_errors(self) -> list[FieldError]:
        return [FieldError(field=field, code=INVALID, message=message) for field, message in self.problems.items()]


class FieldError(graphene.ObjectType):
    field = graphene.String(description="Input field at fault, or null for the whole operation.")
    code = graphene.String(
        required=True,
        description="Stable machine-readable code, e.g. NOT_FOUND, FORBIDDEN, INVALID_TRANSITION, INVALID.",
    )
    message = graphene.String(required=True)


def parse_pk(value: str | int | None, *, what: str) -> int:
    """The integer primary key behind a GraphQL ID, or NOT_FOUND: an id that is not a key names nothing."""
    try:
        pk = int(str(value))
    except (TypeError, ValueError):
        pk = 0
    if not 0 < pk <= _MAX_PK:
        raise DomainError(NOT_FOUND, f"No {what} with id {value!r}.")
    return pk
