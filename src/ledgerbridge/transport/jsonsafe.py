"""JSON from untrusted senders with a cap on nesting depth.

`json.loads` recurses once per nesting level, so a body of 100,000 `[` overflows the
interpreter's stack (a `RecursionError`, which no caller expects: an answer 500). The
bodies we accept (webhook deliveries) nest a handful of levels, so anything deeper than
`MAX_DEPTH` is refused before parsing, with a `ValueError` like any other bad JSON.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["MAX_DEPTH", "TooDeeplyNested", "loads_limited", "nesting_depth"]

MAX_DEPTH = 32

# One token: a JSON string (escapes included; an unterminated one runs to the end, so the
# scan stays linear) or a bracket. Brackets inside a string do not nest anything.
_TOKEN = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)|[\[\]{}]', re.DOTALL)
_OPEN = frozenset(b"[{")
_QUOTE = ord('"')


class TooDeeplyNested(ValueError):
    """The document nests deeper than allowed."""


def nesting_depth(body: bytes, *, stop_above: int | None = None) -> int:
    """The deepest bracket nesting in `body`, ignoring brackets inside strings; counting
    stops as soon as it exceeds `stop_above` (so a huge body is not scanned to the end)."""
    depth = deepest = 0
    for match in _TOKEN.finditer(body):
        first = body[match.start()]
        if first == _QUOTE:
            continue
        if first in _OPEN:
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    return deepest
        else:
            depth = max(depth - 1, 0)
    return deepest


def loads_limited(body: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads(body)`, refusing documents nested deeper than `max_depth` with
    `TooDeeplyNested` (a `ValueError`); other bad JSON raises what `json.loads` does."""
    raw = body.encode() if isinstance(body, str) else body
    if nesting_depth(raw, stop_above=max_depth) > max_depth:
        raise TooDeeplyNested(f"the document nests deeper than {max_depth} levels")
    try:
        return json.loads(raw)
    except RecursionError as exc:  # a last guard; the depth check above should prevent it
        raise TooDeeplyNested("the document nests too deeply to parse") from exc
