"""JSON with a nesting cap: deep documents are refused before the parser recurses."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledgerbridge.transport.jsonsafe import (
    MAX_DEPTH,
    TooDeeplyNested,
    loads_limited,
    nesting_depth,
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab'),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(alphabet='[]{}"\\ab', max_size=4), inner, max_size=3)
    ),
    max_leaves=20,
)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@given(JSON)
def test_the_depth_counts_brackets_outside_strings_only(value: object) -> None:
    body = json.dumps(value).encode()
    assert nesting_depth(body) == _depth(value)
    assert loads_limited(body) == value


def test_documents_at_the_cap_parse_and_deeper_ones_are_refused() -> None:
    assert loads_limited(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    with pytest.raises(TooDeeplyNested):
        loads_limited(b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1))
    with pytest.raises(ValueError):  # what callers already catch for bad JSON
        loads_limited(b"[" * 100_000)


def test_unterminated_strings_do_not_hide_or_invent_nesting() -> None:
    assert nesting_depth(b'["[[[[') == 1
    assert nesting_depth(b'"' + b'\\"' * 1000 + b"\\") == 0
    with pytest.raises(ValueError):
        loads_limited(b'["abc')
