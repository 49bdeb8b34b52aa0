"""Confinement: every project path pixmake reads, writes or deletes lies inside the project.

```
lexical(rel)        a relative, normalised path with no `..`: what a lock or journal may name
Confinement.escape  where root/rel really points (symlinks followed), when that is outside root
```
A path escapes when, with every symlink of it followed, it leaves the project root: a symlink
inside the project pointing inside it stays allowed. The check is cheap: one `lstat` of the
file, and `realpath` of its directory once per directory and run (or of the file itself when
it is a symlink). Only the standard library is imported here: the no-op path runs on it.
"""

from __future__ import annotations

import os
import stat as stat_module

from pixmake.errors import Problem, SpecError

RESERVED = ("pixmake.yaml", "pixmake.lock", "pixmake.lock.d", ".pixmake", ".git")  # never an output
FIX = "copy the file into the project, or point the symlink inside the project"


def lexical(rel: object) -> bool:
    """Whether `rel` is a relative, normalised project path (no `..`, not absolute): what
    `posixpath.normpath` leaves as it is, with no `..` (a test holds the two to the same
    answer); its segments are looked at in C, as it runs for every path a lock names."""
    if not isinstance(rel, str) or rel == "" or "\\" in rel or "\0" in rel or rel[0] == "/":
        return False
    parts = rel.split("/")
    return ".." not in parts and (rel == "." or ("" not in parts and "." not in parts))


class Confinement:
    """The confinement of one project root; caches the directories found inside it."""

    __slots__ = ("_dirs", "root")

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.path.realpath(root)
        self._dirs: dict[str, str | None] = {"": None}

    def escape(self, rel: str, st: os.stat_result | None = None) -> str | None:
        """None when root/rel lies inside the root; else where it really points.

        `st` is the file's lstat when the caller has it (it is taken here otherwise)."""
        if not self.folder_inside(rel):
            return os.path.realpath(os.path.join(self.root, rel))
        if st is None:
            try:
                st = os.lstat(os.path.join(self.root, rel))
            except (FileNotFoundError, NotADirectoryError):
                return None
        if not stat_module.S_ISLNK(st.st_mode):
            return None
        return self._outside(rel)

    def folder_inside(self, rel: str) -> bool:
        """Whether the folder holding `rel` lies inside the root (symlinks followed; cached
        per folder): with it, a regular file `rel` is inside too."""
        directory = rel.rpartition("/")[0]  # posixpath.dirname, for a relative path
        outside = self._dirs.get(directory, "")
        if outside == "":
            outside = self._dirs[directory] = self._outside(directory)
        return outside is None

    def _outside(self, rel: str) -> str | None:
        real = os.path.realpath(os.path.join(self.root, rel))
        inside = real == self.root or real.startswith(self.root.rstrip("/") + "/")
        return None if inside else real

    def problem(self, rel: str, what: str = "", st: os.stat_result | None = None) -> str | None:
        """The message for a path that escapes (None when it does not)."""
        target = self.escape(rel, st)
        if target is None:
            return None
        return f"{what + ' ' if what else ''}`{rel}` points to `{target}`, outside the project"

    def require(self, rel: str, what: str = "", st: os.stat_result | None = None) -> None:
        """Raise SpecError naming `rel` and where it points, when it escapes the project."""
        message = self.problem(rel, what, st)
        if message is not None:
            raise SpecError([Problem(rel, None, "", message, FIX)])

    def regular(self, rel: str, what: str = "") -> str | None:
        """The message for a path that escapes or is not a regular file (None when fine, or
        when it does not exist: the caller says that in its own words)."""
        message = self.problem(rel, what)
        if message is not None:
            return message
        try:
            st = os.stat(os.path.join(self.root, rel))
        except (FileNotFoundError, NotADirectoryError):
            return None
        if stat_module.S_ISREG(st.st_mode):
            return None
        kind = "a folder" if stat_module.S_ISDIR(st.st_mode) else "not a regular file"
        return f"{what + ' ' if what else ''}`{rel}` is {kind}"
