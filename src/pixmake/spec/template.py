"""Jinja in a sandbox: undefined variables are errors, `include` reads only project files."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from pixmake.snapshot import Stat, stat

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


class TemplateProblem(Exception):
    """A template failed; `file` is None for a template written inline in the spec."""

    def __init__(self, message: str, file: str | None, line: int | None, fix: str) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.fix = fix


class Templates:
    """Renders the strings of a spec. Plain strings skip Jinja; templates are compiled once.

    Jinja is imported on the first template that needs rendering: a run whose rows all come
    from the render cache never loads it.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.read: dict[str, Stat] = {}
        self._env: Any = None
        self._compiled: dict[str, Any] = {}

    @property
    def env(self) -> Any:
        if self._env is None:
            import jinja2
            from jinja2.sandbox import ImmutableSandboxedEnvironment

            self._env = ImmutableSandboxedEnvironment(
                loader=jinja2.FunctionLoader(self._load),
                undefined=jinja2.StrictUndefined,
                autoescape=False,
                keep_trailing_newline=False,
            )
        return self._env

    def _load(self, template: str) -> tuple[str, str, Callable[[], bool]] | None:
        """Template files from inside the project root only; remembers what it read."""
        path = (self.root / template).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        before = stat(path)
        source = path.read_text(encoding="utf-8")
        self.read[path.relative_to(self.root).as_posix()] = before
        mtime = path.stat().st_mtime_ns
        return source, template, lambda: path.stat().st_mtime_ns == mtime

    @property
    def files_read(self) -> dict[str, Stat]:
        return self.read

    def render(self, source: str, context: dict[str, Any]) -> str:
        if "{" not in source:
            return source
        import jinja2

        template = self._compiled.get(source)
        if template is None:
            template = self._compile(source)
            self._compiled[source] = template
        try:
            return str(template.render(context))
        except jinja2.TemplateNotFound as exc:
            raise _not_found(exc) from None
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateProblem(
                f"template syntax error: {exc.message}",
                exc.name,
                exc.lineno,
                "check the {{ }} and {% %} tags",
            ) from None
        except jinja2.UndefinedError as exc:
            file, line = _template_frame(exc)
            raise TemplateProblem(
                f"undefined variable: {exc.message}",
                file,
                line,
                "define it under `vars:`, check the column names of the data table, "
                "or give a default with `| default('...')`",
            ) from None
        except jinja2.TemplateError as exc:
            file, line = _template_frame(exc)
            raise TemplateProblem(f"template error: {exc}", file, line, "") from None
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            file, line = _template_frame(exc)
            raise TemplateProblem(f"template error: {exc}", file, line, "") from None

    def _compile(self, source: str) -> Any:
        import jinja2

        try:
            return self.env.from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateProblem(
                f"template syntax error: {exc.message}",
                None,
                exc.lineno,
                "check the {{ }} and {% %} tags",
            ) from None


def _not_found(exc: Any) -> TemplateProblem:
    return TemplateProblem(
        f"template file not found: {exc.name}",
        None,
        None,
        "give a path relative to the project root, inside the project",
    )


def _template_frame(exc: BaseException) -> tuple[str | None, int | None]:
    """The innermost template (file, line) in the traceback Jinja rewrote for us."""
    found: tuple[str | None, int | None] = (None, None)
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename == "<template>":
            found = (None, tb.tb_lineno)
        elif not filename.startswith(("<", os.sep)) and not filename.endswith(".py"):
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found
