"""A fake Runware server: real HTTP on loopback, following RUNWARE_API.md, with scriptable faults.

```python
with FakeRunware(api_key="k") as fake:          # listens on 127.0.0.1, a free port
    os.environ["RUNWARE_BASE_URL"] = fake.url   # http://127.0.0.1:PORT/v1
    fake.fail("status", status=503, task_type="imageInference")   # the next submit gets a 503
    ...
    assert fake.charges() == {task_uuid: 1}     # the ledger: what each task was charged
```
Or from a shell: `python -m pixmake.testing.fake_runware --port 8765 --key test`.

Faults (`fail(kind, times=1, task_type=None, ...)`), consumed by the next matching requests:
- `status`: an HTTP status (`status`, `retry_after`, `code`) instead of an answer;
- `slow`: the task is processed at once, but the answer comes after `delay` seconds (or when
  the server stops, whichever is first);
- `drop_before`: the connection is closed before the task is read;
- `drop_after`: closed after the task was accepted and charged, with no answer;
- `malformed`: HTTP 200 with a body that is not JSON, after processing;
- `task_error`: HTTP 200 with a per-task error (`code`) for a getResponse;
- `processing`: the task stays processing for `polls` more polls;
- `lost`: the task is accepted and charged, and the connection is closed with no answer (the
  ACK is lost); for its next `polls` getResponse requests Runware does not know it (they
  answer as for an unknown task, see `unknown_poll`), and neither does its duplicate check: a
  submission of the same UUID meanwhile is accepted, and charged, again. getTaskDetails knows
  it from the start (a lag Runware does not document, which pixmake guards against: see
  `pixmake.providers.runware`);
- `echo_key`: an error (`status`, default 500; `code`) whose message repeats the request's
  Authorization header, `Invalid API key: Bearer <key>`, as a careless server might;
- content safety, by marker words in the prompt: `FLAG_WORD` makes an image that the check
  (`safety.checkContent` or `mode`) flags `NSFWContent: true`, and with
  `safety.blockContent: true` the prompt itself is flagged before generating: refused at
  submission with `sensitiveContentDetected` (runware.ai/docs/models-api/content-safety);
  `BLOCK_WORD` is refused so whatever the request asks (Runware's own check of every task)
  and `REFUSE_WORD` fails the accepted task with `invalidProviderContent` (the provider's
  moderation); no refusal is charged;
- `ttl`: an image URL answers 404 once `ttl` seconds (of `clock`) have passed;
- `getTaskDetails` answers `{taskType, taskUUID, request, response}` for a task it has, and
  `taskNotFound` for one it never saw; with `task_details=False` (an account without it) the
  task type is refused as unknown (`invalidTaskType`), and a `status` fault with
  `task_type="getTaskDetails"` scripts any other answer (403 `forbidden`, 500, ...);
- for image downloads (`task_type="download"`): `slow_download` (`delay` between chunks),
  `truncated_download`, `unsized_download` (no Content-Length: the body ends when the
  connection closes) and `status`.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import collections
import io
import json
import re
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from PIL import Image

from pixmake import catalog

if TYPE_CHECKING:
    from collections.abc import Callable

MODELS = tuple(catalog.MODELS)  # every model the catalog knows, by its Runware id
FIELDS = frozenset(
    [
        "taskType",
        "taskUUID",
        "model",
        "positivePrompt",
        "width",
        "height",
        "providerSettings",
        "settings",
        "webhookURL",
        "includeCost",
        "numberResults",
        "uploadEndpoint",
        "ttl",
        "outputType",
        "outputFormat",
        "outputQuality",
        "deliveryMethod",
        "safety",
        "inputs",
    ]
)
FLAG_WORD = "flagme"
BLOCK_WORD = "blockme"
REFUSE_WORD = "refuseme"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
_PIL = {"PNG": "PNG", "JPG": "JPEG", "WEBP": "WEBP"}


@dataclass
class Fault:
    kind: str
    task_type: str | None = None
    status: int = 500
    retry_after: str | None = None
    code: str = ""
    message: str = ""
    polls: int = 3
    delay: float = 0.2


@dataclass
class Charge:
    """One line of the ledger: a task accepted and billed."""

    task_uuid: str
    model: str
    images: int
    cost: float


@dataclass
class _Task:
    uuid: str
    body: dict[str, Any]
    polls_left: int
    results: list[dict[str, Any]] | None = None
    error: dict[str, Any] | None = None
    done: threading.Event = field(default_factory=threading.Event)
    hidden: int = 0  # getResponse polls for which it is not visible yet (the `lost` fault)


class FakeRunware:
    """The server and its state. Thread-safe; start it with `with` or `start()`."""

    def __init__(
        self,
        api_key: str = "test-key",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        max_in_flight: int | None = None,
        account_limit: int | None = None,
        busy_retry_after: float | None = None,
        processing_polls: int = 0,
        clock: Callable[[], float] = time.monotonic,
        price_scale: float = 1.0,
        task_details: bool = True,
        unknown_poll: str = "error",
    ) -> None:
        """`clock` stamps each request in `requests` (`at`): a test that gives the client a
        fake clock gives the same one here, and reads when each poll was sent. `price_scale`
        is what this account is charged relative to the catalog's list prices (an account's
        real costs differ: token-exact figures, input tokens, discounts).

        `max_in_flight` tasks are processed at once (the rest queue, taking longer);
        `account_limit` is the hidden per-account limit: a submission while that many tasks
        are processing is answered 429 `rateLimitExceeded` (with `busy_retry_after` as
        Retry-After, if given) and not accepted. `busy` counts those answers and
        `peak_in_flight` the most tasks processing at once.

        `task_details=False` is an account without getTaskDetails. `unknown_poll` is how
        getResponse answers a task it does not know: `error` (400 `taskNotFound`) or `empty`
        (`{"data": []}`, as it answers for a queued one: RUNWARE_API.md §10)."""
        if unknown_poll not in ("error", "empty"):
            raise ValueError(f"unknown_poll is error or empty, not {unknown_poll!r}")
        self.task_details = task_details
        self.unknown_poll = unknown_poll
        self.price_scale = price_scale
        self.api_key = api_key
        self.clock = clock
        self.latency = latency
        self.processing_polls = processing_polls
        self.account_limit = account_limit
        self.busy_retry_after = busy_retry_after
        self.busy = 0
        self.peak_in_flight = 0
        self._processing = 0
        self.ledger: list[Charge] = []
        self.requests: list[dict[str, Any]] = []  # every task sent: taskType, taskUUID, post, at
        self.posts = 0
        self._stopping = threading.Event()
        self.uploads: dict[str, bytes] = {}
        self.images: dict[str, bytes] = {}
        self.expires: dict[str, float] = {}  # image UUID -> when its URL stops answering
        self.tasks_sent: list[dict[str, Any]] = []  # every imageInference task, as sent
        self._faults: collections.deque[Fault] = collections.deque()
        self._tasks: dict[str, _Task] = {}
        self._lock = threading.Lock()
        self._image_cache: dict[tuple[int, int, str, bool, int], bytes] = {}
        self._workers = ThreadPoolExecutor(max_in_flight or 64) if latency > 0 else None
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    # -- life -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> FakeRunware:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases the answers held back by `slow` faults
        self._server.shutdown()
        self._server.server_close()
        if self._workers is not None:
            self._workers.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> FakeRunware:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting and inspection -----------------------------------------------------------

    def fail(self, kind: str, times: int = 1, **options: Any) -> None:
        with self._lock:
            for _ in range(times):
                self._faults.append(Fault(kind, **options))

    def charges(self) -> dict[str, int]:
        """How many times each task UUID was charged (never more than once, if all is well)."""
        with self._lock:
            return dict(collections.Counter(c.task_uuid for c in self.ledger))

    def total_cost(self) -> float:
        with self._lock:
            return sum(c.cost for c in self.ledger)

    def count(self, task_type: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.get("taskType") == task_type)

    def knows(self, task: dict[str, Any]) -> bool:
        with self._lock:
            return str(task.get("taskUUID")) in self._tasks

    def requeue(self, fault: Fault) -> None:
        with self._lock:
            self._faults.appendleft(fault)

    def _take(self, task_type: str | None) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.task_type in (None, task_type):
                    self._faults.remove(fault)
                    return fault
        return None

    # -- tasks ------------------------------------------------------------------------------

    def handle(self, tasks: list[Any], authorised: bool) -> tuple[int, dict[str, Any]]:
        """Process one request body; returns (HTTP status, envelope)."""
        if tasks and isinstance(tasks[0], dict) and tasks[0].get("taskType") == "authentication":
            auth, tasks = tasks[0], tasks[1:]
            authorised = authorised or auth.get("apiKey") == self.api_key
        if not authorised:
            return 401, _errors(
                {
                    "code": "invalidApiKey",
                    "message": "Invalid API key. Get one at the dashboard",
                    "parameter": "apiKey",
                    "taskType": "authentication",
                }
            )
        data: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        status = 200
        for task in tasks:
            if not isinstance(task, dict):
                errors.append({"code": "invalidTask", "message": "Each task must be an object."})
                status = 400
                continue
            code, items, problems = self._task(task)
            data += items
            errors += problems
            status = max(status, code)
        envelope: dict[str, Any] = {"data": data}
        if errors:
            envelope["errors"] = errors
        return status, envelope

    def _task(self, task: dict[str, Any]) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
        kind = task.get("taskType")
        if kind == "imageInference":
            return self._inference(task)
        if kind == "getResponse":
            return self._get_response(task)
        if kind == "imageUpload":
            return self._upload(task)
        if kind == "getTaskDetails" and self.task_details:
            return self._task_details(task)
        if kind == "ping":
            return 200, [{"taskType": "ping", "pong": True}], []
        return 400, [], [_error("invalidTaskType", f"Unknown taskType {kind!r}.", task, "taskType")]

    def _inference(
        self, task: dict[str, Any]
    ) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
        problems = validate_inference(task, set(self.uploads) | set(self.images))
        if problems:
            return 400, [], problems
        with self._lock:
            self.tasks_sent.append(task)
        prompt = str(task["positivePrompt"])
        if BLOCK_WORD in prompt or (FLAG_WORD in prompt and _blocking(task)):
            message = "The prompt was flagged as sensitive content; the task was not run."
            return 400, [], [_error("sensitiveContentDetected", message, task, "positivePrompt")]
        task_uuid = str(task["taskUUID"])
        with self._lock:
            known = self._tasks.get(task_uuid)
            if known is not None and not known.hidden:
                return (
                    400,
                    [],
                    [
                        _error(
                            "conflictTaskUUID",
                            "A task with this taskUUID already exists.",
                            task,
                            "taskUUID",
                        )
                    ],
                )
            if self.account_limit is not None and self._processing >= self.account_limit:
                self.busy += 1
                message = "Too many tasks in flight for this account; retry later."
                return 429, [], [_error("rateLimitExceeded", message, task, "taskUUID")]
            state = _Task(task_uuid, task, self.processing_polls)
            self._tasks[task_uuid] = state
            if REFUSE_WORD in prompt:  # the model provider's moderation: failed, not charged
                state.error = {
                    "code": "invalidProviderContent",
                    "message": "The provider refused the content of this request.",
                    "status": "error",
                    "taskUUID": task_uuid,
                    "taskType": "imageInference",
                }
                if task.get("deliveryMethod", "sync") == "sync":
                    return 400, [], [dict(state.error)]
                return 200, [{"taskType": "imageInference", "taskUUID": task_uuid}], []
            self._processing += 1
            self.peak_in_flight = max(self.peak_in_flight, self._processing)
            count = int(task.get("numberResults", 1))
            cost = _price(task) * self.price_scale * count
            self.ledger.append(Charge(task_uuid, str(task["model"]), count, cost))
        if self._workers is None:
            self._finish(state)
        else:
            self._workers.submit(self._finish, state, self.latency)
        if task.get("deliveryMethod", "sync") == "sync":
            state.done.wait(timeout=600)
            return 200, self._results(state), []
        return 200, [{"taskType": "imageInference", "taskUUID": task_uuid}], []

    def _finish(self, state: _Task, latency: float = 0.0) -> None:
        if latency:
            time.sleep(latency)
        body = state.body
        count = int(body.get("numberResults", 1))
        results = []
        for index in range(count):
            image_uuid = str(uuid.uuid4())
            data = self._image(body, index + len(self.images))
            item: dict[str, Any] = {
                "taskType": "imageInference",
                "taskUUID": state.uuid,
                "imageUUID": image_uuid,
            }
            output = body.get("outputType", "URL")
            if output == "base64Data":
                item["imageBase64Data"] = base64.b64encode(data).decode()
            elif output == "dataURI":
                mime = "jpeg" if body.get("outputFormat", "JPG") == "JPG" else body["outputFormat"]
                item["imageDataURI"] = (
                    f"data:image/{mime.lower()};base64," + base64.b64encode(data).decode()
                )
            else:
                item["imageURL"] = f"{self.url[:-3]}/images/{image_uuid}.{_ext(body)}"
            if body.get("includeCost"):
                item["cost"] = round(_price(body) * self.price_scale, 6)
            if _checked(body):
                item["NSFWContent"] = FLAG_WORD in str(body["positivePrompt"])
            results.append(item)
            with self._lock:
                self.images[image_uuid] = data
                if "ttl" in body and output == "URL":
                    self.expires[image_uuid] = self.clock() + int(body["ttl"])
        state.results = results
        with self._lock:
            self._processing -= 1
        state.done.set()

    def _results(self, state: _Task) -> list[dict[str, Any]]:
        return [dict(r) for r in state.results or []]

    def _get_response(
        self, task: dict[str, Any]
    ) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
        task_uuid = str(task.get("taskUUID"))
        with self._lock:
            state = self._tasks.get(task_uuid)
            if state is not None and state.hidden:
                state.hidden -= 1
                state = None  # accepted, but not visible here yet
        if state is None:
            if self.unknown_poll == "empty":
                return 200, [], []
            return 400, [], [_not_found(task)]
        if state.error is not None:
            return 200, [], [dict(state.error)]
        with self._lock:
            processing = state.polls_left > 0 or not state.done.is_set()
            if state.polls_left > 0:
                state.polls_left -= 1
        if processing:
            item = {"taskType": "imageInference", "taskUUID": task_uuid, "status": "processing"}
            return 200, [item], []
        return 200, [{**r, "status": "success"} for r in self._results(state)], []

    def _task_details(
        self, task: dict[str, Any]
    ) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
        """The original request and Runware's answer to it, as far as it has one now."""
        task_uuid = str(task.get("taskUUID"))
        with self._lock:
            state = self._tasks.get(task_uuid)
        if state is None:
            return 400, [], [_not_found(task)]
        if state.error is not None:
            response: dict[str, Any] = {"errors": [dict(state.error)]}
        elif state.polls_left > 0 or not state.done.is_set():
            item = {"taskType": "imageInference", "taskUUID": task_uuid, "status": "processing"}
            response = {"data": [item]}
        else:
            response = {"data": [{**r, "status": "success"} for r in self._results(state)]}
        details = {
            "taskType": "getTaskDetails",
            "taskUUID": task_uuid,
            "request": [dict(state.body)],
            "response": response,
        }
        return 200, [details], []

    def lose(self, task_uuid: str, polls: int) -> None:
        """Hide an accepted task from getResponse and the duplicate check for `polls` polls."""
        with self._lock:
            state = self._tasks.get(task_uuid)
            if state is not None:
                state.hidden = polls

    def fail_task(self, task_uuid: str, code: str, message: str) -> None:
        with self._lock:
            state = self._tasks[task_uuid]
            state.error = {
                "code": code,
                "message": message,
                "status": "error",
                "taskUUID": task_uuid,
                "taskType": "imageInference",
            }

    def hold(self, task_uuid: str, polls: int) -> None:
        with self._lock:
            self._tasks[task_uuid].polls_left = polls

    def _upload(
        self, task: dict[str, Any]
    ) -> tuple[int, list[dict[str, Any]], list[dict[str, Any]]]:
        image = task.get("image")
        if not isinstance(image, str) or not _UUID.match(str(task.get("taskUUID", ""))):
            return (
                400,
                [],
                [
                    _error(
                        "invalidImage", "`image` must be a data URI, base64 or URL.", task, "image"
                    )
                ],
            )
        raw = _decode_image(image)
        if raw is None:
            return 400, [], [_error("invalidImage", "The image could not be read.", task, "image")]
        image_uuid = str(uuid.uuid4())
        with self._lock:
            self.uploads[image_uuid] = raw
        item = {"taskType": "imageUpload", "taskUUID": task["taskUUID"], "imageUUID": image_uuid}
        return 200, [item], []

    def _image(self, body: dict[str, Any], variant: int) -> bytes:
        width, height = int(body["width"]), int(body["height"])
        fmt = str(body.get("outputFormat", "JPG"))
        model = catalog.MODELS.get(str(body.get("model")))
        background = _setting(body, model.background_at if model else None)
        alpha = background == "transparent" and fmt != "JPG"
        key = (width, height, fmt, alpha, variant % 7)
        with self._lock:
            cached = self._image_cache.get(key)
        if cached is not None:
            return cached
        colour = (40 + 30 * (variant % 7), 90, 160, 200 if alpha else 255)
        image = Image.new("RGBA" if alpha else "RGB", (width, height), colour[: 4 if alpha else 3])
        buffer = io.BytesIO()
        options: dict[str, Any] = {"compress_level": 1} if fmt == "PNG" else {"quality": 80}
        image.save(buffer, _PIL[fmt], **options)
        data = buffer.getvalue()
        with self._lock:
            self._image_cache[key] = data
        return data


