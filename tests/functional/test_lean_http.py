"""The lean HTTP/1.1 transport, against scripted servers over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from pixmake.providers.lean_http import LeanTransport, wants_default_transport

CERT = Path(__file__).parent.parent / "data" / "localhost.pem"  # self-signed, for 127.0.0.1

# One answer to one request: reads what it needs from the stream, writes what it likes.
Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[bool]]


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head, await reader.readexactly(length)


def ok(body: bytes, *extra: bytes) -> bytes:
    headers = b"".join(h + b"\r\n" for h in extra)
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), headers, body)


class Server:
    """Answers each request with `answer(reader, writer, n)`; False closes the connection."""

    def __init__(self, answer: Answer, tls: bool = False) -> None:
        self.answer = answer
        self.tls = tls
        self.connections = 0
        self.open = 0
        self.most_open = 0
        self.requests: list[tuple[bytes, bytes]] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Server:
        context = None
        if self.tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(CERT)
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=context)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{port}/v1"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            while True:
                try:
                    self.requests.append(await read_request(reader))
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                if not await self.answer(reader, writer, len(self.requests)):
                    return
                await writer.drain()
        finally:
            self.open -= 1
            writer.close()


def client(**kw: Any) -> httpx.AsyncClient:
    timeout = kw.pop("timeout", httpx.Timeout(5.0))
    return httpx.AsyncClient(transport=LeanTransport(**kw), timeout=timeout)


async def answer_json(reader: Any, writer: asyncio.StreamWriter, n: int) -> bool:
    writer.write(ok(b'{"n": %d}' % n, b"Content-Type: application/json"))
    return True


def test_a_post_arrives_whole_and_connections_are_kept_alive() -> None:
    async def go() -> None:
        async with Server(answer_json) as server, client() as http:
            first = await http.post(server.url, json=[{"taskType": "ping"}], headers={"X-A": "1"})
            second = await http.post(server.url, json=[])
            assert (first.status_code, first.json(), second.json()) == (200, {"n": 1}, {"n": 2})
            assert server.connections == 1
            head, body = server.requests[0]
            assert head.startswith(b"POST /v1 HTTP/1.1\r\n")
            assert b"\r\nx-a: 1\r\n" in head.lower()
            assert body == b'[{"taskType":"ping"}]'

    asyncio.run(go())


def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    async def answer_once(reader: Any, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(ok(b"fine"))
        return False  # closed after the answer, with no `Connection: close` to warn

    async def go() -> None:
        async with Server(answer_once) as server, client() as http:
            assert (await http.get(server.url)).text == "fine"
            await asyncio.sleep(0.05)  # the close arrives while the connection is idle
            assert (await http.get(server.url)).text == "fine"
            assert server.connections == 2

    asyncio.run(go())


@pytest.mark.parametrize("later", [0.0, 0.02])  # with the answer (h11 holds it), or after it
def test_bytes_sent_on_an_idle_connection_are_never_taken_for_an_answer(later: float) -> None:
    async def answer_then_408(reader: Any, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(ok(b"answer %d" % n))
        if n == 1:  # some servers say so before they close a connection left idle
            if later:
                await writer.drain()
                await asyncio.sleep(later)
            writer.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
        return True

    async def go() -> None:
        async with Server(answer_then_408) as server, client() as http:
            assert (await http.get(server.url)).text == "answer 1"
            await asyncio.sleep(0.05)
            second = await http.get(server.url)
            assert (second.status_code, second.text) == (200, "answer 2")
            assert server.connections == 2

    asyncio.run(go())


def test_a_kept_connection_closed_under_a_request_is_retried_once_on_a_new_one() -> None:
    async def answer_then_drop(reader: Any, writer: asyncio.StreamWriter, n: int) -> bool:
        if n == 2:
            return False  # the race: the server closes as the request arrives
        writer.write(ok(b"fine"))
        return True

    async def go() -> None:
        async with Server(answer_then_drop) as server, client() as http:
            await http.get(server.url)
            assert (await http.get(server.url)).text == "fine"
            assert server.connections == 2
            assert len(server.requests) == 3

    asyncio.run(go())


def test_no_answer_on_a_new_connection_is_an_error_not_a_retry() -> None:
    async def drop(reader: Any, writer: Any, n: int) -> bool:
        return False

    async def go() -> None:
        async with Server(drop) as server, client() as http:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(server.url)
            assert len(server.requests) == 1

    asyncio.run(go())


def test_a_chunked_answer_is_joined_and_connection_close_is_honoured() -> None:
    async def chunked(reader: Any, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        )
        return True  # the client must not reuse it anyway

    async def go() -> None:
        async with Server(chunked) as server, client() as http:
            assert (await http.get(server.url)).text == "hello world"
            assert (await http.get(server.url)).text == "hello world"
            assert server.connections == 2

    asyncio.run(go())


def test_a_compressed_answer_is_decoded_by_httpx() -> None:
    async def gzipped(reader: Any, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(ok(gzip.compress(b'{"data": []}'), b"Content-Encoding: gzip"))
        return True

    async def go() -> None:
        async with Server(gzipped) as server, client() as http:
            assert (await http.post(server.url, json=[])).json() == {"data": []}
            assert b"accept-encoding: gzip" in server.requests[0][0].lower()

    asyncio.run(go())


def test_a_body_cut_short_is_a_protocol_error() -> None:
    async def truncated(reader: Any, writer: asyncio.StreamWriter, n: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
        return False

    async def go() -> None:
        async with Server(truncated) as server, client() as http:
            with pytest.raises(httpx.RemoteProtocolError):
                await http.get(server.url)

    asyncio.run(go())


def test_a_slow_answer_times_out_and_its_connection_is_not_reused() -> None:
    async def slow_first(reader: Any, writer: asyncio.StreamWriter, n: int) -> bool:
        if n == 1:
            await asyncio.sleep(0.5)
        writer.write(ok(b"late" if n == 1 else b"fine"))
        return True

    async def go() -> None:
        async with Server(slow_first) as server, client(timeout=httpx.Timeout(5, read=0.1)) as http:
            with pytest.raises(httpx.ReadTimeout):
                await http.get(server.url)
            assert (await http.get(server.url)).text == "fine"  # not the late answer
            assert server.connections == 2

    asyncio.run(go())


def test_a_refused_connection_is_a_connect_error() -> None:
    async def go() -> None:
        async with Server(answer_json) as server:
            url = server.url
        async with client() as http:
            with pytest.raises(httpx.ConnectError):
                await http.get(url)

    asyncio.run(go())


def test_at_most_max_connections_are_open() -> None:
    async def slowish(reader: Any, writer: asyncio.StreamWriter, n: int) -> bool:
        await asyncio.sleep(0.05)
        writer.write(ok(b"x"))
        return True

    async def go() -> None:
        async with Server(slowish) as server, client(max_connections=2) as http:
            answers = await asyncio.gather(*(http.get(server.url) for _ in range(5)))
            assert [a.text for a in answers] == ["x"] * 5
            assert server.most_open == 2

    asyncio.run(go())


def test_https_checks_the_certificate() -> None:
    async def go() -> None:
        async with Server(answer_json, tls=True) as server:
            trusted = ssl.create_default_context(cafile=str(CERT))
            async with client(ssl_context=trusted) as http:
                assert (await http.get(server.url)).json() == {"n": 1}
            async with client() as http:  # the default trust store does not know it
                with pytest.raises(httpx.ConnectError, match="certificate"):
                    await http.get(server.url)

    asyncio.run(go())


@pytest.mark.parametrize(
    ("environ", "default"),
    [
        ({}, False),
        ({"HTTPS_PROXY": "http://proxy:3128"}, True),
        ({"http_proxy": "http://proxy:3128"}, True),
        ({"ALL_PROXY": "socks5://proxy:1080"}, True),
        ({"HTTPS_PROXY": ""}, False),
        ({"NO_PROXY": "example.com"}, False),
    ],
)
def test_a_configured_proxy_leaves_the_request_to_httpx(
    environ: dict[str, str], default: bool
) -> None:
    assert wants_default_transport(environ) is default
