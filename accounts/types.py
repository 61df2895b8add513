"""GraphQL types for people. `User` is the public face; `Viewer` is what the signed-in user sees of themself."""

import graphene
from django.core.exceptions import ObjectDoesNotExist
from graphene_django import DjangoObjectType

from accounts.models import Bank, Role, User, UserProfile
from accounts.services import profile_ensure


class RoleType(DjangoObjectType):
    class Meta:
        model = Role
        name = "Role"
        fields = ("id", "name", "description")


# Declared rather than converted where the model has help_text: graphene-django would publish it as the field's
# description, and the public descriptions are the contract's (Django's "Required. 150 characters or fewer..."
# is a form hint, not API documentation).


class BankType(DjangoObjectType):
    code = graphene.String(required=True)

    class Meta:
        model = Bank
        name = "Bank"
        fields = ("id", "name", "code", "country")


class UserProfileType(DjangoObjectType):
    class Meta:
        model = UserProfile
        name = "UserProfile"
        fields = ("phone", "country", "role", "bank", "account_number")


class UserType(DjangoObjectType):
    username = graphene.String(required=True)

    class Meta:
        model = User
        name = "User"
        description = "Public view of a user: never email, phone or bank details."
        fields = ("id", "username")


class ViewerType(DjangoObjectType):
    username = graphene.String(required=True)
    profile = graphene.NonNull(UserProfileType)

    class Meta:
        model = User
        name = "Viewer"
        description = "The signed-in user's own view of themself."
        fields = ("id", "username", "email", "profile")
        # Foreign keys to User must keep resolving to the public `User` type.
        skip_registry = True

    @staticmethod
    def resolve_profile(user: User, info) -> UserProfile:
        try:
            return user.profile
        except ObjectDoesNotExist:
            # Only a user made without signals (bulk_create) lacks one.
            return profile_ensure(user=user)
