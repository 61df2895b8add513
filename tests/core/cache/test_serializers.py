"""Serialization: JSON text both ways, the types our data uses round-trip, no pickle."""

import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.cache.serializers import TextSerializer, dumps, loads

VALUES = [
    None,
    True,
    0,
    -5,
    1.5,
    "naïve 🙂",
    [1, "a", None],
    {"a": {"b": [1, 2]}},
    Decimal("12.3400"),
    datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=1))),
    datetime(2026, 1, 2, 3, 4, 5),
    date(2026, 1, 2),
    time(10, 30),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    (1, (2, 3)),
    {1, 2},
    frozenset({"a"}),
    b"\x00\xff",
    {"__t": "decimal", "v": "1"},
    {1: "int key", (1, 2): "tuple key"},
]


# Plain ASCII ids (the type name): a repr with escapes is a node id that `pytest <id>` may not find again (mutmut).
@pytest.mark.parametrize("value", VALUES, ids=lambda value: type(value).__name__)
def test_round_trip_keeps_value_and_type(value):
    # when
    text = dumps(value)
    back = loads(text)

    # then
    assert isinstance(text, str)
    assert back == value
    assert type(back) is type(value)


def test_aware_datetime_keeps_its_offset():
    moment = datetime(2026, 1, 2, 3, 4, tzinfo=timezone(timedelta(hours=-3)))

    assert loads(dumps(moment)).utcoffset() == timedelta(hours=-3)


def test_unsupported_type_is_refused_not_pickled():
    with pytest.raises(TypeError, match="cannot cache"):
        dumps(object())


def test_unknown_tag_is_an_error_not_code():
    with pytest.raises(ValueError, match="unknown tag"):
        loads('{"__t": "pickle", "v": "gASV"}')


@pytest.mark.parametrize(
    "text", ['{"__t": "decimal", "w": "1"}', '{"__t": "decimal", "v": "1", "w": 2}', '{"__t": "decimal"}']
)
def test_a_known_tag_without_exactly_its_value_is_an_error(text):
    with pytest.raises(ValueError, match="not a cached value"):
        loads(text)


json_data = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.decimals(allow_nan=False) | st.uuids() | st.dates(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner) | st.tuples(inner, inner),
    max_leaves=20,
)


@given(json_data)
def test_any_supported_value_round_trips(value):
    assert loads(dumps(value)) == value


def test_text_serializer_is_utf8_text_only():
    serializer = TextSerializer({})

    assert serializer.dumps("é") == "é".encode()
    assert serializer.loads("é".encode()) == "é"
    assert serializer.loads("é") == "é"
    with pytest.raises(TypeError):
        serializer.dumps({"a": 1})
