"""Errand mutations: decode input, check the viewer, call one service, report refusals in `errors`."""

import graphene

from core.auth import require_viewer
from core.errors import DomainError, FieldError, parse_pk
from errands.services import errand_accept, errand_cancel, errand_complete, errand_create, errand_update
from errands.types import ErrandType


class ErrandPayload(graphene.ObjectType):
    errand = graphene.Field(ErrandType)
    errors = graphene.NonNull(graphene.List(graphene.NonNull(FieldError)))


class CreateErrandInput(graphene.InputObjectType):
    title = graphene.String(required=True)
    description = graphene.String(required=True)
    category = graphene.String(required=True)
    budget = graphene.Decimal(required=True)
    currency = graphene.String(default_value="NGN")
    pickup_address = graphene.String(required=True)
    dropoff_address = graphene.String(required=True)
    deadline = graphene.DateTime()


class UpdateErrandInput(graphene.InputObjectType):
    title = graphene.String()
    description = graphene.String()
    category = graphene.String()
    budget = graphene.Decimal()
    pickup_address = graphene.String()
    dropoff_address = graphene.String()
    deadline = graphene.DateTime(description="null clears the deadline; leave it out to keep it.")


def _errand_payload(action) -> ErrandPayload:
    try:
        return ErrandPayload(errand=action(), errors=[])
    except DomainError as error:
        return ErrandPayload(errand=None, errors=error.as_field_errors())


class CreateErrand(graphene.Mutation):
    class Arguments:
        input = CreateErrandInput(required=True)

    Output = ErrandPayload

    @staticmethod
    def mutate(root, info, input: CreateErrandInput) -> ErrandPayload:
        return _errand_payload(lambda: errand_create(creator=require_viewer(info.context), **input))


class UpdateErrand(graphene.Mutation):
    class Arguments:
        id = graphene.ID(required=True)
        input = UpdateErrandInput(required=True)

    Output = ErrandPayload

    @staticmethod
    def mutate(root, info, id: str, input: UpdateErrandInput) -> ErrandPayload:
        # `input` is a dict of the fields the client sent (explicit nulls included), so "absent" ≠ "null".
        return _errand_payload(
            lambda: errand_update(
                user=require_viewer(info.context), errand_id=parse_pk(id, what="errand"), changes=dict(input)
            )
        )


class AcceptErrand(graphene.Mutation):
    class Arguments:
        id = graphene.ID(required=True)

    Output = ErrandPayload

    @staticmethod
    def mutate(root, info, id: str) -> ErrandPayload:
        return _errand_payload(
            lambda: errand_accept(runner=require_viewer(info.context), errand_id=parse_pk(id, what="errand"))
        )


class _ErrandTransition(graphene.Mutation):
    """A viewer moves one errand along its lifecycle through one service."""

    class Meta:
        abstract = True

    class Arguments:
        id = graphene.ID(required=True)

    Output = ErrandPayload
    service = None  # errand_<action>(*, user, errand_id)

    @classmethod
    def mutate(cls, root, info, id: str) -> ErrandPayload:
        return _errand_payload(
            lambda: cls.service(user=require_viewer(info.context), errand_id=parse_pk(id, what="errand"))
        )


class CompleteErrand(_ErrandTransition):
    service = staticmethod(errand_complete)


class CancelErrand(_ErrandTransition):
    service = staticmethod(errand_cancel)
