"""What a history condition reads: the caller's view of earlier decisions, passed in for one decision.

The engine stays pure: it never opens the decision log. `Constitution.decide_dict(request, now,
history=view)` hands it a `HistoryView` (the log's is `DecisionLog.history()`, tests pass a fake), and
for the duration of that decision every history comparison reads it, with the window ending at the
request's moment. Without a view, or when the view raises, such a rule cannot be judged and the decision
fails closed (an escalation; deny still wins).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Protocol

from aios_policy.constitution.conditions import HistoryReading, history_comparisons, reading_history
from aios_policy.constitution.model import Rule

__all__ = ["NONE_EARLIER", "HistoryView", "NoEarlierDecisions", "figures", "reading"]


class HistoryView(Protocol):
    """Earlier decisions, summed or counted."""

    def total(self, action: str, measure: str, group_path: str, group_value: str, since: datetime,
              until: datetime) -> float:
        """measure "sum": the amounts (converted) of the automated and approved decisions of action decided in
        [since, until] whose request holds group_value at group_path; "count": how many."""
        ...


class NoEarlierDecisions:
    """A history in which nothing was decided before: what the analysis, explain and ask assume (a history
    condition then judges the request on its own), and where scenarios start before adding their own."""

    def total(self, action: str, measure: str, group_path: str, group_value: str, since: datetime,
              until: datetime) -> float:
        return 0.0


NONE_EARLIER = NoEarlierDecisions()


@contextmanager
def reading(view: HistoryView | None, at: datetime, now: datetime | None = None) -> Iterator[HistoryReading]:
    """History comparisons evaluated inside read view (none: they fail closed), windows from before the
    earlier of at and now to the later of them."""
    with reading_history(view.total if view is not None else None, at, now) as found:
        yield found


def figures(found: HistoryReading, rules: Iterable[Rule]) -> list[dict[str, Any]]:
    """The figures the rules' history comparisons worked out, rule by rule, in the order written."""
    if not found.figures:
        return []  # nearly every decision: no rule read history
    named: list[dict[str, Any]] = []
    for rule in rules:
        for comparison in history_comparisons(rule.condition):
            figure = found.figures.get(id(comparison))
            if figure is not None:
                _, group, value = figure
                named.append({"rule": rule.id, "action": comparison.action, "measure": comparison.measure,
                              "group_by": comparison.group_by, "group": group, "window": comparison.window_text,
                              "value": value})
    return named

