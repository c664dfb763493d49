"""Chunking and 207 answers mapped back to their inputs."""

from __future__ import annotations

from ledgerbridge.hubspot.batch import chunks, map_batch_response
from ledgerbridge.hubspot.errors import ConflictError
from ledgerbridge.sync.errors import ErrorCategory


def rec(record_id: str, **props: str) -> dict[str, object]:
    return {"id": record_id, "properties": props, "archived": False}


def test_chunks_of_at_most_100() -> None:
    sizes = [len(c) for c in chunks(list(range(1000)))]
    assert sizes == [100] * 10
    assert [len(c) for c in chunks(list(range(201)))] == [100, 100, 1]
    assert list(chunks([])) == []


def test_results_matched_by_write_trace_id_in_any_order() -> None:
    inputs = [
        {"properties": {"name": n}, "objectWriteTraceId": str(i)} for i, n in enumerate("abc")
    ]
    body = {
        "results": [
            {**rec("30"), "objectWriteTraceId": "2"},
            {**rec("10"), "objectWriteTraceId": "0"},
        ],
        "errors": [
            {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": "bad",
                "context": {"objectWriteTraceId": ["1"]},
            }
        ],
    }
    items = map_batch_response(inputs, body, offset=200)
    assert [i.index for i in items] == [200, 201, 202]
    assert items[0].record is not None and items[0].record.id == "10"
    assert items[1].error is not None and items[1].error.category is ErrorCategory.VALIDATION
    assert items[2].record is not None and items[2].record.id == "30"


def test_update_errors_by_id_and_results_by_id() -> None:
    inputs = [{"id": "1", "properties": {}}, {"id": "2", "properties": {}}]
    body = {
        "results": [rec("2")],
        "errors": [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": "x", "id": "1"}],
    }
    one, two = map_batch_response(inputs, body)
    assert one.error is not None and one.error.category is ErrorCategory.NOT_FOUND
    assert two.record is not None and two.record.id == "2"


def test_read_errors_listing_several_ids() -> None:
    inputs = [{"id": str(i)} for i in range(4)]
    body = {
        "results": [rec("0"), rec("3")],
        "errors": [
            {"status": "error", "category": "OBJECT_NOT_FOUND", "context": {"ids": ["1", "2"]}}
        ],
    }
    items = map_batch_response(inputs, body)
    assert [i.ok for i in items] == [True, False, False, True]


def test_upsert_results_without_keys_fall_back_to_position_once_errors_are_placed() -> None:
    inputs = [
        {"id": f"q{i}", "idProperty": "ledgerbridge_qbo_id", "properties": {}} for i in range(3)
    ]
    body = {
        "results": [{**rec("501"), "new": True}, {**rec("502"), "new": False}],
        "errors": [
            {
                "status": "error",
                "category": "CONFLICT",
                "message": "Invoice already exists. Existing ID: 9",
                "id": "q1",
            }
        ],
    }
    first, second, third = map_batch_response(inputs, body, id_property="ledgerbridge_qbo_id")
    assert first.record is not None and first.record.id == "501" and first.created is True
    assert isinstance(second.error, ConflictError) and second.error.existing_id == "9"
    assert third.record is not None and third.record.id == "502" and third.created is False


def test_upsert_results_matched_on_the_id_property_value() -> None:
    inputs = [{"id": f"q{i}", "idProperty": "u", "properties": {}} for i in range(2)]
    body = {"results": [rec("7", u="q1"), rec("6", u="q0")]}
    first, second = map_batch_response(inputs, body, id_property="u")
    assert first.record is not None and first.record.id == "6"
    assert second.record is not None and second.record.id == "7"


def test_create_207_without_ids_matches_results_by_content() -> None:
    inputs = [
        {"properties": {"name": "a", "price": "1"}},
        {"properties": {"name": "b", "price": "x"}},
        {"properties": {"name": "c", "price": "3"}},
    ]
    body = {
        "results": [rec("12", name="c", price="3"), rec("11", name="a", price="1")],
        "errors": [{"status": "error", "category": "VALIDATION_ERROR", "message": "price"}],
    }
    a, b, c = map_batch_response(inputs, body)
    assert a.record is not None and a.record.id == "11"
    assert b.error is not None and b.error.category is ErrorCategory.VALIDATION
    assert c.record is not None and c.record.id == "12"


def test_an_input_nobody_answered_for_is_an_unknown_outcome() -> None:
    inputs = [{"properties": {"name": "a"}}, {"properties": {"name": "b"}}]
    body = {
        "results": [rec("1", name="z")],
        "errors": [{"status": "error", "category": "VALIDATION_ERROR", "message": "?"}],
    }
    items = map_batch_response(inputs, body)
    assert all(i.error is not None for i in items)
    assert all(i.error.category is ErrorCategory.UNKNOWN for i in items if i.error)
