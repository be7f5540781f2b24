"""What each page of the handbook shows: the constitution turned into plain values for the templates.

`build` makes a `Site` (page paths, topics, decision tables, who governs which action) and from it
the values of each page: a home page by topic, a page per policy and per procedure, the org, lists
of policies and procedures, and the search index. The templates in `templates/` lay them out and
escape them; nothing here writes HTML. Pages are named after ids, made safe for file names first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from aios_policy.constitution.model import CompiledConstitution, Escalation, Person, Policy, Rule, Sop, Step
from aios_policy.constitution.source import FileHistory
from aios_policy.engine.facade import Constitution
from aios_policy.engine.people import away, holders
from aios_policy.guide.explain import explain_action
from aios_policy.words.outcome import HEADING

from .render import Handbook, Page, render, search_index_script, static_assets

OTHER_TOPIC = "Other"


def slug(identifier: str) -> str:
    """A safe file name or anchor for an id (ids are [a-z0-9_.-] by the schema; anything else is replaced)."""
    safe = re.sub(r"[^a-z0-9_.-]+", "-", identifier.lower()).strip(".-")
    return safe[:80] or "item"


def day_text(day: date) -> str:
    return f"{day.day} {day:%b %Y}"


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


# --- the values the templates show ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """A title and the page it leads to, from the handbook's root; note is a line under it."""

    text: str
    href: str
    note: str = ""


@dataclass(frozen=True)
class Code:
    """An id shown as code, linked (from the handbook's root) when the handbook has a page for it."""

    text: str
    href: str | None


@dataclass(frozen=True)
class PersonRef:
    name: str
    anchor: str


@dataclass(frozen=True)
class Holder:
    """A person holding a role, and while they are away, the day they are back and who covers."""

    person: PersonRef
    away_until: str | None
    cover: PersonRef | None


@dataclass(frozen=True)
class RoleRef:
    id: str
    title: str | None  # None: the org has no such role, so it is shown as its id
    anchor: str
    holders: tuple[Holder, ...]


@dataclass(frozen=True)
class Change:
    """A file's last change in git: a note when there is none, else its day and commit."""

    note: str | None
    day: str = ""
    sha: str = ""
    uncommitted_since: bool = False


@dataclass(frozen=True)
class Target:
    """Where a step leads: another step of the page (anchor), an unknown id (code) or the end."""

    text: str
    anchor: str | None = None
    code: bool = False


@dataclass(frozen=True)
class Stage:
    name: str
    role: RoleRef
    approvals: int


@dataclass(frozen=True)
class Approval:
    stages: tuple[Stage, ...]
    sla: str | None
    sla_threshold: str | None
    timeout_text: str
    timeout_role: RoleRef | None  # "it goes up to" this role, or else timeout_text says what happens
    attach: tuple[tuple[str, str], ...]  # (field, description)


@dataclass(frozen=True)
class Obligation:
    kind: str
    role: RoleRef | None
    text: str


@dataclass(frozen=True)
class InEffect:
    text: str
    state: str
    now: bool


@dataclass(frozen=True)
class RuleCard:
    id: str
    anchor: str
    outcome: str
    reason: str
    condition: str
    approval: Approval | None
    obligations: tuple[Obligation, ...]
    in_effect: InEffect | None


@dataclass(frozen=True)
class Region:
    when: tuple[str, ...]
    decision: str
    outcome: str
    people: str
    sla: str
    attach: str
    sampled: bool
    rules: tuple[Code, ...]

    @property
    def has_details(self) -> bool:
        return bool(self.people or self.sla or self.attach or self.sampled)


@dataclass(frozen=True)
class DecisionTable:
    action: str
    anchor: str
    error: str | None
    note: str | None  # shown instead of the table when there are no regions
    regions: tuple[Region, ...]

    @property
    def sampled(self) -> bool:
        return any(region.sampled for region in self.regions)


@dataclass(frozen=True)
class Gate:
    action: Code
    policy: Link | None
    question: str | None
    outcomes: tuple[tuple[str, Target], ...]


