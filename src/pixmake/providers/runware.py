"""Runware's REST API: the only module that knows Runware's JSON (see RUNWARE_API.md).

```
journal task UUID ─▶ POST [imageInference] ─▶ ACK ─▶ POST [getResponse] … ─▶ success items
       ▲                  │ 429 / 503, or not connected: the same UUID again        │
       │                  │ answer lost (dropped, timed out, other 5xx): asked as   │
       │                  │   below first; sent again (same UUID) only if unknown   │
       │                  └─ conflictTaskUUID: it was accepted, poll it             ▼
  after a crash: ask about the journaled UUID (submit it only if Runware never saw it)  download
```
A task UUID that may have been accepted is never replaced by a new one: that would pay twice.

After a crash, a journaled task was recorded before it was sent, so Runware may or may not
have it. getResponse cannot settle that alone: it answers `{"data": []}` both for a queued
task and for one it never saw (RUNWARE_API.md §10), and pixmake assumes it may answer "not
found" for a task it has not shown yet (not documented by Runware: a store that lags behind
the submission; the fake's `lost` fault plays it). So, once per journaled task:
```
getResponse U ── items or an error about U ───────────▶ follow it (poll, take, or fail)
     │ not found, or nothing about U
     ▼
getTaskDetails U ── Runware has it (request, response) ──▶ follow it; never submitted again
     │ a not-found error: Runware never saw U ──────────▶ submit U again, the same UUID
     │ an answer with no details and no error ──────────▶ poll U
     │ no answer (retries run out), a key or credit error ▶ U stays journaled: asked again
     │ no getTaskDetails on this account (warned once a build):
     └─ as before it: not found ▶ submit U again; nothing about U ▶ poll U
```
Only a definite "not found" from getTaskDetails sends a journaled task again: an empty
getResponse is never enough (a queued task would be paid twice), and a getResponse "not found"
is enough only on an account without getTaskDetails. While a task is polled, "not found"
means "not shown yet": it is polled on, within the budget, and stays journaled. A task leaves
the journal only when Runware refused it or said it failed; an error about the key or the
credit while its fate is open keeps it, so that the next build asks about it again.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import dataclasses
import datetime
import email.utils
import itertools
import math
import random
import time
import uuid
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import httpx

from pixmake import catalog
from pixmake.errors import (
    ContentRefusedError,
    MissingKeyError,
    PixmakeWarning,
    ProviderAuthError,
    ProviderError,
    ProviderQuotaError,
    ProviderRejectedError,
    ProviderRetryableError,
)
from pixmake.providers.base import GenerationResult
from pixmake.providers.window import WindowPolicy
from pixmake.redact import redact

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from pixmake.providers.base import GenerationRequest, RequestReference, TaskJournal
    from pixmake.providers.window import Lease, Window
    from pixmake.staging import StagedImage, Staging

T = TypeVar("T")
DEFAULT_BASE_URL = "https://api.runware.ai/v1"
KEY_VARIABLE = "RUNWARE_API_KEY"
URL_VARIABLE = "RUNWARE_BASE_URL"
_MAGIC = ((b"\x89PNG", "image/png"), (b"\xff\xd8", "image/jpeg"), (b"RIFF", "image/webp"))
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_BUSY_STATUS = frozenset({429, 503})  # too much in flight: `concurrency: auto` shrinks
# Failures before a request was sent: trying again cannot pay twice.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Content safety refusing a task: before generating (`safety.blockContent`, or Runware's own
# check of every task), or the model provider's own moderation. Neither is charged, and
# sending it again cannot help.
REFUSALS = frozenset({"sensitiveContentDetected", "invalidProviderContent"})
OUTPUT_TYPES = {"url": "URL", "base64": "base64Data"}
# An account without getTaskDetails: the task type refused as unknown or not allowed.
_UNSUPPORTED = ("invalidTaskType", "unsupportedTaskType", "unknownTaskType", "taskTypeNot")
_FORBIDDEN = frozenset({"forbidden", "permissionDenied", "insufficientPermissions"})
Seen = Literal["known", "unknown", "silent"]


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """The HTTP client's pool, timeouts and download limits: every such default, in one place.

    The pool is httpx's own (httpcore): it honours the proxy variables and NO_PROXY, races
    IPv4 and IPv6, and closes a connection idle for `keepalive_expiry` seconds. A Runware
    call takes 10 to 60 s, so a connection kept for half a minute serves the next poll or
    submission of the same job slot.
    """

    # With async delivery the shared poller, the submissions and the downloads take turns on
    # a few connections (each request is short). More would cost CPU on every request:
    # httpcore looks over each pooled connection (a syscall each) several times a request.
    # Sync delivery adds one per task in flight (`for_delivery`).
    max_connections: int = 8
    max_keepalive_connections: int = 8
    keepalive_expiry: float = 30.0
    connect_timeout: float = 10.0
    read_timeout: float = 180.0  # a sync submission waits this long for its answer
    write_timeout: float = 60.0
    download_timeout: float = 300.0  # one image download, from request to last byte
    max_image_bytes: int = 64 << 20  # a GPT Image result is a few MB; a larger body is refused
    # One JSON answer, read whole: with `output: base64` it carries the images themselves
    # (4/3 of their size), so a poll asks about few tasks at a time (`base64_batch`).
    max_answer_bytes: int = 256 << 20
    base64_batch: int = 4

    def for_delivery(self, delivery: str, in_flight: int) -> HttpSettings:
        """These settings for `delivery`, with up to `in_flight` tasks in flight: a sync
        submission holds its connection until the image is made, so sync delivery needs one
        connection per task in flight besides those for the downloads."""
        if delivery != "sync":
            return self
        size = self.max_connections + in_flight
        return dataclasses.replace(self, max_connections=size, max_keepalive_connections=size)

    def client(self) -> httpx.AsyncClient:
        """An `httpx.AsyncClient` on httpx's default transport with these limits."""
        return httpx.AsyncClient(
            timeout=httpx.Timeout(
                connect=self.connect_timeout,
                read=self.read_timeout,
                write=self.write_timeout,
                pool=None,
            ),
            limits=httpx.Limits(
                max_connections=self.max_connections,
                max_keepalive_connections=self.max_keepalive_connections,
                keepalive_expiry=self.keepalive_expiry,
            ),
        )


