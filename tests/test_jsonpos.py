"""JSON text with positions: where each value and key sits by JSON pointer, and what a broken file is told.

Lines and columns count from 1, columns in characters (not bytes), as an editor shows them.
"""

from __future__ import annotations

import json

import pytest

from aios_policy.constitution.jsonpos import DuplicateKey, Positions, parse
from aios_policy.limits import MAX_JSON_DEPTH

NESTED = """{
  "id": "refunds",
  "rules": [
    {"id": "small", "when": {"path": "amount", "op": "lte", "value": 250}},
    {
      "id": "large",
      "tags": [1, [2, 3]]
    }
  ],
  "empty": {},
  "none": []
}
"""


def where(text: str, pointer: str, key: bool = False) -> tuple[int, int]:
    return Positions(text).of(pointer, key=key)


@pytest.mark.parametrize(("pointer", "expected"), [
    ("", (1, 1)),
    ("/id", (2, 9)),
    ("/rules", (3, 12)),
    ("/rules/0", (4, 5)),
    ("/rules/0/id", (4, 12)),
    ("/rules/0/when/value", (4, 70)),
    ("/rules/1", (5, 5)),
    ("/rules/1/id", (6, 13)),
    ("/rules/1/tags/1", (7, 19)),
    ("/rules/1/tags/1/1", (7, 23)),
    ("/empty", (10, 12)),
    ("/none", (11, 11)),
])
def test_each_value_is_found_by_its_pointer(pointer: str, expected: tuple[int, int]) -> None:
    assert where(NESTED, pointer) == expected


def test_a_key_is_found_where_its_quote_opens() -> None:
    assert where(NESTED, "/rules/1/tags", key=True) == (7, 7)
    assert where(NESTED, "/rules/0/when", key=True) == (4, 21)
    assert where(NESTED, "/id", key=True) == (2, 3)


def test_an_absent_pointer_falls_back_to_its_nearest_parent() -> None:
    assert where(NESTED, "/rules/1/owner") == where(NESTED, "/rules/1")
    assert where(NESTED, "/rules/7/id") == where(NESTED, "/rules")
    assert where(NESTED, "/nothing/at/all") == (1, 1)
    assert where(NESTED, "/rules/1/owner", key=True) == where(NESTED, "/rules/1")  # no key: the parent's value


def test_keys_holding_slash_and_tilde_are_escaped_in_the_pointer() -> None:
    text = '{"a/b": 1, "m~n": 2, "~1": 3, "x": {"/": [4]}}'
    positions = Positions(text)
    assert positions.of("/a~1b") == (1, 9)
    assert positions.of("/m~0n") == (1, 19)
    assert positions.of("/~01") == (1, 28)
    assert positions.of("/x/~1/0") == (1, 43)
    assert positions.of("/a~1b", key=True) == (1, 2)
    assert set(positions.values) == {"", "/a~1b", "/m~0n", "/~01", "/x", "/x/~1", "/x/~1/0"}


def test_columns_count_characters_and_escaped_keys_are_decoded() -> None:
    text = '{"name": "Zoë ☃ 😀", "n": 1,\n "caf\\u00e9": true, "tab\\tkey": null}'
    positions = Positions(text)
    assert positions.of("/n") == (1, 26)
    assert positions.of("/café") == (2, 15)
    assert positions.of("/tab\tkey") == (2, 33)


def test_crlf_line_ends_give_the_same_lines_and_columns() -> None:
    crlf = NESTED.replace("\n", "\r\n")
    for pointer in ("/id", "/rules/0/when/value", "/rules/1/tags/1/1", "/none"):
        assert where(crlf, pointer) == where(NESTED, pointer), pointer
    assert parse(crlf)[0] == json.loads(NESTED)


def test_a_clean_file_parses_with_no_problem_and_no_duplicates() -> None:
    value, problem, duplicates = parse(NESTED)
    assert (value, problem, duplicates) == (json.loads(NESTED), None, [])


def test_every_duplicated_key_is_reported_with_its_place() -> None:
    text = '{\n  "id": "a",\n  "rules": [{"id": 1, "id": 2}],\n  "id": "b"\n}'
    value, problem, duplicates = parse(text)
    assert problem is None and value["id"] == "b"  # the value is still read, as JSON readers do
    assert duplicates == [DuplicateKey("id", "/rules/0/id", 3, 23), DuplicateKey("id", "/id", 4, 3)]


def test_the_same_key_in_two_objects_is_no_duplicate() -> None:
    assert parse('{"a": {"id": 1}, "b": {"id": 2}, "c": [{"id": 3}, {"id": 4}]}')[2] == []


@pytest.mark.parametrize(("text", "line", "column", "hint"), [
    ('{"roles": [,]}', 1, 12, None),
    ('{\n  "a": 1,\n}', 3, 1, "remove the trailing comma before this point"),
    ('{"a": [1, 2,]}', 1, 13, "remove the trailing comma before this point"),
    ('{\n  "a": 1\n  "b": 2\n}', 3, 3, "a comma is missing between two items, or a string is not closed"),
    ('[1 2]', 1, 4, "a comma is missing between two items, or a string is not closed"),
    ('{"a": "no end}', 1, 7, "close the string with a double quote on the same line"),
    ('{"a": "two\nlines"}', 1, 11, "close the string with a double quote on the same line"),
    ("{'a': 1}", 1, 2, "JSON keys need double quotes"),
    ('{"a": 1} {"b": 2}', 1, 10, "the file holds more than one JSON value; wrap them in a list or remove the extra"),
])
def test_syntax_problems_have_a_place_a_lowercase_message_and_a_hint(text: str, line: int, column: int,
                                                                     hint: str | None) -> None:
    value, problem, duplicates = parse(text)
    assert value is None and duplicates == [] and problem is not None
    assert (problem.line, problem.column, problem.hint) == (line, column, hint)
    assert problem.message[0].islower()


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(constant: str) -> None:
    value, problem, _ = parse(f'{{"amount": {constant}}}')
    assert value is None and problem is not None
    assert f"`{constant}` is not valid JSON" in problem.message and problem.hint == "write a number or null"


def test_a_number_too_large_for_a_float_is_refused_where_it_is() -> None:
    value, problem, _ = parse('{\n  "amount": 1e999\n}')
    assert value is None and problem is not None
    assert (problem.message, problem.line, problem.column) == ("the number `1e999` is too large", 2, 13)


def test_nesting_up_to_the_limit_is_read_and_deeper_is_refused() -> None:
    at_limit = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert parse(at_limit)[1] is None
    for depth in (MAX_JSON_DEPTH + 1, 100_000):
        value, problem, _ = parse("[" * depth + "]" * depth)
        assert value is None and problem is not None and "nested" in problem.message, depth
        assert problem.hint == "flatten the structure"
    deep_object = '{"x": ' * (MAX_JSON_DEPTH + 1) + "1" + "}" * (MAX_JSON_DEPTH + 1)
    assert parse(deep_object)[1] is not None


def test_positions_of_a_broken_text_are_best_effort_and_never_raise() -> None:
    positions = Positions('{"a": [1, 2, "b": ')
    assert positions.of("/a/1") == (1, 11)
    assert positions.of("/a/9") == (1, 7)
