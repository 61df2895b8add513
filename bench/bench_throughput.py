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


def same_bytes(stack: Stack, off_url: str, on_url: str) -> bytes:
    """The response every run returns, checked equal across the three servers' answers; stored for (c)."""
    body = json.dumps({"query": QUERY})
    headers = {"Content-Type": "application/json"}
    answers = [requests.post(f"{url}/graphql/", data=body, headers=headers, timeout=30) for url in (off_url, on_url)]
    answers.append(requests.post(f"{on_url}/graphql/", data=body, headers=headers, timeout=30))  # now a hit
    payload = answers[0].content
    assert all(a.status_code == 200 and a.content == payload for a in answers), "the three answers differ"
    assert len(json.loads(payload)["data"]["errands"]) == 50
    stack.redis.client().set(LIMIT_KEY, payload)
    limit = requests.post(f"{on_url}/bench/limit/", data=body, headers=headers, timeout=30)
    assert limit.status_code == 200 and limit.content == payload, "the limit view must return the same bytes"
    return payload


def main(argv: list[str] | None = None) -> None:
    args = arguments(__doc__.splitlines()[0], seconds=10, warmup=2, connections=16).parse_args(argv)
    with Stack.open(errands=ERRANDS) as stack:
        off = stack.server(CACHE_ENABLED=False)
        on = stack.server()
        payload = same_bytes(stack, off.url, on.url)
        print(machine_line(stack.db_url, stack.redis.client()))
        print(f"{ERRANDS} errands; {len(payload):,} response bytes; wrk -t1 -c{args.connections} -d{args.seconds}s")
        fixed = wrk_post_script(json.dumps({"query": QUERY}))
        runs = {
            "a": ("(a) cache disabled", f"{off.url}/graphql/", lambda: fixed),
            "b": ("(b) cache enabled, hot", f"{on.url}/graphql/", lambda: fixed),
            "c": ("(c) limit view: one Redis GET", f"{on.url}/bench/limit/", lambda: fixed),
            "a2": ("(a') cache disabled, new key each request", f"{off.url}/graphql/", cold_script),
            "cold": ("cold: cache enabled, new key each request", f"{on.url}/graphql/", cold_script),
        }
        results, counters = {}, {}
        for name, (_, url, script) in runs.items():
            # A script per wrk run: cold keys must be new to the measured run, not left over from the warm-up.
            run_wrk(url, script(), seconds=args.warmup, connections=args.connections, workdir=stack.workdir)
            before = cache_counters(stack.redis.client())
            load = script()
            results[name] = run_wrk(
                url, load, seconds=args.seconds, connections=args.connections, workdir=stack.workdir
            )
            after = cache_counters(stack.redis.client())
            counters[name] = {k: after.get(k, 0) - before.get(k, 0) for k in ("gql|hit", "gql|miss")}

    print()
    print_table(
        ["run", "requests", "req/s", "p50 ms", "p99 ms", "non-2xx", "errors", "op hits", "op misses"],
        [
            [label, f"{r.requests:,}", f"{r.rps:,.0f}", f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", r.non_2xx,
             r.socket_errors, f"{counters[name]['gql|hit']:,}", f"{counters[name]['gql|miss']:,}"]
            for name, (label, _, _) in runs.items()
            for r in [results[name]]
        ],
    )  # fmt: skip
    a, b, c, a2, cold = (results[name].rps for name in runs)
    figures = {
        "b/a": (b / a, f">= {TARGET_HOT_VS_BASELINE:g}", b / a >= TARGET_HOT_VS_BASELINE),
        "b/c": (b / c, f">= {TARGET_HOT_VS_LIMIT:g}", b / c >= TARGET_HOT_VS_LIMIT),
        "cold time per request / (a')": (a2 / cold, f"<= {TARGET_COLD_TIME:g}", a2 / cold <= TARGET_COLD_TIME),
        "cold time per request / (a)": (a / cold, "(information: parses each document)", None),
    }
    print()
    rows = [[name, f"{v:.2f}", aim, "" if met is None else verdict(met)] for name, (v, aim, met) in figures.items()]
    print_table(["ratio", "value", "target", "verdict"], rows)
    hot = results["b"].requests
    failures = sum(r.non_2xx + r.socket_errors for r in results.values())
    write_results(
        args.json,
        {"runs": {k: vars(v) for k, v in results.items()}, "counters": counters, "ratios": figures},
    )
    if counters["b"]["gql|hit"] < 0.99 * hot or counters["cold"]["gql|hit"]:
        sys.exit("(b) was not served from the cache, or cold was: these figures do not measure what they say")
    if failures:
        sys.exit(f"{failures} requests failed (non-2xx or socket errors)")


if __name__ == "__main__":
    main()
