"""Throughput of `errands(first: 50)` with nested createdBy on gunicorn, wrk on loopback, side by side:

(a)  cache disabled: the plain graphene-django baseline;
(b)  cache enabled and hot (the operation fast path);
(c)  the limit: bench/server.py's view returning the same bytes from one Redis GET, same server and settings;
cold cache enabled, every request a new key, against (a') the same request stream with the cache disabled.

A new key per request comes from a new fragment name: it changes the operation key and the field key alike while
the response stays byte for byte the same, so (a') and cold do the same work except the cache's. Each new document
is also parsed and validated, which (a) does once; that is why cold is held against (a'), and also shown against (a).

Run: `python -m bench throughput` (`--seconds`, `--connections` to change the load).
"""

from __future__ import annotations

import itertools
import json
import secrets
import sys

import requests

from bench.server import LIMIT_KEY
from bench.support import (
    Stack,
    arguments,
    cache_counters,
    lua_string,
    machine_line,
    print_table,
    run_wrk,
    verdict,
    write_results,
    wrk_post_script,
)

ERRANDS = 500
FRAGMENT = "on Errand { id title category status budget currency createdAt createdBy { id username } }"
QUERY = "query Board { errands(first: 50) { ...Row } } fragment Row " + FRAGMENT
TARGET_HOT_VS_LIMIT = 0.8
TARGET_HOT_VS_BASELINE = 6.0
TARGET_COLD_TIME = 1.05


def cold_script() -> str:
    """A wrk script whose every request names its fragment anew (a new key); unique across runs too."""
    head, middle, tail = QUERY.replace("Row", "\0").split("\0")
    run = secrets.token_hex(3)
    return (
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        "local n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        f'  local name = "F{run}_" .. n\n'
        f"  local query = {lua_string(head)} .. name .. {lua_string(middle)} .. name .. {lua_string(tail)}\n"
        "  return wrk.format(nil, nil, nil, '{\"query\": \"' .. query .. '\"}')\n"
        "end\n"
    )


def answer(stack: Stack, url: str, payload: bytes | None) -> bytes:
    """The query's response from this server, asked twice (the second a hit when cached): byte for byte the same
    as the other server's. The limit view gets those bytes and must return them as they are."""
    body, headers = json.dumps({"query": QUERY}), {"Content-Type": "application/json"}
    answers = [requests.post(f"{url}/graphql/", data=body, headers=headers, timeout=30) for _ in range(2)]
    payload = payload or answers[0].content
    assert all(a.status_code == 200 and a.content == payload for a in answers), "the servers' answers differ"
    assert len(json.loads(payload)["data"]["errands"]) == 50
    stack.redis.client().set(LIMIT_KEY, payload)
    limit = requests.post(f"{url}/bench/limit/", data=body, headers=headers, timeout=30)
    assert limit.status_code == 200 and limit.content == payload, "the limit view must return the same bytes"
    return payload


