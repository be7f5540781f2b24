"""The handbook: the constitution as a static, offline HTML site for the company's new hires.

`build` turns a loaded constitution into pages (a home page by topic, a page per policy and per
procedure, the org, lists of policies and procedures) plus the stylesheet, a search script and its
index; `write` puts them in a folder. No page fetches anything at view time: the search index is a
script that sets a global, so the search works from file:// as well as from any static server.

Every piece of constitution text is untrusted: it goes through `html.escape` on its way into a
page, and the search script shows results with textContent only. Pages are named after ids, made
safe for file names first.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from html import escape
from pathlib import Path
from typing import Any

from aios_policy.constitution.model import CompiledConstitution, Escalation, Person, Policy, Rule, Sop, Step
from aios_policy.constitution.source import FileHistory
from aios_policy.engine.facade import Constitution
from aios_policy.engine.people import away, holders
from aios_policy.errors import AiosError

MARKER = ".aios-handbook"  # written into the folder, so a later run may remove pages it made itself
OUTCOME_WORDS = {"automate": "Automated", "escalate": "Escalated", "deny": "Denied", "needs_info": "Needs info"}
TOPIC_NAMES = {
    "refund": "Refunds and chargebacks", "chargeback": "Refunds and chargebacks", "invoice": "Billing and invoices",
    "expense": "Expenses", "vendor": "Vendors", "purchase": "Purchasing", "subscription": "Software subscriptions",
    "contract": "Contracts", "discount": "Discounts and pricing", "nda": "NDAs", "lead": "Leads and enquiries",
    "client_data": "Client data and privacy", "client_system": "Client data and privacy", "offer": "Hiring and offers",
    "content": "Publishing content",
}


class HandbookError(AiosError):
    """The handbook cannot be written where it was asked to go."""


@dataclass(frozen=True)
class Page:
    path: str  # relative to the handbook folder, with forward slashes
    title: str
    html: str


@dataclass
class Handbook:
    pages: list[Page]
    assets: dict[str, str]  # path relative to the folder -> text

    def write(self, out: Path) -> None:
        """Write every page and asset under out; remove pages an earlier run wrote that are gone now."""
        if out.exists() and not out.is_dir():
            raise HandbookError(f"`{out}` is a file, not a folder", "pass --out a folder (it is created if missing)")
        files = {page.path: page.html for page in self.pages} | self.assets
        try:
            if (out / MARKER).is_file():
                for folder in ("policies", "procedures"):
                    for stale in (out / folder).glob("*.html"):
                        if f"{folder}/{stale.name}" not in files:
                            stale.unlink()
            for relative, text in sorted(files.items()):
                target = out / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
            (out / MARKER).write_text("Written by `aios handbook`; it may replace the pages in this folder.\n")
        except OSError as error:
            raise HandbookError(f"cannot write the handbook to `{out}`: {error.strerror or error}",
                                "check the folder's permissions, or pass another --out") from error


def slug(identifier: str) -> str:
    """A safe file name or anchor for an id (ids are [a-z0-9_.-] by the schema; anything else is replaced)."""
    safe = re.sub(r"[^a-z0-9_.-]+", "-", identifier.lower()).strip(".-")
    return safe[:80] or "item"


def e(value: Any) -> str:
    """Escape text for HTML, quotes included (for attributes)."""
    return escape("" if value is None else str(value), quote=True)


def day_text(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


# --- the site: what every page needs to know --------------------------------------------------------------


@dataclass
class Site:
    """The constitution and what the pages share: page paths, topics, who governs which action."""

    constitution: Constitution
    now: datetime
    history: FileHistory | None
    policy_pages: dict[str, str] = field(default_factory=dict)
    sop_pages: dict[str, str] = field(default_factory=dict)
    policy_of_action: dict[str, str] = field(default_factory=dict)
    policy_of_rule: dict[str, str] = field(default_factory=dict)
    tables: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        taken: set[str] = set()
        for kind, ids, pages in (("policies", self.c.policies, self.policy_pages),
                                 ("procedures", self.c.sops, self.sop_pages)):
            for identifier in sorted(ids):
                name, n = slug(identifier), 2
                while f"{kind}/{name}.html" in taken or name == "index":
                    name, n = f"{slug(identifier)}-{n}", n + 1
                pages[identifier] = f"{kind}/{name}.html"
                taken.add(pages[identifier])
        for policy in self.c.policies.values():
            for action in policy.actions:
                self.policy_of_action.setdefault(action, policy.id)
            for rule in policy.rules:
                self.policy_of_rule.setdefault(rule.id, policy.id)
        self.tables = decision_tables(self.constitution, sorted(self.c.rules_by_action), self.now)

    @property
    def c(self) -> CompiledConstitution:
        return self.constitution.compiled

    @property
    def today(self) -> date:
        return self.now.astimezone(self.c.manifest.timezone).date()

    def relative(self, origin_file: str) -> str:
        """A file's path inside the constitution folder, from its displayed path."""
        root = self.constitution.result.snapshot.display_root
        return origin_file[len(root) + 1:] if root not in ("", ".") and origin_file.startswith(root + "/") \
            else origin_file


def decision_tables(constitution: Constitution, actions: Iterable[str], now: datetime) -> dict[str, Any]:
    """Each action's decision table from `aios_policy.explain` as JSON, when that module exists."""
    if importlib.util.find_spec("aios_policy.guide.explain") is None:
        return {}
    explain_action = getattr(importlib.import_module("aios_policy.guide.explain"), "explain_action", None)
    if explain_action is None:
        return {}
    tables: dict[str, Any] = {}
    for action in actions:
        try:
            result = explain_action(constitution, action, now)
            tables[action] = result.to_json() if hasattr(result, "to_json") else result
        except Exception as error:  # one table that fails must not lose the whole handbook
            tables[action] = {"error": f"{type(error).__name__}: {error}"}
    return tables


# --- small pieces of HTML -----------------------------------------------------------------------------------


def badge(outcome: str, words: str | None = None) -> str:
    kind = outcome if outcome in OUTCOME_WORDS else "other"
    return f'<span class="badge {kind}">{e(words or OUTCOME_WORDS.get(outcome, outcome))}</span>'


def role_link(site: Site, role_id: str | None, root: str) -> str:
    role = site.c.roles.get(role_id or "")
    if role is None:
        return f"<code>{e(role_id)}</code>"
    return f'<a href="{root}org.html#role-{e(slug(role.id))}">{e(role.title)}</a>'


def person_link(person: Person, root: str) -> str:
    return f'<a href="{root}org.html#person-{e(slug(person.id))}">{e(person.name)}</a>'


