"""Account mutations: sign in, edit one's profile."""

import graphene

from accounts.selectors import viewer_get
from accounts.services import profile_update, token_obtain
from accounts.types import ViewerType
from core.auth import require_viewer
from core.errors import DomainError, FieldError


class TokenAuthPayload(graphene.ObjectType):
    token = graphene.String()
    errors = graphene.NonNull(graphene.List(graphene.NonNull(FieldError)))


class ViewerPayload(graphene.ObjectType):
    viewer = graphene.Field(ViewerType)
    errors = graphene.NonNull(graphene.List(graphene.NonNull(FieldError)))


class UpdateProfileInput(graphene.InputObjectType):
    phone = graphene.String()
    country = graphene.String()
    bank_code = graphene.String()
    account_number = graphene.String()


class TokenAuth(graphene.Mutation):
    class Arguments:
        username = graphene.String(required=True)
        password = graphene.String(required=True)

    Output = TokenAuthPayload

    @staticmethod
    def mutate(root, info, username: str, password: str) -> TokenAuthPayload:
        try:
            token = token_obtain(request=info.context, username=username, password=password)
        except DomainError as error:
            return TokenAuthPayload(token=None, errors=error.as_field_errors())
        return TokenAuthPayload(token=token, errors=[])


class UpdateProfile(graphene.Mutation):
    class Arguments:
        input = UpdateProfileInput(required=True)

    Output = ViewerPayload

    @staticmethod
    def mutate(root, info, input: UpdateProfileInput) -> ViewerPayload:
        try:
            viewer = require_viewer(info.context)
            profile_update(user=viewer, **input)
        except DomainError as error:
            return ViewerPayload(viewer=None, errors=error.as_field_errors())
        return ViewerPayload(viewer=viewer_get(user_id=viewer.pk), errors=[])
