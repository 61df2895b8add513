"""What every bench script shares, in one place: its own redis-server and gunicorn on free loopback ports, a scratch
database with seed data, a GraphQL client, wrk, percentiles, tables and the machine line.

Nothing here touches a server it did not start: Redis, the database and gunicorn are created per run and removed
after it. tests/bench/ runs the same scripts at a small scale, so the CI subset exercises exactly this code.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import contextlib
import datetime
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# The machine this project runs on has PostgreSQL here (as CI does); BENCH_DATABASE_URL=sqlite:// for a temp file.
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"
WORKERS = 2
# gthread, not sync: sync workers close every connection (no keep-alive), so a load generator would mostly measure
# TCP set-up, and two sync workers can never hold 64 requests at once (bench_stampede). Threads per worker:
THREADS = 32
RUN_SECRET = secrets.token_urlsafe(32)
# What the hostile-input and GraphQL-over-HTTP benches measure against by default: the head before that work.
BASELINE_REF = "e71ed33"
SERVER_ENV_DROP = ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE", "CACHE_ENABLED", "GRAPHQL_CACHE_DEBUG")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if predicate():
                return
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")


# --- redis-server -------------------------------------------------------------------------------------------------


class RedisServer:
    """A redis-server of our own. persist=True saves on shutdown and loads on start, so a restart brings old
    entries back: the hard case for invalidations lost during an outage."""

    def __init__(
        self, workdir: Path, *, persist: bool = False, debug_commands: bool = False, options: Sequence[str] = ()
    ) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.persist = persist
        self.debug_commands = debug_commands
        self.options = list(options)  # more redis-server options, e.g. ["--replicaof", "127.0.0.1", "6380"]
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=10)

    def start(self) -> RedisServer:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir)]
        cmd += ["--save", "3600 1" if self.persist else "", "--appendonly", "no", "--logfile", "redis.log"]
        if self.debug_commands:
            cmd += ["--enable-debug-command", "local"]
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([*cmd, *self.options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self.client().ping, 10, f"redis-server on port {self.port}")
        return self

    def kill(self) -> None:
        """SIGKILL: a crash; nothing is saved, so a restart loads the last snapshot (persist) or starts empty."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> None:
        """SIGTERM: with persist, redis saves its data first (as a clean shutdown in production would)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        self.proc = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(eq=False)
class LocalNode:
    """One redis-server of a LocalCluster."""

    port: int
    bus_port: int
    workdir: Path
    proc: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=10)


class LocalCluster:
    """A Redis Cluster of our own: `masters` masters with `replicas` replicas each, every node on two free loopback
    ports (its own and its cluster bus: `cluster-port`, so no port needs room above it), in a temp dir, no
    persistence. The tests' cluster fixture and bench_cluster both start it; kill() is a master's crash."""

    def __init__(self, workdir: Path, *, masters: int = 3, replicas: int = 1, node_timeout_ms: int = 3000) -> None:
        self.workdir = workdir
        self.masters_count = masters
        self.replicas = replicas
        self.node_timeout_ms = node_timeout_ms
        ports = _free_ports(2 * masters * (1 + replicas))
        self.nodes = [
            LocalNode(ports[2 * n], ports[2 * n + 1], workdir / f"node-{ports[2 * n]}")
            for n in range(masters * (1 + replicas))
        ]

    @property
    def addresses(self) -> list[str]:
        return [node.address for node in self.nodes]

    @property
    def url(self) -> str:
        """One node, as REDIS_URL names it when REDIS_CLUSTER=true."""
        return f"redis://{self.nodes[0].address}/0"

    def start(self) -> LocalCluster:
        for node in self.nodes:
            node.workdir.mkdir(parents=True, exist_ok=True)
            cmd = ["redis-server", "--port", str(node.port), "--bind", "127.0.0.1", "--dir", str(node.workdir)]
            cmd += ["--cluster-enabled", "yes", "--cluster-port", str(node.bus_port)]
            cmd += ["--cluster-config-file", "nodes.conf", "--cluster-node-timeout", str(self.node_timeout_ms)]
            cmd += ["--save", "", "--appendonly", "no", "--logfile", "redis.log"]
            node.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for node in self.nodes:
                wait_until(node.client().ping, 10, f"redis-server on port {node.port}")
            create = ["redis-cli", "--cluster", "create", *self.addresses]
            create += ["--cluster-replicas", str(self.replicas), "--cluster-yes"]
            done = subprocess.run(create, capture_output=True, text=True, timeout=60, check=False)
            if done.returncode:
                raise RuntimeError(f"redis-cli --cluster create failed:\n{done.stdout[-2000:]}\n{done.stderr}")
            wait_until(self.ready, 30, "the cluster to cover every slot with its replicas in sync", interval=0.1)
        except BaseException:
            self.stop()
            raise
        return self

    def ready(self) -> bool:
        """Every live node sees state ok, and each master has its replicas, in sync."""
        live = self.live()
        if any(node.client().cluster("info")["cluster_state"] != "ok" for node in live):
            return False
        masters = self.masters()
        return len(masters) == self.masters_count and all(
            int(node.client().info("replication").get("connected_slaves", 0)) >= self.replicas for node in masters
        ) and all(
            node.client().info("replication").get("master_link_status") == "up"
            for node in live
            if node not in masters
        )  # fmt: skip

    def masters(self) -> list[LocalNode]:
        """The live masters that serve slots, as a live node sees the cluster."""
        return list(self.slots())

    def master_of(self, key: str) -> LocalNode:
        slot = self.live()[0].client().cluster("keyslot", key)
        for node, ranges in self.slots().items():
            if any(low <= slot <= high for low, high in ranges):
                return node
        raise RuntimeError(f"no live master serves slot {slot}")

    def live(self) -> list[LocalNode]:
        """The nodes whose process runs."""
        return [node for node in self.nodes if node.proc is not None and node.proc.poll() is None]

    def slots(self) -> dict[LocalNode, list[tuple[int, int]]]:
        """The slot ranges of each live master, as a live node sees the cluster."""
        by_port = {node.port: node for node in self.live()}
        seen = next(iter(by_port.values())).client().cluster("nodes")
        found = {}
        for address, info in seen.items():
            port = int(address.split("@")[0].rsplit(":", 1)[1])
            if "master" in info["flags"] and "fail" not in info["flags"] and info["slots"] and port in by_port:
                found[by_port[port]] = [(int(low), int(high)) for low, high in info["slots"]]
        return found

    def kill(self, node: LocalNode) -> None:
        """SIGKILL: a crash, nothing saved, no goodbye to the cluster."""
        if node.proc is not None and node.proc.poll() is None:
            node.proc.kill()
            node.proc.wait(timeout=30)

    def flush(self) -> None:
        for node in self.masters():
            node.client().flushall()

    def stop(self) -> None:
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.terminate()
        for node in self.nodes:
            if node.proc is not None:
                try:
                    node.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    node.proc.kill()
                    node.proc.wait()
            node.proc = None

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LocalSentinel:
    """Redis Sentinel of our own: a master, `replicas` replicas and `sentinels` sentinels that monitor it as
    `service` (quorum 1 unless told, so one sentinel is enough to fail over), all on free loopback ports, in a temp
    dir, no persistence. The tests' sentinel fixture and the fault bench start it; kill() is a crash, failover() a
    forced failover (`SENTINEL FAILOVER`, no agreement needed). django-redis keeps one pool per process and URL
    (`redis://<service>/0`): give each set-up in one process its own service name."""

    def __init__(
        self,
        workdir: Path,
        *,
        service: str = "runam",
        replicas: int = 1,
        sentinels: int = 1,
        down_after_ms: int = 1000,
        quorum: int = 1,
    ) -> None:
        self.SERVICE = service
        self.workdir = workdir
        self.down_after_ms = down_after_ms
        self.quorum = quorum
        ports = _free_ports(1 + replicas + sentinels)
        self.nodes = [LocalNode(port, 0, workdir / f"node-{port}") for port in ports[: 1 + replicas]]
        self.sentinels = [LocalNode(port, 0, workdir / f"sentinel-{port}") for port in ports[1 + replicas :]]

    @property
    def addresses(self) -> list[str]:
        """The sentinels, as REDIS_SENTINELS lists them."""
        return [node.address for node in self.sentinels]

    def start(self) -> LocalSentinel:
        master = self.nodes[0]
        try:
            for node in self.nodes:
                node.workdir.mkdir(parents=True, exist_ok=True)
                cmd = ["redis-server", "--port", str(node.port), "--bind", "127.0.0.1", "--dir", str(node.workdir)]
                cmd += ["--save", "", "--appendonly", "no", "--logfile", "redis.log"]
                cmd += ["--repl-diskless-sync-delay", "0"]  # a replica syncs at once, not after 5 s
                if node is not master:
                    cmd += ["--replicaof", "127.0.0.1", str(master.port)]
                node.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for node in self.nodes:
                wait_until(node.client().ping, 10, f"redis-server on port {node.port}")
            wait_until(lambda: self._in_sync(master), 30, "the replicas to sync")
            for node in self.sentinels:
                node.workdir.mkdir(parents=True, exist_ok=True)
                conf = node.workdir / "sentinel.conf"
                conf.write_text(
                    f"port {node.port}\nbind 127.0.0.1\ndir {node.workdir}\nlogfile sentinel.log\n"
                    f"sentinel monitor {self.SERVICE} 127.0.0.1 {master.port} {self.quorum}\n"
                    f"sentinel down-after-milliseconds {self.SERVICE} {self.down_after_ms}\n"
                    f"sentinel failover-timeout {self.SERVICE} 10000\n"
                )
                cmd = ["redis-server", str(conf), "--sentinel"]
                node.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for node in self.sentinels:
                wait_until(lambda node=node: self._sees_replicas(node), 30, f"sentinel on port {node.port}")
        except BaseException:
            self.stop()
            raise
        return self

    def _in_sync(self, master: LocalNode) -> bool:
        """Every replica has loaded the master's data, and the master counts it online (ROLE lists it)."""
        replicas = [node for node in self.nodes if node is not master]
        linked = all(node.client().info("replication").get("master_link_status") == "up" for node in replicas)
        return linked and len(master.client().execute_command("ROLE")[2]) >= len(replicas)

    def _sees_replicas(self, sentinel: LocalNode) -> bool:
        return len(sentinel.client().sentinel_slaves(self.SERVICE)) >= len(self.nodes) - 1

    def master(self) -> LocalNode:
        """The node the sentinels name as master now."""
        _, port = self.sentinels[0].client().sentinel_get_master_addr_by_name(self.SERVICE)
        return next(node for node in self.nodes if node.port == int(port))

    def failover(self) -> LocalNode:
        """Force a failover and wait until a replica is master and the sentinels say so; returns the new master."""
        old = self.master()

        def started() -> bool:
            # NOGOODSLAVE until the sentinel has fresh INFO from a replica (it refreshes every few seconds)
            return self.sentinels[0].client().execute_command("SENTINEL", "FAILOVER", self.SERVICE)

        wait_until(started, 30, "the sentinel to accept the failover", interval=0.2)
        wait_until(lambda: self.master() is not old and self.master().client().info("replication")["role"] == "master",
                   30, "the failover")  # fmt: skip
        return self.master()

    def kill(self, node: LocalNode) -> None:
        """SIGKILL: a crash, nothing saved."""
        if node.proc is not None and node.proc.poll() is None:
            node.proc.kill()
            node.proc.wait(timeout=30)

    def stop(self) -> None:
        for node in [*self.sentinels, *self.nodes]:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.kill()
                node.proc.wait(timeout=30)
            node.proc = None

    def __enter__(self) -> LocalSentinel:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _free_ports(count: int) -> list[int]:
    """Distinct free ports, all held open until every one is chosen (so no two are the same)."""
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
        return ports


