"""The remote cache: content and action entries shared by every machine, through fsspec.

```
<remote>/objects/ab/<hash>        content by xxh3-128 hash: written once, verified when read
<remote>/actions/ab/<key>.json    request key -> outputs and candidates (the JSON of
                                  .pixmake/actions): the first writer wins
```
`<remote>` is any fsspec URL (`s3://bucket/prefix` through s3fs, `gs://`, `az://`,
`file:///path`) or a plain directory, relative to the project. An entry is written only
after the content it names, so whoever reads an entry finds its content. First writer wins
by an exclusive create: S3's `If-None-Match: *` (s3fs `mode="create"`), a hard link on a
file system; another backend that cannot create exclusively is checked, then written.

The remote is never needed: any failure but a miss (down, slow, access refused) gives one
warning, and the remote is off for the rest of the command, which goes on with what the
machine has. Credentials come from the environment, as the backend reads them; a URL or
message shown has no userinfo, query or secret option in it. fsspec is imported only
when a remote is first used.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pixmake.errors import PixmakeWarning
from pixmake.hashing import content_hash
from pixmake.redact import redact

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from pixmake.spec.values import CacheConfig

ENV = "PIXMAKE_REMOTE"
OFF = ("off", "none")
_SECRET_OPTIONS = ("key", "secret", "token", "password", "credential", "sas")
# A slow or dead server must cost seconds, not minutes: botocore's timeouts and retries
# are cut down unless the spec sets `config_kwargs`, and so are s3fs's own retries. Listings
# are not cached: another machine writes between them.
_S3_DEFAULTS: dict[str, Any] = {
    "config_kwargs": {"connect_timeout": 5, "read_timeout": 30, "retries": {"max_attempts": 2}},
    "use_listings_cache": False,
    "skip_instance_cache": True,
    # Above 1, s3fs asks for each file's size (a HEAD) before reading it, to split files
    # larger than its block size (50 MiB): no entry or image is, so it doubled every read.
    "max_concurrency": 1,
}
_S3_RETRIES = 2


def configured(
    config: CacheConfig, root: Path, environ: Mapping[str, str] = os.environ
) -> Remote | None:
    """The remote of a project: `PIXMAKE_REMOTE` if set (`off` turns a configured one off),
    else `cache.remote` in the spec; None when neither names one."""
    url = environ.get(ENV, "").strip() or (config.remote or "").strip()
    if not url or url.lower() in OFF:
        return None
    return Remote(url, dict(config.options), root)


def shown_url(url: str) -> str:
    """The URL without userinfo, query or fragment: what messages may show."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"  # `://` kept, whatever the scheme


