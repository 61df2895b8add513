"""Freshness torture: writers through every path, readers through GraphQL on gunicorn with Redis, and a checker.

Writers, one thread per path, each owning its own rows (so a higher sequence number is a later commit):
  mutation  updateErrand (errand titles) and updateProfile (phones), through gunicorn with the owner's token
  save      ORM save() in this process (errand titles, alice's username)
  update    QuerySet.update() in this process (errand titles, bob's username)
  admin     Django admin change-form POSTs through gunicorn, signed in as staff (errand titles)
Readers: anonymous (the errand board, one errand, banks) and alice, bob and carol (me, myErrands, myEscrows).
Every write records when its call returned (it had committed), every read when it started; the checker (support.
History) counts reads that started after a write completed and still saw an older value. Signed-in reads are also
checked for cross-user leaks: another user's viewer, phone, errands or escrows.

A control writer changes one errand by raw SQL, which by design invalidates nothing: its stale reads are counted
apart, and must be found, or the checker proves nothing.

Run: `python -m bench freshness` (`--operations`, `--seconds` to change the bound).
"""

from __future__ import annotations

import collections
import itertools
import json
import random
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser

import requests

from bench.support import (
    GraphQLClient,
    History,
    Reply,
    Stack,
    Stopwatch,
    arguments,
    cache_counters,
    counter_delta,
    hit_rate,
    machine_line,
    print_table,
    setup_django,
    token_for,
    verdict,
    write_results,
)

PEOPLE = ("alice", "bob", "carol")
PER_PATH = 3  # errands each writer owns

BOARD = "{ errands(first: 50) { id title createdBy { id username } runner { id username } } }"
ERRAND = "query($id: ID!) { errand(id: $id) { id title createdBy { id username } } }"
BANKS = '{ banks(country: "NG") { name code } }'
ME = "{ me { id username profile { phone } } }"
MY_ERRANDS = "{ myErrands { id title createdBy { id username } runner { id username } } }"
MY_ESCROWS = "{ myEscrows { id payer { id username } payee { id username } errand { id title } } }"
QUERY_NAMES = {
    BOARD: "board",
    ERRAND: "errand",
    BANKS: "banks",
    ME: "me",
    MY_ERRANDS: "myErrands",
    MY_ESCROWS: "myEscrows",
}
UPDATE_ERRAND = (
    "mutation($id: ID!, $title: String!) { updateErrand(id: $id, input: {title: $title}) { errors { code } } }"
)
UPDATE_PROFILE = "mutation($phone: String!) { updateProfile(input: {phone: $phone}) { viewer { id } errors { code } } }"
NUMBER = re.compile(r"[#-](\d+)$")


def title(errand_id: int, seq: int) -> str:
    return f"torture {errand_id} #{seq}"


def phone(user_id: int, seq: int) -> str:
    return f"+99{user_id:04d}{seq:08d}"


def seq_of(text: str) -> int:
    """The sequence number a value carries; -1 for a value from before the run (older than every write)."""
    found = NUMBER.search(text)
    return int(found.group(1)) if found else -1


@dataclass
class Plan:
    users: dict[str, int]  # name -> id
    tokens: dict[int, str]  # user id -> bearer token
    creators: dict[int, int]  # errand id -> creator id
    targets: dict[str, list[int]]  # writer path -> errand ids it owns
    control: int  # the errand changed by raw SQL


