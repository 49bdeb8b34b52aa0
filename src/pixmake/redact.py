"""The API key never leaves pixmake: whatever a server echoes is redacted where it comes in.

`redact` replaces every occurrence of a secret in a text, or in the strings (keys and values)
of a decoded JSON value. The Runware provider applies it to every answer and transport error
it reads, so nothing derived from them (messages, `--json` output, journal, lock) can hold the
key; the CLI applies it once more to the error it prints, as the last line of defence.
"""

from __future__ import annotations

from typing import Any, TypeVar

REDACTED = "[redacted]"
_MIN = 4  # shorter "secrets" would redact ordinary words

T = TypeVar("T")


def redact(value: T, secret: str | None) -> T:
    """`value` with every occurrence of `secret` replaced by REDACTED."""
    if not secret or len(secret) < _MIN:
        return value
    result: Any = _redact(value, secret)
    return result  # type: ignore[no-any-return]


def _redact(value: Any, secret: str) -> Any:
    if isinstance(value, str):
        return value.replace(secret, REDACTED) if secret in value else value
    if isinstance(value, list):
        return [_redact(item, secret) for item in value]
    if isinstance(value, dict):
        return {_redact(k, secret): _redact(v, secret) for k, v in value.items()}
    return value
