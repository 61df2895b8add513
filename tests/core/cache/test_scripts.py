"""A decorated function in a plain script (`python script.py`, whose module is `__main__`) caches too."""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from core.cache.conf import key_prefix

SCRIPT = """
import json, os
import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "runam.settings")
django.setup()

from core.cache import cache_result

calls = []


@cache_result(timeout=60)
def double(value):
    calls.append(value)
    return value * 2


print(json.dumps({"results": [double(5), double(5)], "calls": len(calls), "key": double.key(5)}))
"""


def test_a_function_of_a_plain_script_caches_under_the_script_name(tmp_path):
    # given
    script = tmp_path / "nightly_report.py"
    script.write_text(SCRIPT)
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(settings.BASE_DIR)),
        "DJANGO_ENV": "test",
        "CACHE_LOCMEM_JOURNAL": "",
        "REDIS_URL": "",
    }

    # when
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)

    # then
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout.strip().splitlines()[-1])
    assert output == {"results": [10, 10], "calls": 1, "key": f"{key_prefix()}:nightly_report.double:5"}
