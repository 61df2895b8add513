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


class PersistedQuery(models.Model):
    """A document registered for the persisted-query allow-list (GRAPHQL_APQ_ALLOWLIST), keyed by its sha256."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    query = models.TextField()
    name = models.CharField(max_length=200, blank=True, help_text="Operation name, for people reading the list.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "persisted query"
        verbose_name_plural = "persisted queries"

    def __str__(self) -> str:
        return self.name or self.sha256[:12]
