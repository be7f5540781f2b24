"""`aios codeowners` on a real git repository holding the example constitution, and the files that run aios
in other people's pull requests: .pre-commit-hooks.yaml, action.yml and this repository's workflow.

Expected owners are worked out here from org.json and the policy files, never by asking the library.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE, REPO, committed, git, invoke

from aios_policy.cli import main

MARKER = "<!-- aios-policy-diff -->"


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A git repository with the example constitution at constitution/, committed on main."""
    return committed(tmp_path / "company", EXAMPLE)


def _read(path: Path) -> Any:
    return json.loads(path.read_text())


def _write(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n")


def _handles(org: dict[str, Any], role: str) -> list[str]:
    """`@login` of everyone holding role who has a GitHub handle, sorted as CODEOWNERS lists them."""
    found = {"@" + p["handles"]["github"] for p in org["people"]
             if role in p["roles"] and "github" in p.get("handles", {})}
    return sorted(found, key=lambda h: (h.lower(), h))


def _top_roles(org: dict[str, Any]) -> list[str]:
    return sorted(r["id"] for r in org["roles"] if not r.get("reports_to"))


def _line(path: str, *roles: str, org: dict[str, Any]) -> str:
    handles = sorted({h for role in roles for h in _handles(org, role)}, key=lambda h: (h.lower(), h))
    assert handles, f"the test expects someone holding {roles} to have a GitHub handle"
    return " ".join([path, *handles])


def _codeowners(repo: Path, *args: str, cwd: Path | None = None) -> list[str]:
    done = invoke("codeowners", "--output", "-", *args, cwd=cwd or repo)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_each_policy_and_sop_file_is_owned_by_the_github_handles_of_its_owner_role(repository: Path) -> None:
    constitution = repository / "constitution"
    org = _read(constitution / "org.json")
    lines = _codeowners(repository)
    for folder, name in [("policies", "client-refunds"), ("policies", "hiring"), ("policies", "contracts"),
                         ("policies", "client-data"), ("sops", "refund-dispute"), ("sops", "offer-approval")]:
        owner = _read(constitution / folder / f"{name}.json")["owner"]
        assert _line(f"/constitution/{folder}/{name}.json", owner, org=org) in lines


def test_the_known_example_lines(repository: Path) -> None:
    lines = _codeowners(repository)
    assert "/constitution/policies/client-refunds.json @dokafor" in lines
    assert "/constitution/policies/client-data.json @nhassan-sec" in lines
    assert "/constitution/sops/offer-approval.json @gnakamura" in lines


def test_manifest_org_chart_and_thresholds_are_owned_by_the_top_role(repository: Path) -> None:
    org = _read(repository / "constitution" / "org.json")
    top = _top_roles(org)
    lines = _codeowners(repository)
    for name in ("constitution.json", "org.json", "thresholds.json"):
        assert _line(f"/constitution/{name}", *top, org=org) in lines
    assert _line("/constitution/", *top, org=org) in lines  # new files, until the file is regenerated
    assert lines.index(_line("/constitution/", *top, org=org)) < lines.index(
        _line("/constitution/org.json", *top, org=org)), "the catch-all must come first: the last match wins"


def test_scenario_files_are_owned_by_the_owners_of_the_policies_governing_their_actions(repository: Path) -> None:
    constitution = repository / "constitution"
    general = constitution / "scenarios" / "general.json"
    mixed = _read(general)  # ungoverned payroll.run, plus one refund scenario
    refund = _read(constitution / "scenarios" / "refunds.json")["scenarios"][0]
    mixed["scenarios"].append({**refund, "id": "general-refund"})
    _write(general, mixed)
    org = _read(constitution / "org.json")
    owners_by_action: dict[str, set[str]] = {}
    for policy in (constitution / "policies").glob("*.json"):
        data = _read(policy)
        for action in data["actions"]:
            owners_by_action.setdefault(action, set()).add(data["owner"])
    lines = _codeowners(repository)
    for name in ("refunds", "general", "vendors"):
        actions = {s["request"]["action"] for s in _read(constitution / "scenarios" / f"{name}.json")["scenarios"]}
        roles = {role for action in actions for role in owners_by_action.get(action, _top_roles(org))}
        assert _line(f"/constitution/scenarios/{name}.json", *roles, org=org) in lines
    assert "/constitution/scenarios/general.json @dokafor @emarsh-hp" in lines


def test_a_role_nobody_with_a_github_handle_holds_goes_up_reports_to_and_says_so(repository: Path) -> None:
    org_file = repository / "constitution" / "org.json"
    org = _read(org_file)
    owner = _read(repository / "constitution" / "policies" / "hiring.json")["owner"]
    for person in org["people"]:
        if owner in person["roles"]:
            del person["handles"]["github"]
    _write(org_file, org)
    boss = next(r["reports_to"] for r in org["roles"] if r["id"] == owner)
    lines = _codeowners(repository)
    line = _line("/constitution/policies/hiring.json", boss, org=org)
    assert line in lines
    note = lines[lines.index(line) - 1]
    assert note.startswith("# ") and f"`{owner}`" in note and f"`{boss}`" in note and "reports_to" in note


def test_people_without_a_github_handle_are_skipped(repository: Path) -> None:
    constitution = repository / "constitution"
    org = _read(constitution / "org.json")
    holders = [p for p in org["people"] if "delivery_lead" in p["roles"]]
    assert len(holders) == 2
    del holders[0]["handles"]["github"]
    _write(constitution / "org.json", org)
    policy = _read(constitution / "policies" / "contracts.json")
    _write(constitution / "policies" / "contracts.json", {**policy, "owner": "delivery_lead"})
    lines = _codeowners(repository)
    line = _line("/constitution/policies/contracts.json", "delivery_lead", org=org)
    assert line == f"/constitution/policies/contracts.json @{holders[1]['handles']['github']}"
    assert line in lines and not lines[lines.index(line) - 1].startswith("# note:")


def test_check_passes_after_writing_and_committing_and_fails_after_an_org_change(repository: Path) -> None:
    written = invoke("codeowners", cwd=repository)
    assert written.returncode == 0, written.stderr
    target = repository / ".github" / "CODEOWNERS"
    assert written.stdout.startswith("wrote .github/CODEOWNERS: ")
    assert invoke("codeowners", "--check", cwd=repository).returncode == 0
    git(repository, "add", "-A")
    git(repository, "commit", "-qm", "CODEOWNERS")  # a new commit: only the header's commit changes
    assert invoke("codeowners", "--check", cwd=repository).returncode == 0

    before = target.read_bytes()
    org_file = repository / "constitution" / "org.json"
    org_file.write_text(org_file.read_text().replace('"github": "dokafor"', '"github": "david-okafor"'))
    done = invoke("codeowners", "--check", cwd=repository)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        ".github/CODEOWNERS is out of date with the constitution: run `aios codeowners` to rewrite it"]
    assert target.read_bytes() == before