def main(argv: list[str] | None = None) -> None:
    args = arguments(__doc__.splitlines()[0], seconds=8, warmup=2, connections=16, rounds=3).parse_args(argv)
    fixed = wrk_post_script(json.dumps({"query": QUERY}))
    # One server at a time: each gthread keeps a database connection, and two servers could exhaust PostgreSQL's.
    servers = {
        "cache disabled": ({"CACHE_ENABLED": False}, {
            "a": ("(a) cache disabled", "/graphql/", lambda: fixed),
            "a2": ("(a') cache disabled, new key each request", "/graphql/", cold_script),
        }),
        "cache enabled": ({}, {
            "b": ("(b) cache enabled, hot", "/graphql/", lambda: fixed),
            "c": ("(c) limit view: one Redis GET", "/bench/limit/", lambda: fixed),
            "cold": ("cold: cache enabled, new key each request", "/graphql/", cold_script),
        }),
    }  # fmt: skip
    runs = {name: run for _, named in servers.values() for name, run in named.items()}
    measured: dict[str, list] = {name: [] for name in runs}
    counters = {name: {"gql|hit": 0, "gql|miss": 0} for name in runs}
    payload = None
    with Stack.open(errands=ERRANDS) as stack:
        print(machine_line(stack.db_url, stack.redis.client()))
        print(f"{ERRANDS} errands; wrk -t1 -c{args.connections} -d{args.seconds}s after a {args.warmup}s warm-up, "
              f"{args.rounds} rounds taken in turn; the median round is shown")  # fmt: skip
        for overrides, named in servers.values():
            # Persistent database connections, as a deployment would keep them: the baseline pays no connect.
            server = stack.server(DATABASE_CONN_MAX_AGE=60, **overrides)
            payload = answer(stack, server.url, payload)
            # In turn, round after round: drift on a shared machine touches every run alike.
            for _, (name, (_, path, script)) in itertools.product(range(args.rounds), named.items()):
                # A script per wrk run: cold keys must be new to the measured run, not left over from the warm-up.
                run_wrk(server.url + path, script(), seconds=args.warmup, connections=args.connections,
                        workdir=stack.workdir)  # fmt: skip
                before = cache_counters(stack.redis.client())
                measured[name].append(run_wrk(server.url + path, script(), seconds=args.seconds,
                                              connections=args.connections, workdir=stack.workdir))  # fmt: skip
                after = cache_counters(stack.redis.client())
                for key in counters[name]:
                    counters[name][key] += after.get(key, 0) - before.get(key, 0)
            server.stop()
    print(f"{len(payload):,} response bytes, the same from every server and the limit view")
    results = {name: sorted(rounds, key=lambda r: r.rps)[len(rounds) // 2] for name, rounds in measured.items()}

    print()
    print_table(
        ["run", "requests", "req/s (median)", "req/s range", "p50 ms", "p99 ms", "non-2xx", "errors", "op hits",
         "op misses"],
        [
            [label, f"{sum(r.requests for r in measured[name]):,}", f"{results[name].rps:,.0f}",
             f"{min(r.rps for r in measured[name]):,.0f}-{max(r.rps for r in measured[name]):,.0f}",
             f"{results[name].p50_ms:.2f}", f"{results[name].p99_ms:.2f}",
             sum(r.non_2xx for r in measured[name]), sum(r.socket_errors for r in measured[name]),
             f"{counters[name]['gql|hit']:,}", f"{counters[name]['gql|miss']:,}"]
            for name, (label, _, _) in runs.items()
        ],
    )  # fmt: skip
    a, b, c, a2, cold = (results[name].rps for name in ("a", "b", "c", "a2", "cold"))
    figures = {
        "b/a": (b / a, f">= {TARGET_HOT_VS_BASELINE:g}", b / a >= TARGET_HOT_VS_BASELINE),
        "b/c": (b / c, f">= {TARGET_HOT_VS_LIMIT:g}", b / c >= TARGET_HOT_VS_LIMIT),
        "cold time per request / (a')": (a2 / cold, f"<= {TARGET_COLD_TIME:g}", a2 / cold <= TARGET_COLD_TIME),
        "cold time per request / (a)": (a / cold, "(information: parses each document)", None),
    }
    print()
    rows = [[name, f"{v:.2f}", aim, "" if met is None else verdict(met)] for name, (v, aim, met) in figures.items()]
    print_table(["ratio", "value", "target", "verdict"], rows)
    hot = sum(r.requests for r in measured["b"])
    failures = sum(r.non_2xx + r.socket_errors for rounds in measured.values() for r in rounds)
    rounds_out = {name: [vars(r) for r in rounds] for name, rounds in measured.items()}
    write_results(args.json, {"rounds": rounds_out, "counters": counters, "ratios": figures})
    if counters["b"]["gql|hit"] < 0.99 * hot or counters["cold"]["gql|hit"]:
        sys.exit("(b) was not served from the cache, or cold was: these figures do not measure what they say")
    if failures:
        sys.exit(f"{failures} requests failed (non-2xx or socket errors)")


if __name__ == "__main__":
    main()
