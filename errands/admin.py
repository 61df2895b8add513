from django.contrib import admin

from errands.models import Errand


@admin.register(Errand)
class ErrandAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "category", "status", "budget", "currency", "created_by", "runner", "created_at")
    list_select_related = ("created_by", "runner")
    list_filter = ("status", "currency", "category", "created_at")
    search_fields = ("title", "description", "created_by__username", "runner__username")
    autocomplete_fields = ("created_by", "runner")
    readonly_fields = ("created_at", "updated_at")
    date_hierarchy = "created_at"
