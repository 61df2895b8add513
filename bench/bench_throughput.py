"""Throughput of `errands(first: 50)` with nested createdBy on gunicorn, wrk on loopback, side by side:

(a)  cache disabled: the plain graphene-django baseline;
(b)  cache enabled and hot (the operation fast path);
(c)  the limit: bench/server.py's view returning the same bytes from one Redis GET, same server and settings;
cold cache enabled, every request a new key, against (a') the same request stream with the cache disabled.

A new key per request comes from a new fragment name: it changes the operation key and the field key alike while
the response stays byte for byte the same, so (a') and cold do the same work except the cache's. Each new document
is also parsed and validated, which (a) does once; that is why cold is held against (a'), and also shown against (a).

Each figure is taken in two set-ups: gunicorn's default sync workers (2; wrk -t2 -c8) and the gthread workers of the
other benches (2 x 32 threads; wrk -t1 -c16); and on two trees: this one and `--engine-ref` (default 6a0a12e, the
last head of the first engine design, from `git archive`), set-up by set-up, the trees in turn.

Run: `python -m bench throughput` (`--setup sync|gthread|both`, `--engine-ref ''` for this tree alone, `--seconds`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import secrets
import sys

import requests

from bench.server import LIMIT_KEY
from bench.support import (
    ROOT,
    Stack,
    arguments,
    cache_counters,
    lua_string,
    machine_line,
    print_table,
    run_wrk,
    source_tree,
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
    """A wrk script whose every request names its fragment anew (a new key); unique across runs and across wrk's
    threads too (each thread has a Lua state of its own: setup() gives each its number)."""
    head, middle, tail = QUERY.replace("Row", "\0").split("\0")
    run = secrets.token_hex(3)
    return (
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        "local threads = 0\n"
        "setup = function(thread)\n"
        "  threads = threads + 1\n"
        '  thread:set("tid", threads)\n'
        "end\n"
        "local n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        f'  local name = "F{run}_" .. tid .. "_" .. n\n'
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


# The two set-ups of the first design's measurements: gunicorn's default sync workers (one request at a time per
# worker, no keep-alive) under wrk -t2 -c8, and the gthread servers of every other bench under wrk -t1 -c16.
SETUPS = {
    "sync": {"server": {"worker_class": "sync"}, "wrk": {"threads": 2, "connections": 8}},
    "gthread": {"server": {}, "wrk": {"threads": 1, "connections": 16}},
}
# The last head of the first engine design (the one issue #11 measured), measured beside this tree.
ENGINE_REF = "6a0a12e"


def measure(root, setup: dict, args) -> dict:
    """Every run of RUNS on one tree and one set-up: the median round of each, the cache's counters, the ratios."""
    servers = {
        "cache disabled": ({"CACHE_ENABLED": False}, {
            "a": ("/graphql/", fixed),
            "a2": ("/graphql/", cold_script),
        }),
        "cache enabled": ({}, {
            "b": ("/graphql/", fixed),
            "c": ("/bench/limit/", fixed),
            "cold": ("/graphql/", cold_script),
        }),
    }  # fmt: skip
    measured: dict[str, list] = {name: [] for _, named in servers.values() for name in named}
    counters = {name: {"gql|hit": 0, "gql|miss": 0} for name in measured}
    wrk = setup["wrk"]
    payload = None
    with Stack.open(errands=ERRANDS, root=root) as stack:
        worker_class = setup["server"].get("worker_class", "gthread")
        print(machine_line(stack.db_url, stack.redis.client(), worker_class=worker_class))
        for overrides, named in servers.values():
            # Persistent database connections, as a deployment would keep them: the baseline pays no connect.
            server = stack.server(DATABASE_CONN_MAX_AGE=60, **setup["server"], **overrides)
            payload = answer(stack, server.url, payload)
            # In turn, round after round: drift on a shared machine touches every run alike.
            for _, (name, (path, script)) in itertools.product(range(args.rounds), named.items()):
                # A script per wrk run: cold keys must be new to the measured run, not left over from the warm-up.
                run_wrk(server.url + path, script(), seconds=args.warmup, workdir=stack.workdir, **wrk)
                before = cache_counters(stack.redis.client())
                measured[name].append(
                    run_wrk(server.url + path, script(), seconds=args.seconds, workdir=stack.workdir, **wrk)
                )
                after = cache_counters(stack.redis.client())
                for key in counters[name]:
                    counters[name][key] += after.get(key, 0) - before.get(key, 0)
            server.stop()
    results = {name: sorted(rounds, key=lambda r: r.rps)[len(rounds) // 2] for name, rounds in measured.items()}
    a, b, c, a2, cold = (results[name].rps for name in ("a", "b", "c", "a2", "cold"))
    return {
        "bytes": len(payload),
        "measured": measured,
        "results": results,
        "counters": counters,
        "ratios": {"b/a": b / a, "b/c": b / c, "cold/(a')": a2 / cold, "cold/(a)": a / cold},
    }


def fixed() -> str:
    return wrk_post_script(json.dumps({"query": QUERY}))


def print_runs(side: dict) -> None:
    measured, results, counters = side["measured"], side["results"], side["counters"]
    print_table(
        ["run", "requests", "req/s (median)", "req/s range", "p50 ms", "p99 ms", "non-2xx", "errors", "op hits",
         "op misses"],
        [
            [label, f"{sum(r.requests for r in measured[name]):,}", f"{results[name].rps:,.0f}",
             f"{min(r.rps for r in measured[name]):,.0f}-{max(r.rps for r in measured[name]):,.0f}",
             f"{results[name].p50_ms:.2f}", f"{results[name].p99_ms:.2f}",
             sum(r.non_2xx for r in measured[name]), sum(r.socket_errors for r in measured[name]),
             f"{counters[name]['gql|hit']:,}", f"{counters[name]['gql|miss']:,}"]
            for name, label in LABELS.items()
        ],
    )  # fmt: skip


LABELS = {
    "a": "(a) cache disabled",
    "a2": "(a') cache disabled, new key each request",
    "b": "(b) cache enabled, hot",
    "c": "(c) limit view: one Redis GET",
    "cold": "cold: cache enabled, new key each request",
}
TARGETS = {
    "b/a": (f">= {TARGET_HOT_VS_BASELINE:g}", lambda v: v >= TARGET_HOT_VS_BASELINE),
    "b/c": (f">= {TARGET_HOT_VS_LIMIT:g}", lambda v: v >= TARGET_HOT_VS_LIMIT),
    "cold/(a')": (f"<= {TARGET_COLD_TIME:g}", lambda v: v <= TARGET_COLD_TIME),
    "cold/(a)": ("(information: parses each document)", None),
}


def main(argv: list[str] | None = None) -> None:
    parser = arguments(__doc__.splitlines()[0], seconds=8, warmup=2, rounds=3, engine_ref=ENGINE_REF)
    parser.add_argument("--setup", choices=[*SETUPS, "both"], default="both")
    args = parser.parse_args(argv)
    setups = list(SETUPS) if args.setup == "both" else [args.setup]
    trees = {"this tree": None, **({args.engine_ref: args.engine_ref} if args.engine_ref else {})}
    sides: dict[tuple[str, str], dict] = {}
    with contextlib.ExitStack() as exits:
        roots = {tree: exits.enter_context(source_tree(ref)) if ref else ROOT for tree, ref in trees.items()}
        # Set-up by set-up, the trees in turn: drift on a shared machine touches both trees alike.
        for setup, tree in itertools.product(setups, trees):
            wrk = SETUPS[setup]["wrk"]
            print(f"\n--- {tree}, {setup}: {ERRANDS} errands; wrk -t{wrk['threads']} -c{wrk['connections']} "
                  f"-d{args.seconds}s after a {args.warmup}s warm-up, {args.rounds} rounds taken in turn; the median "
                  f"round is shown")  # fmt: skip
            sides[setup, tree] = side = measure(roots[tree], SETUPS[setup], args)
            print(f"{side['bytes']:,} response bytes, the same from every server and the limit view")
            print_runs(side)
    print()
    print_table(
        ["ratio", *(f"{tree}, {setup}" for setup, tree in sides), "target", "verdict (this tree)"],
        [
            [name, *(f"{side['ratios'][name]:.2f}" for side in sides.values()), aim,
             "" if met is None else verdict(all(met(sides[s, "this tree"]["ratios"][name]) for s in setups))]
            for name, (aim, met) in TARGETS.items()
        ],
    )  # fmt: skip
    write_results(args.json, {f"{tree}, {setup}": {k: v for k, v in side.items() if k != "results"}
                              for (setup, tree), side in sides.items()})  # fmt: skip
    for (setup, tree), side in sides.items():
        measured, counters = side["measured"], side["counters"]
        failures = sum(r.non_2xx + r.socket_errors for rounds in measured.values() for r in rounds)
        if failures:
            sys.exit(f"{tree}, {setup}: {failures} requests failed (non-2xx or socket errors)")
        hot = sum(r.requests for r in measured["b"])
        if tree == "this tree" and (counters["b"]["gql|hit"] < 0.99 * hot or counters["cold"]["gql|hit"]):
            sys.exit("(b) was not served from the cache, or cold was: these figures do not measure what they say")


if __name__ == "__main__":
    main()
