from django.db import models


class CacheDashboard(models.Model):
    """No table: this model exists so the admin cache dashboard has permissions to grant and a place in the
    admin index (core/admin.py)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_cache_dashboard", "Can view the cache dashboard"),
            ("clear_cache", "Can clear cache keys from the dashboard"),
        ]
        verbose_name = verbose_name_plural = "cache dashboard"

    def __str__(self) -> str:
        return "cache"