class Remote:
    """One remote cache; every method is safe to call from several threads."""

    def __init__(self, url: str, options: dict[str, Any], root: Path) -> None:
        self.url = url
        self.shown = shown_url(url)
        self.options = options
        self.root = root
        self.problem: str | None = None  # why it is off, once it failed
        self.warn = True  # False: the caller reports `problem` itself
        self._fs: Any = None
        self._base = ""
        self._local = False
        self._has: dict[str, bool] = {}
        self._lock = threading.Lock()
        self._listed: set[str] | None = None  # request keys with an entry, as first listed
        self._entries: dict[str, dict[str, Any] | None] = {}  # fetched ahead (prefetch)

    # -- content ------------------------------------------------------------------------------

    def has_object(self, digest: str) -> bool:
        if digest not in self._has:
            found = self._call(lambda: self._fs.exists(self._object(digest)))
            if found is None:
                return False
            self._has[digest] = bool(found)
        return self._has[digest]

    def get_object(self, digest: str) -> bytes | None:
        """The content, if the remote has it with that hash."""
        data = self._call(lambda: self._fs.cat_file(self._object(digest)))
        if data is None:
            return None
        if content_hash(data) != digest:
            warnings.warn(
                f"remote cache {self.shown}: objects/{digest[:2]}/{digest} does not have the "
                "content its name says; it is not used",
                PixmakeWarning,
                stacklevel=2,
            )
            return None
        self._has[digest] = True
        return bytes(data)

    def put_object(self, digest: str, data: bytes) -> bool:
        """Upload content the remote lacks; False if the remote failed."""
        if self.has_object(digest):
            return True
        if self._call(lambda: self._create(self._object(digest), data), write=True) is None:
            return False
        self._has[digest] = True
        return True

    def objects(self) -> set[str] | None:
        """Every content hash the remote holds; None if it cannot be listed."""
        return self._listing("objects", "")

    # -- action entries -----------------------------------------------------------------------

    def get_action(self, key: str) -> dict[str, Any] | None:
        """The entry of a request key, if the remote has a well-formed one."""
        data = self._call(lambda: self._fs.cat_file(self._action(key)))
        return _action_value(data) if data is not None else None

    def prefetch(self, keys: Iterable[str]) -> None:
        """List the remote's entries and objects once, and fetch the entries of `keys` it
        has together (s3fs asks for them concurrently): planning a build of many assets
        then waits for three requests, not two for each asset. A remote that cannot be
        listed is asked key by key, as before."""
        if self._listed is None:
            listed = self.actions()
            if listed is None:
                return
            self._listed = listed
            self._has.update(dict.fromkeys(self.objects() or (), True))
        wanted = [k for k in dict.fromkeys(keys) if k in self._listed and k not in self._entries]
        if not wanted:
            return
        if any(c in self._base for c in "*?["):  # fsspec would take the paths for globs
            self._entries.update({k: self.get_action(k) for k in wanted})
            return
        paths = {self._action(k): k for k in wanted}
        found = self._call(lambda: self._fs.cat(list(paths), on_error="omit"))
        for path, key in paths.items():
            data = found.get(path) if isinstance(found, dict) else None
            self._entries[key] = _action_value(data) if data is not None else None

    def lookup_action(self, key: str) -> dict[str, Any] | None:
        """The entry of a request key, for planning: as fetched ahead, none if the listing
        did not have it, else asked for now. An entry made since the listing is found when
        the build claims the key (it reads the entry again before paying)."""
        if key in self._entries:
            return self._entries[key]
        if self._listed is not None and key not in self._listed:
            return None
        return self.get_action(key)

    def put_action_if_absent(self, key: str, value: dict[str, Any]) -> dict[str, Any] | None:
        """Write the entry unless there is one: the entry that stands (the first writer's),
        or None if the remote failed."""
        data = json.dumps(value, sort_keys=True).encode()
        created = self._call(lambda: self._create(self._action(key), data), write=True)
        if created is None:
            return None
        return value if created else self.get_action(key)

    def actions(self) -> set[str] | None:
        """Every request key the remote has an entry for; None if it cannot be listed."""
        return self._listing("actions", ".json")

    def push(
        self, key: str, value: dict[str, Any], content: Mapping[str, Callable[[], bytes]]
    ) -> bool:
        """Upload the content, then the entry naming it; False if anything was not sent."""
        for digest, read in content.items():
            try:
                data = read()
            except OSError:
                return False  # gone from the store: the entry would name what nobody has
            if not self.put_object(digest, data):
                return False
        return self.put_action_if_absent(key, value) is not None

    # -- small objects (claims) ---------------------------------------------------------------

    def read(self, name: str) -> bytes | None:
        """The object at `name` under the remote; None if there is none, or the remote failed."""
        data = self._call(lambda: self._fs.cat_file(f"{self._base}/{name}"))
        return bytes(data) if data is not None else None

    def create(self, name: str, data: bytes) -> bool | None:
        """Create the object unless it exists: False if it did, None if the remote failed."""
        created = self._call(lambda: self._create(f"{self._base}/{name}", data), write=True)
        return None if created is None else bool(created)

    def delete(self, name: str) -> None:
        """Remove the object, if the remote lets us (nothing is said if not)."""
        if self.problem is None and self._fs is not None:
            with contextlib.suppress(Exception):  # a probe left behind is harmless
                self._fs.rm_file(f"{self._base}/{name}")

    # -- the file system ----------------------------------------------------------------------

    def _object(self, digest: str) -> str:
        return f"{self._base}/objects/{digest[:2]}/{digest}"

    def _action(self, key: str) -> str:
        return f"{self._base}/actions/{key[:2]}/{key}.json"

    def _listing(self, kind: str, suffix: str) -> set[str] | None:
        found = self._call(lambda: self._fs.find(f"{self._base}/{kind}"), write=True)
        if found is None:
            return None
        names = (str(p).rsplit("/", 1)[-1] for p in found)
        return {n.removesuffix(suffix) for n in names if n.endswith(suffix) and n[0] != "."}

    def _create(self, path: str, data: bytes) -> bool:
        """Write a file that does not exist yet; False if it did (it is left as it was)."""
        if self._local:
            return _create_local(Path(path), data)
        try:
            self._fs.pipe_file(path, data, mode="create")
        except FileExistsError:
            return False
        return True

    def _connect(self) -> None:
        """Make the file system, once, whichever thread asks first."""
        with self._lock:
            if self._fs is not None:
                return
            import fsspec

            if "://" not in self.url:
                fs, base = fsspec.filesystem("file"), str((self.root / self.url).resolve())
            else:
                protocol = self.url.split("://", 1)[0]
                options = dict(self.options)
                if protocol in ("s3", "s3a"):
                    options = {**_S3_DEFAULTS, **options}
                fs, base = fsspec.core.url_to_fs(self.url, **options)
                if protocol in ("s3", "s3a"):
                    fs.retries = _S3_RETRIES
            self._base = base.rstrip("/")
            self._local = type(fs).__name__ == "LocalFileSystem"
            self._fs = fs

    def _call(self, action: Callable[[], Any], *, write: bool = False) -> Any:
        """The action's result; None for a miss, or once the remote failed (it is then off).
        A write (or a listing) that finds no place (no such bucket) is a failure."""
        if self.problem is not None:
            return None
        try:
            if self._fs is None:
                self._connect()
            return action()
        except (FileNotFoundError, NotADirectoryError) as exc:
            if write:
                self._fail(exc)
            return None
        except Exception as exc:  # whatever a backend raises, the build goes on
            self._fail(exc)
            return None

    def _fail(self, exc: Exception) -> None:
        with self._lock:
            if self.problem is not None:
                return
            if isinstance(exc, ImportError):
                what, exc = "needs a package that is not installed", _missing(exc, self.url)
            elif isinstance(exc, PermissionError):
                what = "refused access"
            elif isinstance(exc, FileNotFoundError | NotADirectoryError):
                what = "does not exist (create the bucket or directory)"
            elif isinstance(exc, TimeoutError) or "timeout" in type(exc).__name__.lower():
                what = "timed out"
            else:
                what = "is unreachable"
            detail = f"{type(exc).__name__}: {exc}" if not isinstance(exc, _Install) else str(exc)
            detail = self._redacted(detail.strip().rstrip(":"))
            self.problem = f"{what} ({detail})"
        if not self.warn:
            return
        warnings.warn(
            f"remote cache {self.shown} {self.problem}: going on without it, nothing more is "
            "fetched from it or shared through it in this run",
            PixmakeWarning,
            stacklevel=4,
        )

    def _redacted(self, text: str) -> str:
        text = text.replace(self.url, self.shown)
        parts = urlsplit(self.url) if "://" in self.url else None
        if parts is not None and "@" in parts.netloc:
            text = redact(text, parts.netloc.rpartition("@")[0])
        if parts is not None and parts.query:
            text = redact(text, parts.query)
        for name, value in self.options.items():
            if isinstance(value, str) and any(s in name.lower() for s in _SECRET_OPTIONS):
                text = redact(text, value)
        return text