def people_of(site: Site, role_id: str, root: str) -> str:
    """The people holding a role, each with a note when they are away today and who covers."""
    shown = []
    for person in holders(site.c, role_id):
        text = person_link(person, root)
        delegate = away(person, site.today)
        if delegate is not None:
            absence = next(a for a in person.out_of_office if a.first_day <= site.today <= a.last_day)
            cover = site.c.people.get(delegate)
            covering = f"; {person_link(cover, root)} covers" if cover else ""
            text += f' <span class="away">(away until {e(day_text(absence.last_day))}{covering})</span>'
        shown.append(text)
    return ", ".join(shown) or '<span class="muted">nobody holds this role</span>'


def role_with_people(site: Site, role_id: str | None, root: str) -> str:
    if role_id is None:
        return ""
    people = people_of(site, role_id, root) if role_id in site.c.roles else ""
    return role_link(site, role_id, root) + (f' <span class="people">&ndash; {people}</span>' if people else "")


def action_link(site: Site, action: str, root: str) -> str:
    policy = site.policy_of_action.get(action)
    if policy is None:
        return f"<code>{e(action)}</code>"
    return f'<a href="{root}{e(site.policy_pages[policy])}#action-{e(slug(action))}"><code>{e(action)}</code></a>'


def rule_link(site: Site, rule_id: str, root: str) -> str:
    policy = site.policy_of_rule.get(rule_id)
    if policy is None:
        return f"<code>{e(rule_id)}</code>"
    return f'<a href="{root}{e(site.policy_pages[policy])}#rule-{e(slug(rule_id))}"><code>{e(rule_id)}</code></a>'


def last_changed(site: Site, origin_file: str) -> str:
    """The commit and date of the file's last change in git, in words."""
    if site.history is None:
        return "not in git"
    relative = site.relative(origin_file)
    found = site.history.last.get(relative)
    if found is None:
        return "not committed yet"
    sha, day = found
    text = f'{e(day)}, commit <code title="{e(sha)}">{e(sha[:10])}</code>'
    return text + (" (with uncommitted changes since)" if relative in site.history.uncommitted else "")


def first_sentence(text: str, limit: int = 220) -> str:
    match = re.match(r"(.+?[.!?])(\s|$)", text.strip(), re.S)
    sentence = match.group(1) if match else text.strip()
    return sentence if len(sentence) <= limit else sentence[:limit].rsplit(" ", 1)[0] + "…"


def plain(value: Any) -> str:
    """Any JSON value from another module as short plain text, whatever its shape."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("text", "name", "title", "role", "id"):
            if isinstance(value.get(key), str):
                return value[key]
        return ", ".join(f"{k}: {plain(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(filter(None, (plain(v) for v in value)))
    return str(value)


# --- topics -------------------------------------------------------------------------------------------------


def topic_key(action: str) -> str:
    prefix = action.split(".", 1)[0]
    return {"chargeback": "refund", "client_system": "client_data"}.get(prefix, prefix)


def topic_name(key: str) -> str:
    return TOPIC_NAMES.get(key) or key.replace("_", " ").replace("-", " ").strip().capitalize() or "Other"


def topics(site: Site) -> dict[str, tuple[list[Policy], list[Sop]]]:
    """Policies by the prefix of their first action; procedures with the policy of their first gate."""
    grouped: dict[str, tuple[list[Policy], list[Sop]]] = {}
    policy_topic: dict[str, str] = {}
    for policy in sorted(site.c.policies.values(), key=lambda p: p.title.lower()):
        key = topic_key(policy.actions[0]) if policy.actions else topic_key(policy.id.split("-", 1)[0])
        policy_topic[policy.id] = key
        grouped.setdefault(key, ([], []))[0].append(policy)
    for sop in sorted(site.c.sops.values(), key=lambda s: s.title.lower()):
        governing = sop_policies(site, sop)
        key = policy_topic[governing[0]] if governing else next(
            (k for k in grouped if k in re.split(r"[-_.]", sop.id)), "other")
        grouped.setdefault(key, ([], []))[1].append(sop)
    return dict(sorted(grouped.items(), key=lambda item: (item[0] == "other", topic_name(item[0]).lower())))


def sop_policies(site: Site, sop: Sop) -> list[str]:
    """The policies a procedure follows: those governing its gates' actions, then those it names."""
    found = [site.policy_of_action[s.gate.action] for s in sop.steps
             if s.gate and s.gate.action in site.policy_of_action]
    return list(dict.fromkeys([*found, *(p for p in sop.policies if p in site.c.policies)]))


# --- the page frame -----------------------------------------------------------------------------------------


NAV = (("index.html", "Home"), ("org.html", "Org"), ("policies.html", "Policies"), ("procedures.html", "Procedures"))


def frame(site: Site, page_path: str, title: str, body: str, section: str) -> Page:
    root = "../" * page_path.count("/")
    manifest = site.c.manifest
    nav = "".join(f'<a href="{root}{href}"{" aria-current=page" if label == section else ""}>{label}</a>'
                  for href, label in NAV)
    provenance = site.c.provenance
    version = "no git commit"
    if provenance.commit:
        version = f"commit <code>{e(provenance.commit[:10])}</code>" + (" with uncommitted changes"
                                                                        if provenance.dirty else "")
    html = f"""<!DOCTYPE html>
<html lang="en" data-root="{root}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'self'; script-src 'self'; \
img-src 'self' data:; base-uri 'none'; form-action 'none'">
<meta name="generator" content="aios handbook">
<title>{e(title)} · {e(manifest.name)} handbook</title>
<link rel="stylesheet" href="{root}assets/handbook.css">
<script src="{root}assets/search-index.js" defer></script>
<script src="{root}assets/search.js" defer></script>
</head>
<body>
<a class="skip" href="#content">Skip to the content</a>
<header class="site">
  <div class="bar">
    <a class="brand" href="{root}index.html">{e(manifest.name)}<small>Employee handbook</small></a>
    <nav class="main" aria-label="Handbook">{nav}</nav>
    <div class="search" role="search">
      <input type="search" id="search" placeholder="Search policies, procedures, people…" autocomplete="off"
             aria-label="Search the handbook" aria-controls="search-results" aria-expanded="false">
      <ul id="search-results" class="search-results" role="listbox" hidden></ul>
    </div>
  </div>
</header>
<main id="content">
{body}
</main>
<footer class="site">
  <div class="bar">
    <p>Generated by <code>aios handbook</code> on {e(day_text(site.today))} from the constitution at {version}.
    The policy files are the source of truth; agents and the decision engine read the same rules.</p>
  </div>
</footer>
</body>
</html>
"""
    return Page(page_path, title, html)


# --- the home page and the lists ----------------------------------------------------------------------------


