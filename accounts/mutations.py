"""Account mutations: sign in, edit one's profile."""

from collections.abc import Iterator, Mapping

import graphene
from graphql import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode, SelectionSetNode

from accounts.selectors import viewer_get
from accounts.services import profile_update, token_obtain
from accounts.types import ViewerType
from core.auth import require_viewer
from core.errors import INVALID, DomainError, FieldError
from core.throttle import Throttled


class TokenAuthPayload(graphene.ObjectType):
    token = graphene.String()
    errors = graphene.NonNull(graphene.List(graphene.NonNull(FieldError)))
    retry_after = graphene.Int(
        description="With a THROTTLED error: seconds until tokenAuth may be tried again. Otherwise null."
    )


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
        # Aliases would otherwise turn one request into as many password checks as the document has room for.
        if info.path.key != _first_response_key(info.operation.selection_set, info.field_name, info.fragments):
            message = "Only one tokenAuth per request: this one was not attempted."
            return TokenAuthPayload(token=None, errors=[FieldError(field=None, code=INVALID, message=message)])
        try:
            token = token_obtain(request=info.context, username=username, password=password)
        except Throttled as error:
            return TokenAuthPayload(token=None, errors=error.as_field_errors(), retry_after=error.retry_after)
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


def _first_response_key(
    selection_set: SelectionSetNode, field_name: str, fragments: Mapping[str, FragmentDefinitionNode]
) -> str | None:
    """The response key (alias or name) of the first `field_name` field of a selection set, fragments expanded,
    in document order: the order in which mutation fields run. @skip/@include are not evaluated: a skipped first
    field makes the others refused, never allowed."""
    return next(_response_keys(selection_set, field_name, fragments), None)


def _response_keys(
    selection_set: SelectionSetNode, field_name: str, fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterator[str]:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value == field_name:
                yield (selection.alias or selection.name).value
        elif isinstance(selection, InlineFragmentNode):
            yield from _response_keys(selection.selection_set, field_name, fragments)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            # Validation has refused fragment cycles before anything runs.
            yield from _response_keys(fragments[selection.name.value].selection_set, field_name, fragments)