class Uploader:
    """Pushes what a build made to the remote, in worker threads, as each asset finishes;
    `close` waits for what is pending."""

    def __init__(self, remote: Remote, read: Callable[[str], bytes], workers: int = 4) -> None:
        self.remote = remote
        self._read = read
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pixmake-push")
        self._pending: list[Any] = []

    def push(self, key: str, value: dict[str, Any], digests: Iterable[str]) -> None:
        content = {d: (lambda d=d: self._read(d)) for d in sorted(set(digests))}
        self._pending.append(self._pool.submit(self.remote.push, key, value, content))

    def close(self, *, wait: bool = True) -> int:
        """Wait for the pending uploads (or drop those not started); how many were sent."""
        self._pool.shutdown(wait=wait, cancel_futures=not wait)
        return sum(1 for f in self._pending if f.done() and not f.cancelled() and f.result())


class _Install(Exception):
    """What to install for a backend that is missing (shown as it is)."""


def _missing(exc: ImportError, url: str) -> Exception:
    """pixmake's extra for a missing fsspec or s3fs; else what fsspec says to install."""
    if exc.name == "fsspec":
        return _Install("pip install 'pixmake[remote]'")
    if url.split("://", 1)[0] in ("s3", "s3a"):
        return _Install("pip install 'pixmake[s3]'")
    return exc


def _create_local(path: Path, data: bytes) -> bool:
    """Exclusive create with the whole content: written beside it, then hard-linked (a link
    fails if the name exists), so nobody ever reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    temp.write_bytes(data)
    try:
        os.link(temp, path)
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links: exclusive open, then the content
        try:
            with open(path, "xb") as handle:
                handle.write(data)
        except FileExistsError:
            return False
    finally:
        temp.unlink()
    return True


def _action_value(data: bytes) -> dict[str, Any] | None:
    """An entry as read, if it is a JSON object whose outputs have hashes and sizes."""
    try:
        value: Any = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    outputs = value.get("outputs") if isinstance(value, dict) else None
    if not isinstance(outputs, list) or not outputs:
        return None
    for out in outputs:
        if not isinstance(out, dict) or not isinstance(out.get("hash"), str):
            return None
        if not all(isinstance(out.get(f), int) for f in ("bytes", "width", "height")):
            return None
    found: dict[str, Any] = value
    return found