def prepare(base_url: str) -> tuple[Plan, History]:
    """Pick each writer's rows among the newest 50 errands, then give every tracked value sequence number 0."""
    from accounts.models import User, UserProfile
    from core.management.commands.seed_demo import DEMO_PASSWORD
    from errands.models import Errand, ErrandStatus

    users = dict(User.objects.filter(username__in=PEOPLE).values_list("username", "id"))
    tokens = {uid: token_for(base_url, name, DEMO_PASSWORD) for name, uid in users.items()}
    board = list(Errand.objects.order_by("-created_at", "-id")[:50])
    editable = [e.pk for e in board if e.status == ErrandStatus.OPEN and e.created_by_id in tokens][:PER_PATH]
    others = [e.pk for e in board if e.pk not in editable]
    targets = {"mutation": editable}
    for n, path in enumerate(("save", "update", "admin")):
        targets[path] = others[n * PER_PATH : (n + 1) * PER_PATH]
    plan = Plan(users, tokens, {e.pk: e.created_by_id for e in board}, targets, others[3 * PER_PATH])
    history = History()
    for errand_id in [*itertools.chain(*targets.values()), plan.control]:
        Errand.objects.filter(pk=errand_id).update(title=title(errand_id, 0))
        history.wrote(("title", errand_id), 0, time.monotonic())
    for name, uid in users.items():
        User.objects.filter(pk=uid).update(username=f"{name}-0")
        history.wrote(("username", uid), 0, time.monotonic())
        UserProfile.objects.filter(user_id=uid).update(phone=phone(uid, 0))
        history.wrote(("phone", uid), 0, time.monotonic())
    return plan, history


