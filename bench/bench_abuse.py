"""Hostile input against gunicorn + Redis, side by side with a baseline commit: per case, the status of each request,
worker CPU seconds and lasting RSS growth, Redis keys and bytes added, and the keys still there after the TTLs.

The cases are the table of the "Hostile input" issue and a few more: a 2.4 MB document and six different 351 KB
ones; fragments that each spread the next twice (n = 18, 20, 22: the cost doubles per level); 200 aliases of
`errands(first: 100)`, and 100 aliases with a unique unused variable ten times; one mutation of 30 aliased
`tokenAuth` guesses; `query` as a number, a list and an object; variables and an extra key nested 2,000 deep; a
NUL and a lone surrogate in `errands(search)`, `banks(country)` and `createErrand`; `roles` asked by 100 users and
anonymously; then a selection 2,000 inline fragments deep, a batch of 1,000 operations, 1,000 directives on one
field, a 10 MB body and a body that is not UTF-8; last, `--unique` anonymous requests with a new argument each
(`errands(search:)`, `banks(country:)`, `errand(id:)`, a third each).

Each side gets its own redis-server, scratch database (seeded) and gunicorn with **one** gthread worker, so the
worker's CPU (psutil: user + system, read before and after each request) and RSS belong to the request just sent;
requests go one at a time (the unique ones from four clients, figures per request on average). A request that gets
no answer within `--timeout` seconds is cut off: its CPU is what the worker had spent by then, and the worker is
killed so that it does not run on into the next case. Redis: DBSIZE, `used_memory` and a SCAN before and after each
case; after the last request, `--wait` seconds later, how many of each case's keys are still there.

Every cache TTL is set to `--ttl` seconds (CACHE_TIMEOUT_* and CACHE_DEFAULT_TIMEOUT, default 5 s) so that "keys
left after TTL + 60 s" needs a one-minute wait, not a day's: `--wait` defaults to 65 s. Generation keys keep their
own lifetime (CACHE_GENERATION_TTL, a week), as in production.

The baseline (`--baseline-ref`, default e71ed33, the head before the hostile-input work) is that commit's tree from
`git archive` in a temporary directory, with this tree's bench/ laid over it, measured in the same run; an empty
`--baseline-ref ''` measures this tree alone. Targets (this tree): every request a clear 4xx or its normal answer,
no 5xx; at most 0.5 s of worker CPU and 32 MB of lasting RSS growth; Redis back to its key count within TTL + 60 s
after the unique requests; the 30 guesses refused after the configured attempts (fewer than 30 checked); `roles`
asked by 100 users, one whole-response entry.

Run: `python -m bench abuse` (`--unique`, `--wait`, `--ttl`, `--timeout`, `--users`, `--errands`, `--baseline-ref`).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import redis
import requests

from bench.server import LOGIN_FAILURES_KEY
from bench.support import (
    BASELINE_REF,
    ROOT,
    Gunicorn,
    Stack,
    arguments,
    machine_line,
    manage,
    print_table,
    source_tree,
    verdict,
    wait_until,
    write_results,
)

STATS_KEY = b"runam:_stats"
TARGET_CPU_SECONDS = 0.5
TARGET_RSS_MB = 32.0
THREADS = 4
UNIQUE_CLIENTS = 4
# Modern clients prefer the GraphQL response media type, under which a refused document is a 4xx, not a 200.
ACCEPT = "application/graphql-response+json, application/json;q=0.9"
TTL_VARIABLES = (
    "CACHE_DEFAULT_TIMEOUT",
    "CACHE_TIMEOUT_ERRAND_LIST",
    "CACHE_TIMEOUT_ERRAND_DETAIL",
    "CACHE_TIMEOUT_USER_ERRANDS",
    "CACHE_TIMEOUT_USER_ESCROWS",
    "CACHE_TIMEOUT_BANKS_LIST",
    "CACHE_TIMEOUT_ROLES",
    "CACHE_TIMEOUT_USER_PROFILE",
)

ROW = "id title description category status budget currency createdAt createdBy { id username } runner { id username }"
ROLES_QUERY = "{ roles { id name description } }"
LOGIN_GUESS = 'g{n}: tokenAuth(username: "alice", password: "guess{n}") {{ token errors {{ code }} }}'
CREATE_ERRAND = "mutation($input: CreateErrandInput!) { createErrand(input: $input) { errand { id } errors { code } } }"
SEARCH_QUERY = "query($s: String) { errands(search: $s, first: 5) { id title } }"
BANKS_QUERY = "query($c: String!) { banks(country: $c) { id name } }"
ERRAND_QUERY = "query($id: ID!) { errand(id: $id) { id title } }"

# Users for the roles case and alice (createErrand), created and given tokens by the tree under test itself.
MINT_TOKENS = """
import json
from django.contrib.auth import get_user_model
from core.auth import token_for_user
User = get_user_model()
tokens = {}
for name in ["alice", *(f"abuse{n:03d}" for n in range(%d))]:
    user, created = User.objects.get_or_create(username=name)
    if created:
        user.set_unusable_password()
        user.save()
    tokens[name] = token_for_user(user)
