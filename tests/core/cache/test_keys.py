"""Key building: one function, every value escaped or hashed, nothing widens a pattern."""

import enum
import fnmatch
import functools
import re
import uuid
from datetime import date, datetime, time
from decimal import Decimal
from types import SimpleNamespace

import pytest
import redis
from django.core.cache import caches
from hypothesis import example, given, settings
from hypothesis import strategies as st

from accounts.models import Bank
from core.cache import CacheManager, cacheable, keys
from core.cache.keys import (
    family_from_pattern,
    family_of,
    gen_key,
    get_cache_key,
    lock_key,
    make_key,
    make_pattern,
    prefix_families,
    strip_prefix,
)

NASTY = ["*", "?", "[", "]", ":", "{{", "}}", "%", "~", " ", "\t\n", "\x00", "é", "用户", "🙂", "a" * 10_000, "_g"]
any_text = st.one_of(st.text(), st.sampled_from(NASTY), st.text(alphabet="*?[]:{}%~ \x00_\\", max_size=30))
KEY_CHARS = re.compile(r"^[A-Za-z0-9_.:@/%~-]+$")


def test_placeholders_are_filled_from_context_with_dotted_access():
    # given
    user = SimpleNamespace(id=42, profile={"lang": "en"})

    # when
    key = make_key("user:{{user.id}}:{{user.profile.lang}}:{{page}}", {"user": user, "page": 2})

    # then
    assert key == "runam:user:42:en:2"


def test_missing_name_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match="user_id"):
        make_key("user:{{user_id}}", {})


def test_template_starting_with_underscore_is_refused():
    with pytest.raises(ValueError, match="reserved"):
        make_key("_g:user")


def test_markers_for_none_and_booleans():
    assert make_key("x:{{a}}:{{b}}:{{c}}", {"a": None, "b": True, "c": False}) == "runam:x:~n:~t:~f"


def test_value_cannot_smuggle_segment_or_glob():
    key = make_key("user:{{id}}", {"id": "42:*"})

    assert key == "runam:user:42%3A%2A"
    assert prefix_families(key) == ["user", "user:42%3A%2A"]


def test_value_cannot_reach_the_internal_namespace():
    assert make_key("{{name}}:x", {"name": "_g"}) == "runam:%5Fg:x"
    assert get_cache_key("_epoch") == "runam:%5Fepoch"


def test_hash_params_ignore_dict_order_and_stay_short():
    first = make_key("search:{{filters}}", {"filters": {"a": 1, "b": [1, 2]}}, hash_params=["filters"])
    second = make_key("search:{{filters}}", {"filters": {"b": [1, 2], "a": 1}}, hash_params=["filters"])

    assert first == second
    assert re.fullmatch(r"runam:search:~[0-9a-f]{32}", first)


def test_hash_params_not_in_template_go_in_a_hashed_tail():
    one = make_key("search:{{q}}", {"q": "x", "page": 1}, hash_params=["page"])
    two = make_key("search:{{q}}", {"q": "x", "page": 2}, hash_params=["page"])

    assert one != two
    assert one.startswith("runam:search:x:~")


def test_long_values_and_long_keys_are_hashed():
    long_value = make_key("q:{{v}}", {"v": "a" * 65})
    long_key = make_key("x" * 300)

    assert re.fullmatch(r"runam:q:~[0-9a-f]{32}", long_value)
    assert len(long_key) <= 250
    assert long_key.startswith("runam:" + "x" * 194)


def test_template_literal_globs_are_escaped_in_keys_but_kept_in_patterns():
    assert make_key("errand_list:*") == "runam:errand_list:%2A"
    assert make_pattern("user:{{id}}:*", {"id": "4*"}) == "runam:user:4%2A:*"


def test_get_cache_key_escapes_every_part():
    assert get_cache_key("user", 42, "a b") == "runam:user:42:a%20b"


def test_prefix_helpers():
    assert strip_prefix("runam:user:42") == "user:42"
    assert family_of("runam:user:42:profile") == "user"
    assert prefix_families("runam:user:42:profile") == ["user", "user:42", "user:42:profile"]
    assert gen_key("user:42") == "runam:_g:user:42"
    assert lock_key("runam:user:42") == "runam:_lock:user:42"
    assert len(gen_key("y" * 250)) <= 250


