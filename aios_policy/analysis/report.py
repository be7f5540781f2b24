"""The behavioural diff as text for a terminal, Markdown for a pull-request comment, JSON for machines."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from typing import Any

from .diff import DiffReport, people

MARKER = "<!-- aios-policy-diff -->"
ROWS = 25  # rows shown per Markdown list before "and N more"


_CODE = re.compile(r"`([A-Za-z0-9_.@$%,/ -]{1,80})`")


def safe(text: str) -> str:
    """Constitution text made harmless in a pull-request comment: HTML escaped, and only backtick spans
    of plain names kept as code; any other backtick (a value holding one) is shown, never interpreted."""
    escaped = html.escape(text, quote=False)
    coded = _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", escaped)
    return coded.replace("`", "&#96;").replace("|", "&#124;")


def as_json(report: DiffReport) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False)


def _counts(report: DiffReport) -> str:
    summary = report.summary()
    return (f"loosened {summary['loosened']}, tightened {summary['tightened']}, mixed {summary['mixed']}, "
            f"re-routed {summary['rerouted']}, unchanged {summary['unchanged']} action(s)")


def _scenario_line(change: Any) -> str:
    state = ("expectation updated" if change.expectation_updated
             else "expectation NOT updated: `aios test` fails on it")
    return f"`{change.id}`: {change.change or f'{change.base} → {change.head}'} ({change.risk}; {state})"


def _replay_lines(report: DiffReport) -> list[str]:
    replayed = report.replay
    if replayed is None:
        return ["No decision log was found to replay (pass --log PATH)."]
    lines = [f"{replayed.changed} of {replayed.total} logged request(s) would be decided differently "
             f"({replayed.risks['loosened']} loosened, {replayed.risks['tightened']} tightened, "
             f"{replayed.risks['mixed']} mixed, {replayed.risks['re-routed']} re-routed); "
             f"newly automated amount: {replayed.newly_automated:,.2f}."]
    for action, transitions in sorted(replayed.transitions.items()):
        for transition, count in sorted(transitions.items()):
            examples = ", ".join(f"`{i}`" for i in replayed.examples[action][transition])
            lines.append(f"`{action}`: {transition}: {count} (e.g. {examples})")
    return lines


def _headline_sections(report: DiffReport) -> list[tuple[str, list[dict[str, Any]]]]:
    """The headlines, split into what updated scenarios show (intended) and the side effects when the
    change updated some expectation; else one list."""
    headlines = report.headlines()
    if not any(h["intended"] is not None for h in headlines):
        return [("Headlines", headlines)]
    return [("Headlines: intended (an updated scenario shows it)", [h for h in headlines if h["intended"]]),
            ("Headlines: side effects (no updated scenario shows them)", [h for h in headlines if not h["intended"]])]


def _headline(headline: dict[str, Any]) -> str:
    actions = headline["actions"]
    where = ", ".join(f"`{a}`" for a in actions[:6]) + (f" and {len(actions) - 6} more" if len(actions) > 6 else "")
    return f"{headline['risk']}: {headline['change']} ({headline['regions']} region(s) of {where})"


def _region_line(region: Any, markdown: bool) -> str:
    sampled = (" (not analysed exactly: sampled, as a raw JMESPath or regular expression takes part or the "
               "space is too large)") if region.sampled else ""
    example = json.dumps(region.example, ensure_ascii=False)
    if markdown:
        return f"**{region.risk}** {safe(region.describe())}{sampled}<br>example: <code>{html.escape(example)}</code>"
    return f"{region.risk.upper():9} {region.describe()}{sampled}\n            example: {example}"


def as_text(report: DiffReport) -> str:
    lines = [f"aios diff: BASE {report.base.name} → HEAD {report.head.name}", "", "Summary",
             f"  {report.paragraph()}", f"  {_counts(report)}", ""]

    def section(title: str, rows: Iterable[str], empty: str) -> None:
        rows = list(rows)
        lines.append(f"{title} ({len(rows)})" if rows else title)
        lines.extend(f"  - {row}" for row in rows) if rows else lines.append(f"  {empty}")
        lines.append("")

    for title, rows in _headline_sections(report):
        section(title, map(_headline, rows), "no decision changes")
    section("What changed in the files", (c.text for c in report.changes), "nothing")
    section("Scenarios whose decision changes", map(_scenario_line, report.scenarios), "none")
    lines.append("Replay of logged requests")
    lines.extend(f"  {line}" for line in _replay_lines(report))
    lines.append("")
    lines.append(f"Changed regions of the input space ({len(report.regions)})" if report.regions
                 else "Changed regions of the input space")
    lines.extend(f"  {_region_line(r, False)}" for r in report.regions) if report.regions else \
        lines.append(f"  none ({len(report.actions_analysed)} action(s) analysed, every cell decides as before)")
    return "\n".join(lines).rstrip() + "\n"


def _markdown_list(title: str, rows: list[str], empty: str, open_when: int = 8) -> list[str]:
    if not rows:
        return [f"### {title}", "", empty, ""]
    shown = [f"- {row}" for row in rows[:ROWS]]
    if len(rows) > ROWS:
        shown.append(f"- … and {len(rows) - ROWS} more (see `aios diff --format json`)")
    if len(rows) <= open_when:
        return [f"### {title} ({len(rows)})", "", *shown, ""]
    return [f"### {title} ({len(rows)})", "", "<details><summary>Show all</summary>", "", *shown, "",
            "</details>", ""]


def as_markdown(report: DiffReport) -> str:
    verdict = ("⚠️ loosens control" if report.loosens
               else "⚠️ no loosening found, but part of the space was only sampled" if report.sampled
               else "✅ no loosening") + (
        " · ❌ stale scenario expectations" if report.stale_scenarios else "")
    owners = safe(", ".join(f"{o['title']} ({people(o)})" for o in report.owners) or "nobody")
    lines = [MARKER, "## aios-policy: behavioural impact", "",
             f"BASE {safe(report.base.name)} → HEAD {safe(report.head.name)} · {verdict}", "",
             safe(report.paragraph()), "", f"**{_counts(report)}** · owners who must review: {owners}", ""]
    for title, rows in _headline_sections(report):
        lines += _markdown_list(title, [safe(_headline(h)) for h in rows], "No decision changes.", open_when=ROWS)
    lines += _markdown_list("What changed in the files", [safe(c.text) for c in report.changes], "Nothing.")
    lines += _markdown_list("Scenarios whose decision changes", [safe(_scenario_line(s)) for s in report.scenarios],
                            "None.")
    lines += ["### Replay of logged requests", "", *(f"- {safe(line)}" for line in _replay_lines(report)), ""]
    lines += _markdown_list("Changed regions of the input space", [_region_line(r, True) for r in report.regions],
                            f"None: {len(report.actions_analysed)} action(s) analysed, every cell decides as before.")
    return "\n".join(lines).rstrip() + "\n"
