"""The creation-order index (the backfill's window queries on `MetaData.CreateTime`) gives
the answers a full scan gives: same rows, same order, same counts, whatever the writes
before (creates in crowded seconds, updates, deletes) and the query's bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerbridge.sandbox.qbo import FakeClock, QboSandboxConfig, Sandbox
from ledgerbridge.sandbox.qbo.config import CompanySettings
from ledgerbridge.sandbox.qbo.query import run
from ledgerbridge.sandbox.qbo.util import qbo_time

REALM = "1000000001"
START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)

# A write: (seconds the clock moves first, what: create / update / delete, which row)
Write = tuple[int, str, int]
writes = st.lists(
    st.tuples(
        st.sampled_from([0, 0, 0, 1, 2, 7]),
        st.sampled_from(["create", "create", "create", "update", "delete"]),
        st.integers(0, 60),
    ),
    min_size=1,
    max_size=60,
)
CT = "MetaData.CreateTime"
IN_WINDOW = f"{CT} >= '{{a}}' AND {CT} <= '{{b}}'"
TEMPLATES = [
    f"SELECT COUNT(*) FROM Customer WHERE {IN_WINDOW}",
    f"SELECT * FROM Customer WHERE {IN_WINDOW} ORDERBY {CT} MAXRESULTS {{n}}",
    f"SELECT * FROM Customer WHERE {CT} > '{{a}}' AND {CT} <= '{{b}}' ORDERBY {CT}"
    " STARTPOSITION {s} MAXRESULTS {n}",
    f"SELECT * FROM Customer WHERE {CT} = '{{a}}' AND {CT} <= '{{b}}' ORDERBY Id MAXRESULTS {{n}}",
    f"SELECT * FROM Customer WHERE {CT} = '{{a}}' AND {CT} <= '{{b}}' AND Id > '{{i}}'"
    " ORDERBY Id MAXRESULTS {n}",
    f"SELECT * FROM Customer WHERE {CT} < '{{b}}' AND Active IN (true, false)"
    f" ORDERBY {CT} DESC MAXRESULTS {{n}}",
    f"SELECT * FROM Customer WHERE {CT} >= '{{a}}' AND DisplayName LIKE 'C 1%' MAXRESULTS {{n}}",
]


def _company(history: list[Write]) -> Sandbox:
    clock = FakeClock(START)
    sandbox = Sandbox(QboSandboxConfig(realms={REALM: CompanySettings()}, clock=clock))
    realm = sandbox.realms[REALM]
    made = 0
    for step, what, which in history:
        clock.advance(step)
        rows = list(realm.table("Customer").values())
        if what == "create" or not rows:
            body = {"DisplayName": f"C {made}", "Active": made % 3 != 0}
            realm.insert("Customer", body, sandbox.now())
            made += 1
        elif what == "update":
            old = rows[which % len(rows)]
            realm.replace("Customer", old, {**old, "Notes": f"n{which}"}, sandbox.now())
        else:
            realm.remove("Customer", rows[which % len(rows)]["Id"], sandbox.now())
    return sandbox


@settings(max_examples=60, deadline=None)
@given(
    history=writes,
    a=st.integers(-2, 40),
    b=st.integers(-2, 60),
    n=st.integers(1, 30),
    s=st.integers(1, 10),
    i=st.integers(0, 40),
)
def test_the_creation_index_answers_as_a_scan(
    history: list[Write], a: int, b: int, n: int, s: int, i: int
) -> None:
    sandbox = _company(history)
    realm = sandbox.realms[REALM]
    values = {
        "a": qbo_time(START + timedelta(seconds=a)),
        "b": qbo_time(START + timedelta(seconds=b)),
        "n": n,
        "s": s,
        "i": i,
    }
    for template in TEMPLATES:
        text = template.format(**values)
        assert run(realm, text) == run(realm, text, indexed=False), text


def test_the_index_follows_writes_after_it_was_built() -> None:
    """Built by a first query, then kept by inserts, updates and deletes."""
    sandbox = _company([(1, "create", 0)] * 5)
    realm = sandbox.realms[REALM]
    text = (
        f"SELECT * FROM Customer WHERE MetaData.CreateTime >= '{qbo_time(START)}'"
        " AND Active IN (true, false) ORDERBY MetaData.CreateTime"
    )
    assert [r["Id"] for r in run(realm, text)["Customer"]] == ["1", "2", "3", "4", "5"]
    sandbox.config.clock.advance(1)  # type: ignore[attr-defined]
    realm.insert("Customer", {"DisplayName": "late", "Active": True}, sandbox.now())
    realm.remove("Customer", "2", sandbox.now())
    old = realm.get("Customer", "4")
    assert old is not None
    realm.replace("Customer", old, {**old, "Notes": "x"}, sandbox.now())
    assert [r["Id"] for r in run(realm, text)["Customer"]] == ["1", "3", "4", "5", "6"]
    assert run(realm, text) == run(realm, text, indexed=False)