@pytest.mark.parametrize(
    ("glob", "family"),
    [
        ("user:42:*", "user:42"),
        ("errand_list:*", "errand_list"),
        ("a:*", "a"),
        ("runam:errand_list:*", "errand_list"),
        ("user:42:profile", "user:42:profile"),
        ("u*r:*", None),
        ("user:4?:*", None),
        ("user*", None),
        ("*", None),
    ],
)
def test_family_from_pattern(glob, family):
    assert family_from_pattern(glob) == family


def test_prefix_comes_from_settings(settings):
    settings.CACHE_KEY_PREFIX = "other"

    assert make_key("user:{{id}}", {"id": 1}) == "other:user:1"


@pytest.mark.usefixtures("cache_backend")
def test_an_exact_key_over_250_characters_is_invalidated_by_its_template():
    # given: four 60-character values make a key too long to store as is, so it is stored hashed
    template = "report:{{a}}:{{b}}:{{c}}:{{d}}"
    values = {name: name * 60 for name in "abcd"}
    calls = []

    @cacheable(key=template, ttl=600)
    def report(a, b, c, d):
        calls.append(a)
        return len(calls)

    report(**values)
    report(**values)
    assert len(calls) == 1

    # when
    CacheManager.invalidate(template, values)

    # then
    assert report(**values) == 2


@pytest.mark.usefixtures("cache_backend")
def test_a_glob_over_250_characters_still_matches_the_keys_it_covers():
    # given: a key of exactly 250 characters, stored as is
    key = "r:" + "a" * 242
    CacheManager.set(key, 1)

    # when
    removed = CacheManager.invalidate(key + "*")

    # then
    assert removed == 1
    assert CacheManager.get(key) is None


@pytest.mark.usefixtures("cache_backend")
def test_a_one_letter_family_pattern_is_one_bump():
    # given
    CacheManager.set("a:1", 1)

    # when
    scanned = CacheManager.invalidate("a:*")

    # then: a bump (None), as for any family, reaches other processes too; a scan would return a count
    assert scanned is None
    assert CacheManager.get("a:1") is None


SWEEPS = {"delete_pattern": lambda: CacheManager.delete_pattern("user*"), "clear_all": CacheManager.clear_all}


@pytest.mark.parametrize("sweep", SWEEPS.values(), ids=SWEEPS.keys())
@pytest.mark.usefixtures("cache_backend")
def test_a_prefix_with_glob_characters_sweeps_only_its_own_keys(sweep, settings):
    # given: another application's key that the prefix `app[1]`, read as a glob, would match
    settings.CACHE_KEY_PREFIX = "app[1]"
    CacheManager.set("user:1", 1)
    caches["default"].set("app1:user:1", "theirs")

    # when
    sweep()

    # then
    assert CacheManager.get("user:1") is None
    assert caches["default"].get("app1:user:1") == "theirs"


@settings(max_examples=300, deadline=None)
@given(first=any_text, second=any_text)
def test_distinct_values_never_share_a_key(first, second):
    if first == second:
        return
    assert make_key("user:{{v}}:x", {"v": first}) != make_key("user:{{v}}:x", {"v": second})
    assert get_cache_key("user", first) != get_cache_key("user", second)


@settings(max_examples=300, deadline=None)
@given(first=st.integers(), second=st.integers())
def test_distinct_ints_never_share_a_key(first, second):
    if first != second:
        assert make_key("user:{{v}}", {"v": first}) != make_key("user:{{v}}", {"v": second})


