"""The default configuration (REDIS_URL unset: local memory, one cache per process) and a management command
in another process: its writes reach the server's cache through the LocMem journal.

End to end: a real `runserver` and a real `manage.py shell -c` on a temporary SQLite file.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from port_for import get_port

ROOT = Path(__file__).resolve().parents[3]
QUERY = '{ errand(id: "1") { title } }'


def _env(db: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env.update(DATABASE_URL=f"sqlite:///{db}", DJANGO_ENV="local", DJANGO_DEBUG="false", CACHE_ENABLED="true")
    return env


def _manage(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )


def _title(port: int) -> str:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql/",
        data=json.dumps({"query": QUERY}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["data"]["errand"]["title"]


@pytest.fixture
def server(tmp_path):
    env = _env(tmp_path / "db.sqlite3")
    _manage(env, "migrate", "--noinput", "-v", "0")
    _manage(
        env,
        "shell",
        "-c",
        "from core.factories import ErrandFactory; ErrandFactory(title='before')",
    )
    port = get_port(None)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                _title(port)
                break
            except OSError:
                time.sleep(0.1)
        yield env, port
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_a_management_command_write_reaches_the_servers_cache(server):
    env, port = server
    assert _title(port) == "before"  # cached by the server
    # when: a write by a management command in its own process (ORM save: post_save, on_commit bump)
    _manage(
        env,
        "shell",
        "-c",
        "from errands.models import Errand; e = Errand.objects.get(pk=1); e.title = 'after'; e.save()",
    )
    # then
    assert _title(port) == "after"
