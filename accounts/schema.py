import graphene

from accounts.mutations import TokenAuth, UpdateProfile
from accounts.selectors import bank_list, role_list, viewer_get
from accounts.types import BankType, RoleType, ViewerType


class AccountQueries(graphene.ObjectType):
    banks = graphene.NonNull(
        graphene.List(graphene.NonNull(BankType)),
        country=graphene.String(required=True),
        description="Banks for payouts in one country (ISO 3166-1 alpha-2, e.g. NG).",
    )
    roles = graphene.NonNull(graphene.List(graphene.NonNull(RoleType)))
    me = graphene.Field(ViewerType, description="The signed-in user, or null when anonymous.")

    @staticmethod
    def resolve_banks(root, info, country: str):
        return bank_list(country=country)

    @staticmethod
    def resolve_roles(root, info):
        return role_list()

    @staticmethod
    def resolve_me(root, info):
        user = info.context.user
        return viewer_get(user_id=user.pk) if user.is_authenticated else None


class AccountMutations(graphene.ObjectType):
    token_auth = TokenAuth.Field(required=True)
    update_profile = UpdateProfile.Field(required=True)