print(json.dumps(tokens))
"""


# --- the requests -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    body: bytes
    user: str | None = None  # whose bearer token goes along; None: anonymous


@dataclass
class Case:
    name: str
    expect: str  # "4xx": hostile, must be refused; "answer": its normal answer (200) or a 4xx
    probes: list[Probe]
    batch: bool = False  # unique anonymous requests from several clients; figures per request on average


def payload(query: object, variables: dict | None = None, **extra: object) -> bytes:
    return json.dumps({"query": query, **({"variables": variables} if variables is not None else {}), **extra}).encode()


def nested(depth: int) -> str:
    """JSON `depth` levels deep, written out (json.dumps itself stops near 1,000 levels)."""
    return '{"a": ' * depth + "1" + "}" * depth


def fragments(levels: int) -> str:
    """Each fragment spreads the next twice, directly and inside an inline fragment: 2^levels selections."""
    chain = " ".join(f"fragment F{n} on Query {{ ...F{n + 1} ... on Query {{ ...F{n + 1} }} }}" for n in range(levels))
    return f"query {{ ...F0 }} {chain} fragment F{levels} on Query {{ __typename }}"


def aliases(count: int) -> str:
    return "query { " + " ".join(f"a{n}: errands(first: 100) {{ {ROW} }}" for n in range(count)) + " }"


def errand_input(title: str) -> dict:
    return {
        "title": title,
        "description": "abuse bench",
        "category": "delivery",
        "budget": "10.00",
        "pickupAddress": "a",
        "dropoffAddress": "b",
    }


def build_cases(*, unique: int, users: list[str]) -> list[Case]:
    deep_variables = payload("query($v: String) { errands(search: $v) { id } }").decode()
    deep_variables = deep_variables[:-1] + f', "variables": {{"v": {nested(2000)}}}}}'
    deep_extra = payload(ROLES_QUERY).decode()[:-1] + f', "extra": {nested(2000)}}}'
    hostile_strings = {"NUL": "a\x00b", "lone surrogate": "a\ud800b"}  # json.dumps writes these as \u escapes
    per_kind = [unique // 3 + (n < unique % 3) for n in range(3)]
    run = secrets.token_hex(3)  # arguments no earlier run of this Redis has seen
    cases = [
        Case("2.4 MB document", "4xx", [Probe(payload("{ " + "a " * 1_200_000 + "}"))]),
        Case(
            "six different 351 KB documents",
            "4xx",
            [Probe(payload(f"query Q{n} {{ " + "a " * 175_000 + "}")) for n in range(6)],
        ),
        *(Case(f"fragments spread twice, n={n}", "4xx", [Probe(payload(fragments(n)))]) for n in (18, 20, 22)),
        Case("200 aliases of errands(first: 100)", "4xx", [Probe(payload(aliases(200)))]),
        Case(
            "100 aliases + a unique unused variable, x10",
            "4xx",
            [Probe(payload(aliases(100), {f"unused{run}{n}": n})) for n in range(10)],
        ),
        Case(
            "30 aliased tokenAuth guesses",
            "answer",
            [Probe(payload("mutation { " + " ".join(LOGIN_GUESS.format(n=n) for n in range(30)) + " }"))],
        ),
        Case('query 42, ["..."], {"a": 1}', "4xx", [Probe(payload(q)) for q in (42, [ROLES_QUERY], {"a": 1})]),
        Case("variables nested 2,000 deep", "4xx", [Probe(deep_variables.encode())]),
        Case("an extra key nested 2,000 deep", "4xx", [Probe(deep_extra.encode())]),
        Case(
            f"roles as {len(users)} users + anonymous",
            "answer",
            [Probe(payload(ROLES_QUERY)), *(Probe(payload(ROLES_QUERY), user) for user in users)],
        ),
        Case(
            "NUL, lone surrogate in errands(search)",
            "answer",
            [Probe(payload(SEARCH_QUERY, {"s": s})) for s in hostile_strings.values()],
        ),
        Case(
            "NUL, lone surrogate in banks(country)",
            "answer",
            [Probe(payload(BANKS_QUERY, {"c": s})) for s in hostile_strings.values()],
        ),
        Case(
            "NUL, lone surrogate in createErrand",
            "answer",
            [Probe(payload(CREATE_ERRAND, {"input": errand_input(s)}), "alice") for s in hostile_strings.values()],
        ),
        # More of our own.
        Case(
            "selection 2,000 inline fragments deep",
            "4xx",
            [Probe(payload("{ " + "... on Query { " * 2000 + "__typename" + " }" * 2000 + " }"))],
        ),
        Case("a batch of 1,000 operations", "4xx", [Probe(json.dumps([{"query": ROLES_QUERY}] * 1000).encode())]),
        Case("1,000 directives on a field", "4xx", [Probe(payload("{ __typename" + " @skip(if: true)" * 1000 + " }"))]),
        Case("10 MB body", "4xx", [Probe(payload(ROLES_QUERY, padding="x" * 10_000_000))]),
        Case("a body that is not UTF-8", "4xx", [Probe(b'{"query": "{ roles { id } }", "x": "\xff\xfe"}')]),
        # Last: what they leave in Redis is checked after the wait.
        Case(
            f"{per_kind[0]:,} unique errands(search:)",
            "answer",
            [Probe(payload(SEARCH_QUERY, {"s": f"abuse-{run}-{n}"})) for n in range(per_kind[0])],
            batch=True,
        ),
        Case(
            f"{per_kind[1]:,} unique banks(country:)",
            "answer",
            [Probe(payload(BANKS_QUERY, {"c": f"Z{run}{n}"})) for n in range(per_kind[1])],
            batch=True,
        ),
        Case(
            f"{per_kind[2]:,} unique errand(id:)",
            "answer",
            [Probe(payload(ERRAND_QUERY, {"id": str(10_000_000 + n)})) for n in range(per_kind[2])],
            batch=True,
        ),
    ]
    return [case for case in cases if case.probes]


# --- measuring ----------------------------------------------------------------------------------------------------


class Worker:
    """The one gunicorn worker: its CPU seconds and RSS, and a way to stop a request that runs on."""

    def __init__(self, server: Gunicorn) -> None:
        self.server = server
        self.master = psutil.Process(server.proc.pid)
        self.process = self._current()

    def _current(self) -> psutil.Process:
        children = self.master.children()
        if len(children) != 1:
            raise RuntimeError(f"expected one gunicorn worker, found {len(children)}")
        return children[0]

    def alive(self) -> bool:
        try:
            return self.process.status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    def cpu(self) -> float:
        times = self.process.cpu_times()
        return times.user + times.system

    def rss(self) -> int:
        return self.process.memory_info().rss

    def replace(self) -> None:
        """Kill the worker if it still runs (ours: a child of our gunicorn) and wait for the master's new one."""
        old = self.process.pid
        with contextlib.suppress(psutil.NoSuchProcess):
            os.kill(old, signal.SIGKILL)
        wait_until(lambda: [c.pid != old for c in self.master.children()] == [True], 60, "a new gunicorn worker")
        self.process = self._current()
        probe = f"{self.server.url}/graphql/?query=%7B__typename%7D"
        wait_until(lambda: requests.get(probe, timeout=5).status_code == 200, 60, "the new worker")


