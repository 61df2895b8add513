"""Parsed and validated documents, per process, bounded by count and by bytes of query text.

Keyed by the sha256 of the text, so the memory a key takes is fixed. A text over the length limit is refused
before it is hashed, parsed or stored; a text refused by the parser's token limit or by a rule is kept as
refused (errors only, no tree), so sending it again costs one hash and one dictionary lookup.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    get_operation_ast,
    parse,
    print_ast,
    validate,
)

from core.graphql.limits import Limits, check_operation

QUERY_TOO_LARGE = "QUERY_TOO_LARGE"
GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"

# Validation of a huge invalid document can report an error per node; a client needs the first few.
MAX_VALIDATION_ERRORS = 20


@dataclass(slots=True)
class ParsedDocument:
    document: DocumentNode | None
    errors: list[GraphQLError]
    digest: str  # sha256 of the normalized (re-printed) document: formatting does not split cache entries
    size: int  # characters of the query text, what the byte bound counts
    fragments: dict[str, FragmentDefinitionNode]

    def operation(self, name: str | None) -> OperationDefinitionNode | None:
        return get_operation_ast(self.document, name) if self.document is not None else None


def text_digest(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()


def too_long(query: str, max_length: int) -> GraphQLError | None:
    if len(query) <= max_length:
        return None
    return GraphQLError(
        f"The query is {len(query)} characters long; at most {max_length} are allowed.",
        extensions={"code": QUERY_TOO_LARGE},
    )


class DocumentCache:
    """Least recently used out first, when either bound is reached."""

    def __init__(self, size: int, max_bytes: int) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.bytes = 0
        self._entries: OrderedDict[str, ParsedDocument] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(
        self,
        query: str,
        schema: GraphQLSchema,
        rules: Collection[type] | None,
        *,
        max_tokens: int,
        limits: Limits,
    ) -> ParsedDocument:
        key = text_digest(query)
        with self._lock:
            parsed = self._entries.get(key)
            if parsed is not None:
                self._entries.move_to_end(key)
                return parsed
        parsed = self._parse(query, schema, rules, max_tokens, limits)
        with self._lock:
            if key not in self._entries and parsed.size <= self.max_bytes:
                self._entries[key] = parsed
                self.bytes += parsed.size
                while len(self._entries) > self.size or self.bytes > self.max_bytes:
                    _, evicted = self._entries.popitem(last=False)
                    self.bytes -= evicted.size
        return parsed

    @staticmethod
    def _parse(query: str, schema: GraphQLSchema, rules, max_tokens: int, limits: Limits) -> ParsedDocument:
        try:
            document = parse(query, max_tokens=max_tokens)
        except GraphQLError as error:
            code = QUERY_TOO_LARGE if "tokens. Parsing aborted" in error.message else GRAPHQL_PARSE_FAILED
            error.extensions = {**(error.extensions or {}), "code": code}
            return ParsedDocument(None, [error], "", len(query), {})
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        # The limits run before graphql-core's rules, some of which are quadratic in the fields selected. Variables
        # are not known here: `first: $n` counts as its default; the view checks again with the request's values.
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                refusal = check_operation(schema, definition, fragments, None, limits)
                if refusal is not None:
                    return ParsedDocument(None, [refusal], "", len(query), {})
        errors = validate(schema, document, rules, MAX_VALIDATION_ERRORS)
        for error in errors:
            error.extensions = {"code": GRAPHQL_VALIDATION_FAILED, **(error.extensions or {})}
        if errors:
            return ParsedDocument(None, errors, "", len(query), {})
        digest = hashlib.sha256(print_ast(document).encode()).hexdigest()
        return ParsedDocument(document, [], digest, len(query), fragments)
