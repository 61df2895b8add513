from django.db import models
from django.utils import timezone


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


class CacheOutbox(models.Model):
    """What a committed write must invalidate, recorded in the write's own transaction (core/cache/outbox.py).
    The writer applies and deletes its row after commit; a row left behind (the cache backend did not answer, or
    the writer died right after its commit) is applied by the relay of any server process (core/cache/relay.py)."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The write's id in the store ("" when its begin did not reach the backend): applying the row lifts its mark.
    write_id = models.CharField(max_length=32, blank=True)
    families = models.JSONField(default=list)  # generation families to bump ("errand:5", "@errands.errand:5")
    clocks = models.JSONField(default=list)  # write clock labels ("errands.errand", "*")

    class Meta:
        default_permissions = ()
        verbose_name = verbose_name_plural = "cache outbox"

    def __str__(self) -> str:
        return f"outbox row {self.pk} ({', '.join(self.clocks)})"