def test_check_without_the_file_fails(repository: Path) -> None:
    done = invoke("codeowners", "--check", cwd=repository)
    assert done.returncode == 1
    assert "does not exist" in done.stdout
    assert not (repository / ".github").exists()


def test_check_notices_a_hand_edit(repository: Path) -> None:
    assert invoke("codeowners", cwd=repository).returncode == 0
    target = repository / ".github" / "CODEOWNERS"
    target.write_text(target.read_text().replace(" @dokafor\n", " @dokafor @someone-else\n", 1))
    assert invoke("codeowners", "--check", cwd=repository).returncode == 1


def test_output_dash_prints_the_file_with_its_commit_and_writes_nothing(repository: Path) -> None:
    lines = _codeowners(repository)
    head = git(repository, "rev-parse", "HEAD")
    assert lines[0] == f"# Generated by `aios codeowners` from the constitution at commit {head[:12]}."
    assert any("Do not edit it by hand" in line for line in lines[:4])
    assert not (repository / ".github").exists()


def test_output_is_deterministic_and_sorted(repository: Path) -> None:
    first, second = _codeowners(repository), _codeowners(repository)
    assert first == second
    paths = [line for line in first if line.startswith("/constitution/") and line.split()[0].endswith(".json")]
    for folder in ("policies", "sops", "scenarios"):
        in_folder = [p for p in paths if p.startswith(f"/constitution/{folder}/")]
        assert in_folder == sorted(in_folder) and len(in_folder) == len(list(
            (repository / "constitution" / folder).glob("*.json")))
    for line in paths:
        handles = line.split()[1:]
        assert handles == sorted(handles, key=lambda h: (h.lower(), h))


