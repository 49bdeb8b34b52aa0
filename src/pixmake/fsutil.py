"""Atomic file writes: a temp file, then a rename. Readers see the old file or the new one,
never half of one, and a crash leaves no partial file behind.

The temp file is made in `scratch` when given (the project's `.pixmake/tmp/`, which a build
clears of what a killed run left), else beside the file. A rename across file systems
(EXDEV: `scratch` and the file on different mounts) falls back to a temp file beside it.
Every OSError names the file being written, never the temp file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import BinaryIO

TEMP_PREFIX = ".pixmake-"
TEMP_SUFFIX = ".tmp"


def write_atomic(
    path: Path | str, data: bytes, *, fsync: bool = False, scratch: Path | None = None
) -> os.stat_result:
    """Write `data` to `path` (creating its directory); `fsync` also makes it durable."""
    return _atomic(path, lambda handle: handle.write(data), fsync, scratch)


def copy_atomic(
    source: Path | str, path: Path | str, *, scratch: Path | None = None
) -> os.stat_result:
    """Copy the file `source` to `path` atomically."""
    with open(source, "rb") as src:  # opened first: a missing source is named as itself
        return _atomic(
            path, lambda handle: shutil.copyfileobj(src, handle, 1 << 20), False, scratch
        )


def _copier(source: str) -> Callable[[BinaryIO], object]:
    def copy(handle: BinaryIO) -> None:
        with open(source, "rb") as src:
            shutil.copyfileobj(src, handle, 1 << 20)

    return copy


_KNOWN_DIRS: set[str] = set()


def _read_umask() -> int:
    mask = os.umask(0o022)  # read once, at import (before any thread), and put back
    os.umask(mask)
    return mask


# mkstemp makes files 0600; a file pixmake writes gets the mode any program's would (0644
# under umask 022), so that a web server running as another user can serve an output.
FILE_MODE = 0o666 & ~_read_umask()


def _atomic(
    path: Path | str, fill: Callable[[BinaryIO], object], fsync: bool, scratch: Path | None
) -> os.stat_result:
    path = os.path.abspath(path)
    try:
        directory = os.path.dirname(path)
        _makedirs(directory)
        mode = _mode_of(path)
        if scratch is None:
            tmp = _fill(directory, fill, fsync, mode)
        else:
            _makedirs(str(scratch))
            tmp = _fill(str(scratch), fill, fsync, mode)
        try:
            try:
                _rename(tmp, path, directory)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                moved = _fill(directory, _copier(tmp), fsync, mode)  # another file system
                _unlink(tmp)
                tmp = moved
                _rename(tmp, path, directory)
        except BaseException:
            _unlink(tmp)
            raise
        return os.stat(path)
    except OSError as exc:
        if exc.filename == path:
            raise
        raise OSError(exc.errno, exc.strerror, path) from exc


def _makedirs(directory: str) -> None:
    if directory in _KNOWN_DIRS:  # one mkdir per directory and process, not per file
        return
    try:
        os.makedirs(directory, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # a component of the path is a file: name it
        blocker = directory
        while os.path.dirname(blocker) != blocker and not os.path.isfile(blocker):
            blocker = os.path.dirname(blocker)
        raise NotADirectoryError(
            errno.ENOTDIR, f"{os.path.basename(blocker)} is a file, not a folder", blocker
        ) from None
    _KNOWN_DIRS.add(directory)


def _mode_of(path: str) -> int:
    """The mode a file replacing `path` gets: the one it has (someone chose it), else the
    umask's."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return FILE_MODE


def _fill(directory: str, fill: Callable[[BinaryIO], object], fsync: bool, mode: int) -> str:
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
    except FileNotFoundError:  # removed since we made it
        _KNOWN_DIRS.discard(directory)
        _makedirs(directory)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            fill(handle)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
    except BaseException:
        _unlink(tmp)
        raise
    return tmp


def _rename(tmp: str, path: str, directory: str) -> None:
    try:
        os.replace(tmp, path)
    except FileNotFoundError:  # its folder was removed since we made it
        _KNOWN_DIRS.discard(directory)
        _makedirs(directory)
        os.replace(tmp, path)


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def remove_temps(directory: Path, *, older_than: float | None = None) -> int:
    """Remove the temp files `_atomic` left in `directory` (a killed run's); with
    `older_than` (a time.time() value), only those last modified before it."""
    removed = 0
    if not directory.is_dir():
        return 0
    for candidate in directory.glob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            if older_than is not None and candidate.stat().st_mtime >= older_than:
                continue
            candidate.unlink()
            removed += 1
    return removed


_FIXES = {
    errno.EACCES: "make {folder} writable for this user (or fix its owner)",
    errno.EPERM: "make {path} and {folder} writable (check `chattr -i` and the owner)",
    errno.EROFS: "the file system is read-only: remount it writable, or build elsewhere",
    errno.ENOSPC: "free some disk space",
    errno.EDQUOT: "free some space within your disk quota",
    errno.EISDIR: "a folder is in the way: rename or remove {path}, or change its `out`",
    errno.ENOTDIR: "{blocker} is a file where a folder is needed: move it, or change the `out`",
}


def describe_os_error(exc: OSError, root: Path, *, doing: str = "write") -> str:
    """`exc` as a user reads it: which file, what went wrong, and the fix (two lines)."""
    path = _shown(exc.filename, root)
    folder = _shown(os.path.dirname(os.path.abspath(exc.filename)), root) if exc.filename else "."
    cause = exc.strerror or str(exc)
    fix = _FIXES.get(exc.errno or 0, "fix the cause above")
    origin = exc.__cause__  # _atomic names the file written; its cause, the file in the way
    blocker = _shown(origin.filename if isinstance(origin, OSError) else exc.filename, root)
    fix = fix.format(path=path, folder=folder or ".", blocker=blocker)
    return f"cannot {doing} {path}: {cause}\n  fix: {fix}, then run pixmake again"


def _shown(name: object, root: Path) -> str:
    if name is None:
        return "a file"
    text = os.fsdecode(name) if isinstance(name, (str, bytes)) else str(name)
    try:
        return os.path.relpath(text, root) if os.path.isabs(text) else text
    except ValueError:
        return text
