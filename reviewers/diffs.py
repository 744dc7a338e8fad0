"""Reading a change: which Go files it touches, which lines it added, where comments may go.

GitHub accepts a review comment only on a line inside a hunk of the file's diff (added or
context lines on the new side); `commentable_lines` is that set. `added_lines` is what the
change wrote. Both use 1-based line numbers of the new (head) file.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import unidiff


class DiffError(ValueError):
    """The text is not a unified diff we can read."""


@dataclass(frozen=True)
class Hunk:
    # (new-side line number, text) for every added or context line of the hunk.
    new_lines: tuple[tuple[int, str], ...]
    # The text of every removed or context line: the old side, in order.
    old_lines: tuple[str, ...] = ()
    new_start: int = 0
    new_length: int = 0


@dataclass(frozen=True)
class ChangedFile:
    path: str
    old_path: str | None
    status: str  # added | modified | renamed | deleted | binary | no_patch
    added_lines: frozenset[int] = frozenset()
    commentable_lines: frozenset[int] = frozenset()
    # New-side lines where lines were removed (the line after the removed block, or the last
    # line of the hunk): a change that only deletes still touches the code there.
    deletion_lines: frozenset[int] = frozenset()
    hunks: tuple[Hunk, ...] = field(default=(), repr=False)
    # (deletion line, the text removed there) for each removed block.
    removed: tuple[tuple[int, str], ...] = field(default=(), repr=False)

    @property
    def changed_lines(self) -> frozenset[int]:
        return self.added_lines | self.deletion_lines

    def new_lines(self) -> Iterator[tuple[int, str]]:
        """(number, text) of every line the hunks show on the new side."""
        for hunk in self.hunks:
            yield from hunk.new_lines

    def added_at(self) -> dict[int, str]:
        """Each line the change added, with its text."""
        return {number: text for number, text in self.new_lines() if number in self.added_lines}

    def changes_at(self) -> dict[int, str]:
        """Each changed line with what the change did there: the text it removed before the
        line, then the line itself when the change added it."""
        found = dict(self.removed)
        for number, text in self.added_at().items():
            found[number] = found.get(number, "") + text
        return found

    @property
    def is_go(self) -> bool:
        return self.path.endswith(".go")

    @property
    def reviewable(self) -> bool:
        return self.status not in ("deleted", "binary", "no_patch")

    def text_from_hunks(self) -> bytes:
        """The new file as far as the hunks show it; lines they do not show are left blank
        so that line numbers stay true."""
        known = dict(self.new_lines())
        if not known:
            return b""
        last = max(known)
        return "".join(known.get(n, "\n") for n in range(1, last + 1)).encode("utf-8", "surrogateescape")

    def old_text_from_hunks(self) -> bytes:
        """The old file as far as the hunks show it, hunk after hunk (old line numbers are
        not kept)."""
        return "".join(text for hunk in self.hunks for text in hunk.old_lines).encode("utf-8", "surrogateescape")

    def base_from_head(self, head: bytes) -> bytes | None:
        """The old file, by undoing the hunks on the new one; None when the new file does
        not hold what the hunks say it does."""
        head_lines = head.decode("utf-8", "surrogateescape").splitlines(keepends=True)
        old: list[str] = []
        position = 0  # 0-based index into head_lines
        for hunk in self.hunks:
            start = max(hunk.new_start - 1, 0)
            if start < position or any(
                number > len(head_lines) or head_lines[number - 1].rstrip("\r\n") != text.rstrip("\r\n")
                for number, text in hunk.new_lines
            ):
                return None
            old.extend(head_lines[position:start])
            old.extend(hunk.old_lines)
            position = start + hunk.new_length
        old.extend(head_lines[position:])
        return "".join(old).encode("utf-8", "surrogateescape")

    def matches_head(self, head: bytes) -> bool:
        """Whether `head` holds the new side of every hunk at its line."""
        return self.base_from_head(head) is not None


def _strip_prefix(name: str | None) -> str | None:
    if name is None or name == "/dev/null":
        return None
    return name[2:] if name[:2] in ("a/", "b/") else name


def _changed_file(patched: unidiff.PatchedFile) -> ChangedFile:
    old_path = _strip_prefix(patched.source_file)
    new_path = _strip_prefix(patched.target_file)
    if patched.is_binary_file:
        return ChangedFile(new_path or old_path or patched.path, old_path, "binary")
    if patched.is_removed_file:
        # Its old side is kept: code moved out of a deleted file is not new where it lands.
        old_side = tuple(line.value for hunk in patched for line in hunk if line.source_line_no is not None)
        return ChangedFile(old_path or patched.path, old_path, "deleted", hunks=(Hunk((), old_side),))
    path = new_path or patched.path
    if patched.is_added_file:
        status = "added"
    elif patched.is_rename or (old_path and old_path != path):
        status = "renamed"
    else:
        status = "modified"
    hunks, added, commentable, deletions = [], set(), set(), set()
    removed: list[tuple[int, str]] = []
    for hunk in patched:
        new_lines, old_lines, pending = [], [], []
        for line in hunk:
            if line.is_removed:
                pending.append(line.value)
            if line.source_line_no is not None:
                old_lines.append(line.value)
            if line.target_line_no is None:
                continue
            new_lines.append((line.target_line_no, line.value))
            commentable.add(line.target_line_no)
            if line.is_added:
                added.add(line.target_line_no)
            if pending:
                deletions.add(line.target_line_no)
                removed.append((line.target_line_no, "".join(pending)))
                pending = []
        if pending and new_lines:
            deletions.add(new_lines[-1][0])
            removed.append((new_lines[-1][0], "".join(pending)))
        hunks.append(Hunk(tuple(new_lines), tuple(old_lines), hunk.target_start, hunk.target_length))
    return ChangedFile(
        path,
        old_path,
        status,
        frozenset(added),
        frozenset(commentable),
        frozenset(deletions),
        tuple(hunks),
        tuple(removed),
    )


def parse_diff(text: str) -> list[ChangedFile]:
    """Every file of a unified diff (`git diff` output, with or without the git headers)."""
    if not text.strip():
        return []
    import unidiff  # here, not at the top: `goreef check` reads no diff

    try:
        patch_set = unidiff.PatchSet(text)
    except unidiff.UnidiffParseError as error:
        raise DiffError(f"not a unified diff: {error}") from error
    if not len(patch_set):
        raise DiffError("not a unified diff: no file headers found")
    return [_changed_file(patched) for patched in patch_set]


def from_patches(entries: Iterable[dict]) -> list[ChangedFile]:
    """ChangedFiles from GitHub's pull request files list (`filename`, `previous_filename`,
    `status`, `patch`). GitHub leaves out `patch` for binary and very large files."""
    files = []
    for entry in entries:
        path = entry["filename"]
        old_path = entry.get("previous_filename") or path
        status = entry.get("status", "modified")
        if status == "removed":
            files.append(ChangedFile(path, path, "deleted"))
            continue
        patch = entry.get("patch")
        if patch is None:
            # A pure rename has no patch; otherwise GitHub shows no diff (binary or too large).
            files.append(ChangedFile(path, old_path, "renamed" if status == "renamed" else "no_patch"))
            continue
        header = f"--- a/{old_path}\n+++ b/{path}\n" if status != "added" else f"--- /dev/null\n+++ b/{path}\n"
        (parsed,) = parse_diff(header + patch + ("" if patch.endswith("\n") else "\n"))
        files.append(replace(parsed, old_path=old_path, status="renamed" if status == "renamed" else parsed.status))
    return files


def diff_of_contents(path: str, old_path: str | None, old: bytes | None, new: bytes) -> ChangedFile:
    """The change from `old` (None: an added file) to `new`, computed here. GitHub's files list
    leaves out the patch of a file whose diff is over its size limit: the app reads both blobs
    and diffs them. No line of it is commentable (GitHub shows no diff to comment on): its
    findings are annotations."""
    if b"\0" in new or (old is not None and b"\0" in old):
        return ChangedFile(path, old_path, "binary")
    old_lines = (old or b"").decode("utf-8", "surrogateescape").splitlines(keepends=True)
    new_lines = new.decode("utf-8", "surrogateescape").splitlines(keepends=True)
    header = f"--- {'/dev/null' if old is None else 'a/' + (old_path or path)}\n+++ b/{path}\n"
    hunks = []
    for line in list(difflib.unified_diff(old_lines, new_lines, n=3))[2:]:  # past its ---/+++ lines
        hunks.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    if not hunks:  # the same contents (a mode change): nothing was added
        return ChangedFile(path, old_path, "modified")
    (parsed,) = parse_diff(header + "".join(hunks))
    status = "added" if old is None else "renamed" if old_path not in (None, path) else "modified"
    return replace(parsed, old_path=old_path, status=status, commentable_lines=frozenset())