class AdminForm(HTMLParser):
    """The fields of a Django admin form, as a browser would submit them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file", "image"):
            if a.get("type") not in ("checkbox", "radio") or "checked" in a:
                self.fields[name] = a.get("value") or ("on" if a.get("type") == "checkbox" else "")
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data


def admin_saved(response: requests.Response) -> bool:
    """A form the admin accepted redirects onwards; a redirect to the login page (a lost or foreign session) is a
    refusal, not a write."""
    return response.status_code == 302 and "/admin/login/" not in response.headers.get("Location", "")


def admin_session(base_url: str) -> requests.Session:
    from core.management.commands.seed_demo import ADMIN_PASSWORD, ADMIN_USERNAME

    session = requests.Session()
    login = f"{base_url}/admin/login/"
    form = AdminForm(session.get(login, timeout=30).text).fields
    form.update(username=ADMIN_USERNAME, password=ADMIN_PASSWORD, next="/admin/")
    response = session.post(login, data=form, allow_redirects=False, timeout=30)
    if not admin_saved(response):
        raise RuntimeError("admin login failed")
    return session


@dataclass
class Torture:
    base_url: str
    plan: Plan
    history: History
    watch: Stopwatch
    max_operations: int
    pause: float = 0.01  # mean seconds a writer sleeps between calls
    # Several app hosts (bench_cluster): thread n sends its requests to hosts[n % len(hosts)]; none: base_url.
    hosts: list[str] = field(default_factory=list)
    replies: list[tuple[float, Reply, str]] = field(default_factory=list)  # (started, reply, who)
    leaks: list[str] = field(default_factory=list)
    failures: collections.Counter = field(default_factory=collections.Counter)
    writes: collections.Counter = field(default_factory=collections.Counter)
    reads: int = 0
    # Per query: reads, whole-response hits, and "ideal" hits: reads whose answer is byte-identical to the previous
    # answer of the same query (same variables, same viewer) within its TTL, which a perfect cache would serve.
    by_query: collections.defaultdict = field(default_factory=lambda: collections.defaultdict(collections.Counter))
    last_answer: dict[tuple, tuple[str, float]] = field(default_factory=dict)
    # bench_faults quiets the app around a fault: while `gate` is clear, the loops named in `holding` (all: None)
    # wait before their next step.
    gate: threading.Event = field(default_factory=threading.Event)
    holding: frozenset[str] | None = None
    waiting: int = 0  # loops waiting at the gate
    alive: set[str] = field(default_factory=set)  # loops running
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.gate.set()

    # --- running --------------------------------------------------------------------------------------------------

    def url(self, n: int) -> str:
        return self.hosts[n % len(self.hosts)] if self.hosts else self.base_url

    def threads(self) -> list[threading.Thread]:
        # With several hosts the tokens (minted by base_url) and the admin's session (signed in on one host, saving
        # through the next) only work if every host shares the secret.
        loops = {
            "mutation": self.mutation_writer(self.url(0)),
            "save": self.save_writer(),
            "update": self.update_writer(),
            "admin": self.admin_writer(self.url(1), login_url=self.url(2)),
            "control": self.control_writer(),
            "board-1": self.anonymous_reader(0, self.url(3)),
            "board-2": self.anonymous_reader(1, self.url(4)),
            "errand": self.errand_reader(self.url(5)),
            **{name: self.user_reader(name, self.url(6 + n)) for n, name in enumerate(PEOPLE)},
        }
        return [threading.Thread(target=self.loop, args=(name, step), name=name) for name, step in loops.items()]

    def run(self) -> None:
        threads = self.threads()
        self.alive = {thread.name for thread in threads}
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(self.watch.deadline - time.monotonic(), 0) + 60)

    def loop(self, name: str, step) -> None:
        try:
            for n in itertools.count():
                if not self.watch.running() or self.history.operations >= self.max_operations:
                    return
                if not self.gate.is_set() and (self.holding is None or name in self.holding):
                    self.wait_at_gate()
                try:
                    step(n)
                except Exception as exc:  # counted and shown: a torture that hides its own failures proves nothing
                    self.fail(f"{name}: {type(exc).__name__}: {str(exc)[:120]}")
                    time.sleep(0.05)
        finally:
            with self._lock:
                self.alive.discard(name)
            from django.db import connection

            connection.close()

    def wait_at_gate(self) -> None:
        with self._lock:
            self.waiting += 1
        while not self.gate.wait(0.05) and self.watch.running():
            pass
        with self._lock:
            self.waiting -= 1

    def hold(self, names: frozenset[str] | None = None, timeout: float = 60) -> bool:
        """Stop the loops named (all: None) before their next step; True once none of them has a request in flight
        (False if one was still busy after `timeout` seconds)."""
        self.holding = names
        self.gate.clear()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.waiting >= len(self.alive if names is None else self.alive & names):
                    return True
            time.sleep(0.005)
        return False

    def release(self) -> None:
        self.gate.set()

    def pace(self) -> None:
        time.sleep(random.uniform(0, 2 * self.pause))

    def fail(self, what: str) -> None:
        with self._lock:
            self.failures[what] += 1

    def wrote(self, path: str, key: tuple, seq: int) -> None:
        self.history.wrote(key, seq, time.monotonic())
        with self._lock:
            self.writes[path] += 1

    def answer(self, reply: Reply, who: str) -> bool:
        self.replies.append((reply.started, reply, who))
        if reply.status != 200 or reply.errors:
            self.fail(f"{who}: HTTP {reply.status} {str(reply.errors)[:120]}")
            return False
        return True

    # --- writers --------------------------------------------------------------------------------------------------

    def mutation_writer(self, url: str):
        clients = {uid: GraphQLClient(url, token) for uid, token in self.plan.tokens.items()}
        errands, users = self.plan.targets["mutation"], list(self.plan.users.values())

        def step(n: int) -> None:
            if n % 3 == 2:
                uid = users[n // 3 % len(users)]
                key, variables, query = ("phone", uid), None, UPDATE_PROFILE
                seq = self.history.next_seq(key)
                variables = {"phone": phone(uid, seq)}
                client, payload = clients[uid], "updateProfile"
            else:
                errand_id = errands[n % len(errands)]
                key = ("title", errand_id)
                seq = self.history.next_seq(key)
                variables = {"id": str(errand_id), "title": title(errand_id, seq)}
                client, query, payload = clients[self.plan.creators[errand_id]], UPDATE_ERRAND, "updateErrand"
            reply = client.post(query, variables)
            if self.answer(reply, "mutation"):
                if reply.data[payload]["errors"]:
                    self.fail(f"{payload} refused: {reply.data[payload]['errors']}")
                else:
                    self.wrote("mutation", key, seq)
            self.pace()

        return step

    def save_writer(self):
        from accounts.models import User
        from errands.models import Errand

        return self._orm_writer("save", lambda pk, value: _save(Errand, pk, title=value),
                                lambda pk, value: _save(User, pk, username=value), "alice")  # fmt: skip

    def update_writer(self):
        from accounts.models import User
        from errands.models import Errand

        return self._orm_writer("update", lambda pk, value: Errand.objects.filter(pk=pk).update(title=value),
                                lambda pk, value: User.objects.filter(pk=pk).update(username=value), "bob")  # fmt: skip

    def _orm_writer(self, path: str, write_errand, write_user, person: str):
        errands, uid = self.plan.targets[path], self.plan.users[person]

        def step(n: int) -> None:
            if n % 4 == 3:
                key = ("username", uid)
                seq = self.history.next_seq(key)
                write_user(uid, f"{person}-{seq}")
            else:
                key = ("title", errands[n % len(errands)])
                seq = self.history.next_seq(key)
                write_errand(key[1], title(key[1], seq))
            self.wrote(path, key, seq)
            self.pace()

        return step

    def admin_writer(self, base_url: str, *, login_url: str):
        session = admin_session(login_url)
        errands = self.plan.targets["admin"]
        url = f"{base_url}/admin/errands/errand/{{}}/change/"
        forms = {pk: AdminForm(session.get(url.format(pk), timeout=30).text).fields for pk in errands}

        def step(n: int) -> None:
            errand_id = errands[n % len(errands)]
            key = ("title", errand_id)
            seq = self.history.next_seq(key)
            form = {**forms[errand_id], "title": title(errand_id, seq), "_save": "Save"}
            started = time.monotonic()
            response = session.post(url.format(errand_id), data=form, allow_redirects=False, timeout=30)
            self.replies.append(
                (started, Reply(response.status_code, {}, started, time.monotonic() - started), "admin")
            )
            if admin_saved(response):
                self.wrote("admin", key, seq)
            else:
                self.fail(f"admin POST answered {response.status_code}")
            self.pace()

        return step

    def control_writer(self):
        from django.db import connection

        from errands.models import Errand

        table = connection.ops.quote_name(Errand._meta.db_table)

        def step(n: int) -> None:
            key = ("control", self.plan.control)
            seq = self.history.next_seq(key)
            with connection.cursor() as cursor:
                cursor.execute(f"UPDATE {table} SET title = %s WHERE id = %s", [title(key[1], seq), key[1]])
            self.history.wrote(key, seq, time.monotonic(), counted=False)  # a control, not a checked operation
            time.sleep(0.1)

        return step

    # --- readers --------------------------------------------------------------------------------------------------

    def seen(self, data) -> list[tuple[tuple, int]]:
        """(key, sequence number) of every tracked value in a response, however deep."""
        found = []
        owned = {pk for pks in self.plan.targets.values() for pk in pks}
        people = set(self.plan.users.values())
        for node in _objects(data):
            pk = int(node["id"]) if "id" in node else None
            if "title" in node and pk in owned:
                found.append((("title", pk), seq_of(node["title"])))
            elif "title" in node and pk == self.plan.control:
                found.append((("control", pk), seq_of(node["title"])))
            if "username" in node and pk in people:
                found.append((("username", pk), seq_of(node["username"])))
            if "phone" in node and node["phone"].startswith("+99"):
                found.append((("phone", int(node["phone"][3:7])), int(node["phone"][7:])))
        return found

    def read(self, client: GraphQLClient, query: str, variables: dict | None, who: str) -> dict | None:
        reply = client.post(query, variables)
        if not self.answer(reply, who):
            return None
        self.history.read(reply.started, self.seen(reply.data), who)
        self.count_hit(query, variables, who, reply)
        with self._lock:
            self.reads += 1
        return reply.data

    def count_hit(self, query: str, variables: dict | None, who: str, reply: Reply) -> None:
        cache = (reply.body or {}).get("extensions", {}).get("cache", {})  # the server runs with GRAPHQL_CACHE_DEBUG
        ttl = min((f["ttl"] for f in cache.get("fields", ())), default=0)
        name = QUERY_NAMES.get(query, "other")
        answer = json.dumps(reply.data, sort_keys=True)
        key = (query, json.dumps(variables or {}, sort_keys=True), who)
        with self._lock:
            previous = self.last_answer.get(key)
            self.last_answer[key] = (answer, reply.started)
            counts = self.by_query[name]
            counts["reads"] += 1
            counts["hits"] += cache.get("operation") == "HIT"
            counts["ideal"] += previous is not None and previous[0] == answer and reply.started - previous[1] <= ttl

    def anonymous_reader(self, offset: int, url: str):
        client = GraphQLClient(url)

        def step(n: int) -> None:
            self.read(client, BANKS if (n + offset) % 5 == 4 else BOARD, None, "anonymous")

        return step

    def errand_reader(self, url: str):
        client = GraphQLClient(url)
        owned = [pk for pks in self.plan.targets.values() for pk in pks]

        def step(n: int) -> None:
            errand_id = self.plan.control if n % 2 else owned[n // 2 % len(owned)]
            self.read(client, ERRAND, {"id": str(errand_id)}, "anonymous")

        return step

    def user_reader(self, name: str, url: str):
        uid = self.plan.users[name]
        client = GraphQLClient(url, self.plan.tokens[uid])
        queries = (ME, MY_ERRANDS, MY_ESCROWS)

        def step(n: int) -> None:
            data = self.read(client, queries[n % 3], None, name)
            if data is not None:
                self.leaks += [f"{name} saw {leak}" for leak in _leaks(data, uid)]

        return step


def _save(model, pk: int, **values) -> None:
    row = model.objects.get(pk=pk)
    for name, value in values.items():
        setattr(row, name, value)
    row.save()


def _objects(data):
    """Every dict in a JSON document, depth first."""
    if isinstance(data, dict):
        yield data
        for value in data.values():
            yield from _objects(value)
    elif isinstance(data, list):
        for value in data:
            yield from _objects(value)


def _leaks(data: dict, uid: int) -> list[str]:
    """What a viewer's private answer shows of someone else."""
    leaks = []
    me = data.get("me")
    if me is not None and (int(me["id"]) != uid or int(me["profile"]["phone"][3:7]) != uid):
        leaks.append(f"viewer {me}")
    for errand in data.get("myErrands") or []:
        if uid not in {int(errand["createdBy"]["id"]), int((errand["runner"] or {"id": 0})["id"])}:
            leaks.append(f"errand {errand['id']}")
    for escrow in data.get("myEscrows") or []:
        if uid not in {int(escrow["payer"]["id"]), int(escrow["payee"]["id"])}:
            leaks.append(f"escrow {escrow['id']}")
    return leaks


