"""Fuzz /graphql/: schemathesis in GraphQL mode, then hostile strings in every String and ID argument.

1. schemathesis generates operations for every root field (half anonymous, half signed in as alice, whose
   mutations really write); a 5xx is a failure.
2. Every String or ID argument of every root field, input objects included, gets each hostile string (glob and
   separator characters, template braces, the key markers, 10 KB, unicode, NUL...); a 5xx is a failure.
3. Collisions: each cached query argument gets each hostile string twice. The first request must miss at both levels
   (a hit would be another argument's entry under the same key) and its answer must equal that of a server with the
   cache disabled; the second must equal it too. Errands are seeded with the hostile strings as categories and
   titles, so different arguments have different answers. Afterwards every key in Redis must be <= 250 characters.

Run: `python -m bench fuzz` (`--cases` generated operations).
"""

from __future__ import annotations

import collections
import datetime
import json
import math
import sys
import time

import requests

from bench.support import Stack, arguments, machine_line, print_table, setup_django, token_for, verdict, write_results

HOSTILE = {  # the first few are the CI subset's (--strings)
    "star": "*",
    "colon": ":",
    "template": "{{x}}",
    "escaped colon": "a%3Ab",
    "10 KB a": "x" * 10_239 + "a",
    "NUL": "a\x00b",
    "unicode": "ßçø 漢字 😀 \u202eevil",
    "colon pair": "a:b",
    "user template": "{{user_id}}",
    "glob": "user:*",
    "class": "[a-z]?",
    "escaped escape": "a%253Ab",
    "marker": "~n",
    "None": "None",
    "internal": "_g:errand_list",
    "prefix": "runam:_epoch",
    "backslash": "\\*",
    "quote": "' OR 1=1 --",
    "newline": "a\nb\tc",
    "empty": "",
    "blank": "   ",
    "64": "x" * 64,
    "65": "x" * 65,
    "10 KB b": "x" * 10_239 + "b",
    "composed": "caf\u00e9",
    "decomposed": "cafe\u0301",
    "emoji 10 KB": "😀" * 2_560,
}
MAX_KEY = 250
TARGET_CASES = 1_000


def generated(base_url: str, token: str, cases: int) -> dict:
    """schemathesis over every root field; half the examples anonymous, half signed in."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    # Our custom scalars take strings; well-formed ones reach the resolvers, any text probes the parsers.
    decimals = st.decimals(min_value=-(10**9), max_value=10**9, places=2).map(str)
    datetimes = st.datetimes(timezones=st.just(datetime.UTC)).map(datetime.datetime.isoformat)
    for name, valid in (("Decimal", decimals), ("DateTime", datetimes)):
        schemathesis.graphql.scalar(name, st.one_of(valid, st.text(max_size=40)).map(schemathesis.graphql.nodes.String))

    operations = [result.ok() for result in schemathesis.graphql.from_url(f"{base_url}/graphql/").get_all_operations()]
    per_half = math.ceil(cases / len(operations) / 2)  # read by examples() when it is called
    statuses: collections.Counter = collections.Counter()
    failures: list[str] = []
    session = requests.Session()

    def examples(operation, headers: dict):
        @settings(max_examples=per_half, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        @given(case=operation.as_strategy())
        def call(case) -> None:
            response = case.call(session=session, headers=headers, timeout=60)
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                failures.append(f"{operation.label}: {response.status_code} for {json.dumps(case.body)[:300]}")

        return call

    # Fields with few arguments run out of distinct examples early: go round again until the count is reached.
    for _ in range(3):
        for operation in operations:
            for headers in ({}, {"Authorization": f"Bearer {token}"}):
                examples(operation, headers)()
        if sum(statuses.values()) >= cases:
            break
        per_half = math.ceil((cases - sum(statuses.values())) / len(operations) / 2)
    return {"operations": sum(statuses.values()), "statuses": dict(statuses), "failures": failures}


# --- hostile strings ----------------------------------------------------------------------------------------------


def string_slots(graphql_schema) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(operation type, root field, argument, path into it) for every String or ID argument or input field."""
    from graphql import GraphQLInputObjectType, get_named_type

    slots = []
    for kind, root in (("query", graphql_schema.query_type), ("mutation", graphql_schema.mutation_type)):
        for name, field in root.fields.items():
            for arg_name, arg in field.args.items():
                named = get_named_type(arg.type)
                if named.name in ("String", "ID"):
                    slots.append((kind, name, arg_name, ()))
                elif isinstance(named, GraphQLInputObjectType):
                    slots += [(kind, name, arg_name, (f,)) for f, t in named.fields.items()
                              if get_named_type(t.type).name in ("String", "ID")]  # fmt: skip
    return slots


