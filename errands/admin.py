from typing import Any

from django import forms
from django.contrib import admin

from errands.models import Errand
from errands.services import errand_check_admin_edit


class ErrandAdminForm(forms.ModelForm):
    class Meta:
        model = Errand
        fields = (
            "title", "description", "category", "budget", "currency", "pickup_address", "dropoff_address",
            "deadline", "created_by",
        )  # fmt: skip

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        errand = self.instance if self.instance.pk else None
        changed = {name: data[name] for name in self.changed_data if name in data}
        for name, message in errand_check_admin_edit(errand=errand, changes=changed).items():
            self.add_error(name if name in self.fields else None, message)
        return data


@admin.register(Errand)
class ErrandAdmin(admin.ModelAdmin):
    form = ErrandAdminForm
    list_display = ("id", "title", "category", "status", "budget", "currency", "created_by", "runner", "created_at")
    list_select_related = ("created_by", "runner")
    list_filter = ("status", "currency", "category", "created_at")
    search_fields = ("title", "description", "created_by__username", "runner__username")
    autocomplete_fields = ("created_by", "runner")
    # The lifecycle (runner, status, and the escrow that goes with them) moves only through the API's mutations.
    readonly_fields = ("status", "runner", "created_at", "updated_at")
    date_hierarchy = "created_at"