@dataclass(frozen=True)
class StepCard:
    anchor: str
    number: int
    title: str
    sla: str | None
    role: RoleRef | None
    agent: str | None
    instructions: str
    gate: Gate | None
    next: Target | None


@dataclass(frozen=True)
class Topic:
    name: str
    anchor: str
    policies: tuple[Link, ...]
    procedures: tuple[Link, ...]


@dataclass(frozen=True)
class OrgNode:
    role: RoleRef
    children: tuple[OrgNode, ...]


@dataclass(frozen=True)
class Absence:
    first_day: str
    last_day: str
    now: bool
    cover: PersonRef | None
    cover_id: str
    note: str | None


@dataclass(frozen=True)
class PersonCard:
    person: PersonRef
    initials: str
    roles: tuple[RoleRef, ...]
    email: str | None
    handles: tuple[tuple[str, str], ...]
    absences: tuple[Absence, ...]


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
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)

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

    def person(self, person: Person) -> PersonRef:
        return PersonRef(person.name, f"person-{slug(person.id)}")

    def role(self, role_id: str | None) -> RoleRef:
        """A role by id, with the people holding it today (and who covers those away)."""
        role = self.c.roles.get(role_id or "")
        if role is None:
            return RoleRef(role_id or "", None, "", ())
        people = tuple(self.holder(person) for person in holders(self.c, role.id))
        return RoleRef(role.id, role.title, f"role-{slug(role.id)}", people)

    def holder(self, person: Person) -> Holder:
        delegate = away(person, self.today)
        if delegate is None:
            return Holder(self.person(person), None, None)
        absence = next(a for a in person.out_of_office if a.first_day <= self.today <= a.last_day)
        cover = self.c.people.get(delegate)
        return Holder(self.person(person), day_text(absence.last_day), self.person(cover) if cover else None)

    def policy_link(self, policy: Policy) -> Link:
        return Link(policy.title, self.policy_pages[policy.id], first_sentence(policy.summary))

    def sop_link(self, sop: Sop) -> Link:
        return Link(sop.title, self.sop_pages[sop.id])

    def action(self, action: str) -> Code:
        policy = self.policy_of_action.get(action)
        return Code(action, f"{self.policy_pages[policy]}#action-{slug(action)}" if policy else None)

    def rule(self, rule_id: str) -> Code:
        policy = self.policy_of_rule.get(rule_id)
        return Code(rule_id, f"{self.policy_pages[policy]}#rule-{slug(rule_id)}" if policy else None)

    def last_changed(self, origin_file: str) -> Change:
        """The commit and day of the file's last change in git."""
        if self.history is None:
            return Change("not in git")
        relative = self.relative(origin_file)
        found = self.history.last.get(relative)
        if found is None:
            return Change("not committed yet")
        sha, day = found
        return Change(None, str(day), sha, relative in self.history.uncommitted)

    def sop_policies(self, sop: Sop) -> list[str]:
        """The policies a procedure follows: those governing its gates' actions, then those it names."""
        found = [self.policy_of_action[s.gate.action] for s in sop.steps
                 if s.gate and s.gate.action in self.policy_of_action]
        return list(dict.fromkeys([*found, *(p for p in sop.policies if p in self.c.policies)]))


def decision_tables(constitution: Constitution, actions: Iterable[str], now: datetime) -> dict[str, dict[str, Any]]:
    """Each action's decision table from `aios_policy.guide.explain`, as JSON."""
    tables: dict[str, dict[str, Any]] = {}
    for action in actions:
        try:
            tables[action] = explain_action(constitution, action, now).to_json()
        except Exception as error:  # one table that fails must not lose the whole handbook
            tables[action] = {"error": f"{type(error).__name__}: {error}"}
    return tables


# --- topics -------------------------------------------------------------------------------------------------


def fallback_topic(name: str) -> str:
    """A heading for a policy that names no topic: the first word of its action (or id), humanised."""
    word = re.split(r"[.-]", name, maxsplit=1)[0]
    return word.replace("_", " ").strip().capitalize() or OTHER_TOPIC


