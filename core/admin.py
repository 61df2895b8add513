"""The cache dashboard, a page of Django admin: counters and key counts per policy, and clearing with a preview.

It hangs off a table-less model (core.models.CacheDashboard) so that the admin index links it and its two
permissions can be granted: core.view_cache_dashboard to see it, core.clear_cache to clear keys.
"""

import logging

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core.cache import CacheManager
from core.cache.keys import family_from_pattern
from core.cache.store import get_store
from core.dashboard import ClearForm, overview
from core.models import CacheDashboard, PersistedQuery

log = logging.getLogger(__name__)


@admin.register(CacheDashboard)
class CacheDashboardAdmin(admin.ModelAdmin):
    def get_urls(self):
        # Only these two: the default change/delete/history URLs would query a table that does not exist.
        wrap = self.admin_site.admin_view  # staff only (others get the login); CSRF-protected; never cached
        return [
            path("", wrap(self.changelist_view), name="core_cachedashboard_changelist"),
            path("clear/", wrap(self.clear_view), name="core_cachedashboard_clear"),
        ]

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("core.view_cache_dashboard")

    def has_clear_permission(self, request) -> bool:
        return request.user.has_perm("core.clear_cache")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context=None, form: ClearForm | None = None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            **overview(),
            "title": "Cache dashboard",
            "opts": self.opts,
            "form": form or ClearForm(),
            "can_clear": self.has_clear_permission(request),
        }
        return TemplateResponse(request, "admin/core/cache_dashboard.html", context)

    def clear_view(self, request: HttpRequest) -> HttpResponse:
        """POST without `confirm`: a dry run and a confirmation page. With `confirm`: clear, record, redirect."""
        if not (self.has_view_permission(request) and self.has_clear_permission(request)):
            raise PermissionDenied
        dashboard = reverse("admin:core_cachedashboard_changelist")
        if request.method != "POST":
            return HttpResponseRedirect(dashboard)
        form = ClearForm(request.POST)
        if not form.is_valid():
            return self.changelist_view(request, form=form)
        glob = form.cleaned_data["glob"]
        confirmed = request.POST.get("confirm") == "yes"
        if glob is None:
            count = CacheManager.clear_all(dry_run=not confirmed)
        else:
            count = CacheManager.delete_pattern(glob, dry_run=not confirmed)
        store = get_store()
        if not store.healthy:  # the store fails open: a count of 0 from a dead Redis would be a lie
            messages.error(request, f"The cache backend ({store.backend}) is unreachable: nothing was removed.")
            return HttpResponseRedirect(dashboard)
        if not confirmed:
            context = {
                **self.admin_site.each_context(request),
                "title": "Clear the whole cache?" if glob is None else "Clear cache keys?",
                "opts": self.opts,
                "form": form,
                "count": count,
                "everything": glob is None,
                "family": glob and family_from_pattern(glob),
                "description": form.description,
            }
            return TemplateResponse(request, "admin/core/cache_clear_confirm.html", context)
        message = f"Removed {count} key{'s' if count != 1 else ''} {form.description} ({store.backend})."
        self.log_change(request, CacheDashboard(), message)
        log.info("cache cleared by admin %s: %s", request.user.get_username(), message)
        messages.success(request, message)
        return HttpResponseRedirect(dashboard)


@admin.register(PersistedQuery)
class PersistedQueryAdmin(admin.ModelAdmin):
    """The allow-list, read-only: documents come from `manage.py load_persisted_queries`, hashes are checked."""

    list_display = ("name", "sha256", "created_at")
    search_fields = ("name", "sha256", "query")
    readonly_fields = ("sha256", "name", "query", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