def home_page(site: Site) -> Page:
    c, root = site.c, ""
    default = c.manifest.default_escalation
    cards = []
    for key, (policies, sops) in topics(site).items():
        items = "".join(f'<li><a href="{e(site.policy_pages[p.id])}">{e(p.title)}</a>'
                        f'<span class="muted">{e(first_sentence(p.summary))}</span></li>' for p in policies)
        procedures = "".join(f'<li class="procedure"><a href="{e(site.sop_pages[s.id])}">{e(s.title)}</a></li>'
                             for s in sops)
        cards.append(f"""<section class="card topic" id="topic-{e(slug(key))}">
  <h3>{e(topic_name(key))}</h3>
  {f'<p class="label">Policies</p><ul class="links">{items}</ul>' if items else ""}
  {f'<p class="label">Procedures</p><ul class="links">{procedures}</ul>' if procedures else ""}
</section>""")
    stats = "".join(f'<a href="{href}"><strong>{n}</strong><span>{label}</span></a>' for n, label, href in (
        (len(c.policies), "policies", "policies.html"),
        (len(c.sops), "procedures", "procedures.html"), (len(c.roles), "roles", "org.html"),
        (len(c.people), "people", "org.html#people")))
    body = f"""<section class="hero">
  <div>
    <p class="eyebrow">Welcome to</p>
    <h1>{e(c.manifest.name)}</h1>
    <p class="lead">{e(c.manifest.description)}</p>
  </div>
  <div class="stats">{stats}</div>
</section>
<h2>Topics</h2>
<div class="grid">
{"".join(cards)}
</div>
<section class="card how">
  <h2>How decisions work here</h2>
  <p>Every policy is a set of rules that our people and our AI agents follow. For each request the rules
  give one of four answers, and the strictest matching rule wins:</p>
  <ul class="outcomes">
    <li>{badge("automate")} go ahead: the rules allow it without asking anyone.</li>
    <li>{badge("escalate")} ask first: the rule names who approves, what to attach and how fast they answer.</li>
    <li>{badge("deny")} do not do it: the rule says why.</li>
    <li>{badge("needs_info")} a fact is missing: find it out and ask again.</li>
  </ul>
  <p>When no rule covers a request, it goes to {escalation_stages_inline(site, default, root)}, who answers within
  {e(default.sla.text if default.sla else "no set time")}. Use the search box at the top of every page to find a
  policy, a procedure or a person.</p>
</section>"""
    return frame(site, "index.html", "Home", body, "Home")


def escalation_stages_inline(site: Site, escalation: Escalation, root: str) -> str:
    return ", then ".join(f"the {role_link(site, stage.role, root)} ({people_of(site, stage.role, root)})"
                          for stage in escalation.stages)


def policies_page(site: Site) -> Page:
    rows = []
    for policy in sorted(site.c.policies.values(), key=lambda p: p.title.lower()):
        actions = " ".join(f"<code>{e(a)}</code>" for a in policy.actions)
        rows.append(f"""<tr><td><a href="{e(site.policy_pages[policy.id])}"><strong>{e(policy.title)}</strong></a>
<div class="muted">{e(first_sentence(policy.summary))}</div></td>
<td>{role_link(site, policy.owner, "")}</td><td>{actions}</td><td class="num">{len(policy.rules)}</td>
<td>{last_changed(site, policy.origin.file)}</td></tr>""")
    body = f"""<h1>Policies</h1>
<p class="lead">The rules for money, clients, contracts, data and people: who may do what, up to which amount, and
who approves the rest. Each policy has an owner who keeps it up to date.</p>
<div class="table-wrap"><table>
<thead><tr><th>Policy</th><th>Owner</th><th>Actions it governs</th><th>Rules</th><th>Last changed</th></tr></thead>
<tbody>{"".join(rows)}</tbody>
</table></div>"""
    return frame(site, "policies.html", "Policies", body, "Policies")


def procedures_page(site: Site) -> Page:
    rows = []
    for sop in sorted(site.c.sops.values(), key=lambda s: s.title.lower()):
        rows.append(f"""<tr><td><a href="{e(site.sop_pages[sop.id])}"><strong>{e(sop.title)}</strong></a></td>
<td>{e(sop.trigger)}</td><td>{role_link(site, sop.owner, "")}</td>
<td>{e(sop.sla.text if sop.sla else "")}</td><td class="num">{len(sop.steps)}</td></tr>""")
    body = f"""<h1>Procedures</h1>
<p class="lead">Step by step: what to do when something happens, who does each step, and where the rules decide.</p>
<div class="table-wrap"><table>
<thead><tr><th>Procedure</th><th>When it starts</th><th>Owner</th><th>Done within</th><th>Steps</th></tr></thead>
<tbody>{"".join(rows)}</tbody>
</table></div>"""
    return frame(site, "procedures.html", "Procedures", body, "Procedures")


# --- a policy -------------------------------------------------------------------------------------------------


def policy_page(site: Site, policy: Policy) -> Page:
    path, root = site.policy_pages[policy.id], "../"
    procedures = [s for s in site.c.sops.values() if policy.id in sop_policies(site, s)]
    related = "".join(f'<li><a href="{root}{e(site.sop_pages[s.id])}">{e(s.title)}</a></li>' for s in procedures)
    confidence = ""
    if policy.min_confidence is not None:
        named = f" (threshold <code>{e(policy.min_confidence_threshold)}</code>)" if policy.min_confidence_threshold \
            else ""
        confidence = (f"<div><dt>Agents</dt><dd>an agent's request is automated only when it is at least "
                      f"{e(f'{policy.min_confidence:.0%}')} sure{named}</dd></div>")
    actions = " ".join(f"<code>{e(a)}</code>" for a in policy.actions)
    tables = "".join(decision_table(site, action, root) for action in policy.actions)
    rules = "".join(rule_card(site, rule, root) for rule in policy.rules)
    body = f"""<p class="crumbs"><a href="{root}policies.html">Policies</a> &rsaquo;</p>
<h1>{e(policy.title)}</h1>
<p class="lead">{e(policy.summary)}</p>
<dl class="facts">
  <div><dt>Owner</dt><dd>{role_with_people(site, policy.owner, root)}</dd></div>
  <div><dt>Governs</dt><dd>{actions}</dd></div>
  {confidence}
  <div><dt>Last changed</dt><dd>{last_changed(site, policy.origin.file)}</dd></div>
  <div><dt>Source</dt><dd><code>{e(site.relative(policy.origin.file))}</code> · <code>{e(policy.id)}</code></dd></div>
</dl>
{f'<h2>Procedures that follow it</h2><ul class="links">{related}</ul>' if related else ""}
{f'<h2>Decision table</h2><p class="muted">Every case, strictest first, and the rules it comes from.</p>{tables}'
 if tables else ""}
<h2>Rules</h2>
<p class="muted">Every rule whose condition matches a request counts; the strictest outcome wins (denied, then
escalated, then automated).</p>
{rules}"""
    return frame(site, path, policy.title, body, "Policies")


