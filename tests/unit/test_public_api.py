"""The library's API is what `pixmake.__all__` names, no more and no less."""

from __future__ import annotations

import gc
import subprocess
import sys

import pixmake

PINNED = [
    "AssetPlan", "BudgetError", "BuildOptions", "BuildResult", "ConsoleReporter", "FileSystemError",
    "GalleryResult", "GcResult", "HistoryImage", "PickBlockedError", "approve", "history", "pick",
    "JsonReporter", "LockfileError", "PixmakeError", "Plan", "Project", "ProviderError",
    "Reporter", "ReviewServer", "SpecError", "StateError", "UsageError", "__version__", "accept",
    "build", "check", "explain", "gallery", "gc", "graph_dot", "init", "key_of", "load_project",
    "prune", "render", "status",
]  # fmt: skip


def test_the_public_api_is_pinned() -> None:
    assert sorted(pixmake.__all__) == sorted(PINNED)
    for name in pixmake.__all__:
        assert getattr(pixmake, name) is not None, name


def test_importing_pixmake_loads_no_command() -> None:
    code = "import sys, pixmake; print(sorted(m for m in sys.modules if m.startswith('pixmake')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['pixmake']"


def test_the_command_line_leaves_the_collector_as_it_found_it(tmp_path: object) -> None:
    from pixmake.cli import main

    assert gc.isenabled()
    main(["-C", str(tmp_path), "status"])
    assert gc.isenabled()
    gc.disable()
    try:
        main(["-C", str(tmp_path), "status"])
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_every_public_name_has_a_home() -> None:
    assert set(pixmake.__all__) - {"__version__"} == set(pixmake._WHERE)


def test_a_build_loads_neither_pillow_nor_httpxs_command_line_before_its_first_request(
    tmp_path: object,
) -> None:
    code = (
        "import sys; from pixmake.cli import main; main(['-C', sys.argv[1], 'status']); "
        "import pixmake.commands.build, pixmake.executor, pixmake.providers.runware; "
        "print(sorted(m for m in ('PIL', 'click', 'rich', 'pygments') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]"