def keyspace(client: redis.Redis) -> tuple[int, int, set[bytes]]:
    """DBSIZE, used_memory and every key but the servers' hit/miss counters (one hash, created at their first
    flush: not something a request leaves behind)."""
    keys = {key for key in client.scan_iter(count=1000) if key != STATS_KEY}
    return client.dbsize(), client.info("memory")["used_memory"], keys


def family(key: bytes) -> str:
    """`runam:gql:public:…` → `gql`; internal keys keep their kind: `runam:_g:banks_list:XY` → `_g:banks_list`."""
    parts = key.decode(errors="replace").split(":")
    if parts[0] != "runam" or len(parts) < 2:
        return parts[0]
    if parts[1].startswith("_") and len(parts) > 2:
        return f"{parts[1]}:{parts[2]}"
    return parts[1]


@dataclass
class Outcome:
    status: str  # "200", "413", ..., "timeout", "no answer"
    code: str  # the first error's extensions.code, if any
    cpu: float  # worker CPU seconds spent on it (for a timeout: until it was cut off)


def send(session: requests.Session, url: str, probe: Probe, tokens: dict[str, str], timeout: float) -> tuple:
    headers = {"Content-Type": "application/json", "Accept": ACCEPT}
    if probe.user:
        headers["Authorization"] = f"Bearer {tokens[probe.user]}"
    try:
        response = session.post(url, data=probe.body, headers=headers, timeout=(5, timeout))
    except requests.Timeout:
        return "timeout", ""
    except requests.RequestException:
        return "no answer", ""
    try:
        errors = response.json().get("errors") or []
        code = ((errors[0].get("extensions") or {}).get("code") or "") if errors else ""
    except (ValueError, AttributeError, IndexError, TypeError):
        code = ""
    return str(response.status_code), code


