"""pixmake: make for AI-generated images.

```python
import pixmake
plan = pixmake.status(Path("."))                       # each asset's state, and why
result = pixmake.build(Path("."), reporter=pixmake.JsonReporter(), provider="placeholder")
```
The names below are the library's API; each is imported when first used, so that the command
line's no-op path loads only what it needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_WHERE = {
    "accept": "pixmake.commands.accept",
    "approve": "pixmake.commands.approve",
    "history": "pixmake.commands.history",
    "HistoryImage": "pixmake.commands.history",
    "pick": "pixmake.commands.pick",
    "PickBlockedError": "pixmake.commands.pick",
    "build": "pixmake.commands.build",
    "BudgetError": "pixmake.commands.build",
    "check": "pixmake.commands.check",
    "explain": "pixmake.commands.explain",
    "graph_dot": "pixmake.commands.explain",
    "gallery": "pixmake.commands.gallery",
    "GalleryResult": "pixmake.commands.gallery",
    "key_of": "pixmake.commands.explain",
    "render": "pixmake.commands.explain",
    "ReviewServer": "pixmake.review.server",
    "init": "pixmake.commands.init",
    "gc": "pixmake.commands.prune",
    "GcResult": "pixmake.commands.prune",
    "prune": "pixmake.commands.prune",
    "status": "pixmake.commands.status",
    "load_project": "pixmake.project",
    "Project": "pixmake.project",
    "Plan": "pixmake.planner",
    "AssetPlan": "pixmake.planner",
    "BuildOptions": "pixmake.results",
    "BuildResult": "pixmake.results",
    "Reporter": "pixmake.report",
    "ConsoleReporter": "pixmake.report",
    "JsonReporter": "pixmake.report",
    "PixmakeError": "pixmake.errors",
    "SpecError": "pixmake.errors",
    "UsageError": "pixmake.errors",
    "LockfileError": "pixmake.errors",
    "StateError": "pixmake.errors",
    "ProviderError": "pixmake.errors",
    "FileSystemError": "pixmake.errors",
}

__all__ = [
    "AssetPlan",
    "BudgetError",
    "BuildOptions",
    "BuildResult",
    "ConsoleReporter",
    "FileSystemError",
    "GalleryResult",
    "GcResult",
    "HistoryImage",
    "JsonReporter",
    "LockfileError",
    "PickBlockedError",
    "PixmakeError",
    "Plan",
    "Project",
    "ProviderError",
    "Reporter",
    "ReviewServer",
    "SpecError",
    "StateError",
    "UsageError",
    "__version__",
    "accept",
    "approve",
    "build",
    "check",
    "explain",
    "gallery",
    "gc",
    "graph_dot",
    "history",
    "init",
    "key_of",
    "load_project",
    "pick",
    "prune",
    "render",
    "status",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'pixmake' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from pixmake.commands.accept import accept
    from pixmake.commands.approve import approve
    from pixmake.commands.build import BudgetError, build
    from pixmake.commands.check import check
    from pixmake.commands.explain import explain, graph_dot, key_of, render
    from pixmake.commands.gallery import GalleryResult, gallery
    from pixmake.commands.history import HistoryImage, history
    from pixmake.commands.init import init
    from pixmake.commands.pick import PickBlockedError, pick
    from pixmake.commands.prune import GcResult, gc, prune
    from pixmake.commands.status import status
    from pixmake.errors import (
        FileSystemError,
        LockfileError,
        PixmakeError,
        ProviderError,
        SpecError,
        StateError,
        UsageError,
    )
    from pixmake.planner import AssetPlan, Plan
    from pixmake.project import Project, load_project
    from pixmake.report import ConsoleReporter, JsonReporter, Reporter
    from pixmake.results import BuildOptions, BuildResult
    from pixmake.review.server import ReviewServer
