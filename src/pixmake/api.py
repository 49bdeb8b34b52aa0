"""The library API: every command is a function here; `cli.py` only parses and prints.

```python
from pixmake import api
plan = api.status(Path("."))            # what is stale, and why
result = api.build(Path("."), reporter=JsonReporter(), provider="placeholder")
```
Each function lives in its own module under `pixmake.commands`.
"""

from __future__ import annotations

from pixmake.commands.accept import accept
from pixmake.commands.build import BudgetError, build
from pixmake.commands.check import check
from pixmake.commands.explain import explain, graph_dot, key_of, render
from pixmake.commands.init import init
from pixmake.commands.prune import GcResult, gc, prune
from pixmake.commands.status import status

__all__ = [
    "BudgetError",
    "GcResult",
    "accept",
    "build",
    "check",
    "explain",
    "gc",
    "graph_dot",
    "init",
    "key_of",
    "prune",
    "render",
    "status",
]