def summarize(torture: Torture, since: float, until: float, counters: dict[str, int]) -> dict:
    stale = torture.history.stale(since, until)
    statuses = collections.Counter(reply.status for _, reply, _ in torture.replies)
    return {
        "operations": sum(torture.writes.values()) + torture.reads,
        "seconds": round(until - since, 1),
        "reads": torture.reads,
        "writes": dict(torture.writes),
        "stale": sum(1 for s in stale if s.key[0] != "control"),
        "stale_examples": [vars(s) for s in stale if s.key[0] != "control"][:5],
        "control_stale": sum(1 for s in stale if s.key[0] == "control"),
        "leaks": len(torture.leaks),
        "leak_examples": torture.leaks[:5],
        "server_errors": sum(n for status, n in statuses.items() if status >= 500),
        "failures": dict(torture.failures.most_common(10)),
        "hit_rate": hit_rate(counters),
        "by_query": {name: dict(counts) for name, counts in sorted(torture.by_query.items())},
    }


def report(phases: dict[str, dict], history: History, target_operations: int) -> bool:
    print()
    print_table(
        ["phase", "seconds", "operations", "reads", "writes (mutation/save/update/admin)", "hit rate", "stale",
         "leaks", "5xx", "control stale"],
        [
            [name, r["seconds"], f"{r['operations']:,}", f"{r['reads']:,}",
             "/".join(str(r["writes"].get(p, 0)) for p in ("mutation", "save", "update", "admin")),
             f"{r['hit_rate']:.0%}", r["stale"], r["leaks"], r["server_errors"], r["control_stale"]]
            for name, r in phases.items()
        ],
    )  # fmt: skip
    total = {key: sum(r[key] for r in phases.values()) for key in ("operations", "stale", "leaks", "server_errors")}
    control = sum(r["control_stale"] for r in phases.values())
    rows = [
        ["operations (reads + writes)", f"{total['operations']:,}", f">= {target_operations:,}",
         verdict(total["operations"] >= target_operations)],
        ["values checked in reads", f"{len(history.reads):,}", "", ""],
        ["stale reads", total["stale"], "0", verdict(total["stale"] == 0)],
        ["cross-user leaks (alice, bob, carol)", total["leaks"], "0", verdict(total["leaks"] == 0)],
        ["5xx responses", total["server_errors"], "0", verdict(total["server_errors"] == 0)],
        ["control: stale reads after raw SQL (checker works)", control, "> 0", verdict(control > 0)],
    ]  # fmt: skip
    print()
    print("whole-response hits against the ideal (reads answered exactly as the previous read of the same query,")
    print("within its TTL: what a perfect cache would serve):")
    print_table(
        ["phase", "query", "reads", "hit rate", "ideal", "hit / ideal"],
        [
            [phase, name, c["reads"], f"{c['hits'] / c['reads']:.0%}", f"{c['ideal'] / c['reads']:.0%}",
             f"{c['hits'] / c['ideal']:.2f}" if c["ideal"] else "-"]
            for phase, r in phases.items()
            for name, c in r["by_query"].items()
            if c["reads"]
        ],
    )  # fmt: skip
    print()
    print_table(["figure", "value", "target", "verdict"], rows)
    for r in phases.values():
        for example in r["stale_examples"] + r["leak_examples"]:
            print(f"  e.g. {example}")
        for failure, count in r["failures"].items():
            print(f"  failed {count}x: {failure}")
    return (
        total["operations"] >= target_operations
        and control > 0
        and not any(total[key] for key in ("stale", "leaks", "server_errors"))
    )


