"""A decorated function during a Redis outage: computes, warns once, and serves nothing stale afterwards."""

import logging

from core.cache import cacheable
from core.cache.conf import key_prefix


def test_outage_computes_warns_once_and_serves_nothing_stale_after(restartable_redis, caplog):
    # given an entry cached before the outage
    source = {"title": "Buy bread"}
    calls = []

    @cacheable(key="errand:{{errand_id}}")
    def errand(errand_id):
        calls.append(1)
        return dict(source)

    errand(1)

    # when Redis stops: calls compute, one warning, and an invalidation is lost
    restartable_redis.stop()
    with caplog.at_level(logging.WARNING, logger="core.cache"):
        source["title"] = "Buy milk"
        assert [errand(1) for _ in range(3)] == [{"title": "Buy milk"}] * 3
        errand.invalidate(1)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "unreachable" in r.getMessage()]

    # then after a restart that kept the old entry, the old value is never served
    restartable_redis.start()
    assert restartable_redis.client().exists(f"{key_prefix()}:errand:1")  # the pre-outage entry is back
    assert errand(1) == {"title": "Buy milk"}
    assert len(warnings) == 1
    assert len(calls) == 5
