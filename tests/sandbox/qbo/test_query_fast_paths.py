"""The query's fast paths (rows picked by Id, remembered date parsing, CDC cut before
copying, JSON without a Python pre-pass) give the answers a full scan gives."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from ledgerbridge.sandbox.qbo import Sandbox
from ledgerbridge.sandbox.qbo.query import cdc, run
from ledgerbridge.sandbox.qbo.util import _plain, dumps
from tests.sandbox.qbo.conftest import REALM


def _customers(sandbox: Sandbox, count: int) -> None:
    realm = sandbox.realms[REALM]
    for n in range(count):
        body = {"DisplayName": f"C {n}", "Active": n % 4 != 0, "Balance": Decimal(n)}
        realm.insert("Customer", body, sandbox.now())


def _ids(answer: dict[str, list[dict[str, str]]]) -> list[str]:
    return [row["Id"] for row in answer.get("Customer", [])]


def test_id_in_matches_like_the_comparison_does(sandbox: Sandbox) -> None:
    _customers(sandbox, 30)
    realm = sandbox.realms[REALM]
    # Leading zeros and numbers compare as integers; unknown ids are ignored; duplicates
    # once; inactive rows (Ids 1, 5, 9, ...) only when the query asks for them.
    text = "SELECT * FROM Customer WHERE Id IN ('3', '0005', 7, '7', '999') ORDERBY Id DESC"
    assert _ids(run(realm, text)) == ["7", "3"]
    every = text.replace("WHERE", "WHERE Active IN (true, false) AND")
    assert _ids(run(realm, every)) == ["7", "5", "3"]
    # A value that is no id (here 'abc') makes it a scan: same answer.
    assert _ids(run(realm, text.replace("'999'", "'999', 'abc'"))) == ["7", "3"]
    assert _ids(run(realm, "SELECT * FROM Customer WHERE Id = '0012'")) == ["12"]
    # The other conditions still apply to the rows picked by Id, and so does Active.
    both = "SELECT * FROM Customer WHERE Id IN ('1', '2', '3', '6') AND Balance > '1'"
    assert _ids(run(realm, both)) == ["3", "6"]  # 1 is inactive, 2 has a balance of 1
    inactive = "SELECT * FROM Customer WHERE Active = false AND Id IN ('1', '5', '6')"
    assert _ids(run(realm, inactive)) == ["1", "5"]


def test_id_fast_path_equals_a_scan(sandbox: Sandbox) -> None:
    _customers(sandbox, 40)
    realm = sandbox.realms[REALM]
    wanted = ["2", "0009", "17", "40", "41"]
    fast = run(realm, f"SELECT * FROM Customer WHERE Id IN ({', '.join(repr(w) for w in wanted)})")
    # A bare scan: every row, the same filter done here by hand.
    scan = run(realm, "SELECT * FROM Customer MAXRESULTS 1000")
    expected = [r for r in scan["Customer"] if int(r["Id"]) in {int(w) for w in wanted}]
    assert fast["Customer"] == expected


def test_cdc_keeps_the_oldest_changes_and_copies_only_those(sandbox: Sandbox) -> None:
    _customers(sandbox, 3)
    realm = sandbox.realms[REALM]
    since = sandbox.now() - timedelta(hours=1)
    answer = cdc(realm, ["Customer"], since, sandbox.now())
    rows = answer["QueryResponse"][0]["Customer"]
    assert [r["Id"] for r in rows] == ["1", "2", "3"]
    rows[0]["DisplayName"] = "changed in the answer"
    assert realm.get("Customer", "1")["DisplayName"] == "C 0"  # a copy, not the stored row


def test_dumps_writes_what_plain_json_writes() -> None:
    value = {
        "a": Decimal("2.50"),
        "b": [Decimal("3"), {"c": Decimal("-0.10"), "d": None, "e": "x"}],
        "f": Decimal("1E+2"),
        "g": True,
    }
    assert dumps(value) == json.dumps(_plain(value), separators=(",", ":"))
    assert dumps(value) == '{"a":2.5,"b":[3,{"c":-0.1,"d":null,"e":"x"}],"f":100,"g":true}'
