"""Register documents for the persisted-query allow-list (GRAPHQL_APQ_ALLOWLIST)."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.graphql.apq import sha256_of
from core.services import persisted_queries_register


class Command(BaseCommand):
    help = (
        "Register persisted queries from FILE: Apollo's persisted-query manifest "
        '({"format": "apollo-persisted-query-manifest", "operations": [{"id", "name", "body"}, ...]}), a JSON '
        "object of sha256 -> document, or a JSON list of documents."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--replace", action="store_true", help="remove registered documents not in FILE")

    def handle(self, *args, file: Path, replace: bool, **options):
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise CommandError(f"cannot read {file}: {error}") from error
        documents = _documents(data)
        try:
            added = persisted_queries_register(documents=documents, replace=replace)
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"{len(documents)} persisted queries in {file}; {added} newly registered.")


def _documents(data) -> dict[str, tuple[str, str]]:
    if isinstance(data, dict) and isinstance(data.get("operations"), list):
        entries = [(op.get("id"), op.get("name") or "", op.get("body")) for op in data["operations"]]
    elif isinstance(data, dict):
        entries = [(sha256, "", body) for sha256, body in data.items()]
    elif isinstance(data, list):
        entries = [(None, "", body) for body in data]
    else:
        raise CommandError("expected a manifest, an object of sha256 -> document, or a list of documents")
    documents = {}
    for sha256, name, body in entries:
        if not isinstance(body, str):
            raise CommandError(f"document {sha256 or name!r} has no text")
        documents[sha256 or sha256_of(body)] = (name, body)
    return documents