# -- validation (RUNWARE_API.md §2.2) -------------------------------------------------------


def validate_inference(task: dict[str, Any], known_images: set[str]) -> list[dict[str, Any]]:
    """Runware-shaped errors for an imageInference task for a model of the catalog."""
    problems = []

    def bad(code: str, message: str, parameter: str, **extra: Any) -> None:
        problems.append(_error(code, message, task, parameter, **extra))

    for name in task:
        if name not in FIELDS:
            bad("unsupportedParameter", f"The parameter '{name}' is not supported.", name)
    if not _UUID.match(str(task.get("taskUUID", ""))):
        bad("invalidTaskUUID", "taskUUID must be a UUID v4.", "taskUUID")
    for name in ("model", "positivePrompt", "width", "height"):
        if name not in task:
            bad("missingParameter", f"Missing required parameter '{name}'.", name)
    model = catalog.MODELS.get(str(task.get("model")))
    if "model" in task and model is None:
        bad("invalidModel", f"Invalid model '{task['model']}'.", "model")
    if model is not None:
        _model_rules(task, model, bad)
    _enum(task, "outputType", ("URL", "base64Data", "dataURI"), bad)
    _enum(task, "outputFormat", ("JPG", "PNG", "WEBP"), bad)
    _enum(task, "deliveryMethod", ("sync", "async"), bad)
    _range(task, "numberResults", 1, 20, bad)
    _range(task, "outputQuality", 20, 99, bad)
    _range(task, "ttl", 60, 10**7, bad)
    for name in ("webhookURL", "uploadEndpoint"):
        value = task.get(name)
        if name in task and not (isinstance(value, str) and re.match(r"^https?://\S+$", value)):
            bad("invalid" + name[0].upper() + name[1:], f"{name} must be a URL.", name)
    safety = task.get("safety", {})
    if not isinstance(safety, dict):
        bad("invalidSafety", "safety must be an object.", "safety")
    else:
        for name in set(safety) - {"checkContent", "blockContent", "mode"}:
            bad("unsupportedParameter", f"safety.{name} is not supported.", f"safety.{name}")
        for name in ("checkContent", "blockContent"):
            if name in safety and not isinstance(safety[name], bool):
                code = "invalid" + name[0].upper() + name[1:]
                bad(code, f"{name} must be a boolean.", f"safety.{name}")
        _enum(safety, "mode", ("none", "fast", "full"), bad, "safety.")
    if "includeCost" in task and not isinstance(task["includeCost"], bool):
        bad("invalidIncludeCost", "includeCost must be a boolean.", "includeCost")
    inputs = task.get("inputs", {})
    if not isinstance(inputs, dict) or set(inputs) - {"referenceImages"}:
        bad("unsupportedParameter", "Only inputs.referenceImages is supported.", "inputs")
    else:
        refs = inputs.get("referenceImages", [])
        most = model.max_references if model is not None else 16
        if not isinstance(refs, list) or len(refs) > most:
            bad(
                "invalidReferenceImages",
                f"referenceImages takes at most {most} images.",
                "inputs.referenceImages",
                max=most,
            )
        else:
            for ref in refs:
                if not _reference_ok(ref, known_images):
                    bad(
                        "invalidReferenceImages",
                        f"Cannot read reference image {str(ref)[:40]!r}.",
                        "inputs.referenceImages",
                    )
    return problems


