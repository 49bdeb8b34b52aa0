"""Files hashed by a helper process ahead of the run that asks for them: the straight path.

```
the run ──paths──▶ helper process (python -c HELPER): for each path, in order:
                      lstat; open (no symlink followed); fstat: the same regular
                      file? read it, xxh3-128
         ◀─lines── path, size, mtime_ns, inode, ctime_ns, hash   (or the path alone: skipped)
a reader thread files each line under its path; FileHasher.hash(path) takes it, or hashes
the file itself when it is not there (yet), and then never uses the helper's line for it
```
With nothing remembered (no `.pixmake/`: a fresh clone, CI), every output and reference
must be read and hashed. The lock names them before the spec is resolved, so a second
process reads them on the other core while this one imports, resolves and compares; a
thread of this process would wait for the GIL after each read, behind the resolving.

What the helper found is what the run would have found hashing the file at that moment:
the stat is taken (of the opened file) before its content is read, and the record's time
of stat is the moment the helper was started, earlier than its real stat, so the racy rule
(filestat.py) treats the file as at least as recently changed as it really is. Only regular
files are read, opened without following a symlink and only in folders inside the project;
anything else (a symlink, a folder, an error) is left to the run, which checks it and
reports it. If the helper cannot start, or is slow, the run hashes the files itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from pixmake.filestat import Stat

Found = tuple["Stat", str, int]  # the stat, the content hash, when the stat was taken (or before)

# Reads project paths (one a line) from stdin, writes one line for each to stdout. Only the
# standard library and xxhash, imported from where this process found it.
HELPER = r"""
import os, stat, sys
sys.path.insert(0, sys.argv[1])
import xxhash
prefix = sys.argv[2]
flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
out = sys.stdout
for line in sys.stdin:
    rel = line[:-1]
    try:
        link = os.lstat(prefix + rel)
        fd = os.open(prefix + rel, flags)
    except OSError:
        out.write(rel + "\n")
        continue
    try:
        st = os.fstat(fd)
        same = (st.st_ino, st.st_dev) == (link.st_ino, link.st_dev)
        if not stat.S_ISREG(link.st_mode) or not same:  # a symlink, or another file by now
            out.write(rel + "\n")
            continue
        hasher = xxhash.xxh3_128()
        while chunk := os.read(fd, 1 << 20):
            hasher.update(chunk)
    except OSError:
        out.write(rel + "\n")
        continue
    finally:
        os.close(fd)
    out.write(f"{rel}\t{st.st_size}\t{st.st_mtime_ns}\t{st.st_ino}\t{st.st_ctime_ns}\t"
              f"{hasher.hexdigest()}\n")
"""


class ReadAhead:
    """A helper process hashing those of `paths` (project paths under `prefix`) that are
    `wanted`, with the stat time `taken` for every record it makes. Paths are chosen and
    written to it on a thread (`paths` may be a search, `wanted` a few lookups), and its
    answers read on another, so that nothing here waits on it."""

    def __init__(
        self, prefix: str, paths: Iterable[str], wanted: Callable[[str], bool], taken: int
    ) -> None:
        self._prefix = prefix
        self._paths = paths
        self._wanted = wanted
        self._taken_ns = taken
        self._found: dict[str, str] = {}  # path -> the rest of the helper's line, parsed when taken
        self._asked: set[str] = set()
        self._lock = threading.Lock()  # a line is filed, or dropped as asked for, at once
        self._process: subprocess.Popen[str] | None = None
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        import xxhash

        where = os.path.dirname(os.path.dirname(os.path.abspath(xxhash.__file__)))
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-X", "utf8", "-c", HELPER, where, self._prefix],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                encoding="utf-8",
                errors="surrogateescape",
                bufsize=1 << 16,
            )
        except (OSError, ValueError):
            return  # no helper: the run hashes every file itself
        for target in (self._write, self._read):
            thread = threading.Thread(target=target, args=(self._process,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def take(self, rel: str) -> Found | None:
        """The helper's record of `rel`, once; None when it has none (yet): the caller
        hashes the file itself, and a record of the helper's that comes later is dropped."""
        with self._lock:
            self._asked.add(rel)
            line = self._found.pop(rel, None)
        if line is None:
            return None
        size, mtime, inode, ctime, digest = line.split("\t")
        return (int(size), int(mtime), int(inode), int(ctime)), digest, self._taken_ns

    def regular(self, rel: str) -> bool:
        """Whether the helper found `rel` a regular file (opened without following a
        symlink, in a folder inside the project), and it is still to be taken."""
        return rel in self._found

    def wait(self) -> None:
        """Wait until the helper has answered for every path (or has gone)."""
        for thread in self._threads:
            thread.join()

    def stop(self) -> None:
        """Stop the helper, and the threads that talk to it."""
        process = self._process
        if process is None:
            return
        self._process = None
        if process.poll() is None:
            process.kill()
        for thread in self._threads:
            thread.join()
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()

    def _write(self, process: subprocess.Popen[str]) -> None:
        stdin: Any = process.stdin
        sent: set[str] = set()
        try:
            for rel in self._paths:
                if rel in sent or "\n" in rel or "\r" in rel or not self._wanted(rel):
                    continue
                sent.add(rel)
                stdin.write(rel + "\n")
            stdin.close()
        except (OSError, ValueError):  # the helper has gone: it was stopped, or failed
            pass

    def _read(self, process: subprocess.Popen[str]) -> None:
        stdout: Any = process.stdout
        try:
            for line in stdout:  # NOTE: on the GIL beside the run: split once, parse when taken
                rel, tab, rest = line[:-1].partition("\t")
                if not tab or rest.count("\t") != 4:
                    continue  # the path alone: the helper left it to the run
                with self._lock:
                    if rel not in self._asked:
                        self._found[rel] = rest
        except (OSError, ValueError):
            pass