@settings(max_examples=300, deadline=None)
@given(value=any_text, other=any_text)
def test_no_value_widens_a_pattern(value, other):
    key = make_key("user:{{v}}:profile", {"v": value})
    pattern = make_pattern("user:{{v}}:*", {"v": value})
    other_key = make_key("user:{{v}}:profile", {"v": other})

    assert len(key) <= 250
    assert KEY_CHARS.match(key)
    assert not keys.has_glob(strip_prefix(key))
    assert key.count(":") == 3  # the value never adds a segment
    assert not keys.has_glob(pattern[:-1])  # only the template's own `*`
    if len(key) < 250:  # a hashed-long key is reachable by its exact key only
        assert fnmatch.fnmatchcase(key, pattern)
    assert fnmatch.fnmatchcase(other_key, pattern) == (other_key == key)


GLOB_ALPHABET = "ab-]^[\\*?"


@functools.cache
def _db1(host: str, port: int) -> redis.Redis:
    return redis.Redis(host=host, port=port, db=1)


@settings(max_examples=300, deadline=None)
@given(glob=st.text(alphabet=GLOB_ALPHABET, max_size=6), key=st.text(alphabet=GLOB_ALPHABET, min_size=1, max_size=4))
@example(glob="[b-a]", key="a")
@example(glob="[a\\]]", key="]")
@example(glob="a[b", key="ab")
@example(glob="[^]", key="a")
@example(glob="[]", key="a")
@example(glob="\\*", key="*")
@example(glob="u?er:[^1]:*", key="user:2:x")
@example(glob="[^a]", key="b")
@example(glob="[^a]", key="^")
@example(glob="[\\a", key="a")
@example(glob="[\\a", key="\\")
@example(glob="[\\ab]", key="b")
@example(glob="[a-c]", key="b")
@example(glob="[c-a]", key="b")
@example(glob="[a-c", key="b")
@example(glob="[a]", key="X")
@example(glob="[ab]", key="X")
def test_locmem_globs_match_like_redis(redis_proc, glob, key):
    # given: db 1 of the session's redis-server, away from the cache's db 0
    pipe = _db1(redis_proc.host, redis_proc.port).pipeline(transaction=False)
    pipe.flushdb().set(key, 1).keys(glob)

    # when
    redis_match = pipe.execute()[-1] == [key.encode()]

    # then
    assert bool(keys.glob_regex(glob).match(key)) == redis_match


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Named:
    pk = 1  # not a model: only model instances stand for their primary key

    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return self.name


# Values JSON has no type for, inside a container (hashed as canonical JSON): (value, an equal one, a different one).
NOT_JSON = {
    "set": ({"a", "b"}, {"b", "a"}, {"a"}),
    "frozenset": (frozenset({1, 2}), frozenset({2, 1}), frozenset({1, 3})),
    "datetime": (datetime(2026, 1, 2, 3, 4), datetime(2026, 1, 2, 3, 4), datetime(2026, 1, 2, 3, 5)),
    "date": (date(2026, 1, 2), date(2026, 1, 2), date(2026, 1, 3)),
    "time": (time(10, 30), time(10, 30), time(10, 31)),
    "decimal": (Decimal("1.50"), Decimal("1.50"), Decimal("1.5")),
    "uuid": (uuid.UUID(int=1), uuid.UUID(int=1), uuid.UUID(int=2)),
    "enum": (Color.RED, Color.RED, Color.BLUE),
    "model instance": (Bank(pk=1), Bank(pk=1), Bank(pk=2)),
    "other object": (Named("ada"), Named("ada"), Named("grace")),
}


@pytest.mark.parametrize(("value", "equal", "different"), NOT_JSON.values(), ids=NOT_JSON.keys())
def test_values_json_lacks_key_by_what_they_are(value, equal, different):
    # when
    key = make_key("box:{{items}}", {"items": [value]})
    hashed = make_key("box:{{items}}", {"items": value}, hash_params=["items"])

    # then
    assert make_key("box:{{items}}", {"items": [equal]}) == key
    assert make_key("box:{{items}}", {"items": [different]}) != key
    assert make_key("box:{{items}}", {"items": equal}, hash_params=["items"]) == hashed
    assert make_key("box:{{items}}", {"items": different}, hash_params=["items"]) != hashed


def test_a_set_keys_by_its_items_whatever_their_types():
    assert make_key("box:{{items}}", {"items": [{1, "1"}]}) != make_key("box:{{items}}", {"items": [{1}]})
