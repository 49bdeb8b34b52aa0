"""`pixmake review` over real HTTP on 127.0.0.1: who may ask what, and what each action does."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pixmake.hashing import content_hash
from pixmake.review.server import ReviewServer
from tests.conftest import Project, png_bytes, serve_fake

KEY = "sk-live-reviewserver0123456789"
HIGH = 0.036  # gpt-image-1-mini, high, 1024x1024
SPEC = """\
version: 1
defaults: {quality: high}
providers:
  runware: {poll_interval: 0.01, retry_backoff: 0.01}
assets:
  hero:
    prompt: a hero
    out: hero.png
    candidates: 3
    references: [refs/style.png]
    derive: [{resize: 64, out: small/hero.png}]
  plain: {prompt: plain, out: plain.png}
"""
PAGE = "/.pixmake/review/"


def _start(project: Project, **kw: Any) -> ReviewServer:
    return ReviewServer(project.root, out=io.StringIO(), **kw)


@pytest.fixture
def built(project: Project) -> Project:
    project.gen({"pixmake.yaml": SPEC, "refs/style.png": png_bytes(), "notes.txt": "secret"})
    project.build()
    return project


@pytest.fixture
def server(built: Project) -> Iterator[ReviewServer]:
    with _start(built, provider="placeholder") as running:
        yield running


def client(server: ReviewServer, *, signed_in: bool = True) -> httpx.Client:
    """A client of the server; signed in: it opened the printed address and keeps the cookie."""
    http = httpx.Client(base_url=f"http://127.0.0.1:{server.port}")
    if signed_in:
        assert http.get(server.url).status_code == 303
    return http


def post(http: httpx.Client, server: ReviewServer, path: str, body: Any, **headers: str) -> Any:
    return http.post(path, json=body, headers={"X-Pixmake-Token": server.token, **headers})


def hashes(entry: dict[str, Any]) -> list[str]:
    return [c[0]["hash"] for c in entry["candidates"]]


# -- the token --------------------------------------------------------------------------------


def test_the_printed_address_sets_a_strict_cookie_and_redirects_to_the_page(
    server: ReviewServer, built: Project
) -> None:
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?token=[\w-]{32}", server.url)
    http = client(server, signed_in=False)
    answer = http.get(server.url)
    assert answer.status_code == 303
    assert answer.headers["location"] == PAGE  # the token leaves the address bar
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"pixmake-review-{server.port}={server.token};")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    page = http.get("/", follow_redirects=True)
    assert page.status_code == 200
    assert "window.pixmakeReview" in page.text
    assert page.text.index("window.pixmakeActions") < page.text.index("pixmake gallery: the cards")
    assert "script-src 'unsafe-inline'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    # the token is in the page the server sends, never in the file it wrote
    assert server.token not in (built.root / ".pixmake/review/index.html").read_text()


def test_two_servers_have_two_tokens(built: Project) -> None:
    with _start(built) as one, _start(built) as two:
        assert one.token != two.token
        assert one.port != two.port
        http = client(one)
        assert http.get(f"http://127.0.0.1:{two.port}/").status_code == 403


@pytest.mark.parametrize(
    "path",
    ["/", PAGE, "/hero.png", "/api/history?id=hero", "/?token=wrong", "/?token=", "/?x=1"],
)
def test_a_get_without_the_token_is_refused_and_reads_nothing(
    server: ReviewServer, built: Project, path: str
) -> None:
    answer = client(server, signed_in=False).get(path)
    assert answer.status_code == 403
    assert "the address `pixmake review` printed" in answer.text
    assert not (built.root / ".pixmake/review").exists()  # the page was not even written
    wrong = httpx.get(
        f"http://127.0.0.1:{server.port}{path}",
        headers={"Cookie": f"pixmake-review-{server.port}={_wrong(server.token)}"},
    )
    assert wrong.status_code == 403


@pytest.mark.parametrize(
    ("cookie", "header"), [(False, True), (True, False), (True, "wrong"), (False, False)]
)
def test_an_action_without_the_cookie_and_the_header_is_refused_and_does_nothing(
    server: ReviewServer, built: Project, cookie: bool, header: bool | str
) -> None:
    http = client(server, signed_in=cookie)
    headers = {"X-Pixmake-Token": server.token if header is True else header} if header else {}
    for path in ("/api/approve", "/api/pick", "/api/reroll", "/api/accept"):
        body = {"id": "hero", "image": 2, "confirm": True}
        answer = http.post(path, json=body, headers=headers)
        assert answer.status_code == 403, path
    hero = built.lock()["assets"]["hero"]
    assert "approved" not in hero
    assert hero["chosen"] == 0
    assert len(hero["candidates"]) == 3


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://localhost:1"])
def test_an_action_from_another_origin_is_refused(
    server: ReviewServer, built: Project, origin: str
) -> None:
    http = client(server)
    assert post(http, server, "/api/approve", {"id": "hero"}, Origin=origin).status_code == 403
    assert "approved" not in built.lock()["assets"]["hero"]
    own = f"http://127.0.0.1:{server.port}"
    assert post(http, server, "/api/approve", {"id": "hero"}, Origin=own).status_code == 200
    assert "approved" in built.lock()["assets"]["hero"]


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1:1", ""])
def test_a_foreign_host_header_is_refused_even_with_the_token(
    server: ReviewServer, built: Project, host: str
) -> None:
    """DNS rebinding: a page of another site whose name now points to 127.0.0.1."""
    http = client(server)
    value = host.format(port=server.port)
    assert http.get(PAGE, headers={"Host": value}).status_code == 421
    answer = post(http, server, "/api/approve", {"id": "hero"}, Host=value)
    assert answer.status_code == 421
    assert "approved" not in built.lock()["assets"]["hero"]
    assert http.get(PAGE, headers={"Host": f"localhost:{server.port}"}).status_code == 200


# -- what is served -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/pixmake.yaml",
        "/pixmake.lock",
        "/notes.txt",
        "/.pixmake/journal.jsonl",
        "/.pixmake/review/index.html/../../../pixmake.yaml",
        "/.pixmake/review/pictures/..%2f..%2f..%2fpixmake.yaml",
        "/.pixmake/.gitignore",
        "/.git/config",
        "/../outside.png",
        "/%2e%2e/outside.png",
        "//etc/passwd",
        "/small",
        "/api/nothing",
        "/api/image/" + "0" * 32,
    ],
)
def test_only_the_projects_images_are_served(
    server: ReviewServer, built: Project, path: str
) -> None:
    (built.root / ".git").mkdir()
    (built.root / ".git/config").write_text("[core]\n")
    (built.root.parent / "outside.png").write_bytes(png_bytes())
    http = client(server)
    assert http.get(PAGE).status_code == 200
    answer = http.get(path)
    assert answer.status_code == 404, path
    assert answer.text == "not found\n"


def test_outputs_derived_files_references_and_the_pages_pictures_are_served(
    server: ReviewServer, built: Project
) -> None:
    http = client(server)
    page = http.get(PAGE).text
    for rel in ("hero.png", "small/hero.png", "refs/style.png", "plain.png"):
        answer = http.get(f"/{rel}")
        assert answer.status_code == 200, rel
        assert answer.headers["content-type"] == "image/png"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.content == built.read(rel)
    pictures = set(re.findall(r'"src":"(pictures/[^"]+)"', page))
    assert pictures
    for src in pictures:
        answer = http.get(PAGE + src)
        assert answer.status_code == 200, src
        assert answer.headers["content-type"] == "image/webp"


def test_a_symlink_out_of_the_project_is_not_followed(server: ReviewServer, built: Project) -> None:
    outside = built.root.parent / "secret.png"
    outside.write_bytes(png_bytes(color=(1, 2, 3)))
    (built.root / "plain.png").unlink()
    (built.root / "plain.png").symlink_to(outside)
    http = client(server)
    assert http.get("/plain.png").status_code == 404
    assert http.get("/hero.png").status_code == 200


def test_stored_images_are_served_once_a_history_lists_them(
    server: ReviewServer, built: Project
) -> None:
    http = client(server)
    second = hashes(built.lock()["assets"]["hero"])[1]
    assert http.get(f"/api/image/{second}").status_code == 404
    history = http.get("/api/history", params={"id": "hero"}).json()
    assert [i["number"] for i in history["images"]] == [1, 2, 3]
    assert [i["current"] for i in history["images"]] == [True, False, False]
    assert history["images"][1]["src"] == f"/api/image/{second}"
    image = http.get(f"/api/image/{second}")
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content == (built.root / ".pixmake/objects" / second[:2] / second).read_bytes()


# -- actions ------------------------------------------------------------------------------------


def test_pick_makes_the_clicked_image_the_output(server: ReviewServer, built: Project) -> None:
    http = client(server)
    before = built.lock()["assets"]["hero"]
    answer = post(http, server, "/api/pick", {"id": "hero", "image": hashes(before)[1]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["picked"]["number"] == 2
    hero = built.lock()["assets"]["hero"]
    assert hero["chosen"] == 1
    assert hero["outputs"][0]["hash"] == hashes(before)[1]
    assert post(http, server, "/api/pick", {"id": "hero", "image": 3}).status_code == 200
    assert built.lock()["assets"]["hero"]["chosen"] == 2
    assert built.status()["hero"]["state"] == "fresh"


def test_approve_records_the_current_output(server: ReviewServer, built: Project) -> None:
    http = client(server)
    assert built.run("check", "--approved", "--provider", "placeholder").code == 1
    for asset_id in ("hero", "plain"):
        assert post(http, server, "/api/approve", {"id": asset_id}).json()["approved"] == [asset_id]
    hero = built.lock()["assets"]["hero"]
    assert hero["approved"] == [hero["outputs"][0]["hash"]]
    assert built.run("check", "--approved", "--provider", "placeholder").code == 0


def test_accept_records_a_hand_edit(server: ReviewServer, built: Project) -> None:
    http = client(server)
    edited = png_bytes((16, 16), (0, 0, 255))
    (built.root / "hero.png").write_bytes(edited)
    assert built.status()["hero"]["state"] == "modified"
    refused = post(http, server, "/api/pick", {"id": "hero", "image": 2})
    assert refused.status_code == 409
    assert "was edited by hand" in refused.json()["error"]
    assert "fix:" in refused.json()["error"]
    assert post(http, server, "/api/accept", {"id": "hero"}).status_code == 200
    hero = built.lock()["assets"]["hero"]
    assert hero["record"]["accepted"] is True
    assert built.read("hero.png") == edited
    assert hero["outputs"][0]["hash"] == content_hash(edited)
    assert built.status()["hero"]["state"] != "modified"  # its derived file is to make again


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/api/pick", {"id": "hero", "image": 9}, 409, "`hero` has no image `9` (3 known)"),
        ("/api/pick", {"id": "nobody", "image": 1}, 409, "no asset `nobody`"),
        ("/api/pick", {"id": "hero"}, 400, "`image` must be"),
        ("/api/approve", {"id": "*"}, 400, "`id` must be one asset id"),
        ("/api/approve", {"id": 3}, 400, "`id` must be one asset id"),
        ("/api/approve", ["hero"], 400, "must be a JSON object"),
        ("/api/reroll", {"id": "nobody"}, 409, "no asset matches `nobody`"),
    ],
)
def test_a_refusal_is_a_message_not_a_traceback(
    server: ReviewServer, path: str, body: Any, status: int, message: str
) -> None:
    answer = post(client(server), server, path, body)
    assert answer.status_code == status
    assert message in answer.json()["error"]
    assert "Traceback" not in answer.text


def test_reroll_shows_its_estimate_then_pays_once_when_confirmed(
    built: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_fake(monkeypatch, KEY) as fake, _start(built) as server:
        # built with the placeholder: a build with Runware now generates every asset
        assert built.run("build").code == 0
        charged = len(fake.charges())
        http = client(server)
        estimate = post(http, server, "/api/reroll", {"id": "plain"}).json()
        assert estimate["estimate_usd"] == pytest.approx(HIGH)
        assert estimate["key_set"] is True
        assert estimate["generate"] == ["plain"]
        assert len(fake.charges()) == charged  # asking costs nothing
        old = built.lock()["assets"]["plain"]["outputs"][0]["hash"]
        done = post(http, server, "/api/reroll", {"id": "plain", "confirm": True})
        assert done.status_code == 200, done.text
        assert done.json()["generated"] == 1
        assert len(fake.charges()) == charged + 1
        plain = built.lock()["assets"]["plain"]
        assert plain["outputs"][0]["hash"] != old
        assert hashes(plain)[0] == old  # the replaced image stays a candidate


def test_reroll_past_max_cost_is_refused_and_pays_nothing(
    built: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serve_fake(monkeypatch, KEY) as fake, _start(built, max_cost=0.01) as server:
        assert built.run("build").code == 0
        charged = len(fake.charges())
        answer = post(client(server), server, "/api/reroll", {"id": "plain", "confirm": True})
        assert answer.status_code == 409
        assert "more than --max-cost 0.0100" in answer.json()["error"]
        assert len(fake.charges()) == charged


def test_reroll_without_the_key_says_so(built: Project) -> None:
    with _start(built) as server:
        http = client(server)
        estimate = post(http, server, "/api/reroll", {"id": "plain"}).json()
        assert estimate["key_set"] is False
        assert estimate["key_variable"] == "RUNWARE_API_KEY"
        answer = post(http, server, "/api/reroll", {"id": "plain", "confirm": True})
        assert answer.status_code == 409
        assert "RUNWARE_API_KEY is not set" in answer.json()["error"]


def test_an_action_after_close_is_refused(built: Project) -> None:
    server = _start(built, provider="placeholder")
    server.close()
    from pixmake.errors import PixmakeError

    with pytest.raises(PixmakeError, match="stopping"):
        server.review.approve("hero")
    assert "approved" not in built.lock()["assets"]["hero"]


def test_the_command_prints_its_address_serves_and_stops_at_ctrl_c(built: Project) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUNWARE_")}
    command = [sys.executable, "-m", "pixmake", "-C", str(built.root), "review", "--no-open"]
    with subprocess.Popen(
        [*command, "--provider", "placeholder"], stdout=subprocess.PIPE, text=True, env=env
    ) as process:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.removeprefix("review: ").strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?token=[\w-]{32}", url), line
        http = httpx.Client()
        assert http.get(url, follow_redirects=True).status_code == 200
        process.send_signal(signal.SIGINT)
        out = process.stdout.read()
        assert process.wait() == 0
    assert "review: stopped" in out
    again = subprocess.run(
        [*command, "--port", "70000"], capture_output=True, text=True, env=env, check=False
    )
    assert again.returncode == 2
    assert "must be a port number" in again.stderr


def _wrong(token: str) -> str:
    """Another token of the same length (never the real one: its last character differs)."""
    return token[:-1] + ("y" if token.endswith("x") else "x")