def inference_task(
    request: GenerationRequest,
    references: list[str],
    *,
    delivery: str = "async",
    output: str = "url",
    webhook_url: str | None = None,
    upload_endpoint: str | None = None,
) -> dict[str, Any]:
    """The `imageInference` task for a request (without `taskUUID`).

    `references` are the values for `inputs.referenceImages`, in order: URLs, data URIs or
    uploaded image UUIDs. `output` is url or base64; `ttl` is sent only with url (Runware
    ignores it otherwise). `webhook_url` and `upload_endpoint` are passed through as they are.
    """
    task: dict[str, Any] = {
        "taskType": "imageInference",
        "model": request.model,
        "positivePrompt": request.prompt,
        "width": request.width,
        "height": request.height,
        "numberResults": request.results,
        "outputFormat": request.format.upper(),
        "outputType": OUTPUT_TYPES[output],
        "deliveryMethod": delivery,
        "includeCost": True,
    }
    if request.output_quality is not None:
        task["outputQuality"] = request.output_quality
    model = catalog.resolve_model(request.model)
    if model is not None:  # where this model takes them: providerSettings.openai, settings
        task.update(model.wire_settings(request.quality, request.background))
    if references:
        task["inputs"] = {"referenceImages": list(references)}
    safety: dict[str, Any] = {"blockContent": True} if request.block else {}
    if request.safety != "none":
        safety.update(checkContent=True, mode=request.safety)
    if safety:
        task["safety"] = safety
    if request.ttl is not None and output == "url":
        task["ttl"] = request.ttl
    if webhook_url:
        task["webhookURL"] = webhook_url
    if upload_endpoint:
        task["uploadEndpoint"] = upload_endpoint
    return task


def reference_values(request: GenerationRequest) -> list[str]:
    """`inputs.referenceImages` sent inline: URLs as they are, local files as data URIs."""
    return [r.value if r.kind == "url" else data_uri(r) for r in request.references]


def data_uri(reference: RequestReference) -> str:
    """A local reference as a data URI, its MIME type read from the bytes."""
    assert reference.path is not None
    data = reference.path.read_bytes()
    mime = next((m for magic, m in _MAGIC if data.startswith(magic)), "image/png")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


class UploadCache(Protocol):
    """Which content hash was uploaded as which image UUID (`pixmake.store.Uploads`)."""

    def get(self, digest: str) -> str | None: ...

    def put(self, digest: str, image_uuid: str) -> None: ...


