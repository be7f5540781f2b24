"""Read the files of a constitution: from a folder, or from any git ref without checking it out.

This is the one module that talks to git (through gitpython). It returns bytes and where they came
from; it does not parse them.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

from aios_policy.diagnostics import did_you_mean
from aios_policy.errors import SourceError
from aios_policy.files import display_path
from aios_policy.limits import MAX_FILE_BYTES, MAX_FILES


@dataclass(frozen=True)
class Unreadable:
    """A file that was not read, and why."""

    path: str
    reason: str


@dataclass
class Snapshot:
    """The constitution's files as bytes, keyed by path relative to the constitution folder."""

    display_root: str
    files: dict[str, bytes]
    commit: str | None = None
    ref: str | None = None
    dirty: bool = False
    directory: Path | None = None
    unreadable: list[Unreadable] = field(default_factory=list)

    def display(self, relative: str) -> str:
        return f"{self.display_root}/{relative}" if self.display_root not in ("", ".") else relative


def read_directory(path: str | os.PathLike[str]) -> Snapshot:
    """Every .json file under the folder; the enclosing git repository's HEAD commit and dirtiness."""
    root = Path(path)
    if not root.exists():
        raise SourceError(f"no constitution at `{root}`",
                          "pass --constitution PATH or set AIOS_CONSTITUTION to the constitution folder")
    if not root.is_dir():
        raise SourceError(f"`{root}` is not a folder", "point --constitution at the folder holding constitution.json")
    resolved = root.resolve()
    snapshot = Snapshot(display_path(root), {}, directory=root)
    for file, folder_link in _json_files(resolved):
        relative = file.relative_to(resolved).as_posix()
        if folder_link:
            snapshot.unreadable.append(Unreadable(relative, "it is a link to a folder; links to folders are "
                                                  "not followed"))
            continue
        content, reason = _read_regular_file(file, resolved)
        if reason is not None:
            snapshot.unreadable.append(Unreadable(relative, reason))
        elif content is not None:
            snapshot.files[relative] = content
        if len(snapshot.files) > MAX_FILES:
            raise SourceError(f"`{root}` holds more than {MAX_FILES} JSON files", "point at the constitution folder")
    repository = _enclosing_repository(resolved)
    if repository is not None:
        snapshot.commit, snapshot.dirty = _head_and_dirty(repository, resolved)
    return snapshot


