import graphene

from core.auth import require_viewer
from core.errors import DomainError, parse_pk
from errands.mutations import AcceptErrand, CancelErrand, CompleteErrand, CreateErrand, UpdateErrand
from errands.selectors import errand_get, errand_list, errand_list_for_user
from errands.types import ErrandStatusEnum, ErrandType


class ErrandQueries(graphene.ObjectType):
    errands = graphene.NonNull(
        graphene.List(graphene.NonNull(ErrandType)),
        status=ErrandStatusEnum(),
        category=graphene.String(),
        search=graphene.String(),
        first=graphene.Int(default_value=20),
        offset=graphene.Int(default_value=0),
        description="Public errand board, newest first. first is capped (100 at most).",
    )
    errand = graphene.Field(
        ErrandType, id=graphene.ID(required=True), description="One errand, or null when it does not exist."
    )
    my_errands = graphene.NonNull(
        graphene.List(graphene.NonNull(ErrandType)),
        status=ErrandStatusEnum(),
        first=graphene.Int(default_value=50),
        offset=graphene.Int(default_value=0),
        description="Errands the viewer created or runs, newest first. Error when anonymous. "
        "first is capped (100 at most).",
    )

    @staticmethod
    def resolve_errands(root, info, status=None, category=None, search=None, first=20, offset=0):
        try:
            return errand_list(status=_value(status), category=category, search=search, first=first, offset=offset)
        except DomainError as error:
            raise error.as_graphql_error() from error

    @staticmethod
    def resolve_errand(root, info, id: str):
        try:
            return errand_get(errand_id=parse_pk(id, what="errand"))
        except DomainError:
            return None

    @staticmethod
    def resolve_my_errands(root, info, status=None, first=50, offset=0):
        try:
            viewer = require_viewer(info.context)
            return errand_list_for_user(user=viewer, status=_value(status), first=first, offset=offset)
        except DomainError as error:
            raise error.as_graphql_error() from error


class ErrandMutations(graphene.ObjectType):
    create_errand = CreateErrand.Field(required=True)
    update_errand = UpdateErrand.Field(required=True)
    accept_errand = AcceptErrand.Field(required=True)
    complete_errand = CompleteErrand.Field(required=True)
    cancel_errand = CancelErrand.Field(required=True)


def _value(enum_member):
    # graphene hands enum arguments to resolvers as members of the Python enum.
    return getattr(enum_member, "value", enum_member)