def _model_rules(task: dict[str, Any], model: catalog.ModelInfo, bad: Any) -> None:
    """What the catalog says this model takes: prompt length, sizes, and its settings object
    (`providerSettings.openai` or `settings`) with the qualities and backgrounds it takes."""
    low, high = model.prompt_length
    prompt = task.get("positivePrompt")
    if "positivePrompt" in task and not (isinstance(prompt, str) and low <= len(prompt) <= high):
        bad(
            "invalidPositivePrompt",
            f"positivePrompt must be {low} to {high} characters.",
            "positivePrompt",
            min=low,
            max=high,
        )
    width, height = task.get("width"), task.get("height")
    if isinstance(width, int) and isinstance(height, int) and not model.size_ok((width, height)):
        bad(
            "invalidWidth",
            f"Width and height must be {model.sizes_text()}.",
            "width",
            allowedValues=[f"{w}x{h}" for w, h in model.sizes],
        )
    shape: dict[str, Any] = {}
    for path, allowed in (
        (model.quality_at, model.qualities),
        (model.background_at, model.backgrounds),
    ):
        if path is not None:
            *parents, name = path.split(".")
            target = shape
            for parent in parents:
                target = target.setdefault(parent, {})
            target[name] = allowed
    for root in ("providerSettings", "settings"):
        if root in task and root not in shape:
            bad("unsupportedParameter", f"{root} is not supported by {model.id}.", root)
    for root, inner in shape.items():
        if root in task:
            _object(task[root], inner, root, bad)