@dataclass
class Side:
    label: str
    stack: Stack
    tokens: dict[str, str]
    cases: list[dict] = field(default_factory=list)
    added: dict[str, set[bytes]] = field(default_factory=dict)  # case name -> the keys it added
    before_unique: int = 0  # DBSIZE before the unique requests
    after_unique: int = 0
    finished: float = 0.0


def run_case(case: Case, side: Side, worker: Worker, url: str, timeout: float) -> dict:
    client = side.stack.redis.client()
    keys_before, memory_before, names_before = keyspace(client)
    failures_before = int(client.get(LOGIN_FAILURES_KEY) or 0)
    rss_before = worker.rss()
    outcomes: list[Outcome] = []
    replaced = False
    if case.batch:
        outcomes = send_batch(case.probes, worker, url, side.tokens, timeout)
    else:
        session = requests.Session()
        for probe in case.probes:
            cpu_before = worker.cpu()
            status, code = send(session, url, probe, side.tokens, timeout)
            # A worker that died under the request took its CPU count with it: NaN, never zero.
            cpu = worker.cpu() - cpu_before if worker.alive() else float("nan")
            if status == "timeout" or not worker.alive():
                worker.replace()
                replaced = True
            if status in ("timeout", "no answer"):
                session = requests.Session()
            outcomes.append(Outcome(status, code, cpu))
    rss_growth = float("nan") if replaced else (worker.rss() - rss_before) / 2**20
    keys_after, memory_after, names_after = keyspace(client)
    added = names_after - names_before
    side.added[case.name] = added
    cpus = [o.cpu for o in outcomes]
    return {
        "name": case.name,
        "expect": case.expect,
        "batch": case.batch,
        "requests": len(outcomes),
        "statuses": dict(collections.Counter(o.status for o in outcomes)),
        "codes": dict(collections.Counter(o.code for o in outcomes if o.code)),
        "unclear": sum(not clear(case.expect, o.status) for o in outcomes),
        "server_errors": sum(o.status in ("timeout", "no answer") or o.status.startswith("5") for o in outcomes),
        # NaN when the worker died under a request: its CPU is unknown, never taken as zero.
        "cpu_max": float("nan") if any(c != c for c in cpus) else max(cpus, default=0.0),
        "cpu_total": sum(c for c in cpus if c == c),
        "worker_replaced": replaced,
        "rss_growth_mb": rss_growth,
        "keys_added": keys_after - keys_before,
        "bytes_added": memory_after - memory_before,
        "new_keys": len(added),
        "new_keys_by_family": dict(collections.Counter(family(key) for key in added)),
        "whole_response_entries": sum(family(key) == "gql" for key in added),
        "password_checks": int(client.get(LOGIN_FAILURES_KEY) or 0) - failures_before,
        # Each request of a case, in order (--json); the unique ones only as the counts above.
        "each": [] if case.batch else [{"status": o.status, "code": o.code, "cpu": o.cpu} for o in outcomes],
    }