def decision_table(site: Site, action: str, root: str) -> str:
    """The regions of one action from `aios_policy.explain` as a table: when → outcome, rules."""
    data = site.tables.get(action)
    if not isinstance(data, dict):
        return ""
    anchor = f'<h3 id="action-{e(slug(action))}"><code>{e(action)}</code></h3>'
    if data.get("error"):
        return f'{anchor}<p class="muted">The decision table could not be worked out: {e(data["error"])}</p>'
    regions = [r for r in data.get("regions") or [] if isinstance(r, dict)]
    if not regions:
        return f'{anchor}<p class="muted">{e(plain(data.get("text")) or "No decision table for this action.")}</p>'
    rows = []
    for region in regions:
        when = [plain(w) for w in region.get("when") or []] if isinstance(region.get("when"), list) \
            else [plain(region.get("when"))]
        when_html = " <span class='and'>and</span> ".join(e(w) for w in when if w) or "in every other case"
        decision = plain(region.get("decision"))
        word = OUTCOME_WORDS.get(decision, decision)
        outcome = plain(region.get("outcome"))
        if outcome.lower().startswith(word.lower()):
            outcome = outcome[len(word):].strip()  # the badge says it already
        details = region_details(region, outcome_given=bool(region.get("outcome")))
        rules = listed if isinstance(listed := region.get("rules"), list) else []
        rule_links = " ".join(rule_link(site, plain(r), root) for r in rules) or '<span class="muted">default</span>'
        rows.append(f"<tr><td>{when_html}</td><td>{badge(decision)} {e(outcome)}"
                    f"{details}</td><td>{rule_links}</td></tr>")
    sampled = ('<p class="muted">A condition of these rules is a raw expression, so the regions marked '
               '&ldquo;sampled&rdquo; were found from examples and may not show every case.</p>'
               if any(r.get("sampled") for r in regions) else "")
    return f"""{anchor}{sampled}<div class="table-wrap"><table class="regions">
<thead><tr><th>When</th><th>Then</th><th>Rules</th></tr></thead>
<tbody>{"".join(rows)}</tbody></table></div>"""


def region_details(region: dict[str, Any], outcome_given: bool) -> str:
    """The deadline and attachments of a region, each only when present (the outcome names the people)."""
    lines = []
    people = region.get("people")
    if people and not outcome_given:
        lines.append(f'<div class="people">{e(plain(people))}</div>')
    if region.get("sla"):
        lines.append(f"<div>answer within {e(plain(region.get('sla')))}</div>")
    attach = region.get("attach")
    if isinstance(attach, list) and attach:
        lines.append(f"<div>attach {e(', '.join(plain(a).replace('_', ' ') for a in attach))}</div>")
    if region.get("sampled"):
        lines.append('<div><span class="badge other">sampled</span></div>')
    return f'<div class="details">{"".join(lines)}</div>' if lines else ""


def rule_card(site: Site, rule: Rule, root: str) -> str:
    facts = [f"<div><dt>Applies when</dt><dd>{e(rule.condition.describe())}</dd></div>"]
    if rule.escalation is not None:
        facts.extend(escalation_facts(site, rule.escalation, root))
    if rule.obligations:
        items = "".join(f"<li><strong>{e(o.kind.capitalize())}</strong>"
                        f"{(' ' + role_link(site, o.role, root)) if o.role else ''}: {e(o.text)}</li>"
                        for o in rule.obligations)
        facts.append(f"<div><dt>Also</dt><dd><ul>{items}</ul></dd></div>")
    effective = effective_text(site, rule)
    if effective:
        facts.append(f"<div><dt>In effect</dt><dd>{effective}</dd></div>")
    return f"""<article class="rule card" id="rule-{e(slug(rule.id))}">
<header><code class="rule-id">{e(rule.id)}</code> {badge(rule.outcome)}</header>
<p>{e(rule.reason)}</p>
<dl class="facts">{"".join(facts)}</dl>
</article>"""


def escalation_facts(site: Site, escalation: Escalation, root: str) -> list[str]:
    stages = "".join(f"<li>{e(stage.name.capitalize()) + ': ' if stage.name else ''}"
                     f"{role_with_people(site, stage.role, root)}"
                     f"{f' ({stage.approvals} must approve)' if stage.approvals > 1 else ''}</li>"
                     for stage in escalation.stages)
    facts = [f'<div><dt>Approved by</dt><dd><ol class="stages">{stages}</ol></dd></div>']
    if escalation.sla is not None:
        named = f' <span class="muted">(threshold <code>{e(escalation.sla_threshold)}</code>)</span>' \
            if escalation.sla_threshold else ""
        facts.append(f"<div><dt>Answer within</dt><dd>{e(escalation.sla.text)}{named}</dd></div>")
    facts.append(f"<div><dt>If nobody answers</dt><dd>{timeout_text(site, escalation, root)}</dd></div>")
    required = escalation.require.get("required") if isinstance(escalation.require, dict) else None
    if isinstance(required, list) and required:
        properties = escalation.require.get("properties")
        properties = properties if isinstance(properties, dict) else {}
        items = "".join(f"<li><code>{e(name)}</code>{attachment_description(properties.get(name))}</li>"
                        for name in map(str, required))
        facts.append(f'<div><dt>Attach</dt><dd><ul class="attach">{items}</ul></dd></div>')
    return facts


def attachment_description(schema: Any) -> str:
    description = plain(schema.get("description")) if isinstance(schema, dict) else ""
    return f" &ndash; {e(description)}" if description else ""


def timeout_text(site: Site, escalation: Escalation, root: str) -> str:
    timeout = escalation.on_timeout
    if timeout.then == "deny":
        return "the request is denied"
    if timeout.then == "approve":
        return "the request is approved"
    role = timeout.role
    if role is None and escalation.stages:
        first = site.c.roles.get(escalation.stages[0].role)
        role = first.reports_to if first and first.reports_to else escalation.stages[0].role
    return f"it goes up to {role_link(site, role, root)}"


def effective_text(site: Site, rule: Rule) -> str:
    if rule.effective_from is None and rule.effective_until is None:
        return ""
    tz = site.c.manifest.timezone
    parts = []
    if rule.effective_from is not None:
        parts.append(f"from {day_text(rule.effective_from.astimezone(tz).date())}")
    if rule.effective_until is not None:
        parts.append(f"until {day_text(rule.effective_until.astimezone(tz).date())} (not included)")
    state = "in effect now" if rule.in_effect(site.now) else (
        "not yet in effect" if rule.effective_from and site.now < rule.effective_from else "no longer in effect")
    return f'{e(" ".join(parts))} <span class="badge {"on" if rule.in_effect(site.now) else "off"}">{state}</span>'


# --- a procedure ----------------------------------------------------------------------------------------------