def test_paths_are_relative_to_the_repository_root_wherever_aios_runs(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo / "company" / "constitution")
    git(repo, "init", "-q", "-b", "main")
    from_root = _codeowners(repo, "-c", "company/constitution")
    inside = repo / "company" / "constitution"
    assert _codeowners(repo, "-c", ".", cwd=inside) == from_root
    assert "/company/constitution/policies/client-refunds.json @dokafor" in from_root
    assert invoke("codeowners", "-c", ".", cwd=inside).returncode == 0
    assert (repo / ".github" / "CODEOWNERS").is_file() and not (inside / ".github").exists()


def test_outside_git_paths_are_relative_to_the_current_folder(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "constitution")
    lines = _codeowners(tmp_path)
    assert lines[0].startswith("# Generated by `aios codeowners` from the constitution (no git commit")
    assert "/constitution/policies/client-refunds.json @dokafor" in lines


def test_ref_reads_the_owners_as_they_were_at_that_commit(repository: Path) -> None:
    org_file = repository / "constitution" / "org.json"
    org_file.write_text(org_file.read_text().replace('"github": "dokafor"', '"github": "david-okafor"'))
    git(repository, "commit", "-qam", "new handle")
    assert "/constitution/policies/client-refunds.json @david-okafor" in _codeowners(repository)
    old = _codeowners(repository, "--ref", "HEAD~1")
    assert "/constitution/policies/client-refunds.json @dokafor" in old
    assert "(`HEAD~1`)" in old[0]


def test_a_file_name_with_a_space_is_escaped(repository: Path) -> None:
    policies = repository / "constitution" / "policies"
    (policies / "client-refunds.json").rename(policies / "client refunds.json")
    assert "/constitution/policies/client\\ refunds.json @dokafor" in _codeowners(repository)


def test_an_invalid_constitution_is_a_clear_error_and_writes_nothing(repository: Path) -> None:
    policy = repository / "constitution" / "policies" / "client-refunds.json"
    policy.write_text(policy.read_text().replace('"owner": "finance_manager"', '"owner": "finance_manger"'))
    done = invoke("codeowners", cwd=repository)
    assert done.returncode == 1
    assert done.stderr.startswith("aios: error: the constitution has 1 error(s)")
    assert "REF001 unknown role `finance_manger`" in done.stderr and "Traceback" not in done.stderr
    assert not (repository / ".github").exists()


def test_no_github_handles_at_all_is_a_clear_error(repository: Path) -> None:
    org_file = repository / "constitution" / "org.json"
    org = _read(org_file)
    for person in org["people"]:
        person["handles"].pop("github", None)
    _write(org_file, org)
    done = invoke("codeowners", cwd=repository)
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == ("aios: error: nobody in org.json has a GitHub handle, so no file can "
                                           "have an owner")


def test_usage_errors_exit_2(repository: Path) -> None:
    assert invoke("codeowners", "--check", "--output", "-", cwd=repository).returncode == 2
    missing = invoke("codeowners", "-c", "nowhere", cwd=repository)
    assert missing.returncode == 2 and "no constitution at `nowhere`" in missing.stderr


# The YAML files. PyYAML is not a dependency, so they are read with a tiny reader for the subset they use
# (block mappings and lists, `|` blocks, quoted and plain scalars; every value a string), which is checked
# against PyYAML where PyYAML happens to be installed.

YAML_FILES = [".pre-commit-hooks.yaml", "action.yml", ".github/workflows/constitution.yml"]


def _significant(lines: list[str], i: int) -> int:
    while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
        i += 1
    return i


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _scalar(text: str) -> str:
    if text.startswith("'"):
        return text[1:text.rindex("'")].replace("''", "'")
    if text.startswith('"'):
        return json.loads(text[:text.rindex('"') + 1])
    return re.sub(r"\s+#.*$", "", text)