def send_batch(probes: list[Probe], worker: Worker, url: str, tokens: dict[str, str], timeout: float) -> list:
    """Unique requests from UNIQUE_CLIENTS clients at once; each gets the batch's mean CPU per request."""
    pending = collections.deque(probes)
    answers: list[tuple[str, str]] = []
    lock = threading.Lock()

    def client() -> None:
        session = requests.Session()
        while True:
            with lock:
                if not pending:
                    return
                probe = pending.popleft()
            answer = send(session, url, probe, tokens, timeout)
            with lock:
                answers.append(answer)

    cpu_before = worker.cpu()
    threads = [threading.Thread(target=client) for _ in range(UNIQUE_CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    mean = (worker.cpu() - cpu_before) / max(len(answers), 1)
    return [Outcome(status, code, mean) for status, code in answers]


def clear(expect: str, status: str) -> bool:
    """A clear 4xx, or for an ordinary request its normal answer."""
    return status.startswith("4") or (expect == "answer" and status == "200")


# --- one side -----------------------------------------------------------------------------------------------------


def ttl_settings(ttl: int) -> dict[str, int]:
    return dict.fromkeys(TTL_VARIABLES, ttl)


def run_side(label: str, root: Path, args, exits: contextlib.ExitStack) -> Side:
    stack = exits.enter_context(Stack.open(errands=args.errands, root=root))
    if root == ROOT:
        print(machine_line(stack.db_url, stack.redis.client(), workers=1, threads=THREADS))
        print(f"cache TTLs {args.ttl} s (CACHE_TIMEOUT_*, CACHE_DEFAULT_TIMEOUT); keys counted {args.wait:g} s "
              "after each side's last request")  # fmt: skip
    env = stack.env(DJANGO_SECRET_KEY=secrets.token_urlsafe(32), **ttl_settings(args.ttl))
    out = manage(env, "shell", "-c", MINT_TOKENS % args.users, root=root)
    tokens = json.loads(out.strip().splitlines()[-1])
    side = Side(label, stack, tokens)
    server = Gunicorn(env, stack.workdir / "gunicorn.log", THREADS, 1, root)
    stack.servers.append(server)
    server.start()
    worker = Worker(server)
    users = sorted(name for name in tokens if name != "alice")
    url = f"{server.url}/graphql/"
    for case in build_cases(unique=args.unique, users=users):
        if case.batch and not side.before_unique:
            side.before_unique = stack.redis.client().dbsize()
        print(f"  {label}: {case.name} ...", end="", flush=True)
        result = run_case(case, side, worker, url, args.timeout)
        print(f" {format_statuses(result['statuses'])}", flush=True)
        side.cases.append(result)
    side.after_unique = stack.redis.client().dbsize()
    side.finished = time.monotonic()
    server.stop()  # its Redis stays up: what is left there is counted after the wait
    return side


def settle(side: Side, wait: float) -> dict:
    """After `wait` seconds from the side's last request: each case's keys still in Redis, and the families left."""
    time.sleep(max(0.0, side.finished + wait - time.monotonic()))
    client = side.stack.redis.client()
    for result in side.cases:
        added = list(side.added[result["name"]])
        with client.pipeline(transaction=False) as pipe:
            for key in added:
                pipe.exists(key)
            left = [key for key, there in zip(added, pipe.execute(), strict=True) if there]
        result["keys_left"] = len(left)
        result["keys_left_by_family"] = dict(collections.Counter(family(key) for key in left))
    unique_left = collections.Counter()
    leftover: list[str] = []
    for result in side.cases:
        if result["batch"]:
            unique_left.update(result["keys_left_by_family"])
            leftover += [key for key in side.added[result["name"]] if client.exists(key)]
    # What is still there must be on its way out: every key with a TTL, none beyond the fill window (60 s).
    with client.pipeline(transaction=False) as pipe:
        for key in leftover:
            pipe.pttl(key)
        ttls = [ttl for ttl in pipe.execute() if ttl != -2]  # -2: expired meanwhile
    return {
        "unique_keys_left_without_ttl": sum(1 for ttl in ttls if ttl == -1),
        "unique_keys_left_longest_ttl_ms": max((ttl for ttl in ttls if ttl >= 0), default=0),
        "dbsize_before_unique": side.before_unique,
        "dbsize_after_unique": side.after_unique,
        "dbsize_after_wait": client.dbsize(),
        "unique_keys_left": sum(unique_left.values()),
        "unique_keys_left_by_family": dict(unique_left),
    }


# --- report -------------------------------------------------------------------------------------------------------


def format_statuses(statuses: dict[str, int]) -> str:
    return ",".join(f"{status}x{n}" if n > 1 else status for status, n in sorted(statuses.items()))


def figures(side: dict) -> dict:
    cases = side["cases"]
    single = [c for c in cases if not c["batch"]]
    by_name = {c["name"]: c for c in cases}
    login = by_name["30 aliased tokenAuth guesses"]
    roles = next(c for c in cases if c["name"].startswith("roles as"))
    rss = [c["rss_growth_mb"] for c in cases if c["rss_growth_mb"] == c["rss_growth_mb"]]
    cpu = [c["cpu_max"] for c in single if c["cpu_max"] == c["cpu_max"]]
    return {
        "requests": sum(c["requests"] for c in cases),
        "server_errors": sum(c["server_errors"] for c in cases),
        "unclear": sum(c["unclear"] for c in cases),
        "cpu_max": max(cpu, default=float("nan")),
        "cpu_unknown": sum(c["cpu_max"] != c["cpu_max"] for c in single),
        "rss_max_mb": max(rss, default=float("nan")),
        "unique_keys_left": side["settled"]["unique_keys_left"],
        "dbsize_before_unique": side["settled"]["dbsize_before_unique"],
        "dbsize_after_wait": side["settled"]["dbsize_after_wait"],
        "password_checks": login["password_checks"],
        "login_statuses": login["statuses"],
        "roles_entries": roles["whole_response_entries"],
    }


def targets_met(f: dict) -> dict[str, bool]:
    return {
        "server_errors": f["server_errors"] == 0,
        "unclear": f["unclear"] == 0,
        "cpu_max": f["cpu_max"] <= TARGET_CPU_SECONDS and not f["cpu_unknown"],
        "rss_max_mb": f["rss_max_mb"] <= TARGET_RSS_MB,
        "unique_keys_left": f["unique_keys_left"] == 0 and f["dbsize_after_wait"] <= f["dbsize_before_unique"],
        "password_checks": f["password_checks"] < 30,
        "roles_entries": f["roles_entries"] == 1,
    }


def report(sides: dict[str, dict], labels: dict[str, str], args) -> None:
    names = list(sides)
    pair = " | ".join(labels[name] for name in names)

    def both(fn: Callable[[dict], object], name: str) -> str:
        cells = []
        for side in names:
            result = next((c for c in sides[side]["cases"] if c["name"] == name), None)
            cells.append("-" if result is None else str(fn(result)))
        return " | ".join(cells)

    def cpu(result: dict) -> str:
        value = f"{result['cpu_max']:.2f}" if result["cpu_max"] == result["cpu_max"] else "?"
        return value + ("+" if "timeout" in result["statuses"] else "")

    def rss(result: dict) -> str:
        return f"{result['rss_growth_mb']:.1f}" if result["rss_growth_mb"] == result["rss_growth_mb"] else "killed"

    print()
    print(f"per case ({pair}); CPU: max per request, or the mean for the unique ones; + : cut off after "
          f"{args.timeout:g} s")  # fmt: skip
    rows = []
    for result in sides[names[0]]["cases"]:
        name = result["name"]
        rows.append([
            name,
            result["expect"],
            both(lambda r: format_statuses(r["statuses"]), name),
            both(cpu, name),
            both(rss, name),
            both(lambda r: r["keys_added"], name),
            both(lambda r: f"{r['bytes_added'] / 1024:.0f}", name),
            both(lambda r: r["keys_left"], name),
            verdict(result["unclear"] == 0 and result["server_errors"] == 0 and cpu_ok(result) and rss_ok(result)),
        ])  # fmt: skip
    print_table(
        ["case", "expect", "status", "worker CPU s", "RSS growth MB", "Redis keys +", "Redis KB +",
         f"keys left +{args.wait:g} s", f"{labels[names[0]]}"],
        rows,
    )  # fmt: skip
    head = sides[names[0]]
    codes = {c["name"]: c["codes"] for c in head["cases"] if c["codes"]}
    print(f"\nerror codes ({labels[names[0]]}): " + "; ".join(f"{n}: {format_statuses(c)}" for n, c in codes.items()))
    for side in names:
        left = sides[side]["settled"]["unique_keys_left_by_family"]
        print(f"keys the unique requests left after {args.wait:g} s ({labels[side]}): "
              + (", ".join(f"{fam} {n:,}" for fam, n in sorted(left.items())) or "none"))  # fmt: skip

    values = {side: figures(sides[side]) for side in names}
    met = targets_met(values[names[0]])

    def row(title: str, key: str, target: str, fmt: Callable[[dict], str]) -> list[str]:
        return [title, *(fmt(values[side]) for side in names), target, verdict(met[key])]

    print()
    print_table(
        ["figure", *(labels[side] for side in names), "target", "verdict"],
        [
            row("answered 5xx, cut off or unanswered", "server_errors", "0", lambda f: str(f["server_errors"])),
            row("requests neither a clear 4xx nor their normal answer", "unclear", "0", lambda f: str(f["unclear"])),
            row("worker CPU of one request, max (s)", "cpu_max", f"<= {TARGET_CPU_SECONDS:g}",
                lambda f: f"{f['cpu_max']:.2f}" + (f" ({f['cpu_unknown']} unknown)" if f["cpu_unknown"] else "")),
            row("lasting RSS growth of one case, max (MB)", "rss_max_mb", f"<= {TARGET_RSS_MB:g}",
                lambda f: f"{f['rss_max_mb']:.1f}"),
            row(f"keys of {args.unique:,} unique requests left after {args.wait:g} s", "unique_keys_left", "0",
                lambda f: f"{f['unique_keys_left']:,}"),
            row("Redis keys before the unique requests / after the wait", "unique_keys_left", "after <= before",
                lambda f: f"{f['dbsize_before_unique']:,} / {f['dbsize_after_wait']:,}"),
            row("passwords checked of 30 aliased guesses", "password_checks", "< 30",
                lambda f: f"{f['password_checks']} ({format_statuses(f['login_statuses'])})"),
            row(f"whole-response entries, roles as {args.users} users + anonymous", "roles_entries", "1",
                lambda f: str(f["roles_entries"])),
        ],
    )  # fmt: skip


def cpu_ok(result: dict) -> bool:
    return result["cpu_max"] <= TARGET_CPU_SECONDS  # NaN (the worker died) is not ok


def rss_ok(result: dict) -> bool:
    return result["rss_growth_mb"] <= TARGET_RSS_MB


def tree_label() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True)
    return f"head {head.strip()}" + ("+" if dirty.stdout.strip() else "")


def main(argv: Iterable[str] | None = None) -> None:
    parser = arguments(
        __doc__.splitlines()[0],
        unique=10_000,
        wait=65.0,
        ttl=5,
        timeout=30.0,
        users=100,
        errands=300,
        baseline_ref=BASELINE_REF,
    )
    args = parser.parse_args(argv)
    labels = {"head": tree_label()}
    if args.baseline_ref:
        labels["baseline"] = args.baseline_ref
    runs: dict[str, Side] = {}
    with contextlib.ExitStack() as exits:
        for name, label in labels.items():
            root = ROOT if name == "head" else exits.enter_context(source_tree(args.baseline_ref))
            runs[name] = run_side(label, root, args, exits)
        sides = {}
        for name, side in runs.items():
            sides[name] = {"label": labels[name], "settled": settle(side, args.wait), "cases": side.cases}
    report(sides, labels, args)
    met = targets_met(figures(sides["head"]))
    write_results(args.json, {"sides": sides, "figures": {n: figures(s) for n, s in sides.items()}, "met": met})
    if not all(met.values()):
        sys.exit(f"abuse bench: targets not met on {labels['head']}: {', '.join(k for k, ok in met.items() if not ok)}")


if __name__ == "__main__":
    main()