def topics(site: Site) -> list[Topic]:
    """Policies by their topic; procedures by theirs, or else with the policy of their first gate."""
    policies: dict[str, list[Policy]] = {}
    sops: dict[str, list[Sop]] = {}
    topic_of: dict[str, str] = {}
    for policy in sorted(site.c.policies.values(), key=lambda p: p.title.lower()):
        topic_of[policy.id] = policy.topic or fallback_topic(policy.actions[0] if policy.actions else policy.id)
        policies.setdefault(topic_of[policy.id], []).append(policy)
    for sop in sorted(site.c.sops.values(), key=lambda s: s.title.lower()):
        governing = site.sop_policies(sop)
        sops.setdefault(sop.topic or (topic_of[governing[0]] if governing else OTHER_TOPIC), []).append(sop)
    names = sorted(policies.keys() | sops.keys(), key=lambda name: (name == OTHER_TOPIC, name.lower()))
    return [Topic(name, f"topic-{slug(name)}", tuple(site.policy_link(p) for p in policies.get(name, [])),
                  tuple(site.sop_link(s) for s in sops.get(name, []))) for name in names]


# --- the pages -------------------------------------------------------------------------------------------------


def page(site: Site, path: str, template: str, title: str, section: str, **values: Any) -> Page:
    """A page from its template; every page also gets the frame (the company, the nav, the commit)."""
    provenance = site.c.provenance
    frame = {"company": site.c.manifest.name, "today": day_text(site.today), "commit": provenance.commit,
             "dirty": provenance.dirty}
    context = {"root": "../" * path.count("/"), "title": title, "section": section, "frame": frame,
               "outcome_words": HEADING, **values}
    return Page(path, title, render(template, context))


def home_page(site: Site) -> Page:
    c = site.c
    default = c.manifest.default_escalation
    stats = [(len(c.policies), "policies", "policies.html"), (len(c.sops), "procedures", "procedures.html"),
             (len(c.roles), "roles", "org.html"), (len(c.people), "people", "org.html#people")]
    return page(site, "index.html", "home.html", "Home", "Home", manifest=c.manifest, stats=stats,
                topics=topics(site), default_stages=[site.role(stage.role) for stage in default.stages],
                default_sla=default.sla.text if default.sla else "no set time")


def policies_page(site: Site) -> Page:
    rows = [{"link": site.policy_link(policy), "owner": site.role(policy.owner), "actions": policy.actions,
             "rules": len(policy.rules), "changed": site.last_changed(policy.origin.file)}
            for policy in sorted(site.c.policies.values(), key=lambda p: p.title.lower())]
    return page(site, "policies.html", "policies.html", "Policies", "Policies", rows=rows)


def procedures_page(site: Site) -> Page:
    rows = [{"link": site.sop_link(sop), "trigger": sop.trigger, "owner": site.role(sop.owner),
             "sla": sop.sla.text if sop.sla else "", "steps": len(sop.steps)}
            for sop in sorted(site.c.sops.values(), key=lambda s: s.title.lower())]
    return page(site, "procedures.html", "procedures.html", "Procedures", "Procedures", rows=rows)


# --- a policy -------------------------------------------------------------------------------------------------


def policy_page(site: Site, policy: Policy) -> Page:
    procedures = [site.sop_link(s) for s in site.c.sops.values() if policy.id in site.sop_policies(s)]
    confidence = f"{policy.min_confidence:.0%}" if policy.min_confidence is not None else None
    return page(site, site.policy_pages[policy.id], "policy.html", policy.title, "Policies",
                policy=policy, owner=site.role(policy.owner), confidence=confidence,
                changed=site.last_changed(policy.origin.file), source=site.relative(policy.origin.file),
                procedures=procedures, tables=[t for a in policy.actions if (t := decision_table(site, a))],
                rules=[rule_card(site, rule) for rule in policy.rules])


