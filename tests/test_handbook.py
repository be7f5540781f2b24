"""`aios handbook`: the generated site, its links, its escaping, git history, and a real headless browser."""

from __future__ import annotations

import functools
import html
import http.server
import json
import re
import shutil
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from conftest import EXAMPLE, committed, git, invoke

from aios_policy import Constitution

NOW = "2026-12-02"  # Priya Raman (operations manager) is away 1-4 Dec 2026; James Whitfield covers
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]


def generate(constitution: Path, out: Path, *extra: str) -> str:
    done = invoke("handbook", "--constitution", str(constitution), "--out", str(out), "--now", NOW, *extra)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def example() -> Constitution:
    return Constitution.load(EXAMPLE)


@pytest.fixture(scope="module")
def handbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("handbook")
    generate(EXAMPLE, out)
    return out


def pages(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.html"))


class Links(HTMLParser):
    """Every href and src of a page, and every id it defines."""

    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.targets.append(value)
            if name == "id" and value:
                self.ids.add(value)


def parsed(page: Path) -> Links:
    links = Links()
    links.feed(page.read_text(encoding="utf-8"))
    return links


def test_every_policy_and_procedure_has_a_page_with_its_title(handbook: Path, example: Constitution) -> None:
    for policy in example.compiled.policies.values():
        page = (handbook / "policies" / f"{policy.id}.html").read_text()
        assert f"<h1>{policy.title}</h1>" in page
        for rule in policy.rules:
            assert f'id="rule-{rule.id}"' in page, f"{policy.id} has no section for rule {rule.id}"
    for sop in example.compiled.sops.values():
        page = (handbook / "procedures" / f"{sop.id}.html").read_text()
        assert f"<h1>{sop.title}</h1>" in page
        for step in sop.steps:
            assert f'id="step-{step.id}"' in page
    for name in ("index.html", "org.html", "policies.html", "procedures.html", "assets/handbook.css",
                 "assets/search.js", "assets/search-index.js"):
        assert (handbook / name).is_file(), name


def test_every_local_link_and_anchor_resolves(handbook: Path) -> None:
    ids = {page: parsed(page).ids for page in pages(handbook)}
    checked = 0
    for page in pages(handbook):
        for target in parsed(page).targets:
            parts = urlsplit(target)
            if parts.scheme == "mailto":
                continue
            assert not parts.scheme and not parts.netloc, f"{page.name} links outside the handbook: {target}"
            resolved = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            assert resolved.is_file(), f"{page.relative_to(handbook)} links to missing {target}"
            assert handbook.resolve() in resolved.parents, f"{target} leaves the handbook folder"
            if parts.fragment and resolved.suffix == ".html":
                assert unquote(parts.fragment) in ids[resolved], f"{page.relative_to(handbook)}: no anchor {target}"
            checked += 1
    assert checked > 500


def test_search_index_links_resolve_and_cover_every_kind(handbook: Path) -> None:
    script = (handbook / "assets" / "search-index.js").read_text()
    entries = json.loads(script[script.index("= ") + 2:].rstrip().rstrip(";"))
    assert {e["kind"].split(" ")[0] for e in entries} == {"Policy", "Rule", "Procedure", "Role", "Person"}
    for entry in entries:
        path, _, fragment = entry["url"].partition("#")
        assert (handbook / path).is_file(), entry
        assert not fragment or fragment in parsed(handbook / path).ids, entry


def test_the_home_page_groups_policies_and_procedures_by_topic(handbook: Path) -> None:
    home = (handbook / "index.html").read_text()
    assert "<h1>Harbor &amp; Pine Consulting</h1>" in home
    assert "12-person management and technology consulting firm in Boston" in home
    refunds = home[home.index('id="topic-refunds-and-chargebacks"'):]
    refunds = refunds[:refunds.index("</section>")]
    assert "policies/client-refunds.html" in refunds
    assert "procedures/refund-dispute.html" in refunds and "procedures/chargeback-response.html" in refunds
    for nav in ('href="index.html"', 'href="org.html"', 'href="policies.html"', 'href="procedures.html"'):
        assert nav in home


def _topic_sections(home: str) -> dict[str, str]:
    """Each topic's heading on the home page, and the links under it."""
    return {heading: " ".join(re.findall(r'href="([^"]+)"', body)) for heading, body in
            re.findall(r'<section class="card topic"[^>]*>\s*<h3>(.*?)</h3>(.*?)</section>', home, re.S)}


def test_topics_come_from_the_files_and_else_from_the_action_or_the_policy_of_the_first_gate(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from aios_policy.guide.handbook import build

    copy = tmp_path / "constitution"
    shutil.copytree(EXAMPLE, copy)
    for folder, name, topic in (("policies", "vendors", "Suppliers"), ("policies", "client-data", None),
                                ("sops", "client-data-deletion", None), ("sops", "new-vendor-onboarding", None)):
        file = copy / folder / f"{name}.json"
        data = json.loads(file.read_text())
        data.pop("topic")
        file.write_text(json.dumps(data | ({"topic": topic} if topic else {})))
    written = build(Constitution.load(copy), datetime(2026, 12, 2, 17, tzinfo=UTC), None)
    topics = _topic_sections(next(p.html for p in written.pages if p.path == "index.html"))
    assert topics["Suppliers"] == "policies/vendors.html procedures/new-vendor-onboarding.html"
    assert topics["Client data"] == "policies/client-data.html procedures/client-data-deletion.html"
    assert "Vendors" not in topics and "Client data and privacy" not in topics
    assert list(topics) == sorted(topics, key=str.lower)


def test_a_policy_page_names_owner_approvers_deadline_attachments_and_cover(handbook: Path) -> None:
    page = (handbook / "policies" / "client-refunds.html").read_text()
    assert "Finance Manager</a> <span class=\"people\">&ndash; <a href=\"../org.html#person-david.okafor\">" in page
    ops = page[page.index('id="rule-refund-ops-approval"'):]
    ops = ops[:ops.index("</article>")]
    assert "Operations Manager" in ops and "Priya Raman" in ops
    assert "away until 4 Dec 2026" in ops and "James Whitfield</a> covers" in ops
    assert "1 business day" in ops and "refunds.approval_sla" in ops
    assert "<code>delivery_evidence</code> &ndash; What the timesheets" in ops
    assert "it goes up to <a href=\"../org.html#role-managing_partner\">Managing Partner</a>" in ops
    assert "amount &gt; refunds.auto_limit (250)" in ops  # the condition in words, escaped
    assert "at least 90% sure" in page


def test_a_policy_page_shows_the_decision_table_of_each_action(handbook: Path, example: Constitution) -> None:
    from datetime import datetime, time

    from aios_policy.guide.explain import explain_action

    page = (handbook / "policies" / "client-refunds.html").read_text()
    now = datetime.combine(datetime.fromisoformat(NOW).date(), time(12), example.compiled.manifest.timezone)
    for action in ("refund.issue", "chargeback.contest"):
        table = page[page.index(f'id="action-{action}"'):]
        table = table[:table.index("</table>")]
        regions = explain_action(example, action, now).to_json()["regions"]
        assert table.count("<tr>") == len(regions) + 1
        for region in regions:
            for rule in region["rules"]:
                assert f"<code>{rule}</code>" in table
    assert "amount above $250 up to $2,500" in page
    assert "could not be worked out" not in page


def test_a_procedure_page_shows_steps_gates_and_outcomes(handbook: Path) -> None:
    page = (handbook / "procedures" / "refund-dispute.html").read_text()
    assert "A client asks for money back or disputes an invoice line" in page
    gate = page[page.index('id="step-refund-gate"'):]
    gate = gate[:gate.index('id="step-await-approval"')]
    assert 'href="../policies/client-refunds.html#action-refund.issue"' in gate
    assert "May we refund this amount to the client now?" in gate
    assert 'Automated</span> → <a href="#step-issue-refund">step 6, Issue the refund</a>' in gate
    assert 'Denied</span> → <a href="#step-explain-decision">step 7, Explain the decision to the client</a>' in gate
    assert "who approves a refund of $800?" in page
    assert '<span class="badge agent">AI agent</span> billing agent' in page


def test_the_org_page_lists_roles_people_and_delegations(handbook: Path, example: Constitution) -> None:
    page = (handbook / "org.html").read_text()
    for role in example.compiled.roles.values():
        assert f'id="role-{role.id}"' in page and html.escape(role.title) in page
    for person in example.compiled.people.values():
        assert f'id="person-{person.id}"' in page
    priya = page[page.index('id="person-priya.raman"'):]
    priya = priya[:priya.index("</section>")]
    assert "1 Dec 2026 &ndash; 4 Dec 2026" in priya and "away now" in priya and "James Whitfield</a> covers" in priya


def test_constitution_text_is_escaped_everywhere(tmp_path: Path) -> None:
    copy = tmp_path / "constitution"
    shutil.copytree(EXAMPLE, copy)
    policy_file = copy / "policies" / "ndas.json"
    policy = json.loads(policy_file.read_text())
    policy["title"] = 'NDAs "><img src=x onerror=alert(1)>'
    policy["summary"] = "We sign NDAs. <script>alert('owned')</script> & more."
    policy["rules"][0]["reason"] = "</script><script>alert(2)</script>"
    policy_file.write_text(json.dumps(policy))
    out = tmp_path / "site"
    generate(copy, out)
    for page in pages(out):
        text = page.read_text()
        assert "<script>alert" not in text and "<img src=x" not in text, page.name
    page = (out / "policies" / "ndas.html").read_text()
    assert "&lt;script&gt;alert(&#39;owned&#39;)&lt;/script&gt; &amp; more." in page
    assert "NDAs &#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    index = (out / "assets" / "search-index.js").read_text()
    assert "<" not in index.split("\n", 1)[1] and "\\u003cscript\\u003ealert(2)" in index


HOSTILE = ("</script><script>alert({n})</script>", "\"><img src=x onerror=alert({n})>", "' onfocus='alert({n})",
           "<!-- {n}", "&amp;{n} &lt;b&gt;", "</textarea><svg onload=alert({n})>")
PROSE = {"title", "topic", "summary", "reason", "text", "description", "trigger", "instructions", "question", "name",
         "note", "questions", "synonyms"}


def _hostile(value: object, count: list[int]) -> object:
    """value with every piece of prose in it replaced by markup, each piece different."""
    if isinstance(value, dict):
        return {k: _hostile_prose(v, count) if k in PROSE else _hostile(v, count) for k, v in value.items()}
    if isinstance(value, list):
        return [_hostile(v, count) for v in value]
    return value


def _hostile_prose(value: object, count: list[int]) -> object:
    if isinstance(value, str):
        count[0] += 1
        return HOSTILE[count[0] % len(HOSTILE)].format(n=count[0])
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [_hostile_prose(v, count) for v in value]
    return _hostile(value, count)


class Markup(HTMLParser):
    """The tags and attributes a page really has, and its text as a browser decodes it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        raise AssertionError(f"a comment in the page: {data!r}")


def test_markup_in_any_constitution_text_is_shown_as_text_on_every_page_and_in_the_search_index(
        tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from aios_policy.guide.handbook import build

    copy = tmp_path / "constitution"
    shutil.copytree(EXAMPLE, copy)
    count = [0]
    for file in sorted(copy.rglob("*.json")):
        if file.parent.name != "scenarios":
            file.write_text(json.dumps(_hostile(json.loads(file.read_text()), count)))
    loaded = Constitution.load(copy)
    refunds = loaded.compiled.policies["client-refunds"]
    assert count[0] > 300 and "<" in refunds.title and "<" in str(refunds.topic)
    written = build(loaded, datetime(2026, 12, 2, 17, tzinfo=UTC), None)
    shown = {}
    for page in written.pages:
        markup = Markup()
        markup.feed(page.html)
        for tag, attributes in markup.tags:
            assert tag not in ("img", "svg", "textarea"), (page.path, tag)
            assert not [a for a in attributes if a.startswith("on")], (page.path, tag, attributes)
            if tag == "script":
                assert str(attributes.get("src")).endswith(("assets/search-index.js", "assets/search.js")), page.path
        shown[page.path] = "".join(markup.text)
        assert "alert(" in shown[page.path], page.path  # the text is there, as text
    for text in (refunds.title, refunds.summary, refunds.rules[0].reason):
        assert text in shown["policies/client-refunds.html"]
    assert str(refunds.topic) in shown["index.html"]
    index = written.assets["assets/search-index.js"]
    body = index.split("\n", 1)[1]
    assert not {"<", ">", "&"} & set(body), "text in the search index could end its script"
    entries = json.loads(body[body.index("= ") + 2:].rstrip().rstrip(";"))
    assert {"title": refunds.title, "kind": "Policy", "url": "policies/client-refunds.html"} in \
        [{k: e[k] for k in ("title", "kind", "url")} for e in entries]


def test_last_changed_comes_from_git(tmp_path: Path) -> None:
    repo = committed(tmp_path / "repo", EXAMPLE, "first", date="2026-03-02T10:00:00+00:00")
    refunds = repo / "constitution" / "policies" / "client-refunds.json"
    refunds.write_text(refunds.read_text().replace('"Client refunds and chargebacks"', '"Client refunds"'))
    git(repo, "commit", "-q", "-am", "rename", date="2026-05-04T10:00:00+00:00")
    first, second = git(repo, "rev-list", "--reverse", "HEAD").split()
    ndas = repo / "constitution" / "policies" / "ndas.json"
    ndas.write_text(ndas.read_text().replace('"Non-disclosure agreements"', '"NDAs"'))
    out = tmp_path / "site"
    generate(repo / "constitution", out)
    assert f'2026-05-04, commit <code title="{second}">{second[:10]}</code>' in \
        (out / "policies" / "client-refunds.html").read_text()
    vendors = (out / "policies" / "vendors.html").read_text()
    assert f'2026-03-02, commit <code title="{first}">{first[:10]}</code>' in vendors
    assert f"2026-03-02, commit <code title=\"{first}\">{first[:10]}</code> (with uncommitted changes since)" in \
        (out / "policies" / "ndas.html").read_text()
    at_first = tmp_path / "site-at-first"
    generate(repo / "constitution", at_first, "--ref", first)
    page = (at_first / "policies" / "client-refunds.html").read_text()
    assert "<h1>Client refunds and chargebacks</h1>" in page and f"2026-03-02, commit <code title=\"{first}\">" in page


def test_outside_git_the_pages_say_so(tmp_path: Path) -> None:
    copy = tmp_path / "constitution"
    shutil.copytree(EXAMPLE, copy)
    out = tmp_path / "site"
    generate(copy, out)
    assert "<dt>Last changed</dt><dd>not in git</dd>" in (out / "policies" / "vendors.html").read_text()


def test_a_second_run_replaces_pages_and_drops_removed_ones(tmp_path: Path) -> None:
    copy = tmp_path / "constitution"
    shutil.copytree(EXAMPLE, copy)
    out = tmp_path / "site"
    (out / "policies").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    generate(copy, out)
    (copy / "policies" / "ndas.json").unlink()
    (copy / "scenarios" / "ndas.json").unlink()
    generate(copy, out)
    assert not (out / "policies" / "ndas.html").exists()
    assert (out / "policies" / "vendors.html").is_file() and (out / "notes.txt").read_text() == "mine"


def test_mistakes_give_one_line_and_an_exit_code(tmp_path: Path) -> None:
    missing = invoke("handbook", "--constitution", str(EXAMPLE))
    assert missing.returncode == 2 and "--out" in missing.stderr
    a_file = tmp_path / "file"
    a_file.write_text("")
    done = invoke("handbook", "--constitution", str(EXAMPLE), "--out", str(a_file))
    assert done.returncode == 2
    assert done.stderr.startswith("aios: error: `") and "is a file, not a folder" in done.stderr
    assert "Traceback" not in done.stderr
    broken = tmp_path / "broken"
    shutil.copytree(EXAMPLE, broken)
    (broken / "org.json").write_text("{")
    done = invoke("handbook", "--constitution", str(broken), "--out", str(tmp_path / "site"))
    assert done.returncode == 1 and not (tmp_path / "site").exists()
    bad_date = invoke("handbook", "--constitution", str(EXAMPLE), "--out", str(tmp_path / "x"), "--now", "soon")
    assert bad_date.returncode == 2 and "--now" in bad_date.stderr


# --- in a real browser ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"no browser: {CHROMIUM} is missing (install Debian's `chromium` package; .ci/run does it as root)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(handbook: Path) -> Iterator[str]:
    """The handbook folder on a real static server at 127.0.0.1, as a company intranet would serve it."""
    handler = functools.partial(_QuietHandler, directory=str(handbook))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output free of one line per request."""


def _watched_page(browser, base: str, viewport: dict[str, int] | None = None):  # -> (page, problems)
    """A page that records console errors, uncaught exceptions and any request that leaves base."""
    page = browser.new_page(viewport=viewport or {"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
            if message.type in ("error", "warning") else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def only_local(route) -> None:
        if route.request.url.startswith(base):
            route.continue_()
        else:
            problems.append(f"network request outside the handbook: {route.request.url}")
            route.abort()

    page.route("**/*", only_local)
    return page, problems


def test_every_page_loads_in_chromium_without_console_errors(browser, server: str, handbook: Path) -> None:
    page, problems = _watched_page(browser, server)
    for file in pages(handbook):
        relative = file.relative_to(handbook).as_posix()
        response = page.goto(server + relative)
        assert response is not None and response.ok, relative
        assert page.locator("header.site .brand").inner_text().startswith("Harbor & Pine Consulting")
        assert page.evaluate("window.AIOS_HANDBOOK_INDEX.length") > 100, relative
        assert page.locator("link[rel=stylesheet]").evaluate("l => l.sheet.cssRules.length") > 50, relative
    assert problems == []
    page.close()


def _summary_word(example: Constitution, policy_id: str) -> str:
    """A word of the policy's summary that no page title contains, so only the summary can find it."""
    c = example.compiled
    titles = " ".join([*(p.title for p in c.policies.values()), *(s.title for s in c.sops.values())]).lower()
    words = re.findall(r"[a-z]{6,}", c.policies[policy_id].summary.lower())
    return next(w for w in sorted(set(words), key=lambda w: (-len(w), w)) if w not in titles)


def test_the_search_finds_a_policy_by_a_word_of_its_summary_offline(browser, handbook: Path,
                                                                    example: Constitution, tmp_path: Path) -> None:
    base = handbook.resolve().as_uri() + "/"
    page, problems = _watched_page(browser, base)
    page.goto(base + "index.html")  # file://: no server at all
    for policy_id in ("client-refunds", "vendors", "ndas"):
        word = _summary_word(example, policy_id)
        box = page.locator("#search")
        box.fill("")
        box.press_sequentially(word, delay=20)
        result = page.locator(f'#search-results a[href="policies/{policy_id}.html"]')
        result.wait_for(state="visible", timeout=5000)
        assert word in result.inner_text().lower()
    page.locator("#search").fill("")
    page.locator("#search").press_sequentially("priya", delay=20)
    page.locator('#search-results a[href="org.html#person-priya.raman"]').wait_for(state="visible")
    page.locator("#search").fill("")
    page.locator("#search").press_sequentially(_summary_word(example, "client-refunds"), delay=20)
    page.locator('#search-results a[href="policies/client-refunds.html"]').click()
    page.wait_for_url("**/policies/client-refunds.html")
    assert page.locator("h1").inner_text() == "Client refunds and chargebacks"
    page.locator("#search").press_sequentially("zzqqxx")
    assert "Nothing found" in page.locator("#search-results").inner_text()
    assert problems == []
    page.close()


def test_the_home_page_screenshot_and_a_narrow_screen(browser, server: str, tmp_path: Path) -> None:
    page, problems = _watched_page(browser, server)
    page.goto(server + "index.html")
    shot = tmp_path / "handbook-home.png"
    page.screenshot(path=str(shot), full_page=False)
    shutil.copyfile(shot, "/tmp/handbook-home.png")
    print(f"handbook home page screenshot: {shot} (and /tmp/handbook-home.png)")
    assert shot.stat().st_size > 10_000
    page.close()
    phone, more = _watched_page(browser, server, {"width": 390, "height": 844})
    for name in ("index.html", "org.html", "policies/client-refunds.html", "procedures/refund-dispute.html"):
        phone.goto(server + name)
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways on a phone by {overflow}px"
    phone.close()
    assert problems == [] and more == []


# --- how it is built ------------------------------------------------------------------------------------------


def test_jinja2_has_one_home_and_no_template_marks_text_safe() -> None:
    package = Path(__file__).resolve().parent.parent / "aios_policy"
    importers = sorted(p.relative_to(package).as_posix() for p in package.rglob("*.py")
                       if re.search(r"^\s*(import|from) jinja2\b", p.read_text(), re.M))
    assert importers == ["guide/handbook/render.py"]
    handbook = package / "guide" / "handbook"
    assert not [p.name for p in handbook.glob("*.py") if "html.escape" in p.read_text() or "from html" in p.read_text()]
    templates = sorted((handbook / "templates").glob("*.html"))
    assert len(templates) >= 7
    for template in templates:
        assert not re.search(r"\|\s*safe\b|Markup|autoescape\s+false", template.read_text()), template.name
    assert {p.name for p in (handbook / "static").iterdir()} == {"handbook.css", "search.js"}