# --- database -----------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def scratch_database(admin_url: str | None = None) -> Iterator[str]:
    """The URL of a new, empty database, dropped afterwards: a temp file for sqlite, CREATE DATABASE on PostgreSQL."""
    admin_url = admin_url or os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL
    if admin_url.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="runam-bench-db-") as tmp:
            # IMMEDIATE: a write transaction takes the lock up front instead of failing to upgrade a read lock.
            yield f"sqlite:///{tmp}/bench.db?timeout=30&transaction_mode=IMMEDIATE"
        return
    import psycopg

    name = f"runam_bench_{os.getpid()}_{secrets.token_hex(3)}"
    parts = urlsplit(admin_url)
    admin = urlunsplit(parts._replace(scheme="postgresql"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(env: dict[str, str], *args: str, root: Path = ROOT) -> str:
    """manage.py of the tree at `root` (this one, or another commit's from source_tree)."""
    done = subprocess.run(
        [str(BIN / "python"), "manage.py", *args], cwd=root, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def prepare_database(env: dict[str, str], errands: int, root: Path = ROOT) -> None:
    """Migrate and seed the demo data (alice, bob, carol, admin, `errands` errands with escrows)."""
    manage(env, "migrate", "--noinput", root=root)
    manage(env, "seed_demo", "--errands", str(errands), root=root)
    url = env["DATABASE_URL"]
    if url.startswith("sqlite"):
        # WAL (persistent in the file): readers never block the writer, so concurrent benches see no lock errors.
        path = urlsplit(url).path
        with contextlib.closing(sqlite3.connect(path)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")


def server_env(db_url: str, redis_url: str | None, **overrides: Any) -> dict[str, str]:
    """The environment of our servers and of Django in the bench process: production settings, no debug."""
    env = {k: v for k, v in os.environ.items() if k not in SERVER_ENV_DROP}
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        DJANGO_ENV="production",
        # One secret per bench run: every server of the run must accept the tokens and sessions of the others.
        DJANGO_SECRET_KEY=RUN_SECRET,
        # Plain HTTP on loopback: no redirect to HTTPS, and cookies that clients send back over HTTP (admin login).
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_SESSION_COOKIE_SECURE="false",
        DJANGO_CSRF_COOKIE_SECURE="false",
        DATABASE_URL=db_url,
        GRAPHQL_CACHE_DEBUG="false",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(
        {name: str(value).lower() if isinstance(value, bool) else str(value) for name, value in overrides.items()}
    )
    return env


def setup_django(env: dict[str, str]) -> None:
    """Configure Django in this process as the servers are, for writers that go through the ORM."""
    os.environ.update(env)
    import django

    django.setup()


# --- gunicorn -----------------------------------------------------------------------------------------------------


@dataclass
class Gunicorn:
    env: dict[str, str]
    logfile: Path
    threads: int = THREADS
    workers: int = WORKERS
    root: Path = ROOT  # the tree it serves: this one, or another commit's (source_tree)
    worker_class: str = "gthread"  # or "sync", gunicorn's default: one request at a time, no keep-alive
    port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Gunicorn:
        self.port = free_port()
        cmd = [str(BIN / "gunicorn"), "runam.wsgi:application", "--bind", f"127.0.0.1:{self.port}"]
        cmd += ["--workers", str(self.workers), "--worker-class", self.worker_class]
        cmd += ["--threads", str(self.threads)] if self.worker_class == "gthread" else []
        # No control socket: its default path is shared by every gunicorn on the machine.
        cmd += ["--keep-alive", "30", "--no-control-socket", "--log-level", "warning"]
        with self.logfile.open("ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.root, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        probe = f"{self.url}/graphql/?query=%7B__typename%7D"
        try:
            wait_until(lambda: requests.get(probe, timeout=2).status_code == 200, 60, "gunicorn")
        except RuntimeError:
            self.stop()
            raise RuntimeError(f"gunicorn did not start:\n{self.logfile.read_text()[-3000:]}") from None
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Stack:
    """A scratch database with seed data and a redis-server, ready for servers (see Stack.open)."""

    workdir: Path
    db_url: str
    redis: RedisServer
    root: Path = ROOT
    servers: list[Gunicorn] = field(default_factory=list)

    def env(self, *, with_redis: bool = True, **overrides: Any) -> dict[str, str]:
        return server_env(self.db_url, self.redis.url if with_redis else None, **overrides)

    def server(
        self,
        *,
        with_redis: bool = True,
        threads: int = THREADS,
        workers: int = WORKERS,
        worker_class: str = "gthread",
        **overrides: Any,
    ) -> Gunicorn:
        env = self.env(with_redis=with_redis, **overrides)
        server = Gunicorn(env, self.workdir / "gunicorn.log", threads, workers, self.root, worker_class)
        self.servers.append(server)
        return server.start()

    @classmethod
    @contextlib.contextmanager
    def open(cls, *, errands: int, persist: bool = False, root: Path = ROOT) -> Iterator[Stack]:
        """`root`: the tree whose migrations, seed and servers run (another commit's from source_tree)."""
        with tempfile.TemporaryDirectory(prefix="runam-bench-") as tmp, scratch_database() as db_url:
            workdir = Path(tmp)
            with RedisServer(workdir, persist=persist) as server:
                stack = cls(workdir, db_url, server, root)
                prepare_database(stack.env(with_redis=False), errands, root)
                try:
                    yield stack
                finally:
                    for running in stack.servers:
                        running.stop()


IGNORE_CACHES = shutil.ignore_patterns("__pycache__", "*.pyc")


@contextlib.contextmanager
def source_tree(ref: str) -> Iterator[Path]:
    """The project as of git `ref`, in a temporary directory (`git archive`: the repository itself is untouched),
    with this tree's bench/ package laid over it so its servers run the same bench settings. For measuring a
    commit side by side with the working tree in one run."""
    with tempfile.TemporaryDirectory(prefix="runam-ref-") as tmp:
        archive = subprocess.run(["git", "archive", "--format=tar", ref], cwd=ROOT, capture_output=True, check=False)
        if archive.returncode:
            raise RuntimeError(f"git archive {ref} failed: {archive.stderr.decode(errors='replace')}")
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        shutil.copytree(ROOT / "bench", Path(tmp) / "bench", dirs_exist_ok=True, ignore=IGNORE_CACHES)
        yield Path(tmp)


# --- npm ----------------------------------------------------------------------------------------------------------


def npm_install(folder: Path, packages: Sequence[str]) -> None:
    """Install pinned npm packages into `folder` (a temporary one: nothing lands in the project)."""
    subprocess.run(["npm", "init", "-y"], cwd=folder, check=True, capture_output=True)
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--silent", *packages],
        cwd=folder,
        check=True,
        capture_output=True,
        timeout=300,
    )


# --- clients ------------------------------------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: dict | None
    started: float  # time.monotonic() just before sending
    elapsed: float  # seconds

    @property
    def data(self) -> dict:
        return (self.body or {}).get("data") or {}

    @property
    def errors(self) -> list:
        return (self.body or {}).get("errors") or []


class GraphQLClient:
    """One keep-alive connection; give each thread its own."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30) -> None:
        self.url = f"{base_url}/graphql/"
        self.session = requests.Session()
        self.timeout = timeout
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def post(self, query: str, variables: dict | None = None) -> Reply:
        payload = json.dumps({"query": query, "variables": variables or {}})
        started = time.monotonic()
        try:
            response = self.session.post(
                self.url, data=payload, headers={"Content-Type": "application/json"}, timeout=self.timeout
            )
        except requests.RequestException:
            return Reply(0, None, started, time.monotonic() - started)  # 0: no HTTP answer at all
        elapsed = time.monotonic() - started
        try:
            body = response.json()
        except ValueError:
            body = None
        return Reply(response.status_code, body, started, elapsed)


TOKEN_AUTH = "mutation($u: String!, $p: String!) { tokenAuth(username: $u, password: $p) { token errors { code } } }"


def token_for(base_url: str, username: str, password: str) -> str:
    reply = GraphQLClient(base_url).post(TOKEN_AUTH, {"u": username, "p": password})
    token = reply.data.get("tokenAuth", {}).get("token")
    if not token:
        raise RuntimeError(f"tokenAuth failed for {username}: {reply.body}")
    return token


# --- wrk ----------------------------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS_MS[unit]


def run_wrk(url: str, lua: str, *, seconds: int, connections: int, workdir: Path, threads: int = 1) -> WrkResult:
    """wrk (one thread unless told: the machine has two cores and the server needs them) for `seconds` against
    loopback."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError("load is only ever sent to 127.0.0.1")
    script = workdir / f"wrk-{secrets.token_hex(4)}.lua"
    script.write_text(lua)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency"]
    cmd += ["-s", str(script), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(
        requests=int(re.search(r"(\d+) requests in", out).group(1)),
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        # wrk leaves the distribution out when a run completed too few requests: reported as nan, not a crash.
        p50_ms=_ms(latency["50"]) if "50" in latency else float("nan"),
        p99_ms=_ms(latency["99"]) if "99" in latency else float("nan"),
        non_2xx=int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def wrk_post_script(body: str) -> str:
    """A wrk script POSTing one fixed JSON body."""
    return f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = {lua_string(body)}\n'


def lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


# --- figures ------------------------------------------------------------------------------------------------------


def cache_counters(redis_client: redis.Redis) -> dict[str, int]:
    """The servers' shared hit/miss/set counters (core.cache.stats), once their once-a-second flush has run."""
    time.sleep(1.5)
    return {name.decode(): int(value) for name, value in redis_client.hgetall("runam:_stats").items()}


def counter_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after.get(name, 0) - before.get(name, 0) for name in after}


def hit_rate(counters: dict[str, int]) -> float:
    hits = sum(n for name, n in counters.items() if name.endswith("|hit"))
    misses = sum(n for name, n in counters.items() if name.endswith("|miss"))
    return hits / (hits + misses) if hits + misses else 0.0


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def verdict(met: bool) -> str:
    return "met" if met else "NOT met"


def machine_line(
    db_url: str,
    redis_client: redis.Redis | None = None,
    *,
    workers: int = WORKERS,
    threads: int = THREADS,
    worker_class: str = "gthread",
) -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor() or "?",
    )
    redis_version = redis_client.info("server")["redis_version"] if redis_client else "-"
    database = "SQLite" if db_url.startswith("sqlite") else "PostgreSQL"
    return (
        f"date {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}; {platform.platform()}, "
        f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, redis-server {redis_version}, "
        f"{database}; gunicorn {workers} {worker_class} worker{'s' * (workers > 1)}"
        + (f" x {threads} threads" if worker_class == "gthread" else "")
    )


def arguments(description: str, **options: Any) -> argparse.ArgumentParser:
    """A parser with --json (results for tests/bench) and one --<name> per option, its default given."""
    parser = argparse.ArgumentParser(description=description)
    for name, default in options.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    parser.add_argument("--json", type=Path, help="also write the results here, as JSON")
    return parser


def write_results(path: Path | None, results: dict[str, Any]) -> None:
    if path is not None:
        path.write_text(json.dumps(results, indent=2, default=str))


class Stopwatch:
    """A deadline shared by threads: every loop of a bench is bounded in count and in time."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.stopped = threading.Event()

    def running(self) -> bool:
        return not self.stopped.is_set() and time.monotonic() < self.deadline

    def stop(self) -> None:
        self.stopped.set()


# --- the freshness rule -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stale:
    key: tuple
    seen: int
    required: int
    started: float
    reader: str


class History:
    """Versioned writes and the reads that saw them, checked against the freshness rule: a read that started after a
    write completed (its call returned, so it had committed) must see that write or a later one.

    A key is what one writer owns, e.g. ("title", 12); its values carry an increasing sequence number, and one thread
    writes a key at a time, so a later number is a later committed value. Times are time.monotonic() of one process.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.writes: dict[tuple, list[tuple[float, int]]] = {}
        self.reads: list[tuple[float, tuple, int, str]] = []
        self.operations = 0
        self._sequence: collections.Counter = collections.Counter()

    def next_seq(self, key: tuple) -> int:
        """The number the next write of `key` carries (failed writes use theirs up: numbers only grow)."""
        with self._lock:
            self._sequence[key] += 1
            return self._sequence[key]

    def wrote(self, key: tuple, seq: int, completed: float, *, counted: bool = True) -> None:
        with self._lock:
            self.writes.setdefault(key, []).append((completed, seq))
            self._sequence[key] = max(self._sequence[key], seq)
            self.operations += counted

    def read(self, started: float, seen: list[tuple[tuple, int]], reader: str) -> None:
        with self._lock:
            self.reads += [(started, key, seq, reader) for key, seq in seen]
            self.operations += 1

    def stale(self, since: float = float("-inf"), until: float = float("inf")) -> list[Stale]:
        """Reads started in [since, until) that missed a write completed before they started."""
        # One writer per key: completion times and numbers both increase along each key's list.
        times = {key: [done for done, _ in writes] for key, writes in self.writes.items()}
        found = []
        for started, key, seq, reader in self.reads:
            if not since <= started < until or key not in times:
                continue
            before = bisect.bisect_left(times[key], started)
            if before and seq < (required := self.writes[key][before - 1][1]):
                found.append(Stale(key, seq, required, started, reader))
        return found