def sop_page(site: Site, sop: Sop) -> Page:
    path, root = site.sop_pages[sop.id], "../"
    numbers = {step.id: n for n, step in enumerate(sop.steps, 1)}
    steps = "".join(step_item(site, sop, step, numbers, root) for step in sop.steps)
    governing = "".join(f'<li><a href="{root}{e(site.policy_pages[p])}">{e(site.c.policies[p].title)}</a></li>'
                        for p in sop_policies(site, sop))
    questions = "".join(f"<li>{e(q)}</li>" for q in sop.questions)
    body = f"""<p class="crumbs"><a href="{root}procedures.html">Procedures</a> &rsaquo;</p>
<h1>{e(sop.title)}</h1>
<p class="trigger"><span class="label">When this starts</span> {e(sop.trigger)}</p>
<p class="lead">{e(sop.summary)}</p>
<dl class="facts">
  <div><dt>Owner</dt><dd>{role_with_people(site, sop.owner, root)}</dd></div>
  {f"<div><dt>Done within</dt><dd>{e(sop.sla.text)}</dd></div>" if sop.sla else ""}
  <div><dt>Last changed</dt><dd>{last_changed(site, sop.origin.file)}</dd></div>
  <div><dt>Source</dt><dd><code>{e(site.relative(sop.origin.file))}</code> · <code>{e(sop.id)}</code></dd></div>
</dl>
{f'<h2>Policies it follows</h2><ul class="links">{governing}</ul>' if governing else ""}
<h2>Steps</h2>
<ol class="flow">{steps}</ol>
{f'<h2>Questions this answers</h2><ul class="questions">{questions}</ul>' if questions else ""}"""
    return frame(site, path, sop.title, body, "Procedures")


def step_item(site: Site, sop: Sop, step: Step, numbers: dict[str, int], root: str) -> str:
    if step.role:
        who = role_with_people(site, step.role, root)
    elif step.agent:
        who = f'<span class="badge agent">AI agent</span> {e(step.agent)}'
    else:
        who = '<span class="muted">anyone</span>'
    gate = ""
    if step.gate is not None:
        outcomes = "".join(f"<li>{badge(outcome)} → {step_target(sop, target, numbers)}</li>"
                           for outcome, target in step.on.items())
        policy = site.policy_of_action.get(step.gate.action)
        governed = (f' under <a href="{root}{e(site.policy_pages[policy])}">{e(site.c.policies[policy].title)}</a>'
                    if policy else "")
        question = f'<p class="question">“{e(step.gate.question)}”</p>' if step.gate.question else ""
        gate = f"""<div class="gate"><p><span class="label">Decision point</span> The rules decide
{action_link(site, step.gate.action, root)}{governed}.</p>{question}<ul class="outcomes">{outcomes}</ul></div>"""
    follows = f'<p class="next">Then: {step_target(sop, step.next, numbers)}</p>' if step.next else ""
    sla = f'<span class="sla">within {e(step.sla.text)}</span>' if step.sla else ""
    return f"""<li id="step-{e(slug(step.id))}"><span class="step-no">{numbers[step.id]}</span><div class="card step">
<h3>{e(step.title)} {sla}</h3>
<p class="who"><span class="label">Done by</span> {who}</p>
<p>{e(step.instructions)}</p>
{gate}{follows}
</div></li>"""


def step_target(sop: Sop, target: str | None, numbers: dict[str, int]) -> str:
    if target in (None, "end"):
        return "the procedure ends"
    step = next((s for s in sop.steps if s.id == target), None)
    if step is None:
        return f"<code>{e(target)}</code>"
    return f'<a href="#step-{e(slug(step.id))}">step {numbers[step.id]}, {e(step.title)}</a>'


# --- the org ----------------------------------------------------------------------------------------------------


def org_page(site: Site) -> Page:
    c, root = site.c, ""
    rows = []
    for role in sorted(c.roles.values(), key=lambda r: (-r.authority, r.title.lower())):
        rows.append(f"""<tr id="role-{e(slug(role.id))}"><td><strong>{e(role.title)}</strong>
<div><code>{e(role.id)}</code></div></td>
<td>{role_link(site, role.reports_to, root) if role.reports_to else '<span class="muted">nobody (the top)</span>'}</td>
<td class="num">{role.authority}<meter min="0" max="100" value="{max(0, min(100, role.authority))}"
title="authority {role.authority} of 100"></meter></td>
<td>{people_of(site, role.id, root)}</td><td>{e(role.description)}</td></tr>""")
    people = "".join(person_card(site, person, root) for person in sorted(c.people.values(), key=lambda p: p.name))
    body = f"""<h1>Organisation</h1>
<p class="lead">Who holds which role, who they report to, and who covers for whom while they are away. Approvals
go to a role, so when someone is out their delegate answers for them.</p>
<h2>Reporting lines</h2>
<div class="card tree">{org_tree(site, None, root, set())}</div>
<h2>Roles</h2>
<div class="table-wrap"><table>
<thead><tr><th>Role</th><th>Reports to</th><th>Authority</th><th>People</th><th>What the role does</th></tr></thead>
<tbody>{"".join(rows)}</tbody>
</table></div>
<h2 id="people">People</h2>
<div class="grid people-grid">{people}</div>"""
    return frame(site, "org.html", "Organisation", body, "Org")


def org_tree(site: Site, parent: str | None, root: str, seen: set[str]) -> str:
    children = sorted((r for r in site.c.roles.values() if r.reports_to == parent and r.id not in seen),
                      key=lambda r: (-r.authority, r.title))
    if not children:
        return ""
    seen.update(r.id for r in children)
    items = "".join(f"<li>{role_link(site, r.id, root)} <span class='people'>&middot; "
                    f"{people_of(site, r.id, root)}</span>{org_tree(site, r.id, root, seen)}</li>" for r in children)
    return f"<ul>{items}</ul>"


def initials(name: str) -> str:
    parts = [w for w in re.split(r"\s+", name.strip()) if w]
    return "".join(w[0] for w in (parts[:1] + parts[-1:] if len(parts) > 1 else parts)).upper()


def person_card(site: Site, person: Person, root: str) -> str:
    roles = ", ".join(role_link(site, r, root) for r in person.roles)
    contact = [f'<a href="mailto:{e(person.email)}">{e(person.email)}</a>'] if person.email else []
    contact += [f"{e(k)}: {e(v)}" for k, v in sorted(person.handles.items())]
    absences = []
    for absence in person.out_of_office:
        if absence.last_day < site.today:
            continue
        delegate = site.c.people.get(absence.delegate)
        covers = person_link(delegate, root) if delegate else f"<code>{e(absence.delegate)}</code>"
        state = ' <span class="badge off">away now</span>' if absence.first_day <= site.today else ""
        note = f'<div class="muted">{e(absence.note)}</div>' if absence.note else ""
        absences.append(f"<li>{e(day_text(absence.first_day))} &ndash; {e(day_text(absence.last_day))}{state}: "
                        f"{covers} covers{note}</li>")
    away_html = f'<p class="label">Out of office</p><ul class="absences">{"".join(absences)}</ul>' if absences else ""
    return f"""<section class="card person" id="person-{e(slug(person.id))}">
<h3><span class="avatar" aria-hidden="true">{e(initials(person.name))}</span>{e(person.name)}</h3>
<p>{roles}</p>
<p class="contact">{" · ".join(contact)}</p>
{away_html}
</section>"""


