from __future__ import annotations

import json

from pixmake.redact import REDACTED, redact

KEY = "sk-live-0123456789"


def test_redact_reaches_every_string_of_a_decoded_answer() -> None:
    escaped = json.dumps({"errors": [{"message": f"Bearer {KEY}", KEY: [1, f"x{KEY}y"]}]})
    escaped = escaped.replace("sk-", "\\u0073k-")  # JSON escapes hide it from a text search
    assert KEY not in escaped
    decoded = json.loads(escaped)
    assert KEY in json.dumps(decoded)
    clean = redact(decoded, KEY)
    assert KEY not in json.dumps(clean)
    assert clean["errors"][0]["message"] == f"Bearer {REDACTED}"
    assert clean["errors"][0][REDACTED] == [1, f"x{REDACTED}y"]


def test_no_secret_or_a_tiny_one_changes_nothing() -> None:
    assert redact("a b c", None) == "a b c"
    assert redact("a b c", "") == "a b c"
    assert redact("a b c", "b") == "a b c"
