"""The CI subset of bench/: each test runs a bench script at a small scale in its own process and asserts counts.

A separate process, as `python -m bench` runs them: the script starts its own redis-server, scratch database and
gunicorn, and configures Django for them, which cannot happen inside this test process (its Django is already set
up for the test database). So the subset runs the very code the benches run, across real processes.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_script(script: str, *args: str, results: Path) -> dict:
    """Run bench/<script>.py with args; its results (its --json)."""
    env = {
        **os.environ,
        # The suite's database server (PostgreSQL when DATABASE_URL says so) hosts the scratch database.
        "BENCH_DATABASE_URL": os.environ.get("DATABASE_URL") or "sqlite://",
        "BENCH_FAST_PASSWORD_HASHER": "true",
    }
    command = [sys.executable, "-m", f"bench.{script}", *args, "--json", str(results)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert results.exists(), f"{script} wrote no results:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return json.loads(results.read_text())


@pytest.fixture
def run_bench(tmp_path):
    """run_bench("bench_fuzz", "--cases", "200") -> the script's results."""
    return lambda script, *args: run_script(script, *args, results=tmp_path / "results.json")