def _object(value: Any, shape: dict[str, Any], where: str, bad: Any) -> None:
    """A settings object against its shape: only the names it has, each with its values."""
    if not isinstance(value, dict):
        bad("unsupportedParameter", f"{where} must be an object.", where)
        return
    for name in set(value) - set(shape):
        bad("unsupportedParameter", f"{where}.{name} is not supported.", f"{where}.{name}")
    for name, inner in shape.items():
        if name in value and isinstance(inner, dict):
            _object(value[name], inner, f"{where}.{name}", bad)
        elif name in value:
            _enum(value, name, inner, bad, where + ".")


def _enum(
    values: dict[str, Any], name: str, allowed: tuple[str, ...], bad: Any, prefix: str = ""
) -> None:
    if name in values and values[name] not in allowed:
        code = "invalid" + name[0].upper() + name[1:]
        bad(code, f"Invalid value for '{name}'.", prefix + name, allowedValues=list(allowed))


def _range(values: dict[str, Any], name: str, low: int, high: int, bad: Any) -> None:
    value = values.get(name)
    if name in values and not (isinstance(value, int) and low <= value <= high):
        code = "invalid" + name[0].upper() + name[1:]
        bad(code, f"'{name}' must be an integer from {low} to {high}.", name, min=low, max=high)


