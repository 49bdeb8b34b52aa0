"""The HTTP side of `pixmake review`: the standard library's server, on 127.0.0.1 only.

```
every request    Host is 127.0.0.1:PORT or localhost:PORT            else 421 (DNS rebinding)
GET /?token=T    sets the token's cookie (HttpOnly, SameSite=Strict), redirects to the page
any other        carries that cookie                                  else 403, nothing read
POST /api/*      and the header X-Pixmake-Token: T (no cross-site form can set one), and an
                 Origin, when one is sent, that is the server's own    else 403, nothing done
GET              the page and its pictures, the images the spec or the lock records, the
                 stored images a history listed; anything else is 404 (pixmake.yaml, the
                 lock, .pixmake/, .git/, ../, a symlink out of the project)
```
What each request asks of the project, Review (actions.py) does; this module only speaks HTTP.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import sys
import threading
import traceback
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

from pixmake.errors import PixmakeError, UsageError
from pixmake.gallery.page import host_page, page_data
from pixmake.review.actions import PAGE_DIR, Review

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from types import TracebackType
    from typing import TextIO

PAGE_PATH = f"/{PAGE_DIR}/"
TOKEN_HEADER = "X-Pixmake-Token"
_MAX_BODY = 64 * 1024
_PAGE_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
_DATA_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"
_IMAGES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class ReviewServer:
    """The review server of one project, bound to 127.0.0.1 when made.

    `serve_forever()` serves until `shutdown()` (from another thread) or Ctrl-C; as a
    context manager it serves on a thread of its own and stops on exit:

    ```python
    with ReviewServer(Path("."), provider="placeholder") as server:
        print(server.url)               # http://127.0.0.1:PORT/?token=...
    ```
    Raises UsageError when the port cannot be bound.
    """

    def __init__(
        self,
        root: Path,
        targets: list[str] | None = None,
        *,
        port: int = 0,
        profile: str | None = None,
        provider: str | None = None,
        max_cost: float | None = None,
        out: TextIO | None = None,
    ) -> None:
        self.review = Review(root.resolve(), targets, profile, provider, max_cost)
        if out is not None:
            self.review.out = out
        self.token = secrets.token_urlsafe(24)
        try:
            self._http = _Server(("127.0.0.1", port), _Handler)
        except OSError as exc:
            raise UsageError(
                f"--port {port}: cannot listen on 127.0.0.1:{port} ({exc.strerror or exc})\n"
                "  fix: give another port, or none: a free one is chosen"
            ) from None
        self._http.owner = self
        self.port: int = self._http.server_address[1]
        self.hosts = (f"127.0.0.1:{self.port}", f"localhost:{self.port}")
        self.cookie = f"pixmake-review-{self.port}"  # cookies are not kept apart by port
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The address to open: it carries the token, once."""
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def serve_forever(self) -> None:
        self._http.serve_forever()

    def shutdown(self) -> None:
        """Stop serving (from another thread than `serve_forever`'s)."""
        self._http.shutdown()

    def close(self) -> None:
        """Close the socket, then wait for the action under way: a paid reroll finishes and
        is recorded; an action asked for after this is refused."""
        self._http.server_close()
        self.review.close()

    @property
    def busy(self) -> bool:
        """Whether an action is under way."""
        return self.review.busy

    def __enter__(self) -> ReviewServer:
        self._thread = threading.Thread(target=self.serve_forever, name="pixmake-review")
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()
        if self._thread is not None:
            self._thread.join()
        self.close()

    def same_token(self, value: str | None) -> bool:
        return value is not None and hmac.compare_digest(value.encode(), self.token.encode())


class _Server(ThreadingHTTPServer):
    owner: ReviewServer


class _BadRequestError(Exception):
    """A request the server cannot make sense of (400): not the project's refusal."""


def _one_id(body: dict[str, Any]) -> str:
    value = body.get("id")
    if not isinstance(value, str) or not value or any(c in value for c in "*?["):
        raise _BadRequestError("`id` must be one asset id")
    return value


def _image(body: dict[str, Any]) -> str:
    value = body.get("image")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value:
        return value
    raise _BadRequestError("`image` must be a number of the asset's history, or a hash")


_ACTIONS: dict[str, Callable[[Review, dict[str, Any]], dict[str, Any]]] = {
    "/api/pick": lambda review, body: review.pick(_one_id(body), _image(body)),
    "/api/accept": lambda review, body: review.accept(_one_id(body)),
    "/api/approve": lambda review, body: review.approve(_one_id(body)),
    "/api/reroll": lambda review, body: review.reroll(_one_id(body), body.get("confirm") is True),
}


def _resource(name: str) -> str:
    return files("pixmake.review").joinpath(name).read_text(encoding="utf-8")


def _host_elements(token: str) -> str:
    """The style and scripts of the review page, put before gallery.js runs."""
    config = page_data({"token": token, "header": TOKEN_HEADER})
    return (
        f"<style>\n{_resource('review.css')}</style>\n"
        f"<script>window.pixmakeReview = {config};</script>\n"
        f"<script>\n{_resource('review.js')}</script>"
    )


def _media_type(head: bytes) -> str:
    for magic, media in _IMAGES:
        if head.startswith(magic):
            return media
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


