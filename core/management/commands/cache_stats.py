"""`manage.py cache_stats`: hits, misses and hit rate per key family and overall, sets, invalidations, size."""

from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.cache.manager import CacheManager

COLUMNS = ("family", "hits", "misses", "hit rate", "sets", "invalidations")


def _rate(row: dict[str, Any]) -> str:
    if not row["hits"] + row["misses"]:
        return "-"  # no lookups: a rate of 0% would read as "the cache never works"
    return f"{row['hit_rate'] * 100:.1f}%"


def _size(value: int | None) -> str:
    if value is None:
        return "unknown"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(value)


class Command(BaseCommand):
    help = "Print cache statistics as a table: per family and overall."

    def handle(self, *args: Any, **options: Any) -> None:
        snapshot = CacheManager.get_stats()
        rows = [(name, snapshot["families"][name]) for name in sorted(snapshot["families"])]
        rows.append(("overall", snapshot["overall"]))
        table = [COLUMNS] + [
            (name, str(r["hits"]), str(r["misses"]), _rate(r), str(r["sets"]), str(r["invalidations"]))
            for name, r in rows
        ]
        widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
        for n, line in enumerate(table):
            cells = [line[0].ljust(widths[0]), *(cell.rjust(w) for cell, w in zip(line[1:], widths[1:], strict=True))]
            self.stdout.write("  ".join(cells).rstrip())
            if n == 0 or n == len(table) - 2:
                self.stdout.write("  ".join("-" * w for w in widths))
        info = snapshot["backend"]
        keys = "unknown" if info.get("keys") is None else str(info["keys"])
        self.stdout.write(f"\nbackend: {info['backend']}  keys: {keys}  memory: {_size(info.get('memory'))}")
        if info["backend"] == "locmem":
            # This command is a process of its own: on local memory it can only ever see itself.
            self.stdout.write(
                "Local memory: these are this command's own counters and keys, not the running server's (each "
                "process counts and caches in its own memory). See the server's on its admin cache dashboard "
                "(/admin/core/cachedashboard/); with REDIS_URL set, every process's counts add up here."
            )
        faults = snapshot["faults"]
        self.stdout.write(
            f"failed calls: read timeouts {faults['read_timeout']}  read errors {faults['read_error']}  "
            f"write timeouts {faults['write_timeout']}  write errors {faults['write_error']}  "
            f"server changes {faults['server_change']}"
        )
        self._slowlog(snapshot["slowlog"])
        if not info["healthy"]:
            raise CommandError(f"cache backend unreachable ({info.get('error')}): counters shown are this process's")

    def _slowlog(self, slowlog: dict[str, Any] | None) -> None:
        if slowlog is None:
            return
        if slowlog["error"]:
            self.stdout.write(f"slowlog: unavailable ({slowlog['error']})")
            return
        self.stdout.write(f"slowlog: {slowlog['length']} entries" + ("; newest:" if slowlog["entries"] else ""))
        for entry in slowlog["entries"]:
            when = datetime.fromtimestamp(entry["start_time"], UTC).strftime("%Y-%m-%d %H:%M:%S")
            self.stdout.write(f"  {when}  {entry['duration_us'] / 1000:8.1f} ms  {entry['command'][:80]}")