def _reference_ok(ref: Any, known: set[str]) -> bool:
    if not isinstance(ref, str):
        return False
    if _UUID.match(ref):
        return ref in known
    if ref.startswith(("https://", "http://")):
        return True
    return _decode_image(ref) is not None


def _decode_image(value: str) -> bytes | None:
    if value.startswith(("https://", "http://")):
        return b""
    payload = value.split(",", 1)[1] if value.startswith("data:") and "," in value else value
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if raw else None


def _blocking(task: dict[str, Any]) -> bool:
    """Whether the request is checked before generating (`blockContent`). Here on its own,
    whatever `checkContent` and `mode` say: Runware's page describes it as a separate check of
    the request, before any model runs, and ties `mode` to no part of it."""
    safety = task.get("safety")
    return isinstance(safety, dict) and safety.get("blockContent") is True


def _checked(task: dict[str, Any]) -> bool:
    """Whether the content check runs: `mode` wins over `checkContent` (RUNWARE_API.md)."""
    safety = task.get("safety")
    if not isinstance(safety, dict):
        return False
    mode = safety.get("mode")
    return mode in ("fast", "full") if mode is not None else bool(safety.get("checkContent"))


def _price(task: dict[str, Any]) -> float:
    model = catalog.resolve_model(str(task.get("model")))
    quality = _setting(task, model.quality_at if model else None) or "auto"
    size = (int(task.get("width", 0)), int(task.get("height", 0)))
    price = model.price(str(quality), size) if model else None
    return price if price is not None else 0.01