# --- search -------------------------------------------------------------------------------------------------------


def search_entries(site: Site) -> list[dict[str, str]]:
    """What the search box looks through: a title, a kind, a link and the text to match, per entry."""
    c = site.c
    entries = []
    for policy in c.policies.values():
        url = site.policy_pages[policy.id]
        entries.append({"title": policy.title, "kind": "Policy", "url": url, "summary": first_sentence(policy.summary),
                        "text": " ".join([policy.summary, *policy.synonyms, *policy.actions, policy.id])})
        for rule in policy.rules:
            entries.append({"title": rule.id, "kind": f"Rule in {policy.title}",
                            "url": f"{url}#rule-{slug(rule.id)}", "summary": rule.reason, "text": rule.reason})
    for sop in c.sops.values():
        steps = " ".join(f"{s.title} {s.instructions} {s.agent or ''}" for s in sop.steps)
        entries.append({"title": sop.title, "kind": "Procedure", "url": site.sop_pages[sop.id],
                        "summary": first_sentence(sop.summary),
                        "text": " ".join([sop.summary, sop.trigger, *sop.questions, *sop.synonyms, sop.id, steps])})
    for role in c.roles.values():
        names = " ".join(p.name for p in holders(c, role.id))
        entries.append({"title": role.title, "kind": "Role", "url": f"org.html#role-{slug(role.id)}",
                        "summary": role.description, "text": f"{role.description} {role.id} {names}"})
    for person in c.people.values():
        titles = ", ".join(c.roles[r].title if r in c.roles else r for r in person.roles)
        entries.append({"title": person.name, "kind": "Person", "url": f"org.html#person-{slug(person.id)}",
                        "summary": titles, "text": " ".join([titles, person.email or "", *person.handles.values()])})
    return entries


def search_index_script(site: Site) -> str:
    data = json.dumps(search_entries(site), ensure_ascii=True, separators=(",", ":"))
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"// The handbook's search index, generated by `aios handbook`.\nwindow.AIOS_HANDBOOK_INDEX = {data};\n"


SEARCH_JS = r"""// The handbook's search: matches as you type, from the index in search-index.js; no server, no network.
(function () {
  "use strict";
  var input = document.getElementById("search");
  var list = document.getElementById("search-results");
  if (!input || !list) return;
  var root = document.documentElement.getAttribute("data-root") || "";
  var kindWeight = { Policy: 6, Procedure: 6, Role: 3, Person: 3, Rule: 1 };
  function fold(text) {
    return String(text || "").toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "");
  }
  var entries = (window.AIOS_HANDBOOK_INDEX || []).map(function (entry) {
    return { entry: entry, title: fold(entry.title), text: fold(entry.title + " " + entry.summary + " " + entry.text) };
  });
  var active = -1;

  function score(item, words) {
    var total = kindWeight[item.entry.kind.split(" ")[0]] || 0;
    for (var i = 0; i < words.length; i++) {
      var word = words[i];
      var at = item.text.indexOf(word);
      if (at < 0) return -1;
      if (item.title.indexOf(word) >= 0) total += 10;
      if (at === 0 || /[^a-z0-9]/.test(item.text.charAt(at - 1))) total += 3;
      total += 1;
    }
    return total;
  }

  function snippet(text, words) {
    var folded = fold(text);
    var at = -1;
    for (var i = 0; i < words.length && at < 0; i++) at = folded.indexOf(words[i]);
    var start = at < 90 ? 0 : text.lastIndexOf(" ", at - 40) + 1;
    var end = Math.min(text.length, start + 160);
    if (end < text.length && text.lastIndexOf(" ", end) > start) end = text.lastIndexOf(" ", end);
    return (start > 0 ? "…" : "") + text.slice(start, end) + (end < text.length ? "…" : "");
  }

  function highlighted(text, words) {
    var fragment = document.createDocumentFragment();
    var folded = fold(text);
    var position = 0;
    while (position < text.length) {
      var next = -1, length = 0;
      for (var i = 0; i < words.length; i++) {
        var at = folded.indexOf(words[i], position);
        if (at >= 0 && (next < 0 || at < next)) { next = at; length = words[i].length; }
      }
      if (next < 0 || folded.length !== text.length) {
        fragment.appendChild(document.createTextNode(text.slice(position)));
        break;
      }
      fragment.appendChild(document.createTextNode(text.slice(position, next)));
      var mark = document.createElement("mark");
      mark.textContent = text.slice(next, next + length);
      fragment.appendChild(mark);
      position = next + length;
    }
    return fragment;
  }

  function show(query) {
    var words = fold(query).split(/[^a-z0-9$%.,]+/).map(function (w) { return w.replace(/[.,]+$/, ""); })
      .filter(function (w) { return w.length > 0; });
    list.textContent = "";
    active = -1;
    if (!words.length) { hide(); return; }
    var found = [];
    for (var i = 0; i < entries.length; i++) {
      var value = score(entries[i], words);
      if (value >= 0) found.push({ item: entries[i], value: value });
    }
    found.sort(function (a, b) { return b.value - a.value || a.item.title.localeCompare(b.item.title); });
    if (!found.length) {
      var none = document.createElement("li");
      none.className = "empty";
      none.textContent = "Nothing found for “" + query + "”.";
      list.appendChild(none);
    }
    found.slice(0, 12).forEach(function (hit) {
      var entry = hit.item.entry;
      var li = document.createElement("li");
      li.setAttribute("role", "option");
      var a = document.createElement("a");
      a.href = root + entry.url;
      var kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = entry.kind;
      var title = document.createElement("strong");
      title.appendChild(highlighted(entry.title, words));
      var inSummary = words.some(function (w) { return fold(entry.summary).indexOf(w) >= 0; });
      var source = inSummary || !words.some(function (w) { return fold(entry.text).indexOf(w) >= 0; })
        ? entry.summary : entry.text;
      var detail = document.createElement("span");
      detail.className = "detail";
      detail.appendChild(highlighted(snippet(source, words), words));
      a.appendChild(kind);
      a.appendChild(title);
      a.appendChild(detail);
      li.appendChild(a);
      list.appendChild(li);
    });
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  function hide() {
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
  }

  function move(step) {
    var items = list.querySelectorAll("li[role=option]");
    if (!items.length) return;
    if (active >= 0) items[active].classList.remove("active");
    active = (active + step + items.length) % items.length;
    items[active].classList.add("active");
    items[active].scrollIntoView({ block: "nearest" });
  }

  input.addEventListener("input", function () { show(input.value); });
  input.addEventListener("focus", function () { if (input.value) show(input.value); });
  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown") { move(1); event.preventDefault(); }
    else if (event.key === "ArrowUp") { move(-1); event.preventDefault(); }
    else if (event.key === "Escape") { hide(); input.blur(); }
    else if (event.key === "Enter") {
      var items = list.querySelectorAll("li[role=option] a");
      var chosen = items[Math.max(active, 0)];
      if (chosen) window.location.href = chosen.href;
    }
  });
  document.addEventListener("click", function (event) {
    if (!event.target.closest || !event.target.closest(".search")) hide();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "/" && document.activeElement !== input) { input.focus(); event.preventDefault(); }
  });
})();
"""