def decision_table(site: Site, action: str) -> DecisionTable | None:
    """The regions of one action from `aios_policy.guide.explain`: when → outcome, and the rules."""
    data = site.tables.get(action)
    if not isinstance(data, dict):
        return None
    anchor = f"action-{slug(action)}"
    if data.get("error"):
        return DecisionTable(action, anchor, plain(data["error"]), None, ())
    regions = tuple(region(site, r) for r in data.get("regions") or [] if isinstance(r, dict))
    note = None if regions else plain(data.get("text")) or "No decision table for this action."
    return DecisionTable(action, anchor, None, note, regions)


def region(site: Site, data: dict[str, Any]) -> Region:
    """One row of a decision table; the deadline and attachments only when present (the outcome names people)."""
    when = data.get("when")
    conditions = tuple(w for w in (map(plain, when) if isinstance(when, list) else [plain(when)]) if w)
    decision = plain(data.get("decision"))
    word = HEADING.get(decision, decision)
    outcome = plain(data.get("outcome"))
    if outcome.lower().startswith(word.lower()):
        outcome = outcome[len(word):].strip()  # the badge says it already
    attach = data.get("attach")
    attached = ", ".join(plain(a).replace("_", " ") for a in attach) if isinstance(attach, list) else ""
    rules = data.get("rules") if isinstance(data.get("rules"), list) else []
    return Region(conditions, decision, outcome, plain(data.get("people")) if not data.get("outcome") else "",
                  plain(data.get("sla")), attached, bool(data.get("sampled")),
                  tuple(site.rule(plain(r)) for r in rules or []))


def rule_card(site: Site, rule: Rule) -> RuleCard:
    obligations = tuple(Obligation(o.kind.capitalize(), site.role(o.role) if o.role else None, o.text)
                        for o in rule.obligations)
    return RuleCard(rule.id, f"rule-{slug(rule.id)}", rule.outcome, rule.reason, rule.condition.describe(),
                    approval(site, rule.escalation) if rule.escalation is not None else None, obligations,
                    in_effect(site, rule))


def approval(site: Site, escalation: Escalation) -> Approval:
    stages = tuple(Stage(stage.name.capitalize() if stage.name else "", site.role(stage.role), stage.approvals)
                   for stage in escalation.stages)
    timeout = escalation.on_timeout
    text, role = {"deny": "the request is denied", "approve": "the request is approved"}.get(timeout.then, ""), None
    if not text:
        up = timeout.role
        if up is None and escalation.stages:
            first = site.c.roles.get(escalation.stages[0].who)
            up = first.reports_to if first and first.reports_to else escalation.stages[0].role
        role = site.role(up)
    required = escalation.require.get("required") if isinstance(escalation.require, dict) else None
    properties = escalation.require.get("properties") if isinstance(escalation.require, dict) else None
    properties = properties if isinstance(properties, dict) else {}
    attach = tuple((name, attachment_description(properties.get(name)))
                   for name in map(str, required if isinstance(required, list) else []))
    return Approval(stages, escalation.sla.text if escalation.sla else None, escalation.sla_threshold, text, role,
                    attach)


def attachment_description(schema: Any) -> str:
    return plain(schema.get("description")) if isinstance(schema, dict) else ""


def in_effect(site: Site, rule: Rule) -> InEffect | None:
    if rule.effective_from is None and rule.effective_until is None:
        return None
    tz = site.c.manifest.timezone
    parts = []
    if rule.effective_from is not None:
        parts.append(f"from {day_text(rule.effective_from.astimezone(tz).date())}")
    if rule.effective_until is not None:
        parts.append(f"until {day_text(rule.effective_until.astimezone(tz).date())} (not included)")
    now = rule.in_effect(site.now)
    state = "in effect now" if now else (
        "not yet in effect" if rule.effective_from and site.now < rule.effective_from else "no longer in effect")
    return InEffect(" ".join(parts), state, now)


# --- a procedure ----------------------------------------------------------------------------------------------


