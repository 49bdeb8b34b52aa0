"""Jinja in a sandbox: undefined variables are errors, `include` reads only project files."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

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


class _ProjectLoader(jinja2.BaseLoader):
    """Loads template files from inside the project root only, and remembers what it read."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.read: dict[str, Stat] = {}

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        path = (self.root / template).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            raise jinja2.TemplateNotFound(template)
        before = stat(path)
        source = path.read_text(encoding="utf-8")
        self.read[path.relative_to(self.root).as_posix()] = before
        mtime = path.stat().st_mtime_ns
        return source, template, lambda: path.stat().st_mtime_ns == mtime


class Templates:
    """Renders the strings of a spec. Plain strings skip Jinja; templates are compiled once."""

    def __init__(self, root: Path) -> None:
        self._loader = _ProjectLoader(root)
        self.env = ImmutableSandboxedEnvironment(
            loader=self._loader,
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
        )
        self._compiled: dict[str, jinja2.Template] = {}

    @property
    def files_read(self) -> dict[str, Stat]:
        return self._loader.read

    def render(self, source: str, context: dict[str, Any]) -> str:
        if "{" not in source:
            return source
        template = self._compiled.get(source)
        if template is None:
            template = self._compile(source)
            self._compiled[source] = template
        try:
            return template.render(context)
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

    def _compile(self, source: str) -> jinja2.Template:
        try:
            return self.env.from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateProblem(
                f"template syntax error: {exc.message}",
                None,
                exc.lineno,
                "check the {{ }} and {% %} tags",
            ) from None


def _not_found(exc: jinja2.TemplateNotFound) -> TemplateProblem:
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
