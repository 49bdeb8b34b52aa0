"""Jinja in a sandbox: undefined variables are errors, `include` reads only project files."""

from __future__ import annotations

import os
import posixpath
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from pixmake.filestat import FileHasher


class TemplateProblem(Exception):
    """A template failed; `file` is None for a template written inline in the spec."""

    def __init__(self, message: str, file: str | None, line: int | None, fix: str) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.fix = fix


class Reads:
    """What renders looked up: top-level names, and template files (content hash, or None
    for a file looked for and not found). The inputs of a render, for the trace."""

    __slots__ = ("files", "names")

    def __init__(self) -> None:
        self.names: set[str] = set()
        self.files: dict[str, str | None] = {}


_PLAIN_PART = re.compile(r"\{\{\s*([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\s*\}\}")
_TAG = re.compile(r"\{[{%#]")
Plain = tuple[tuple[str, tuple[str, ...] | None], ...]  # literal text, or a name and its attributes


def _plain(source: str) -> Plain | None:
    """A template made only of text and `{{ name.attr... }}` substitutions, as parts; else None
    (then Jinja renders it)."""
    if "\r" in source:
        return None
    if source.endswith("\n"):  # Jinja drops one trailing newline (keep_trailing_newline)
        source = source[:-1]
    parts: list[tuple[str, tuple[str, ...] | None]] = []
    at = 0
    for match in _PLAIN_PART.finditer(source):
        text = source[at : match.start()]
        if _TAG.search(text):
            return None
        if text:
            parts.append((text, None))
        names = match.group(1).split(".")
        parts.append((names[0], tuple(names[1:])))
        at = match.end()
    rest = source[at:]
    if _TAG.search(rest):
        return None
    if rest:
        parts.append((rest, None))
    return tuple(parts)


_NOT_PLAIN = object()


def _substitute(parts: Plain, context: dict[str, Any]) -> str | object:
    """Render plain parts as Jinja would, or _NOT_PLAIN when a lookup is not a plain key of a
    mapping (an attribute, a missing name): Jinja renders those, with its own errors."""
    out: list[str] = []
    for text, attrs in parts:
        if attrs is None:
            out.append(text)
            continue
        if text not in context:
            return _NOT_PLAIN
        value = context[text]
        for attr in attrs:
            if type(value) is not dict or attr not in value or hasattr(dict, attr):
                return _NOT_PLAIN
            value = value[attr]
        if type(value) not in (str, int, float, bool) and value is not None:
            return _NOT_PLAIN
        out.append(str(value))
    return "".join(out)


class Templates:
    """Renders the strings of a spec. Text with only `{{ name.key }}` substitutions is
    rendered without Jinja; other templates are compiled once, and Jinja is imported on the
    first of them. `reads` collects what renders look up, for whoever set it.
    """

    def __init__(self, root: Path, files: FileHasher) -> None:
        self.root = root.resolve()
        self.files = files
        self.reads: Reads | None = None
        self._env: Any = None
        self._compiled: dict[str, Any] = {}
        self._plain: dict[str, Plain | None] = {}

    @property
    def env(self) -> Any:
        if self._env is None:
            import jinja2
            from jinja2.runtime import Context
            from jinja2.sandbox import ImmutableSandboxedEnvironment

            templates = self

            class RecordingContext(Context):
                def resolve_or_missing(self, key: str) -> Any:
                    if templates.reads is not None:
                        templates.reads.names.add(key)
                    return super().resolve_or_missing(key)

            self._env = ImmutableSandboxedEnvironment(
                loader=jinja2.FunctionLoader(self._load),
                undefined=jinja2.StrictUndefined,
                autoescape=False,
                keep_trailing_newline=False,
            )
            self._env.context_class = RecordingContext
        return self._env

    def _note(self, rel: str, digest: str | None) -> None:
        if self.reads is not None:
            self.reads.files[rel] = digest

    def _load(self, template: str) -> tuple[str, str, Callable[[], bool]] | None:
        """Template files from inside the project root only; notes what it read or missed."""
        from pixmake.confine import FIX, lexical

        rel = posixpath.normpath(template)
        if not lexical(rel):
            return None
        why = self.files.confine.regular(rel, "template")
        if why is not None:
            raise TemplateProblem(why, None, None, FIX)
        found = self.files.hash(rel)
        path = self.root / rel
        if found is None or not path.is_file():
            self._note(rel, None)
            return None
        source = path.read_text(encoding="utf-8")
        self._note(rel, found[0])
        digest = found[0]

        def uptodate() -> bool:  # called on each use of the compiled template: note it too
            self._note(rel, digest)
            return True

        return source, template, uptodate

    def render(self, source: str, context: dict[str, Any]) -> str:
        if "{" not in source:
            return source
        plain = self._plain.get(source, _NOT_PLAIN)
        if plain is _NOT_PLAIN:
            plain = self._plain[source] = _plain(source)
        if plain is not None:
            assert isinstance(plain, tuple)
            text = _substitute(plain, context)
            if isinstance(text, str):
                if self.reads is not None:
                    self.reads.names.update(name for name, attrs in plain if attrs is not None)
                return text
        return self._render(source, context)

    def _render(self, source: str, context: dict[str, Any]) -> str:
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
