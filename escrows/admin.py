from django.contrib import admin

from escrows.models import Escrow


@admin.register(Escrow)
class EscrowAdmin(admin.ModelAdmin):
    list_display = ("reference", "errand", "status", "amount", "currency", "payer", "payee", "created_at")
    list_select_related = ("errand", "payer", "payee")
    list_filter = ("status", "currency", "created_at")
    search_fields = ("reference", "errand__title", "payer__username", "payee__username")
    # An escrow is made by acceptErrand from its errand (amount = budget, payer = creator, payee = runner) and
    # moves only through the mutations: nothing here may make it disagree with its errand.
    readonly_fields = (
        "reference", "errand", "amount", "currency", "status", "payer", "payee", "created_at", "updated_at",
    )  # fmt: skip

    def has_add_permission(self, request) -> bool:
        return False