CSS = """/* The handbook's stylesheet, generated by `aios handbook`. No web fonts, nothing fetched. */
:root {
  --ink: #1c2733; --muted: #5a6775; --line: #e2e6eb; --bg: #f6f7f9; --card: #ffffff;
  --brand: #17406d; --brand-2: #21588f; --accent: #c9822b; --link: #1f5fa3;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--ink);
  font: 16px/1.6 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Helvetica Neue", Arial, sans-serif; }
a { color: var(--link); text-underline-offset: 2px; }
a:hover { color: var(--brand); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: .86em;
  background: #edf0f4; padding: .08rem .35rem; border-radius: 4px; overflow-wrap: anywhere; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem 1rem; z-index: 20; }

header.site { background: linear-gradient(90deg, var(--brand), var(--brand-2)); color: #fff;
  box-shadow: 0 1px 0 rgba(0,0,0,.08); position: sticky; top: 0; z-index: 10; }
.bar { max-width: 1120px; margin: 0 auto; padding: .7rem 1.5rem; display: flex; align-items: center;
  gap: 1.25rem; flex-wrap: wrap; }
.brand { color: #fff; text-decoration: none; font-weight: 700; font-size: 1.1rem; line-height: 1.2; }
.brand small { display: block; font-weight: 500; font-size: .7rem; letter-spacing: .12em; text-transform: uppercase;
  opacity: .75; }
.brand:hover { color: #fff; }
nav.main { display: flex; gap: .25rem; flex-wrap: wrap; }
nav.main a { color: #d8e4f2; text-decoration: none; padding: .38rem .75rem; border-radius: 7px; font-weight: 500; }
nav.main a:hover, nav.main a[aria-current=page] { background: rgba(255,255,255,.16); color: #fff; }
.search { margin-left: auto; position: relative; width: min(360px, 100%); }
.search input { width: 100%; padding: .55rem .85rem; border: 1px solid transparent; border-radius: 8px;
  font: inherit; font-size: .95rem; background: rgba(255,255,255,.95); color: var(--ink); }
.search input:focus { outline: 3px solid rgba(201,130,43,.6); outline-offset: 1px; }
.search-results { position: absolute; right: 0; top: calc(100% + 6px); width: min(520px, 92vw); margin: 0;
  padding: .35rem; list-style: none; background: #fff; color: var(--ink); border-radius: 10px;
  box-shadow: 0 14px 40px rgba(15,23,42,.22); max-height: 70vh; overflow: auto; }
.search-results a { display: block; padding: .5rem .7rem; border-radius: 7px; color: inherit; text-decoration: none; }
.search-results a:hover, .search-results li.active a { background: #eef3f9; }
.search-results .kind { display: block; font-size: .68rem; font-weight: 600; letter-spacing: .08em;
  text-transform: uppercase; color: var(--muted); }
.search-results strong { display: block; font-weight: 600; }
.search-results .detail { display: block; font-size: .85rem; color: var(--muted); line-height: 1.45; }
.search-results .empty { padding: .6rem .7rem; color: var(--muted); }
mark { background: #fde8c4; color: inherit; border-radius: 2px; }

main { max-width: 1120px; margin: 0 auto; padding: 2rem 1.5rem 4rem; }
h1 { font-size: 2.1rem; line-height: 1.2; margin: .2rem 0 .8rem; letter-spacing: -.01em; }
h2 { font-size: 1.3rem; margin: 2.4rem 0 .9rem; padding-bottom: .35rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.05rem; margin: 0 0 .5rem; }
p { margin: 0 0 .8rem; }
.lead { font-size: 1.12rem; color: #34414f; max-width: 78ch; }
.muted { color: var(--muted); }
.label { display: inline-block; font-size: .7rem; font-weight: 700; letter-spacing: .09em; text-transform: uppercase;
  color: var(--muted); margin: .4rem .5rem .3rem 0; }
.crumbs { margin: 0; font-size: .9rem; }
.crumbs a { text-decoration: none; }

.hero { padding: .5rem 0 .5rem; display: grid; grid-template-columns: 1fr minmax(220px, 300px); gap: 2rem;
  align-items: end; }
.hero .lead { margin-bottom: 0; }
.eyebrow { margin: 0; text-transform: uppercase; letter-spacing: .14em; font-size: .78rem; font-weight: 700;
  color: var(--accent); }
.hero h1 { font-size: 2.6rem; }
.stats { display: grid; grid-template-columns: repeat(2, 1fr); gap: .6rem; }
.stats a { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: .5rem 1rem;
  text-decoration: none; color: inherit; }
.stats a:hover { border-color: var(--brand-2); }
.stats strong { display: block; font-size: 1.5rem; color: var(--brand); line-height: 1.2; }
.stats span { display: block; font-size: .85rem; color: var(--muted); }

.card { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 1.1rem 1.3rem;
  box-shadow: 0 1px 2px rgba(16,24,40,.04); }
.how h2 { margin-top: 0; border: 0; padding: 0; }
.how { border-left: 4px solid var(--accent); margin-top: 2.4rem; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(310px, 1fr)); gap: 1rem; }
.topic h3 { font-size: 1.1rem; color: var(--brand); }
ul.links { list-style: none; padding: 0; margin: 0 0 .4rem; }
ul.links li { padding: .3rem 0; border-top: 1px solid #f0f2f5; }
ul.links li:first-child { border-top: 0; }
ul.links li a { font-weight: 600; text-decoration: none; }
ul.links li .muted { display: block; font-size: .86rem; line-height: 1.45; }
ul.links li.procedure a::before { content: "→ "; color: var(--accent); }
ul.outcomes { list-style: none; padding: 0; margin: .4rem 0 .8rem; }
ul.outcomes li { margin: .3rem 0; }

.badge { display: inline-block; padding: .08rem .55rem; border-radius: 999px; font-size: .76rem; font-weight: 650;
  white-space: nowrap; vertical-align: .08em; background: #edf0f4; color: #394756; }
.badge.automate { background: #dff3e7; color: #1b6a3d; }
.badge.escalate { background: #fcefd6; color: #875100; }
.badge.deny { background: #fde1e0; color: #9d1f1f; }
.badge.needs_info { background: #e0ebfa; color: #1d4f8c; }
.badge.agent { background: #ece7fb; color: #4a3a99; }
.badge.on { background: #dff3e7; color: #1b6a3d; }
.badge.off { background: #f1f1f1; color: #6b6b6b; }

dl.facts { display: grid; grid-template-columns: 9.5rem 1fr; gap: .35rem 1.2rem; margin: 1rem 0; }
dl.facts > div { display: contents; }
dl.facts dt { font-weight: 600; color: var(--muted); font-size: .9rem; padding-top: .1rem; }
dl.facts dd { margin: 0; }
dl.facts ul, dl.facts ol { margin: 0; padding-left: 1.2rem; }
.away { color: #875100; font-size: .9em; }
.people { color: var(--muted); }

.table-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 10px; background: var(--card);
  margin-bottom: 1.2rem; }
table { width: 100%; border-collapse: collapse; font-size: .94rem; }
th, td { text-align: left; vertical-align: top; padding: .65rem .85rem; border-bottom: 1px solid var(--line); }
tbody tr:last-child td { border-bottom: 0; }
th { background: #f2f5f8; font-size: .78rem; letter-spacing: .06em; text-transform: uppercase; color: #4a5664; }
tbody tr:nth-child(even) td { background: #fbfcfd; }
td.num { text-align: right; white-space: nowrap; }
td .muted { font-size: .88rem; }
table.regions .and { color: var(--muted); font-style: italic; }
table.regions .details { font-size: .86rem; color: var(--muted); margin-top: .25rem; }
table.regions td:first-child { width: 38%; }
table.regions td:last-child code { white-space: nowrap; }
td meter { display: block; width: 4.5rem; height: .5rem; margin: .35rem 0 0 auto; }

.rule { margin-bottom: 1rem; }
.rule header { display: flex; align-items: center; gap: .6rem; margin-bottom: .5rem; }
.rule-id { font-size: .95rem; font-weight: 600; background: none; padding: 0; color: var(--brand); }
.rule dl.facts { margin-bottom: 0; font-size: .94rem; }

.trigger { background: #fff8ec; border: 1px solid #f3dfbd; border-radius: 10px; padding: .7rem 1rem; }
ol.flow { list-style: none; padding: 0; margin: 0; }
ol.flow > li { position: relative; padding-left: 3.3rem; padding-bottom: 1rem; }
ol.flow > li::before { content: ""; position: absolute; left: 1.1rem; top: 2.4rem; bottom: 0; width: 2px;
  background: var(--line); }
ol.flow > li:last-child::before { display: none; }
.step-no { position: absolute; left: 0; top: .6rem; width: 2.3rem; height: 2.3rem; border-radius: 50%;
  background: var(--brand); color: #fff; display: grid; place-items: center; font-weight: 700; }
.step h3 { display: flex; flex-wrap: wrap; align-items: baseline; gap: .3rem .8rem; }
.sla { font-size: .8rem; font-weight: 500; color: var(--muted); background: #f2f5f8; border-radius: 999px;
  padding: .05rem .6rem; }
.who { font-size: .93rem; margin-bottom: .5rem; }
.gate { border-left: 4px solid var(--accent); background: #fffaf2; border-radius: 0 8px 8px 0; padding: .6rem 1rem;
  margin-top: .6rem; }
.gate .question { font-style: italic; }
.gate ul.outcomes { margin-bottom: 0; }
.next { margin: .5rem 0 0; font-size: .93rem; color: var(--muted); }
ul.questions li { margin: .25rem 0; }

.tree ul { list-style: none; margin: 0; padding-left: 1.4rem; border-left: 2px solid var(--line); }
.tree > ul { padding-left: 0; border: 0; }
.tree li { margin: .35rem 0; }
.tree li > a { font-weight: 600; }
.tree .people { font-size: .9rem; }
.person h3 { margin-bottom: .4rem; display: flex; align-items: center; gap: .6rem; }
.avatar { width: 2.2rem; height: 2.2rem; border-radius: 50%; background: #e3ebf5; color: var(--brand);
  display: inline-grid; place-items: center; font-size: .8rem; font-weight: 700; flex: none; }
.people-grid { align-items: start; }
.contact { font-size: .9rem; color: var(--muted); overflow-wrap: anywhere; }
ul.absences { margin: 0; padding-left: 1.1rem; font-size: .92rem; }
:target { scroll-margin-top: 5.5rem; }
.card:target, tr:target td { outline: 3px solid rgba(201,130,43,.45); }

footer.site { border-top: 1px solid var(--line); color: var(--muted); font-size: .85rem; background: #fff; }
footer.site p { margin: .4rem 0; }

@media (max-width: 760px) {
  .bar { padding: .6rem 1rem; gap: .6rem; }
  .search { margin-left: 0; width: 100%; }
  header.site { position: static; }
  main { padding: 1.3rem 1rem 3rem; }
  h1, .hero h1 { font-size: 1.7rem; }
  .hero { grid-template-columns: 1fr; gap: 1rem; }
  dl.facts { grid-template-columns: 1fr; }
  dl.facts dt { padding-top: .5rem; }
}
@media print {
  header.site { position: static; background: none; color: #000; box-shadow: none; border-bottom: 2px solid #000; }
  .brand, .brand:hover { color: #000; }
  nav.main, .search, .skip { display: none; }
  body { background: #fff; font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  a { color: inherit; text-decoration: none; }
  .card, .table-wrap { box-shadow: none; border-color: #bbb; }
  .card, tr, ol.flow > li, .rule { break-inside: avoid; }
  h2, h3 { break-after: avoid; }
  .table-wrap { overflow: visible; }
  footer.site { background: none; }
}
"""


# --- the whole handbook ---------------------------------------------------------------------------------------


def build(constitution: Constitution, now: datetime, history: FileHistory | None) -> Handbook:
    """Every page of the handbook, judged at now (who is away, which rules are in effect)."""
    site = Site(constitution, now, history)
    pages = [home_page(site), org_page(site), policies_page(site), procedures_page(site)]
    pages.extend(policy_page(site, policy) for policy in site.c.policies.values())
    pages.extend(sop_page(site, sop) for sop in site.c.sops.values())
    assets = {"assets/handbook.css": CSS, "assets/search.js": SEARCH_JS,
              "assets/search-index.js": search_index_script(site)}
    return Handbook(pages, assets)