def placeholder(type_) -> object:
    """A valid value of a required argument that is not under test."""
    from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLNonNull, get_named_type

    named = get_named_type(type_)
    if isinstance(named, GraphQLInputObjectType):
        required = {n: f for n, f in named.fields.items() if isinstance(f.type, GraphQLNonNull)}
        return {n: placeholder(f.type) for n, f in required.items()}
    if isinstance(named, GraphQLEnumType):
        return next(iter(named.values))
    return {"Int": 1, "Float": 1.0, "Boolean": True, "Decimal": "100.00", "ID": "1"}.get(named.name, "x")


def hostile_document(graphql_schema, kind: str, field_name: str, arg_name: str, path: tuple, value: str):
    """(document, variables) calling the field with `value` in the slot and placeholders in required arguments."""
    from graphql import GraphQLNonNull, get_named_type, is_leaf_type

    field = (graphql_schema.query_type if kind == "query" else graphql_schema.mutation_type).fields[field_name]
    variables = {n: placeholder(a.type) for n, a in field.args.items() if isinstance(a.type, GraphQLNonNull)}
    if path:
        variables[arg_name] = {**variables.get(arg_name, {}), path[0]: value}
    else:
        variables[arg_name] = value
    declared = ", ".join(f"${n}: {field.args[n].type}" for n in variables)
    passed = ", ".join(f"{n}: ${n}" for n in variables)
    selection = "" if is_leaf_type(get_named_type(field.type)) else " { __typename }"
    return f"{kind} Fuzz({declared}) {{ {field_name}({passed}){selection} }}", variables


def post(session: requests.Session, url: str, document: str, variables: dict) -> requests.Response:
    body = json.dumps({"query": document, "variables": variables})
    return session.post(f"{url}/graphql/", data=body, headers={"Content-Type": "application/json"}, timeout=60)


def hostile(base_url: str, token: str, graphql_schema, strings: dict[str, str]) -> dict:
    statuses: collections.Counter = collections.Counter()
    failures = []
    sessions = {"anonymous": requests.Session(), "alice": requests.Session()}
    sessions["alice"].headers["Authorization"] = f"Bearer {token}"
    for kind, field_name, arg_name, path in string_slots(graphql_schema):
        for label, value in strings.items():
            document, variables = hostile_document(graphql_schema, kind, field_name, arg_name, path, value)
            for who, session in sessions.items():
                response = post(session, base_url, document, variables)
                statuses[response.status_code] += 1
                if response.status_code >= 500:
                    failures.append(f"{field_name}({arg_name}{'.' + path[0] if path else ''}={label!r}) as {who}")
    return {"operations": sum(statuses.values()), "statuses": dict(statuses), "failures": failures}


# --- collisions ---------------------------------------------------------------------------------------------------

CACHED = {
    "errands(category)": ("query($v: String) { errands(category: $v, first: 100) { id title category } }", "v"),
    "errands(search)": ("query($v: String) { errands(search: $v, first: 100) { id title } }", "v"),
    "banks(country)": ("query($v: String!) { banks(country: $v) { id code country } }", "v"),
    "errand(id)": ("query($v: ID!) { errand(id: $v) { id title } }", "v"),
}


def seed_hostile_rows() -> None:
    """One errand per hostile string that fits: it is that errand's category and part of its title."""
    from errands.models import Errand

    ids = list(Errand.objects.order_by("id").values_list("id", flat=True)[: len(HOSTILE)])
    for pk, value in zip(ids, HOSTILE.values(), strict=False):
        if "\x00" not in value:  # PostgreSQL text cannot hold NUL
            Errand.objects.filter(pk=pk).update(category=value[:50], title=f"hostile {value}"[:200])


