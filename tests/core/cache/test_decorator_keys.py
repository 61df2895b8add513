"""Property tests: decorator keys for distinct arguments never collide, and no argument widens a pattern."""

from hypothesis import example, given
from hypothesis import strategies as st

from core.cache import cache_result, cacheable, invalidate_cache
from core.cache.conf import key_prefix
from core.cache.keys import family_from_pattern

NASTY = st.sampled_from(["*", "?", "[a]", ":", "{{x}}", "%2A", "~n", " ", "\x00", "é", "🙂", "a" * 10_000, "_g"])
texts = st.one_of(st.text(), NASTY)
containers = st.one_of(
    st.lists(st.integers()),
    st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=5))),
)


@cacheable(key="banks_list:{{country}}:{{page}}")
def banks(country: str, page: int = 1):
    return None


@cacheable(key="errand_list:{{filters}}", hash_params=["filters"])
def errand_list(filters: dict):
    return None


@cache_result
def search(term: str, options: object = None):
    return None


@invalidate_cache(patterns=["user:{{user_id}}:*", "errand:{{errand_id}}"])
def update_errand(user_id, errand_id):
    return None


@given(texts, st.integers(), texts, st.integers())
def test_template_keys_differ_when_arguments_differ(c1, p1, c2, p2):
    if (c1, p1) != (c2, p2):
        assert banks.key(c1, p1) != banks.key(c2, p2)
    else:
        assert banks.key(c1, p1) == banks.key(c2, p2)


@given(containers, containers)
def test_hashed_params_differ_when_values_differ(f1, f2):
    assert (errand_list.key(f1) == errand_list.key(f2)) == (f1 == f2)


@given(texts, st.one_of(st.none(), containers), texts, st.one_of(st.none(), containers))
def test_default_keys_differ_when_arguments_differ(t1, o1, t2, o2):
    assert (search.key(t1, o1) == search.key(t2, o2)) == ((t1, o1) == (t2, o2))


@given(texts, texts)
@example(text='["a"]', other="a")  # a list's JSON text, as a string
def test_a_container_never_shares_a_key_with_a_string(text, other):
    assert search.key(text) != search.key([other])


@given(st.one_of(texts, st.integers()), st.one_of(texts, st.integers()))
def test_no_argument_widens_an_invalidation_pattern(user_id, errand_id):
    family_glob, exact = update_errand.key(user_id, errand_id)

    assert family_glob.count("*") == 1 and family_glob.endswith(":*")
    assert family_from_pattern(family_glob) is not None
    assert "*" not in exact
    assert family_from_pattern(exact) == exact.removeprefix(f"{key_prefix()}:")