def _node(lines: list[str], i: int) -> tuple[Any, int]:
    i = _significant(lines, i)
    indent = _indent(lines[i])
    if lines[i].lstrip().startswith("- "):
        items: list[Any] = []
        while i < len(lines) and _indent(lines[i]) == indent and lines[i].lstrip().startswith("- "):
            item = lines[i].lstrip()[2:]
            if re.match(r"[\w.-]+:(\s|$)", item):  # a mapping starts on the dash's line
                lines[i] = " " * (indent + 2) + item
                value, i = _node(lines, i)
            else:
                value, i = _scalar(item), i + 1
            items.append(value)
            i = _significant(lines, i)
        return items, i
    mapping: dict[str, Any] = {}
    while i < len(lines) and _indent(lines[i]) == indent and not lines[i].lstrip().startswith("- "):
        match = re.fullmatch(r"([\w.-]+):(?:\s+(.*))?", lines[i].strip())
        assert match, f"the YAML reader does not understand line {i + 1}: {lines[i]!r}"
        key, rest = match.group(1), (match.group(2) or "").strip()
        if rest == "|":
            block = i + 1
            while block < len(lines) and (not lines[block].strip() or _indent(lines[block]) > indent):
                block += 1
            body = lines[i + 1:block]
            margin = min(_indent(line) for line in body if line.strip())
            mapping[key], i = "\n".join(line[margin:] for line in body).rstrip("\n") + "\n", block
        elif rest:
            mapping[key], i = _scalar(rest), i + 1
        else:
            following = _significant(lines, i + 1)
            nested = following < len(lines) and (_indent(lines[following]) > indent or (
                _indent(lines[following]) == indent and lines[following].lstrip().startswith("- ")))
            mapping[key], i = _node(lines, following) if nested else (None, i + 1)
        i = _significant(lines, i)
    return mapping, i


def read_yaml(name: str) -> Any:
    value, _ = _node((REPO / name).read_text().splitlines(), 0)
    return value