def collisions(cached_url: str, truth_url: str, strings: dict[str, str]) -> dict:
    cached, truth = requests.Session(), requests.Session()
    checked, first_hits, wrong, second_hits = 0, [], [], 0
    for name, (document, var) in CACHED.items():
        for label, value in strings.items():
            first, second = (post(cached, cached_url, document, {var: value}) for _ in range(2))
            expected = post(truth, truth_url, document, {var: value}).json().get("data")
            checked += 1
            cache = first.json().get("extensions", {}).get("cache", {})
            if cache.get("operation") == "HIT" or any(f["status"] == "HIT" for f in cache.get("fields", [])):
                first_hits.append(f"{name} {label!r}")
            if first.json().get("data") != expected or second.json().get("data") != expected:
                wrong.append(f"{name} {label!r}")
            second_hits += second.json().get("extensions", {}).get("cache", {}).get("operation") == "HIT"
    return {"checked": checked, "first_hits": first_hits, "wrong": wrong, "second_hits": second_hits}


def key_lengths(stack: Stack) -> tuple[int, int]:
    names = list(stack.redis.client().scan_iter(match="runam:*", count=1000))
    return len(names), max((len(name.decode()) for name in names), default=0)


def main(argv: list[str] | None = None) -> None:
    args = arguments(__doc__.splitlines()[0], cases=TARGET_CASES, strings=len(HOSTILE), errands=100).parse_args(argv)
    strings = dict(list(HOSTILE.items())[: args.strings])
    started = time.monotonic()
    with Stack.open(errands=args.errands) as stack:
        server = stack.server(GRAPHQL_CACHE_DEBUG=True)
        truth = stack.server(CACHE_ENABLED=False)
        setup_django(stack.env())
        print(machine_line(stack.db_url, stack.redis.client()))
        from core.management.commands.seed_demo import DEMO_PASSWORD
        from runam.schema import schema

        token = token_for(server.url, "alice", DEMO_PASSWORD)
        seed_hostile_rows()
        results = {
            "collisions": collisions(server.url, truth.url, strings),
            "generated": generated(server.url, token, args.cases),
            "hostile": hostile(server.url, token, schema.graphql_schema, strings),
        }
        results["keys"], results["longest_key"] = key_lengths(stack)
    report(results, args.cases, len(strings), time.monotonic() - started)
    write_results(args.json, results)
    if not ok(results, args.cases):
        sys.exit("fuzz failed")


def ok(results: dict, cases: int) -> bool:
    collided = results["collisions"]
    return (
        results["generated"]["operations"] >= cases
        and not results["generated"]["failures"]
        and not results["hostile"]["failures"]
        and not collided["first_hits"]
        and not collided["wrong"]
        and results["longest_key"] <= MAX_KEY
    )


def report(results: dict, cases: int, strings: int, seconds: float) -> None:
    generated_, hostile_, collided = results["generated"], results["hostile"], results["collisions"]
    print(f"{strings} hostile strings; ran {seconds:.0f} s")
    print()
    print_table(
        ["pass", "requests", "by status"],
        [[name, f"{r['operations']:,}", ", ".join(f"{s}: {n:,}" for s, n in sorted(r["statuses"].items()))]
         for name, r in (("schemathesis", generated_), ("hostile strings", hostile_))],
    )  # fmt: skip
    errors = len(generated_["failures"]) + len(hostile_["failures"])
    print()
    print_table(
        ["figure", "value", "target", "verdict"],
        [
            ["schemathesis operations", f"{generated_['operations']:,}", f">= {cases:,}",
             verdict(generated_["operations"] >= cases)],
            ["5xx responses", errors, "0", verdict(errors == 0)],
            ["cached arguments checked (first miss, same answer as uncached)", collided["checked"], "", ""],
            ["  ...whose first request hit another argument's entry", len(collided["first_hits"]), "0",
             verdict(not collided["first_hits"])],
            ["  ...answered differently from the uncached server", len(collided["wrong"]), "0",
             verdict(not collided["wrong"])],
            ["  ...served from the cache the second time", collided["second_hits"], "", ""],
            ["keys in Redis / longest, characters", f"{results['keys']:,} / {results['longest_key']}",
             f"<= {MAX_KEY}", verdict(results["longest_key"] <= MAX_KEY)],
        ],
    )  # fmt: skip
    for failure in [*generated_["failures"], *hostile_["failures"], *collided["first_hits"], *collided["wrong"]][:10]:
        print(f"  e.g. {failure}")


if __name__ == "__main__":
    main()