class MemoryUploads:
    """An UploadCache for one process."""

    def __init__(self) -> None:
        self._known: dict[str, str] = {}

    def get(self, digest: str) -> str | None:
        return self._known.get(digest)

    def put(self, digest: str, image_uuid: str) -> None:
        self._known[digest] = image_uuid


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter; Retry-After wins when the server sends it."""

    attempts: int = 6
    base: float = 1.0
    cap: float = 30.0

    def delay(self, attempt: int, rng: Callable[[], float], retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), 300.0)
        return float(min(self.cap, self.base * 2**attempt) * (0.5 + rng() / 2))


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """getResponse polling, for every task in flight at once (one POST holds up to `batch`).

    Until a task has finished, the interval starts at `first` and grows x`factor` up to `cap`
    (one request asks about every task, so an early first poll costs one or two requests a
    build, and a fast model's first tasks are not left waiting).
    Once tasks finish, it follows them: a twentieth of their typical duration, within
    [`floor`, `cap`], so a finished task waits little and a slow one costs few requests; and
    each task gets one poll aimed at its expected finish (see `RunwareProvider._delay`).
    A task still processing after `budget` seconds is left for the next build to poll.
    """

    first: float = 0.25
    factor: float = 1.5
    cap: float = 10.0
    floor: float = 0.01
    budget: float = 900.0
    batch: int = 64


@dataclass(slots=True)
class _Task:
    uuid: str
    expected: int
    images: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True)
class _Waiter:
    task: _Task
    done: asyncio.Future[None]
    started: float
    aimed: bool = False  # polled at its expected finish already


class RunwareProvider:
    """The GPT Image family (and other imageInference models) through Runware's REST API."""

    name = "runware"
    paid = True
    trusted = False

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        client: httpx.AsyncClient | None = None,
        http: HttpSettings | None = None,
        uploads: UploadCache | None = None,
        delivery: str = "async",
        output: str = "url",
        webhook_url: str | None = None,
        upload_endpoint: str | None = None,
        references: str = "upload",
        retry: RetryPolicy | None = None,
        poll: PollPolicy | None = None,
        window: Window | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._url = base_url
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._secret = api_key
        # `concurrency: auto` may have its ceiling in flight; a fixed one passes its own `http`.
        ceiling = (window.policy if window is not None else WindowPolicy()).ceiling
        self.http = http or HttpSettings().for_delivery(delivery, ceiling)
        self._client = client or self.http.client()
        self._uploads = uploads or MemoryUploads()
        self._uploading: dict[str, asyncio.Future[str]] = {}
        self.delivery = delivery
        self.output = output
        self.webhook_url = webhook_url
        self.upload_endpoint = upload_endpoint
        self.references = references
        self.retry = retry or RetryPolicy()
        self.poll = poll or PollPolicy()
        if output == "base64":  # every answer carries the images: ask about few at a time
            self.poll = dataclasses.replace(
                self.poll, batch=min(self.poll.batch, self.http.base64_batch)
            )
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self.window = window  # `concurrency: auto`; a fixed one is the executor's semaphore
        self._waiting: dict[str, _Waiter] = {}
        self._poller: asyncio.Task[None] | None = None
        self._interval = self.poll.first
        self._typical: float | None = None
        self._recent: collections.deque[float] = collections.deque(maxlen=16)
        self._task_details: bool | None = None  # whether the account has getTaskDetails

    @property
    def in_flight(self) -> int:
        """How many tasks were accepted and are being polled for their results now."""
        return len(self._waiting)

    async def aclose(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
        await self._client.aclose()

    # -- the whole contract -----------------------------------------------------------------

    async def generate(
        self, request: GenerationRequest, tasks: TaskJournal, staging: Staging
    ) -> GenerationResult:
        references = await self._references(request)
        body = inference_task(
            request,
            references,
            delivery=self.delivery,
            output=self.output,
            webhook_url=self.webhook_url,
            upload_endpoint=self.upload_endpoint,
        )
        prior = tasks.submitted(request.key)
        task = _Task(prior["taskUUID"] if prior else str(uuid.uuid4()), request.results)
        body["taskUUID"] = task.uuid
        lease = await self.window.lease() if self.window is not None else None
        sending = prior is None  # until Runware may have the task, any refusal ends it
        try:
            if prior is None:
                await tasks.record(request.key, request.asset_id, {"taskUUID": task.uuid})
                await self._submit(body, task, lease)
            elif not await self._resume(task):
                sending = True
                await self._submit(body, task, lease)  # journaled, but Runware never saw it
            if lease is not None and self.delivery == "async":
                lease.accepted()  # sync: the answer is the result, so admission is the start
            sending = False
            await self._wait(task)
            if lease is not None:
                lease.done()
            tasks.remote_done(request.key)
        except ContentRefusedError as exc:
            tasks.finished(request.key)  # refused, not charged: the next build may try anew
            checked = " (`safety.block` checks its references too)" if request.block else ""
            raise ContentRefusedError(
                f"{exc} (task {task.uuid}); nothing was charged and it is not sent again\n"
                f"  fix: reword the prompt of `{request.asset_id}`{checked}"
            ) from exc
        except ProviderError as exc:
            if isinstance(exc, ProviderRejectedError) or (sending and not exc.retryable):
                tasks.finished(request.key)  # over for good: the next build may send a new task
            raise
        finally:
            if lease is not None:
                lease.release()
        items = sorted(task.images.values(), key=lambda i: str(i.get("imageUUID")))[: task.expected]
        flags = [bool(item.get("NSFWContent")) for item in items]
        if request.safety != "none" and any(flags) and request.on_flag == "fail":
            tasks.finished(request.key)
            cost = sum(float(item.get("cost") or 0.0) for item in items)
            flagged = ContentRefusedError(
                f"Runware's content check flagged {sum(flags)} of {len(flags)} images of "
                f"`{request.asset_id}` (NSFWContent, task {task.uuid}; charged "
                f"{cost:.4f} USD); none was kept\n"
                f"  fix: reword the prompt, or set `safety: {{on_flag: keep}}` to keep "
                "flagged images (the lock records the flag)"
            )
            flagged.cost_usd = cost  # paid all the same: the build counts it as spent
            raise flagged
        # The tasks this one made room for are sent before its images are fetched: a
        # submission keeps Runware busy, a download only has to end before the build does.
        await asyncio.sleep(0)
        images: list[StagedImage] = []
        try:
            for item in items:
                images.append(await self._image(item, staging))
        except BaseException:
            staging.discard(images)
            raise
        cost = sum(float(item.get("cost") or 0.0) for item in items)
        record: dict[str, Any] = {
            "task_uuid": task.uuid,
            "image_uuids": [str(item["imageUUID"]) for item in items],
            "delivery": self.delivery,
        }
        if request.safety != "none":  # Runware's flag of each image, by its content hash
            record["nsfw"] = {image.digest: flag for image, flag in zip(images, flags, strict=True)}
        return GenerationResult(images, record, cost)

    # -- submitting and polling -------------------------------------------------------------

    async def _submit(self, body: dict[str, Any], task: _Task, lease: Lease | None) -> None:
        """POST the task; the same UUID on every attempt. A conflict means it was accepted.

        After an attempt whose fate is unknown (dropped, timed out, 5xx, unreadable), a later
        refusal is believed only if Runware does not know the task: otherwise it was accepted
        (and is being paid for), so it is polled instead of being given up.
        """
        try:
            busy = lease.busy if lease is not None else None
            data, errors = await self._post(
                [body], task.uuid, conflict_ok=True, busy=busy, unsure=lambda: self._has(task)
            )
        except ProviderError as exc:
            if exc.retryable or not exc.after_retry:
                raise
            if await self._poll_once(task) != "unknown":
                return
            raise
        self._collect(task, data)
        self._raise_task_errors(errors)

    async def _wait(self, task: _Task) -> None:
        """Until the task has all its images; the shared poller asks for every task at once."""
        if len(task.images) >= task.expected:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[task.uuid] = _Waiter(task, done, self._clock())
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll_all())
        try:
            await done
        finally:
            self._waiting.pop(task.uuid, None)

    async def _poll_all(self) -> None:
        while self._waiting:
            await self._sleep(self._delay())
            now = self._clock()
            batch = list(self._waiting.values())[: self.poll.batch]
            try:
                data, errors = await self._post_batch(
                    [{"taskType": "getResponse", "taskUUID": w.task.uuid} for w in batch]
                )
            except ProviderError as exc:
                for waiter in batch:
                    _settle(waiter, exc)
                continue
            finished = self._distribute(batch, data, errors)
            self._adapt(finished)
            shortest = min(self._recent, default=None)
            for waiter in batch:
                if waiter.done.done():
                    self._waiting.pop(waiter.task.uuid, None)
                elif shortest is not None and waiter.started + shortest <= now:
                    waiter.aimed = True  # this poll was its aimed one, or came later still

    def _delay(self) -> float:
        """Until the next poll: the interval, or sooner if a task is expected to finish sooner.

        A task is expected at its start plus the shortest of the recent durations, and gets one
        poll aimed there: a finished task is found at once rather than up to an interval later.
        Durations are measured at the poll that finds a task done, so they run long; the polls at
        the interval keep finding the tasks that finish sooner, and the estimate learns from them.
        """
        if not self._recent:
            return self._interval
        shortest = min(self._recent)
        polled = itertools.islice(self._waiting.values(), self.poll.batch)  # the next batch
        expected = min((w.started + shortest for w in polled if not w.aimed), default=None)
        if expected is None:
            return self._interval
        return max(0.0, min(self._interval, expected - self._clock()))

    def _distribute(
        self, batch: list[_Waiter], data: list[dict[str, Any]], errors: list[dict[str, Any]]
    ) -> list[float]:
        """Hand each task its items and errors; returns how long the finished ones took."""
        now = self._clock()
        # "Not found" for a task being polled: accepted, but not shown yet (see the module doc).
        failed = {e.get("taskUUID"): e for e in errors if not _not_found(str(e.get("code", "")))}
        durations = []
        for waiter in batch:
            task = waiter.task
            try:
                self._collect(task, [d for d in data if d.get("taskUUID") == task.uuid])
                if task.uuid in failed:
                    self._raise_task_errors([failed[task.uuid]])
            except ProviderError as exc:
                _settle(waiter, exc)
                continue
            if len(task.images) >= task.expected:
                durations.append(now - waiter.started)
                _settle(waiter, None)
            elif now - waiter.started > self.poll.budget:
                _settle(
                    waiter,
                    ProviderRetryableError(
                        f"Runware task {task.uuid} still processing after "
                        f"{self.poll.budget:.0f} s; the next build polls it again "
                        "(it is not paid twice)"
                    ),
                )
        return durations

    def _adapt(self, durations: list[float]) -> None:
        policy = self.poll
        if not durations:
            if self._typical is None:
                self._interval = min(policy.cap, self._interval * policy.factor)
            return
        self._recent.extend(durations)
        for duration in durations:
            typical = self._typical
            self._typical = duration if typical is None else 0.8 * typical + 0.2 * duration
        assert self._typical is not None
        self._interval = min(policy.cap, max(policy.floor, self._typical / 20))

    async def _post_batch(
        self, tasks: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """POST several getResponse tasks; per-task errors come back, not raised."""
        try:
            return await self._post(tasks, None)
        except ProviderRejectedError as exc:
            if exc.envelope is None:
                raise
            return exc.envelope

    async def _resume(self, task: _Task) -> bool:
        """Whether Runware may have this journaled task (it is then followed, never sent
        again); False only when it said it never saw it (see the module docstring)."""
        seen = await self._poll_once(task)
        if seen == "known":
            return True
        told = await self._details(task)
        if told is None:  # no getTaskDetails: as before it, an unknown task is sent again
            return seen == "silent"
        return told != "unknown"

    async def _has(self, task: _Task) -> bool:
        """After a submission whose answer was lost (dropped, timed out, a gateway's 5xx):
        whether Runware has the task, asked before it is sent again. Only a definite "not
        found" from getTaskDetails sends it again; on an account without getTaskDetails it
        is sent again with the same UUID, for Runware's duplicate check (conflictTaskUUID)."""
        if await self._poll_once(task) == "known":
            return True
        told = await self._details(task)
        return told is not None and told != "unknown"

    async def _poll_once(self, task: _Task) -> Seen:
        """One getResponse for a task whose fate is open: `known` (its items are collected,
        its failure raised), `unknown` (not found), or `silent` (nothing about it)."""
        query = [{"taskType": "getResponse", "taskUUID": task.uuid}]
        try:
            data, errors = await self._post(query, task.uuid)
        except ProviderRejectedError as exc:
            if _not_found(str(exc)):
                return "unknown"
            raise
        if any(_not_found(str(e.get("code", ""))) for e in errors):
            return "unknown"
        self._collect(task, data)
        self._raise_task_errors(errors)
        about = [d for d in data if d.get("taskUUID") in (None, task.uuid)]
        return "known" if about or errors else "silent"

    async def _details(self, task: _Task) -> Seen | None:
        """getTaskDetails: `known` (Runware has it: its answer so far is collected, its
        failure raised), `unknown` (not found: Runware never saw it), `silent` (no details,
        no error), or None when the account has no getTaskDetails (warned once a build)."""
        if self._task_details is False:
            return None
        query = [{"taskType": "getTaskDetails", "taskUUID": task.uuid}]
        try:
            data, errors = await self._post(query, task.uuid)
        except ProviderError as exc:
            if exc.retryable or exc.envelope is None:
                raise
            if _unsupported(exc.status, exc.envelope[1]):
                self._without_task_details()
                return None
            if any(_not_found(str(e.get("code", ""))) for e in exc.envelope[1]):
                return "unknown"
            raise
        if _unsupported(200, errors):
            self._without_task_details()
            return None
        if any(_not_found(str(e.get("code", ""))) for e in errors):
            return "unknown"
        self._task_details = True
        found = [d for d in data if d.get("taskUUID") in (None, task.uuid) and "response" in d]
        if not found:
            return "silent"
        response = found[0]["response"]
        if isinstance(response, dict):  # the original answer: results, or the task's failure
            items = response.get("data") or []
            items = [items] if isinstance(items, dict) else items
            self._collect(task, [i for i in items if isinstance(i, dict)])
            failures = [e for e in response.get("errors") or [] if isinstance(e, dict)]
            self._raise_task_errors([e for e in failures if e.get("taskUUID") in (None, task.uuid)])
        return "known"

    def _without_task_details(self) -> None:
        if self._task_details is not False:
            self._task_details = False
            warnings.warn(
                "this Runware account has no getTaskDetails: a journaled task that getResponse "
                "does not know is submitted again (with the same UUID) without asking further; "
                "if Runware had accepted it and not shown it yet, it is paid twice",
                PixmakeWarning,
                stacklevel=2,
            )

    def _collect(self, task: _Task, data: list[dict[str, Any]]) -> None:
        for item in data:
            if item.get("taskUUID") not in (None, task.uuid):
                continue
            if item.get("status") == "error" or "error" in item:
                nested = item.get("error") or item
                if str(nested.get("code")) in REFUSALS:
                    raise _refusal(nested)
                raise ProviderRejectedError(_task_error_text(nested))
            if item.get("imageUUID") and item.get("status", "success") == "success":
                task.images[str(item["imageUUID"])] = item  # cumulative polls: de-duplicated

    def _raise_task_errors(self, errors: list[dict[str, Any]]) -> None:
        """A task that Runware reports as failed is over: its UUID is never polled again."""
        if errors:
            error = _error_for(errors[0], 200)
            if isinstance(error, ProviderAuthError | ProviderQuotaError | ContentRefusedError):
                raise error
            raise ProviderRejectedError(f"the Runware task failed ({_task_error_text(errors[0])})")

    async def _retrying(
        self,
        once: Callable[[int], Awaitable[T]],
        what: str,
        busy: Callable[[float | None], Awaitable[bool]] | None = None,
        unsure: Callable[[], Awaitable[T | None]] | None = None,
    ) -> T:
        """Call `once(attempt)` until it succeeds; transient failures are tried again after
        a capped, jittered backoff (or Retry-After), up to `retry.attempts` times. A 429/503
        that `busy` takes (the window shrank and gave a new place) is tried again at once.
        After a failure the server may have acted on (an answer lost once the request was
        sent, a 5xx other than 503), `unsure()` is asked first: what it returns, if not None,
        is the answer, and nothing is sent again."""
        attempt = 0
        while True:
            try:
                return await once(attempt)
            except ProviderRetryableError as exc:
                if exc.busy and busy is not None and await busy(exc.retry_after):
                    continue
                error: ProviderRetryableError = exc
                acted = not exc.busy
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                text = redact(_transport_text(exc), self._secret)
                error = ProviderRetryableError(f"{what}: {text}")
                acted = not isinstance(exc, _NOT_SENT)
            attempt += 1
            if attempt >= self.retry.attempts:
                raise error
            await self._sleep(self.retry.delay(attempt - 1, self._rng, error.retry_after))
            if acted and unsure is not None:
                answer = await unsure()
                if answer is not None:
                    return answer

    async def _post(
        self,
        tasks: list[dict[str, Any]],
        task_uuid: str | None,
        *,
        conflict_ok: bool = False,
        busy: Callable[[float | None], Awaitable[bool]] | None = None,
        unsure: Callable[[], Awaitable[bool]] | None = None,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """POST with retries. Returns (data items, per-task errors for this task, or for all
        tasks when `task_uuid` is None). A refusal carries the envelope it came with.
        `unsure()`: asked before an attempt whose predecessor the server may have acted on
        is made; True means it did (nothing is sent again: the answer is empty, as after a
        conflict)."""

        async def once(attempt: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            response = await self._answer(tasks)
            data, errors = _envelope(response, task_uuid, self._secret)
            if conflict_ok and any(e.get("code") == "conflictTaskUUID" for e in errors):
                return [], []  # accepted on an earlier attempt: poll it
            if response.status_code >= 400 or (errors and not data and _global(errors)):
                refusal = _error_for(errors[0] if errors else {}, response.status_code, response)
                refusal.after_retry = attempt > 0
                refusal.envelope = (data, errors)
                refusal.status = response.status_code
                raise refusal
            return data, errors

        async def asked() -> tuple[list[dict[str, Any]], list[dict[str, Any]]] | None:
            return ([], []) if unsure is not None and await unsure() else None

        return await self._retrying(
            once, "no answer from Runware", busy, asked if unsure is not None else None
        )

    async def _answer(self, tasks: list[dict[str, Any]]) -> httpx.Response:
        """POST the tasks and read the answer whole, within `http.max_answer_bytes` (an
        answer with base64 images is large; one larger than that is refused unread)."""
        limit = self.http.max_answer_bytes
        request = self._client.build_request("POST", self._url, json=tasks, headers=self._headers)
        response = await self._client.send(request, stream=True)
        try:
            length = response.headers.get("content-length")
            body = bytearray()
            if length is None or not length.isdigit() or int(length) <= limit:
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > limit:
                        break
            if len(body) > limit or (
                length is not None and length.isdigit() and int(length) > limit
            ):
                raise ProviderRejectedError(
                    f"Runware's answer is larger than {limit >> 20} MB; ask for fewer results "
                    "per request, or set `delivery: {output: url}` for the runware provider"
                )
        finally:
            await response.aclose()
        return httpx.Response(
            response.status_code, headers=response.headers, content=bytes(body), request=request
        )

    # -- references -------------------------------------------------------------------------

    async def _references(self, request: GenerationRequest) -> list[str]:
        values = []
        for ref in request.references:
            if ref.kind == "url":
                values.append(ref.value)
            elif self.references == "inline" or ref.hash is None:
                values.append(data_uri(ref))
            else:
                values.append(await self._uploaded(ref))
        return values

    async def _uploaded(self, ref: RequestReference) -> str:
        """Upload a local reference once per content hash; concurrent users share the upload."""
        assert ref.hash is not None
        known = self._uploads.get(ref.hash)
        if known is not None:
            return known
        pending = self._uploading.get(ref.hash)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._uploading[ref.hash] = future
        try:
            task_uuid = str(uuid.uuid4())
            body = [{"taskType": "imageUpload", "taskUUID": task_uuid, "image": data_uri(ref)}]
            data, errors = await self._post(body, task_uuid, conflict_ok=True)
            self._raise_task_errors(errors)
            image_uuid = next((str(d["imageUUID"]) for d in data if d.get("imageUUID")), None)
            if image_uuid is None:
                raise ProviderRejectedError(
                    f"Runware's imageUpload of {ref.value} gave no imageUUID"
                )
            self._uploads.put(ref.hash, image_uuid)
            future.set_result(image_uuid)
            return image_uuid
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiting users re-raise it themselves
            raise
        finally:
            del self._uploading[ref.hash]

    # -- results ----------------------------------------------------------------------------

    async def _image(self, item: dict[str, Any], staging: Staging) -> StagedImage:
        inline = item.get("imageBase64Data")
        if not inline and str(item.get("imageDataURI", "")).startswith("data:"):
            inline = str(item["imageDataURI"]).split(",", 1)[1]
        if inline:
            with staging.receive(self.http.max_image_bytes) as receiver:
                receiver.write(base64.b64decode(inline))
                return receiver.finish()
        url = item.get("imageURL")
        if not url:
            raise ProviderRejectedError("Runware returned an image with neither URL nor data")
        return await self._download(str(url), staging)

    async def _download(self, url: str, staging: Staging) -> StagedImage:
        """Stream the image into a staged file, within `http.max_image_bytes` and
        `http.download_timeout`; a truncated, failed or timed-out download is tried again."""
        settings = self.http

        async def once(attempt: int) -> StagedImage:
            try:
                async with asyncio.timeout(settings.download_timeout):
                    return await self._download_once(url, staging)
            except TimeoutError:
                raise ProviderRetryableError(
                    f"image download took longer than {settings.download_timeout:g} s"
                ) from None

        return await self._retrying(once, "image download failed")

    async def _download_once(self, url: str, staging: Staging) -> StagedImage:
        limit = self.http.max_image_bytes
        async with self._client.stream("GET", url) as response:
            if response.status_code in _RETRY_STATUS:
                raise ProviderRetryableError(
                    f"image download: HTTP {response.status_code}", _retry_after(response)
                )
            if response.status_code >= 400:
                raise ProviderRejectedError(f"image download: HTTP {response.status_code}")
            length = response.headers.get("content-length")
            expected = int(length) if length is not None and length.isdigit() else None
            with staging.receive(limit) as receiver:
                if expected is not None:
                    receiver.expect(expected)  # a body announced too large is not read at all
                async for chunk in response.aiter_bytes():
                    receiver.write(chunk)
                received = response.num_bytes_downloaded  # as sent, before any decoding
                if expected is not None and expected != received:
                    raise ProviderRetryableError(f"image download cut short at {received} bytes")
                return receiver.finish()


# -- the envelope and its errors ------------------------------------------------------------


def _settle(waiter: _Waiter, error: ProviderError | None) -> None:
    if waiter.done.done():
        return
    if error is None:
        waiter.done.set_result(None)
    else:
        waiter.done.set_exception(error)


def _envelope(
    response: httpx.Response, task_uuid: str | None, secret: str | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The answer's data and errors, with `secret` redacted from every string in them."""
    try:
        body = redact(response.json(), secret)
    except ValueError:
        if response.status_code in _RETRY_STATUS or response.status_code < 400:
            raise ProviderRetryableError(
                f"Runware answered HTTP {response.status_code} with a body that is not JSON",
                _retry_after(response),
            ) from None
        return [], []
    if isinstance(body, list):
        body = {"data": body}
    if not isinstance(body, dict):
        raise ProviderRetryableError("Runware answered with an unexpected JSON shape")
    data = body.get("data") or []
    data = [data] if isinstance(data, dict) else [d for d in data if isinstance(d, dict)]
    errors = body.get("errors") or ([body["error"]] if isinstance(body.get("error"), dict) else [])
    errors = [e for e in errors if isinstance(e, dict)]
    if task_uuid is None:
        return data, errors
    mine = [e for e in errors if e.get("taskUUID") in (None, task_uuid)]
    return data, mine


def _global(errors: list[dict[str, Any]]) -> bool:
    return any(e.get("taskType") == "authentication" for e in errors)


def _error_for(
    error: dict[str, Any], status: int, response: httpx.Response | None = None
) -> ProviderError:
    code = str(error.get("code") or "")
    text = _task_error_text(error) if error else f"HTTP {status}"
    if code in REFUSALS:
        return _refusal(error)
    if status in _RETRY_STATUS:
        retry_after = _retry_after(response) if response is not None else None
        return ProviderRetryableError(
            f"Runware is busy or failing ({text})", retry_after, busy=status in _BUSY_STATUS
        )
    if status == 401 or code in ("invalidApiKey", "missingApiKey"):
        return ProviderAuthError(
            f"Runware refused the API key ({text}); set {KEY_VARIABLE} to a valid key "
            "from your Runware dashboard"
        )
    if status == 402 or any(w in code for w in ("Credits", "Quota", "Balance")):
        return ProviderQuotaError(
            f"the Runware account is out of credit ({text}); top it up, then build again. "
            "Nothing more is submitted in this build"
        )
    if status == 403:
        return ProviderAuthError(f"the API key may not do this ({text})")
    return ProviderRejectedError(f"Runware rejected the task ({text})")


def _refusal(error: dict[str, Any]) -> ContentRefusedError:
    return ContentRefusedError(
        f"Runware's content safety refused the task ({_task_error_text(error)})"
    )


def _task_error_text(error: dict[str, Any]) -> str:
    code = error.get("code") or "error"
    message = str(error.get("message") or "").strip()
    parameter = error.get("parameter")
    text = f"{code}: {message}" if message else str(code)
    return f"{text} [parameter: {parameter}]" if parameter else text


def _not_found(text: str) -> bool:
    return "NotFound" in text or "notFound" in text or "taskFailedOrNotFound" in text


def _unsupported(status: int | None, errors: list[dict[str, Any]]) -> bool:
    """Whether an answer to getTaskDetails says this account may not use it."""
    codes = [str(e.get("code") or "") for e in errors]
    return (
        status == 403
        or any(code.startswith(_UNSUPPORTED) or code in _FORBIDDEN for code in codes)
        or any(e.get("parameter") == "taskType" for e in errors)
    )


def _retry_after(response: httpx.Response | None) -> float | None:
    value = response.headers.get("retry-after") if response is not None else None
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None  # neither seconds nor an HTTP date ("soon"): the usual backoff
        if parsed.tzinfo is None:  # HTTP dates are GMT
            parsed = parsed.replace(tzinfo=datetime.UTC)
        return max(0.0, parsed.timestamp() - time.time())
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _transport_text(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def api_key_from(environ: Mapping[str, str]) -> str:
    key = environ.get(KEY_VARIABLE, "").strip()
    if not key:
        raise MissingKeyError(
            f"the runware provider needs an API key, and {KEY_VARIABLE} is not set\n"
            f"  fix: export {KEY_VARIABLE}=<your key>, or build offline with "
            "`--provider placeholder`"
        )
    return key
