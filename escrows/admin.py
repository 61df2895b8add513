from django.contrib import admin

from escrows.models import Escrow, EscrowStatus


@admin.register(Escrow)
class EscrowAdmin(admin.ModelAdmin):
    list_display = ("reference", "errand", "status", "amount", "currency", "payer", "payee", "created_at")
    list_select_related = ("errand", "payer", "payee")
    list_filter = ("status", "currency", "created_at")
    search_fields = ("reference", "errand__title", "payer__username", "payee__username")
    raw_id_fields = ("errand",)
    autocomplete_fields = ("payer", "payee")
    readonly_fields = ("reference", "created_at", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        # Once money has moved (anything but PENDING), the amount is history, not a setting.
        readonly = super().get_readonly_fields(request, obj)
        if obj is not None and obj.status != EscrowStatus.PENDING:
            return (*readonly, "amount", "currency")
        return readonly