def _read_regular_file(file: Path, root: Path) -> tuple[bytes | None, str | None]:
    """The bytes of a regular file inside root, or why it is not read. Never blocks: a FIFO or a
    device is refused before it is opened, and opened without waiting should it be swapped in since;
    a link is followed only to a regular file inside the folder; a loop of links is an error."""
    try:
        if file.is_symlink():
            target = Path(os.path.realpath(file))  # realpath does not raise on a loop of links
            if not _inside(target, root):
                return None, "it is a link to a file outside the constitution"
        if not stat.S_ISREG(os.stat(file).st_mode):
            return None, "it is not a regular file (a folder, a FIFO or a device)"
        descriptor = os.open(file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as error:  # ELOOP for a loop of links, EACCES, a file removed meanwhile
        return None, error.strerror or str(error)
    with os.fdopen(descriptor, "rb") as opened:
        status = os.fstat(opened.fileno())
        if not stat.S_ISREG(status.st_mode):
            return None, "it is not a regular file (a folder, a FIFO or a device)"
        if status.st_size > MAX_FILE_BYTES:
            return None, f"it is {status.st_size} bytes; the limit is {MAX_FILE_BYTES}"
        content = opened.read(MAX_FILE_BYTES + 1)
    if len(content) > MAX_FILE_BYTES:
        return None, f"it is over {MAX_FILE_BYTES} bytes; the limit is {MAX_FILE_BYTES}"
    return content, None


def _json_files(root: Path) -> list[tuple[Path, bool]]:
    """Every visible .json name under root, and every visible link to a folder (True): os.walk does not
    follow links to folders, so a loop of them cannot make it walk for ever."""
    found: list[tuple[Path, bool]] = []
    for directory, subdirectories, names in os.walk(root):
        visible = sorted(d for d in subdirectories if not d.startswith("."))
        found.extend((Path(directory, d), True) for d in visible if os.path.islink(os.path.join(directory, d)))
        subdirectories[:] = visible
        found.extend((Path(directory, n), False) for n in sorted(names)
                     if n.endswith(".json") and not n.startswith("."))
    return found


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _enclosing_repository(path: Path) -> Path | None:
    for candidate in (path, *path.parents):
        if (candidate / ".git").exists():
            return candidate
    return None


def _open_repository(path: Path):  # -> git.Repo
    import git  # imported here: loading a plain folder needs no git

    try:
        return git.Repo(path, search_parent_directories=True)
    except git.InvalidGitRepositoryError as error:
        broken = _enclosing_repository(path)
        if broken is not None:
            raise SourceError(f"`{broken / '.git'}` is not a valid git repository",
                              "check it with `git status`; repair or re-clone it") from error
        raise SourceError(f"`{path}` is not inside a git repository", "run `git init`, or drop --ref") from error
    except git.NoSuchPathError as error:
        raise SourceError(f"no such folder `{path}`", "check --constitution") from error
    except git.GitError as error:
        raise SourceError(f"the git repository at `{path}` cannot be read: {error}",
                          "check it with `git status` or `git fsck`") from error


def _repository_for(path: str | os.PathLike[str]):  # -> git.Repo
    """The repository holding path, found from the nearest folder that exists (the constitution's own
    folder may exist only at some ref)."""
    requested = Path(path).absolute()
    return _open_repository(next((p for p in (requested, *requested.parents) if p.exists()), requested))


def _head_and_dirty(repository_root: Path, constitution: Path) -> tuple[str | None, bool]:
    import git

    try:
        repo = _open_repository(repository_root)
        relative = constitution.relative_to(Path(repo.working_tree_dir).resolve()).as_posix() or "."
        if not repo.head.is_valid():
            return None, True
        dirty = repo.is_dirty(index=True, working_tree=True, untracked_files=True, path=relative)
        return repo.head.commit.hexsha, dirty
    except (git.GitError, SourceError, ValueError, OSError):
        return None, True  # unknown state counts as dirty: never claim a clean commit we cannot prove


def read_git_ref(path: str | os.PathLike[str], ref: str) -> Snapshot:
    """The constitution folder as it is at `ref` (branch, tag, sha, `HEAD~2`), read from git objects."""
    import gitdb.exc

    try:
        return _read_git_ref(path, ref)
    except (ValueError, AssertionError, OSError, gitdb.exc.ODBError) as error:  # gitpython's own, for a broken store
        raise SourceError(f"the git repository holding `{path}` cannot be read at `{ref}`: a missing or broken "
                          f"object ({type(error).__name__})",
                          "check it with `git fsck`; repair or re-clone it") from error


def _read_git_ref(path: str | os.PathLike[str], ref: str) -> Snapshot:
    requested = Path(path).absolute()
    repo = _repository_for(path)
    top = Path(repo.working_tree_dir).resolve()
    try:
        relative = PurePosixPath(Path(os.path.normpath(requested)).resolve().relative_to(top).as_posix())
    except ValueError as error:
        raise SourceError(f"`{path}` is outside the git repository at `{top}`", "check --constitution") from error
    commit = _resolve(repo, ref)
    try:
        tree = commit.tree if str(relative) == "." else commit.tree / str(relative)
    except KeyError as error:
        raise SourceError(f"`{relative}` does not exist at `{ref}` (commit {commit.hexsha[:12]})",
                          "check --ref, or the constitution's path at that commit") from error
    if tree.type != "tree":
        raise SourceError(f"`{relative}` is not a folder at `{ref}`", "point --constitution at a folder")
    snapshot = Snapshot(display_path(Path(path)), {}, commit=commit.hexsha, ref=ref)
    for item in tree.traverse():
        if item.type != "blob" or not item.name.endswith(".json"):
            continue
        inner = PurePosixPath(item.path).relative_to(relative if str(relative) != "." else "").as_posix()
        if any(part.startswith(".") for part in PurePosixPath(inner).parts):
            continue
        if item.mode == 0o120000:
            snapshot.unreadable.append(Unreadable(inner, "it is a symbolic link; links are not followed"))
        elif item.size > MAX_FILE_BYTES:
            snapshot.unreadable.append(Unreadable(inner, f"it is {item.size} bytes; the limit is {MAX_FILE_BYTES}"))
        else:
            snapshot.files[inner] = item.data_stream.read()
        if len(snapshot.files) > MAX_FILES:
            raise SourceError(f"`{relative}` at `{ref}` holds more than {MAX_FILES} JSON files",
                              "point at the constitution folder")
    return snapshot


def _resolve(repo, ref: str):  # -> git.Commit
    import git
    import gitdb.exc

    if not ref or ref.startswith("-") or len(ref) > 250:
        raise SourceError(f"`{ref}` is not a git ref", "name a branch, tag or commit")
    try:
        return repo.commit(ref)
    except (gitdb.exc.BadName, gitdb.exc.BadObject, ValueError, git.GitCommandError) as error:
        names = [h.name for h in repo.heads] + [t.name for t in repo.tags]
        raise SourceError(f"unknown git ref `{ref}`", did_you_mean(ref, names) or
                          "name a branch, tag or commit (see `git log --oneline`)") from error



def default_branch(repo) -> str:  # repo: git.Repo
    """The branch policy changes merge into: origin's HEAD, else main, else master, else HEAD."""
    import git

    try:
        return repo.git.symbolic_ref("--short", "refs/remotes/origin/HEAD")
    except git.GitCommandError:
        pass  # no remote HEAD: fall back to the usual names
    names = {h.name for h in repo.heads}
    return next((n for n in ("main", "master") if n in names), "HEAD")


def commit_at(path: str | os.PathLike[str], moment: datetime) -> str:
    """The last commit of the default branch made at or before moment, as a sha."""
    repo = _repository_for(path)
    branch = default_branch(repo)
    import git

    try:
        sha = repo.git.rev_list("-1", f"--before={moment.isoformat()}", branch)
    except git.GitCommandError as error:
        raise SourceError(f"cannot read the history of `{branch}`: {error}", "check the repository") from error
    if not sha:
        raise SourceError(f"the constitution has no commit on `{branch}` at or before {moment.isoformat()}",
                          "pick a later date, or use --ref")
    return sha


def merge_base(path: str | os.PathLike[str], branch: str | None = None, head: str = "HEAD") -> tuple[str, str]:
    """Where head left branch (default: the default branch): its name and the commit, the natural BASE."""
    import git

    repo = _repository_for(path)
    branch = branch or default_branch(repo)
    for ref in (branch, head):
        _resolve(repo, ref)  # an unknown ref gets its own message, with a did-you-mean
    try:
        return branch, repo.git.merge_base(branch, head)
    except git.GitCommandError as error:
        raise SourceError(f"cannot find where HEAD left `{branch}`", "name BASE explicitly, e.g. "
                          "`aios diff origin/main`") from error


@dataclass(frozen=True)
class FileHistory:
    """When each file of a constitution last changed in git: (commit sha, commit date YYYY-MM-DD) by path
    relative to the constitution folder, and the files with uncommitted changes in the working tree."""

    last: dict[str, tuple[str, str]]
    uncommitted: frozenset[str]


def file_history(path: str | os.PathLike[str], ref: str | None = None) -> FileHistory | None:
    """What `git log -1 --format=%H%x09%cs -- FILE` says for every file under the folder, in one walk of
    the history of ref (default HEAD); None when the folder is not in a git repository."""
    import git

    requested = Path(path).resolve()
    if _enclosing_repository(requested) is None:
        return None
    try:
        repo = _open_repository(requested)
        top = Path(repo.working_tree_dir).resolve()
        folder = requested.relative_to(top).as_posix()
        if ref is None and not repo.head.is_valid():
            return FileHistory({}, frozenset())
        commit = _resolve(repo, ref).hexsha if ref else "HEAD"
        output = repo.git.execute(["git", "-c", "core.quotepath=off", "log", "--format=%x1e%H%x09%cs",
                                   "--name-only", "--no-renames", commit, "--", folder])
        status = "" if ref else repo.git.execute(["git", "-c", "core.quotepath=off", "status", "--porcelain",
                                                  "--untracked-files=all", "--", folder])
    except (git.GitError, ValueError, OSError):
        return None
    prefix = "" if folder == "." else folder + "/"
    last: dict[str, tuple[str, str]] = {}
    for record in output.split("\x1e")[1:]:
        header, *names = record.strip("\n").split("\n")
        sha, _, day = header.partition("\t")
        for name in names:
            if name.startswith(prefix):
                last.setdefault(name[len(prefix):], (sha, day))
    uncommitted = {line[3:].split(" -> ")[-1].strip('"') for line in status.splitlines() if len(line) > 3}
    return FileHistory(last, frozenset(n[len(prefix):] for n in uncommitted if n.startswith(prefix)))


def commit_of(path: str | os.PathLike[str], ref: str) -> str:
    """The commit a ref points at now, without reading any file: a cheap way to see whether it moved."""
    try:
        return str(_resolve(_repository_for(path), ref).hexsha)
    except (AssertionError, OSError) as error:  # gitpython's own, for a broken ref file
        raise SourceError(f"the git ref `{ref}` cannot be read: {type(error).__name__}",
                          "check it with `git fsck`") from error