def run_phases(stack: Stack, base_url: str, plan: Plan, history: History, operations: int, seconds: float) -> dict:
    """A write-heavy phase, where writes race nearly every fill, then a read-mostly one, where entries live long
    enough to be served between writes: both ways to go wrong, one after the other. A fill is stored only if no
    tracked model was written while it computed, so at the write-heavy rate almost nothing is cached."""
    phases = {}
    for name, pause, share in (("write-heavy", 0.005, 1 / 3), ("read-mostly", 2.0, 2 / 3)):
        before, since = cache_counters(stack.redis.client()), time.monotonic()
        bound = history.operations + round(operations * share)
        torture = Torture(base_url, plan, history, Stopwatch(seconds * share), bound, pause)
        torture.run()
        until = time.monotonic()
        phases[name] = summarize(torture, since, until, counter_delta(before, cache_counters(stack.redis.client())))
    return phases


def main(argv: list[str] | None = None) -> None:
    args = arguments(__doc__.splitlines()[0], operations=10_000, seconds=300, errands=300).parse_args(argv)
    with Stack.open(errands=args.errands) as stack:
        server = stack.server(GRAPHQL_CACHE_DEBUG=True)  # extensions.cache says HIT or MISS per read
        setup_django(stack.env())
        print(machine_line(stack.db_url, stack.redis.client()))
        print(
            f"{args.errands} errands, {PER_PATH} per writer; at most {args.operations:,} operations or {args.seconds} s"
        )
        plan, history = prepare(server.url)
        phases = run_phases(stack, server.url, plan, history, args.operations, args.seconds)
    ok = report(phases, history, args.operations)
    write_results(args.json, phases)
    if not ok:
        sys.exit("freshness torture failed")


if __name__ == "__main__":
    main()
