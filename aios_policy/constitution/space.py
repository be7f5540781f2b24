"""The input space of an action, cut into cells where every structured condition is constant.

Every numeric field is split at each constant and threshold the conditions mention (the constant
itself, between two constants, below the lowest, above the highest); every enumerated field takes
each value mentioned plus one value mentioned nowhere; lists take each mentioned item; and every
field may be missing. One example request per cell therefore decides exactly like every other
request of that cell, so checking the examples is checking the whole space. Conditions marked
opaque (raw JMESPath, complex paths, regular expressions) are only sampled by this.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .conditions import ORDERING, Comparison, Condition
from .values import MISSING, is_number, with_field

OTHER_TEXT = "(any other value)"
MAX_CELLS = 50_000
# The request schema bounds these fields; regions outside them hold no request.
DOMAINS: dict[str, tuple[float, float | None]] = {"amount": (0, None), "confidence": (0, 1)}


@dataclass(frozen=True)
class Dimension:
    """One field of the input space: an example value per region of it, and for numbers the interval."""

    path: str
    examples: tuple[Any, ...]
    spans: tuple[Interval | None, ...]  # the interval each numeric example stands for, else None


def dimensions(comparisons: Iterable[Comparison]) -> list[Dimension]:
    """For each simple path the comparisons read: its regions, MISSING included, in a stable order."""
    numbers: dict[str, set[float]] = {}
    scalars: dict[str, list[Any]] = {}
    items: dict[str, list[Any]] = {}
    paths: list[str] = []
    for comparison in comparisons:
        if not comparison.simple:
            continue
        path, op, value = comparison.path, comparison.op, comparison.value
        if path not in paths:
            paths.append(path)
        literals = value if isinstance(value, list) else [value]
        if op == "contains":
            items.setdefault(path, []).extend(v for v in literals if v not in items.get(path, []))
        elif op in ORDERING or any(is_number(v) for v in literals):
            numbers.setdefault(path, set()).update(v for v in literals if is_number(v))
        if op not in ORDERING and op not in ("contains", "exists"):
            bucket = scalars.setdefault(path, [])
            bucket.extend(v for v in literals if not is_number(v) and v is not None and v not in bucket)
    return [dimension(path, numbers.get(path), scalars.get(path, []), items.get(path)) for path in paths]


def dimension(path: str, numbers: set[float] | None, scalars: Sequence[Any] = (), items: list[Any] | None = None,
              domain: tuple[float, float | None] | None = None) -> Dimension:
    examples: list[Any] = []
    spans: list[Interval | None] = []
    if numbers:
        for interval in intervals(numbers, domain or DOMAINS.get(path)):
            examples.append(interval.example)
            spans.append(interval)
    others: list[Any] = ([v for v in (True, False) if v not in scalars]
                         if any(isinstance(v, bool) for v in scalars) else [])
    others += list(scalars)
    if items is not None:
        others += [[], *([item] for item in items)] + ([list(items)] if len(items) > 1 else [])
    if not numbers and not items and not (scalars and all(isinstance(v, bool) for v in scalars)):
        others.append(OTHER_TEXT)
    others.append(MISSING)
    return Dimension(path, (*examples, *others), (*spans, *([None] * len(others))))


def field_values(comparisons: Iterable[Comparison]) -> dict[str, list[Any]]:
    """For each simple path: one representative value per region of that field, MISSING included."""
    return {d.path: list(d.examples) for d in dimensions(comparisons)}


@dataclass(frozen=True)
class Interval:
    """A stretch of a number line: between two cut points, or one point itself."""

    low: float | None
    high: float | None
    low_closed: bool
    high_closed: bool

    @property
    def example(self) -> float:
        if self.low is None:
            return self.high - 1 if self.high is not None else 0
        if self.high is None:
            return self.low + 1
        return self.low if self.low == self.high else (self.low + self.high) / 2

    def joined(self, other: Interval) -> Interval:
        return Interval(self.low, other.high, self.low_closed, other.high_closed)


def intervals(points: Iterable[float], domain: tuple[float, float | None] | None = None) -> list[Interval]:
    """The intervals that cut points make of the number line (or of the domain), in order."""
    low_end, high_end = domain or (None, None)
    cuts = sorted({*points, *(b for b in (low_end, high_end) if b is not None)})
    result: list[Interval] = []
    if not cuts:
        return [Interval(low_end, high_end, low_end is not None, high_end is not None)]
    if low_end is None:
        result.append(Interval(None, cuts[0], False, False))
    for index, point in enumerate(cuts):
        result.append(Interval(point, point, True, True))
        following = cuts[index + 1] if index + 1 < len(cuts) else None
        if following is not None or high_end is None:
            result.append(Interval(point, following, False, False))
    return [i for i in result if _inside(i, low_end, high_end)]


def _inside(interval: Interval, low_end: float | None, high_end: float | None) -> bool:
    example = interval.example
    return (low_end is None or example >= low_end) and (high_end is None or example <= high_end)


def numeric_points(comparisons: Iterable[Comparison], path: str) -> set[float]:
    """Every number the comparisons on path compare it with."""
    found: set[float] = set()
    for comparison in comparisons:
        if comparison.path == path:
            values = comparison.value if isinstance(comparison.value, list) else [comparison.value]
            found.update(v for v in values if is_number(v))
    return found


def cells(conditions: Iterable[Condition], base: dict[str, Any]) -> Iterator[dict[str, Any]] | None:
    """One example request per cell of the space the conditions cut; None when there are too many."""
    comparisons = [c for condition in conditions for c in condition.comparisons()]
    fields = {path: values for path, values in field_values(comparisons).items() if path not in base}
    count = 1
    for values in fields.values():
        count *= len(values)
    if count > MAX_CELLS:
        return None

    def generate() -> Iterator[dict[str, Any]]:
        for combination in itertools.product(*fields.values()):
            request = base
            for path, value in zip(fields, combination, strict=True):
                request = with_field(request, path, value)
            yield request

    return generate()


def contains(interval: Interval, value: float) -> bool:
    above = interval.low is None or value > interval.low or (interval.low_closed and value == interval.low)
    below = interval.high is None or value < interval.high or (interval.high_closed and value == interval.high)
    return above and below
