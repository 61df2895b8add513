"""Family invalidation (one generation bump) next to a SCAN-based delete_pattern, as unrelated keys grow to 1M.

Starts its own redis-server on a free port (no persistence), so it never touches a Redis you care about.
Run: `python -m bench invalidation` (or `make bench` for every bench script).
"""

import datetime
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import redis

SIZES = (10_000, 100_000, 1_000_000)
FAMILY = "errand_list"
FAMILY_ENTRIES = 100  # cached pages of the family, so the scan has something to delete
BUMP_RUNS = 2_000
SCAN_RUNS = 5
TARGET_MS = 1.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_redis(port: int, workdir: str) -> subprocess.Popen:
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    # DEBUG POPULATE fills a million keys in about a second; Redis 7 only allows it when asked.
    cmd += ["--enable-debug-command", "local", "--dir", workdir]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            return proc
        except redis.ConnectionError:
            time.sleep(0.02)
    proc.kill()
    raise SystemExit("redis-server did not start")


def setup_django(port: int) -> None:
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "runam.settings")
    # The cache fails open: with the 100 ms production timeout a slow call under load would become a skipped
    # (and faster-looking) one. A bench must fail loudly instead.
    os.environ["REDIS_SOCKET_TIMEOUT"] = "10"
    import django

    django.setup()


def fill_family() -> None:
    from core.cache.manager import CacheManager

    for page in range(FAMILY_ENTRIES):
        CacheManager.set(f"{FAMILY}:page:{page}", {"page": page, "ids": list(range(20))}, ttl=600)


def time_ms(fn) -> float:
    start = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - start) / 1e6


def measure() -> tuple[float, float, float, int]:
    from core.cache.manager import CacheManager
    from core.cache.store import get_store

    store = get_store()
    fill_family()
    bumps = sorted(time_ms(lambda: CacheManager.invalidate(f"{FAMILY}:*")) for _ in range(BUMP_RUNS))
    assert CacheManager.get(f"{FAMILY}:page:0") is None, "a bumped family must not be served"
    scans, removed = [], 0
    for _ in range(SCAN_RUNS):
        fill_family()
        start = time.perf_counter_ns()
        removed = store.delete_pattern(f"{FAMILY}:*")
        scans.append((time.perf_counter_ns() - start) / 1e6)
    assert store.healthy, "the backend failed during the run: these figures would be of skipped calls"
    p99 = bumps[int(len(bumps) * 0.99) - 1]
    return statistics.median(bumps), p99, statistics.median(scans), removed


def header(port: int) -> None:
    server = redis.Redis(port=port).info("server")
    print(f"date: {datetime.datetime.now(datetime.UTC).isoformat(timespec='seconds')}")
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"redis-server {server['redis_version']}"
    )
    print(f"family {FAMILY}:* ({FAMILY_ENTRIES} entries); bump median of {BUMP_RUNS}, scan median of {SCAN_RUNS}\n")


def main() -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as workdir:
        proc = start_redis(port, workdir)
        try:
            setup_django(port)
            raw = redis.Redis(port=port)
            header(port)
            print(
                f"{'keys in db':>12}  {'invalidate (bump) median':>24}  {'p99':>8}  {'SCAN delete_pattern':>19}  ratio"
            )
            at_1m = None
            for size in SIZES:
                raw.execute_command("DEBUG", "POPULATE", size, "bench:unrelated")
                bump, p99, scan, removed = measure()
                dbsize = raw.dbsize()
                print(f"{dbsize:>12,}  {bump:>21.3f} ms  {p99:>5.3f} ms  {scan:>16.1f} ms  {scan / bump:>5.0f}x")
                assert removed == FAMILY_ENTRIES, f"delete_pattern removed {removed}, expected {FAMILY_ENTRIES}"
                at_1m = bump
            verdict = "met" if at_1m is not None and at_1m <= TARGET_MS else "NOT met"
            print(f"\ntarget: family invalidation <= {TARGET_MS:g} ms at 1M keys: {verdict} ({at_1m:.3f} ms median)")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
