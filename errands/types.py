import graphene
from graphene_django import DjangoObjectType

from accounts.types import UserType
from errands.models import Errand


class ErrandStatusEnum(graphene.Enum):
    OPEN = "OPEN"
    ASSIGNED = "ASSIGNED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"

    class Meta:
        name = "ErrandStatus"


class ErrandType(DjangoObjectType):
    status = graphene.NonNull(ErrandStatusEnum)
    created_by = graphene.NonNull(UserType)
    runner = graphene.Field(UserType)

    class Meta:
        model = Errand
        name = "Errand"
        fields = (
            "id",
            "title",
            "description",
            "category",
            "status",
            "budget",
            "currency",
            "pickup_address",
            "dropoff_address",
            "deadline",
            "created_at",
            "updated_at",
            "created_by",
            "runner",
        )
        # Status is the explicit ErrandStatus enum above; currency stays a String as in the contract.
        convert_choices_to_enum = False

    @staticmethod
    def resolve_status(errand, info) -> str:
        # After a write the attribute holds a TextChoices member, whose str() is its value ("OPEN").
        return str(errand.status)
