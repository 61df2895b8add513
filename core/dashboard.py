"""What the admin cache dashboard shows and the form that clears keys; the views are in core/admin.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django import forms

from core.cache import conf, stats
from core.cache.conf import key_prefix
from core.cache.keys import strip_prefix
from core.cache.operations import OPERATION_FAMILY
from core.cache.policies import root_policies
from core.cache.store import get_store


def family_glob(family: str) -> str:
    """Field entries are `<family>:<hash>` and whole responses `gql:<scope>:<hash>`: this glob holds them all."""
    return f"{family}:*"


def families() -> list[str]:
    """Every family the dashboard can clear: the policies' roots (in settings order) and the operation fast path."""
    roots = [policy.family_root for policy in root_policies().values()]
    return list(dict.fromkeys([*roots, OPERATION_FAMILY]))


def duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if unit == 'day' and count > 1 else ''}"
    return f"{seconds} s"


@dataclass(frozen=True)
class Row:
    label: str  # the schema coordinate, or what else fills the family
    family: str
    ttl: str
    scope: str
    enabled: bool
    hits: int
    misses: int
    keys: int | None  # None: the backend did not answer, so there is no count to show

    @property
    def ratio(self) -> float | None:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else None

    @property
    def percent(self) -> int | None:
        return None if self.ratio is None else round(self.ratio * 100)


def overview() -> dict[str, Any]:
    snapshot = stats.snapshot()
    backend = snapshot["backend"]
    counted = snapshot["families"]
    store = get_store()

    def row(label: str, family: str, ttl: str, scope: str, enabled: bool = True) -> Row:
        numbers = counted.get(family, {})
        keys = store.count(family_glob(family)) if backend["healthy"] else None
        return Row(label, family, ttl, scope, enabled, numbers.get("hits", 0), numbers.get("misses", 0), keys)

    rows = [
        row(policy.coordinate, policy.family_root, duration(policy.ttl), policy.scope, policy.enabled)
        for policy in root_policies().values()
    ]
    rows.append(row("Whole responses (fast path)", OPERATION_FAMILY, "shortest of its fields", "as its fields"))
    # Families filled by decorators and helpers are counted in the overall ratio too: show them so the sum adds up.
    shown = {r.family for r in rows}
    rows += [row("Decorators and helpers", name, "—", "—") for name in counted if name not in shown]
    overall = snapshot["overall"]
    lookups = overall["hits"] + overall["misses"]
    # Entries are what the families hold; the rest under the prefix is bookkeeping (generations, write clocks,
    # pending marks, locks, stats), which grows with every family and row a result depends on.
    entries = store.count("*") if backend["healthy"] else None
    bookkeeping = None if entries is None or backend["keys"] is None else max(backend["keys"] - entries, 0)
    slowlog = snapshot["slowlog"]
    if slowlog is not None:
        logged = [
            {**e, "when": datetime.fromtimestamp(e["start_time"], UTC), "milliseconds": e["duration_us"] / 1000}
            for e in slowlog["entries"]
        ]
        slowlog = {**slowlog, "entries": logged}
    return {
        "rows": rows,
        "faults": snapshot["faults"],
        "slowlog": slowlog,
        "overall": Row("Overall", "", "", "", True, overall["hits"], overall["misses"], entries),
        "entries": entries,
        "bookkeeping": bookkeeping,
        "backend": backend,
        "lookups": lookups,
        "cache_enabled": conf.cache_enabled(),
    }


class ClearForm(forms.Form):
    """One family, one glob, or everything. `glob` is None for everything once the form is valid."""

    family = forms.ChoiceField(required=False, label="Family")
    pattern = forms.CharField(required=False, label="or glob pattern", max_length=200)
    everything = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["family"].choices = [("", "— choose a family —")] + [(name, name) for name in families()]
        self.fields["pattern"].widget.attrs.update(placeholder="e.g. user_errands:42:*", size=28)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        family, pattern = data.get("family"), strip_prefix(data.get("pattern") or "").strip()
        if data.get("everything"):
            data["glob"] = None
        elif family and pattern:
            raise forms.ValidationError("Choose a family or type a pattern, not both.")
        elif family:
            data["glob"] = family_glob(family)
        elif pattern:
            data["glob"] = pattern
        else:
            # An empty pattern must never be read as "everything": that has its own confirmed button.
            raise forms.ValidationError("Choose a family or type a glob pattern; an empty pattern clears nothing.")
        return data

    @property
    def description(self) -> str:
        glob = self.cleaned_data["glob"]
        return f"under the prefix “{key_prefix()}:”" if glob is None else f"matching “{glob}”"