def _setting(task: dict[str, Any], path: str | None) -> Any:
    """The value at a dotted path of a task (`providerSettings.openai.quality`), or None."""
    value: Any = task
    for part in (path or "").split(".") if path else ():
        value = value.get(part) if isinstance(value, dict) else None
    return value if path else None


def _ext(task: dict[str, Any]) -> str:
    return {"JPG": "jpg", "PNG": "png", "WEBP": "webp"}[str(task.get("outputFormat", "JPG"))]


def _error(
    code: str, message: str, task: dict[str, Any], parameter: str, **extra: Any
) -> dict[str, Any]:
    error = {
        "code": code,
        "message": message,
        "parameter": parameter,
        "taskType": task.get("taskType"),
        "taskUUID": task.get("taskUUID"),
        **extra,
    }
    return error


def _not_found(task: dict[str, Any]) -> dict[str, Any]:
    return _error("taskNotFound", "No task with this taskUUID was found.", task, "taskUUID")


def _errors(*errors: dict[str, Any]) -> dict[str, Any]:
    return {"errors": list(errors)}


# -- HTTP ------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeRunware/1"
    # An answer goes out in one write, as a production server sends a small answer: buffered
    # here, flushed by handle_one_request. Without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK would hold back a flush that follows another by ~40 ms.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    @property
    def fake(self) -> FakeRunware:
        return self.server.fake  # type: ignore[attr-defined,no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        return None  # quiet: tests read the ledger, not the log

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            self._json(400, _errors({"code": "invalidJSON", "message": "Body is not JSON."}))
            return
        if not isinstance(body, list):
            self._json(400, _errors({"code": "invalidPayload", "message": "Send an array."}))
            return
        with self.fake._lock:
            self.fake.posts += 1
            post, at = self.fake.posts, self.fake.clock()
            self.fake.requests += [
                {
                    "taskType": t.get("taskType"),
                    "taskUUID": t.get("taskUUID"),
                    "post": post,
                    "at": at,
                }
                for t in body
                if isinstance(t, dict)
            ]
        first = next(
            (t for t in body if isinstance(t, dict) and t.get("taskType") != "authentication"), {}
        )
        fault = self.fake._take(first.get("taskType"))
        if fault is not None and fault.kind == "drop_before":
            self._drop()
            return
        if fault is not None and fault.kind == "status":
            error = {
                "code": fault.code or f"http{fault.status}",
                "message": fault.message or "Scripted failure.",
                "taskUUID": first.get("taskUUID"),
                "taskType": first.get("taskType"),
            }
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            self._json(fault.status, _errors(error), headers)
            return
        if fault is not None and fault.kind == "echo_key":  # a server that repeats the header
            error = {
                "code": fault.code or "invalidApiKey",
                "message": f"Invalid API key: {self.headers.get('Authorization', '')}",
                "taskUUID": first.get("taskUUID"),
                "taskType": first.get("taskType"),
            }
            self._json(fault.status, _errors(error))
            return
        if fault is not None and fault.kind == "processing" and first.get("taskUUID"):
            status, envelope = self._handle(body)
            self.fake.hold(str(first["taskUUID"]), fault.polls)
            self._json(status, envelope)
            return
        if fault is not None and fault.kind == "lost" and first.get("taskUUID"):
            self._handle(body)  # accepted and charged; the answer never arrives
            self.fake.lose(str(first["taskUUID"]), fault.polls)
            self._drop()
            return
        if fault is not None and fault.kind == "task_error" and not self.fake.knows(first):
            self.fake.requeue(fault)  # it is for a task that exists: the next poll gets it
            fault = None
        if fault is not None and fault.kind == "task_error" and first.get("taskUUID"):
            self.fake.fail_task(
                str(first["taskUUID"]),
                fault.code or "timeoutProvider",
                fault.message or "The external provider did not respond.",
            )
        status, envelope = self._handle(body)
        if fault is not None and fault.kind == "slow":
            self.fake._stopping.wait(fault.delay)  # processed, answered late
        if fault is not None and fault.kind == "drop_after":
            self._drop()
            return
        if fault is not None and fault.kind == "malformed":
            self._send(
                200, b'{"data": [{"taskType": "imageInf', {"Content-Type": "application/json"}
            )
            return
        wait = self.fake.busy_retry_after
        self._json(
            status, envelope, {"Retry-After": f"{wait:g}"} if status == 429 and wait else None
        )

    def _handle(self, body: list[Any]) -> tuple[int, dict[str, Any]]:
        header = self.headers.get("Authorization", "")
        authorised = header == f"Bearer {self.fake.api_key}"
        return self.fake.handle(body, authorised)

    def do_GET(self) -> None:
        match = re.fullmatch(r"/images/([0-9a-f-]+)\.(png|jpg|webp)", self.path)
        data = self.fake.images.get(match.group(1)) if match else None
        expires = self.fake.expires.get(match.group(1)) if match else None
        if expires is not None and self.fake.clock() >= expires:
            data = None  # its ttl is over
        if data is None:
            self._send(404, b"not found", {"Content-Type": "text/plain"})
            return
        fault = self.fake._take("download")
        mime = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}[match.group(2)]  # type: ignore[union-attr]
        if fault is not None and fault.kind == "status":
            self._send(fault.status, b"scripted", {"Content-Type": "text/plain"})
            return
        if fault is not None and fault.kind == "truncated_download":
            self.send_response(200)
            self.send_header("Content-Type", mime)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self._drop()
            return
        if fault is not None and fault.kind == "unsized_download":
            self.send_response(200)
            self.send_header("Content-Type", mime)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            self._drop()
            return
        if fault is not None and fault.kind == "slow_download":
            self.send_response(200)
            self.send_header("Content-Type", mime)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            step = max(1, len(data) // 4)
            try:
                for start in range(0, len(data), step):
                    self.wfile.write(data[start : start + step])
                    self.wfile.flush()
                    if self.fake._stopping.wait(fault.delay):
                        return
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up waiting
            return
        self._send(200, data, {"Content-Type": mime})

    def _json(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self._send(
            status,
            json.dumps(body).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )

    def _send(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _drop(self) -> None:
        """Close the connection without (the rest of) an answer."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pixmake.testing.fake_runware")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--key", default="test-key", help="the API key it accepts")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per task")
    parser.add_argument("--max-in-flight", type=int, default=None, help="tasks processed at once")
    parser.add_argument(
        "--account-limit", type=int, default=None, help="429 above this many tasks processing"
    )
    parser.add_argument("--processing-polls", type=int, default=0)
    parser.add_argument(
        "--no-task-details", action="store_true", help="an account without getTaskDetails"
    )
    args = parser.parse_args(argv)
    fake = FakeRunware(
        args.key,
        host=args.host,
        port=args.port,
        latency=args.latency,
        max_in_flight=args.max_in_flight,
        account_limit=args.account_limit,
        processing_polls=args.processing_polls,
        task_details=not args.no_task_details,
    )
    print(f"fake Runware at {fake.url} (key: the one given with --key)", flush=True)
    fake.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
