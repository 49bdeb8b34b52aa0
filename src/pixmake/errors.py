"""The one exception tree of pixmake, split by who has to act.

```
PixmakeError                      always user-presentable: `str(exc)` is the whole message
├── SpecError                     pixmake.yaml, its templates or data tables are wrong (exit 2)
├── UsageError                    the command line is wrong (exit 2)
├── LockfileError                 pixmake.lock cannot be read (exit 2)
├── StateError                    .pixmake/ is locked by another run or unreadable (exit 2)
├── MissingKeyError               a provider needs a credential that is not set (exit 2)
└── ProviderError                 one request failed; recorded per asset, not raised through gather
    ├── ProviderRetryableError    may succeed if sent again (429, 5xx, timeout, dropped connection)
    ├── ProviderAuthError         the key is missing or refused (401, 403)
    ├── ProviderQuotaError        the account is out of credit (402): stops all further submissions
    └── ProviderRejectedError     the request itself is refused (400, content policy, bad image)
        ├── ContentRefusedError   content safety refused the prompt or flagged its image
        └── ImageTooLargeError    an image outgrew its size bound; its transfer was stopped
```

Bugs are never `PixmakeError`: the CLI prints a traceback and asks for a report for anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in the user's input, located as precisely as we can."""

    file: str
    line: int | None
    path: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        head = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        return f"{head}\n  fix: {self.fix}" if self.fix else head


class PixmakeError(Exception):
    """Root of every error a user is meant to read. `exit_code` is what the CLI returns."""

    exit_code = 2


class SpecError(PixmakeError):
    """The project's declaration is invalid. Carries every problem found, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line or 0))
        super().__init__(self._render())

    def _render(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        files = sorted({p.file for p in self.problems})
        head = f"{', '.join(files)}: {len(self.problems)} errors"
        shown = "\n".join(str(p) for p in self.problems[:SHOWN_PROBLEMS])
        hidden = len(self.problems) - SHOWN_PROBLEMS
        if hidden > 0:  # a series of 100,000 rows with one mistake must not print 200,000 lines
            shown += f"\n... and {hidden} more (the first {SHOWN_PROBLEMS} are shown)"
        return head + "\n" + shown


SHOWN_PROBLEMS = 50


class UsageError(PixmakeError):
    """The command line asks for something that cannot be done."""


class LockfileError(PixmakeError):
    """pixmake.lock is unreadable or of an unknown version."""


class StateError(PixmakeError):
    """The local state in .pixmake/ is busy or damaged."""


class MissingKeyError(PixmakeError):
    """A provider needs a credential from the environment that is not set."""


class ProviderError(PixmakeError):
    """A provider could not turn one request into images."""

    exit_code = 1
    retryable = False
    after_retry = False  # refused after an attempt whose fate was unknown
    envelope: tuple[list[Any], list[Any]] | None = None  # the answer a refusal came with
    status: int | None = None  # the HTTP status a refusal came with
    cost_usd: float = 0.0  # what the provider charged for a task that failed all the same


class ProviderRetryableError(ProviderError):
    """Transient: rate limited, server busy or failing, timed out, connection dropped."""

    retryable = True

    def __init__(
        self, message: str, retry_after: float | None = None, *, busy: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.busy = busy  # 429 or 503: the account has too much in flight


class ProviderAuthError(ProviderError):
    """The API key is missing, wrong, or lacks permission."""


class ProviderQuotaError(ProviderError):
    """The account has no credit left; nothing more should be submitted."""


class ProviderRejectedError(ProviderError):
    """The provider refused this request (validation, content policy) or returned a bad image."""


class ContentRefusedError(ProviderRejectedError):
    """Content safety refused the request (never retried), or flagged an image that
    `safety.on_flag: fail` does not keep."""


class ImageTooLargeError(ProviderRejectedError):
    """An image is larger than the bound set for it: its transfer was stopped, nothing kept."""


class PixmakeWarning(UserWarning):
    """Something damaged was skipped and the command went on; the CLI prints `warning: ...`."""


class FileSystemError(PixmakeError):
    """A file could not be read or written (permissions, a full disk, a folder in the way)."""

    exit_code = 1