def _as_strings(value: Any) -> Any:
    """PyYAML's value with every scalar as text, and YAML 1.1's `on: true` key back to `on`."""
    if isinstance(value, dict):
        return {("on" if key is True else str(key)): _as_strings(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_as_strings(v) for v in value]
    if isinstance(value, bool):
        return str(value).lower()
    return value if value is None else str(value)


@pytest.mark.parametrize("name", YAML_FILES)
def test_the_yaml_reader_agrees_with_pyyaml(name: str) -> None:
    yaml = pytest.importorskip("yaml")
    assert read_yaml(name) == _as_strings(yaml.safe_load((REPO / name).read_text()))


def test_pre_commit_hooks_validate_and_fmt_the_constitution() -> None:
    hooks = {hook["id"]: hook for hook in read_yaml(".pre-commit-hooks.yaml")}
    assert hooks["aios-validate"]["entry"] == "aios validate"
    assert hooks["aios-fmt"]["entry"] == "aios fmt --check"
    for hook in hooks.values():
        assert hook["language"] == "python" and hook["pass_filenames"] == "false"
        assert re.search(hook["files"], "constitution/policies/client-refunds.json")
        assert not re.search(hook["files"], "README.md")
        assert hook["entry"].split()[1] in main.commands
    text = (REPO / ".pre-commit-hooks.yaml").read_text()
    assert "args: [--constitution, " in text and "AIOS_CONSTITUTION" in text


def test_pre_commit_hook_entries_pass_on_the_example(repository: Path) -> None:
    assert invoke("codeowners", cwd=repository).returncode == 0
    for hook in read_yaml(".pre-commit-hooks.yaml"):
        done = invoke(*hook["entry"].split()[1:], cwd=repository)
        assert done.returncode == 0, f"hook {hook['id']}: {done.stdout}{done.stderr}"


def _steps(action: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["name"]: step for step in action["runs"]["steps"]}


def test_action_inputs_and_defaults() -> None:
    action = read_yaml("action.yml")
    assert action["name"] == "aios-policy constitution check"
    assert action["runs"]["using"] == "composite"
    defaults = {name: spec.get("default") for name, spec in action["inputs"].items()}
    assert defaults | {"github-token": None} == {"constitution": "constitution", "fail-on": "loosening",
                                                 "python-version": "3.11", "comment": "true", "github-token": None}


def test_action_installs_itself_then_validates_tests_and_diffs_the_pull_request() -> None:
    steps = _steps(read_yaml("action.yml"))
    assert steps["Set up Python"]["uses"].startswith("actions/setup-python@")
    assert steps["Set up Python"]["with"]["python-version"] == "${{ inputs.python-version }}"
    install = steps["Install aios-policy"]
    assert install["env"]["ACTION_PATH"] == "${{ github.action_path }}" and 'install' in install["run"]
    assert install["run"].rstrip().endswith('"$ACTION_PATH"')
    for name, command in [("aios validate", "aios validate"), ("aios test", "aios test")]:
        assert steps[name]["run"].strip() == command
        assert steps[name]["env"]["AIOS_CONSTITUTION"] == "${{ inputs.constitution }}"
    diff = steps["aios diff"]
    assert diff["env"] == {"AIOS_CONSTITUTION": "${{ inputs.constitution }}", "BASE_REF": "${{ github.base_ref }}",
                           "FAIL_ON": "${{ inputs.fail-on }}"}
    assert 'aios diff "origin/$BASE_REF" HEAD --format markdown --fail-on "$FAIL_ON" > "$report"' in diff["run"]
    assert '>> "$GITHUB_STEP_SUMMARY"' in diff["run"] and "exit-code=$code" in diff["run"]
    for step in steps.values():  # inputs reach shells through env only: no ${{ }} spliced into a script
        assert "${{" not in step.get("run", ""), step["name"]


def test_action_posts_one_comment_found_by_its_marker_before_failing() -> None:
    names = list(_steps(read_yaml("action.yml")))
    steps = _steps(read_yaml("action.yml"))
    comment = steps["Comment on the pull request"]
    assert comment["uses"].startswith("actions/github-script@")
    script = comment["with"]["script"]
    assert MARKER in script and "updateComment" in script and "createComment" in script
    assert "inputs.comment == 'true'" in comment["if"]
    verdict = steps["Apply fail-on"]
    assert 'exit "$CODE"' in verdict["run"] and verdict["env"]["CODE"] == "${{ steps.diff.outputs.exit-code }}"
    assert names.index("aios diff") < names.index("Comment on the pull request") < names.index("Apply fail-on")


def test_action_uses_aios_diff_as_it_is_defined() -> None:
    if "diff" not in main.commands:
        pytest.skip("`aios diff` is not registered yet")
    options = {option: param for param in main.commands["diff"].params for option in param.opts}
    assert "markdown" in options["--format"].type.choices
    assert {"loosening", "any-change", "never"} <= set(options["--fail-on"].type.choices)
    assert options["--constitution"].envvar == "AIOS_CONSTITUTION"


def test_repository_workflow_runs_the_local_action_on_constitution_changes_with_full_history() -> None:
    workflow = read_yaml(".github/workflows/constitution.yml")
    paths = workflow["on"]["pull_request"]["paths"]
    assert "constitution/**" in paths and "schemas/**" in paths
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}
    [job] = workflow["jobs"].values()
    checkout, action = job["steps"]
    assert checkout["uses"].startswith("actions/checkout@") and checkout["with"]["fetch-depth"] == "0"
    assert action["uses"] == "./" and action["with"]["constitution"] == "constitution"


def test_readme_shows_the_real_output_on_the_example(repository: Path) -> None:
    readme = (REPO / "README.md").read_text()
    start = readme.index("$ aios codeowners --output - | head -")
    block = readme[start:readme.index("```", start)].splitlines()
    count = int(block[0].rsplit("-", 1)[1])
    shown, real = block[1:], _codeowners(repository)[:count]
    assert len(shown) == count
    assert shown[1:] == real[1:]  # the first line names a commit, which differs
    assert shown[0].split(" at commit ")[0] == real[0].split(" at commit ")[0]


def test_readme_documents_the_pull_request_flow() -> None:
    readme = (REPO / "README.md").read_text()
    for needle in ("### aios codeowners", "## Pull requests", "aios-policy@v1", "fetch-depth: 0", "id: aios-validate",
                   "aios codeowners --output -"):
        assert needle in readme, needle