class _Handler(BaseHTTPRequestHandler):
    server_version = "pixmake-review"

    def version_string(self) -> str:
        return self.server_version  # not Python's version: nothing for a visitor to know

    @property
    def owner(self) -> ReviewServer:
        return cast("_Server", self.server).owner

    def log_message(self, format: str, *args: Any) -> None:
        return None  # each action is logged by Review, once; requests are not

    def do_GET(self) -> None:
        self._guarded(self._get)

    def do_POST(self) -> None:
        self._guarded(self._post)

    def _guarded(self, handle: Callable[[], None]) -> None:
        host = self.headers.get_all("Host") or []
        if len(host) != 1 or host[0] not in self.owner.hosts:
            self._text(421, f"ask for {self.owner.hosts[0]} or {self.owner.hosts[1]}")
            return
        try:
            handle()
        except ConnectionError:  # the browser went away (a reload, a closed tab): no one to tell
            return
        except Exception:
            traceback.print_exc(file=sys.stderr)
            self._text(500, "this is a bug in pixmake review; the traceback is in its terminal")

    # -- GET ----------------------------------------------------------------------------------

    def _get(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/" and url.query:
            token = parse_qs(url.query).get("token", [None])[0]
            if not self.owner.same_token(token):
                self._refuse()
                return
            self._redirect(PAGE_PATH, cookie=self.owner.token)
            return
        if not self.owner.same_token(self._cookie()):
            self._refuse()
            return
        path = unquote(url.path)
        review = self.owner.review
        if path == "/":
            self._redirect(PAGE_PATH)
        elif path in (PAGE_PATH, PAGE_PATH + "index.html"):
            self._page()
        elif path.startswith(PAGE_PATH + "pictures/"):
            self._file(review.picture(path.removeprefix(PAGE_PATH + "pictures/")), cache=True)
        elif path == "/api/history":
            asset_id = parse_qs(url.query).get("id", [""])[0]
            self._act(lambda: review.history(_one_id({"id": asset_id})))
        elif path.startswith("/api/image/"):
            self._file(review.stored_image(path.removeprefix("/api/image/")), cache=True)
        elif path.startswith("/api/"):
            self._text(404, "not found")
        else:
            found = review.project_file(path[1:])
            if found is None and path == "/favicon.ico":  # every browser asks: none, no error
                self._send(204, b"", "image/x-icon")
            else:
                self._file(found)

    def _page(self) -> None:
        try:
            index = self.owner.review.page()
        except PixmakeError as exc:
            self._text(409, f"error: {exc}")
            return
        text = host_page(index.read_text(encoding="utf-8"), _host_elements(self.owner.token))
        self._send(200, text.encode("utf-8"), "text/html; charset=utf-8", _PAGE_POLICY)

    def _file(self, path: Path | None, cache: bool = False) -> None:
        if path is None:
            self._text(404, "not found")
            return
        data = path.read_bytes()
        media = _media_type(data[:16])
        extra = {"Content-Disposition": "attachment"} if media.startswith("application/") else {}
        if cache:  # named by content: what is served under a name never changes
            extra["Cache-Control"] = "private, max-age=86400, immutable"
        self._send(200, data, media, None if media.startswith("image/") else _DATA_POLICY, extra)

    # -- POST ---------------------------------------------------------------------------------

    def _post(self) -> None:
        origin = self.headers.get("Origin")
        own = origin is None or origin == f"http://{self.headers['Host']}"
        header = self.headers.get(TOKEN_HEADER)
        if not (own and self.owner.same_token(self._cookie()) and self.owner.same_token(header)):
            self._refuse()
            return
        action = _ACTIONS.get(urlsplit(self.path).path)
        if action is None:
            self._text(404, "not found")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_BODY:
            self._json(400, {"error": "the body must be a JSON object of at most 64 KiB"})
            return
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._json(400, {"error": "the body must be a JSON object"})
            return
        review = self.owner.review
        self._act(lambda: action(review, body))

    def _act(self, run: Callable[[], dict[str, Any]]) -> None:
        """Run an action; the project's refusal (a PixmakeError) is the page's to show."""
        from pixmake.providers.runware import KEY_VARIABLE
        from pixmake.redact import redact

        try:
            result = run()
        except _BadRequestError as exc:
            self._json(400, {"error": str(exc)})
        except PixmakeError as exc:
            secret = os.environ.get(KEY_VARIABLE, "").strip()
            self._json(409, {"error": redact(str(exc), secret), "kind": type(exc).__name__})
        else:
            self._json(200, result)

    # -- answers ------------------------------------------------------------------------------

    def _cookie(self) -> str | None:
        try:
            jar = SimpleCookie(self.headers.get("Cookie") or "")
        except CookieError:
            return None
        morsel = jar.get(self.owner.cookie)
        return morsel.value if morsel is not None else None

    def _refuse(self) -> None:
        self._text(
            403, "forbidden: open the address `pixmake review` printed; it carries the token"
        )

    def _redirect(self, location: str, cookie: str | None = None) -> None:
        extra = {"Location": location}
        if cookie is not None:
            extra["Set-Cookie"] = f"{self.owner.cookie}={cookie}; HttpOnly; SameSite=Strict; Path=/"
        self._send(303, b"", "text/plain; charset=utf-8", _DATA_POLICY, extra)

    def _text(self, status: int, text: str) -> None:
        self._send(status, (text + "\n").encode("utf-8"), "text/plain; charset=utf-8")

    def _json(self, status: int, value: dict[str, Any]) -> None:
        data = json.dumps(value, ensure_ascii=False).encode("utf-8")
        self._send(status, data, "application/json", _DATA_POLICY)

    def _send(
        self,
        status: int,
        data: bytes,
        media: str,
        policy: str | None = _DATA_POLICY,
        extra: dict[str, str] | None = None,
    ) -> None:
        headers = {"Cache-Control": "no-store", **(extra or {})}
        self.send_response(status)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        if policy is not None:
            self.send_header("Content-Security-Policy", policy)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