def sop_page(site: Site, sop: Sop) -> Page:
    numbers = {step.id: n for n, step in enumerate(sop.steps, 1)}
    governing = [Link(site.c.policies[p].title, site.policy_pages[p]) for p in site.sop_policies(sop)]
    return page(site, site.sop_pages[sop.id], "procedure.html", sop.title, "Procedures", sop=sop,
                owner=site.role(sop.owner), sla=sop.sla.text if sop.sla else None,
                changed=site.last_changed(sop.origin.file), source=site.relative(sop.origin.file),
                governing=governing, steps=[step_card(site, sop, step, numbers) for step in sop.steps])


def step_card(site: Site, sop: Sop, step: Step, numbers: dict[str, int]) -> StepCard:
    gate = None
    if step.gate is not None:
        policy = site.policy_of_action.get(step.gate.action)
        gate = Gate(site.action(step.gate.action),
                    Link(site.c.policies[policy].title, site.policy_pages[policy]) if policy else None,
                    step.gate.question, tuple((o, step_target(sop, t, numbers)) for o, t in step.on.items()))
    return StepCard(f"step-{slug(step.id)}", numbers[step.id], step.title, step.sla.text if step.sla else None,
                    site.role(step.role) if step.role else None, step.agent, step.instructions, gate,
                    step_target(sop, step.next, numbers) if step.next else None)


def step_target(sop: Sop, target: str | None, numbers: dict[str, int]) -> Target:
    if target in (None, "end"):
        return Target("the procedure ends")
    step = next((s for s in sop.steps if s.id == target), None)
    if step is None:
        return Target(str(target), code=True)
    return Target(f"step {numbers[step.id]}, {step.title}", f"step-{slug(step.id)}")


# --- the org ----------------------------------------------------------------------------------------------------


def org_page(site: Site) -> Page:
    c = site.c
    roles = [{"role": site.role(role.id), "reports_to": site.role(role.reports_to) if role.reports_to else None,
              "authority": role.authority, "meter": max(0, min(100, role.authority)), "description": role.description}
             for role in sorted(c.roles.values(), key=lambda r: (-r.authority, r.title.lower()))]
    people = [person_card(site, person) for person in sorted(c.people.values(), key=lambda p: p.name)]
    return page(site, "org.html", "org.html", "Organisation", "Org", roles=roles, people=people,
                tree_roots=org_tree(site, None, set()))


def org_tree(site: Site, parent: str | None, seen: set[str]) -> tuple[OrgNode, ...]:
    children = sorted((r for r in site.c.roles.values() if r.reports_to == parent and r.id not in seen),
                      key=lambda r: (-r.authority, r.title))
    seen.update(r.id for r in children)
    return tuple(OrgNode(site.role(r.id), org_tree(site, r.id, seen)) for r in children)


def initials(name: str) -> str:
    parts = [w for w in re.split(r"\s+", name.strip()) if w]
    return "".join(w[0] for w in (parts[:1] + parts[-1:] if len(parts) > 1 else parts)).upper()


def person_card(site: Site, person: Person) -> PersonCard:
    absences = []
    for absence in person.out_of_office:
        if absence.last_day < site.today:
            continue
        delegate = site.c.people.get(absence.delegate)
        absences.append(Absence(day_text(absence.first_day), day_text(absence.last_day),
                                absence.first_day <= site.today, site.person(delegate) if delegate else None,
                                absence.delegate, absence.note))
    return PersonCard(site.person(person), initials(person.name), tuple(site.role(r) for r in person.roles),
                      person.email, tuple(sorted(person.handles.items())), tuple(absences))


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


# --- the whole handbook ---------------------------------------------------------------------------------------


def build(constitution: Constitution, now: datetime, history: FileHistory | None) -> Handbook:
    """Every page of the handbook, judged at now (who is away, which rules are in effect)."""
    site = Site(constitution, now, history)
    pages = [home_page(site), org_page(site), policies_page(site), procedures_page(site)]
    pages.extend(policy_page(site, policy) for policy in site.c.policies.values())
    pages.extend(sop_page(site, sop) for sop in site.c.sops.values())
    return Handbook(pages, static_assets() | {"assets/search-index.js": search_index_script(search_entries(site))})
