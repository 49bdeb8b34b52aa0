"""Jinja in a sandbox: undefined variables are errors, `include` reads only project files,
and every render is bounded.

A render may produce at most `limit` characters and take at most `limit` steps (loop
iterations, calls, includes), counted, never timed. Operations that could build a huge value
in one go (`'a' * n`, `n ** m`, `+`, `%`, `~`, string methods and filters that pad or repeat)
are refused before they run when their result would pass the limit.
"""

from __future__ import annotations

import functools
import inspect
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

    def __init__(
        self,
        message: str,
        file: str | None,
        line: int | None,
        fix: str,
        missing: tuple[dict[str, Any], str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.fix = fix
        self.missing = missing  # for an undefined key of a mapping: that mapping and the key


class RenderLimitError(Exception):
    """A render would pass its bound; raised inside the template, so Jinja locates it."""


DEFAULT_LIMIT = 1_000_000
LIMIT_FIX = (
    "make the template produce less, or raise the bound with "
    "`limits: {render_chars: N}` at the top level of pixmake.yaml"
)


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
        if any(hasattr(dict, name) for name in names[1:]):
            return None  # `row.items` is a method of the mapping, not its key: Jinja's rule
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
    mapping (an attribute, a missing name): Jinja renders those, with its own errors. (No
    attribute of the parts names a method of dict: _plain leaves those to Jinja.)"""
    out: list[str] = []
    for text, attrs in parts:
        if attrs is None:
            out.append(text)
            continue
        value = context.get(text, _NOT_PLAIN)
        for attr in attrs:
            if type(value) is not dict:
                return _NOT_PLAIN
            value = value.get(attr, _NOT_PLAIN)
        if type(value) is str:  # the common case first
            out.append(value)
        elif type(value) in (int, float, bool) or value is None:
            out.append(str(value))
        else:  # not there (_NOT_PLAIN), or not a plain value
            return _NOT_PLAIN
    return "".join(out)


class Templates:
    """Renders the strings of a spec. Text with only `{{ name.key }}` substitutions is
    rendered without Jinja; other templates are compiled once, and Jinja is imported on the
    first of them. `reads` collects what renders look up, for whoever set it.
    """

    def __init__(self, root: Path, files: FileHasher, limit: int = DEFAULT_LIMIT) -> None:
        self.root = root.resolve()
        self.files = files
        self.limit = limit
        self.reads: Reads | None = None
        self._env: Any = None
        self._compiled: dict[str, Any] = {}
        self._plain: dict[str, Plain | None] = {}
        self._names: dict[str, tuple[str, ...]] = {}  # the names a plain template looks up

    @property
    def env(self) -> Any:
        if self._env is None:
            import jinja2
            from jinja2.runtime import Context

            templates = self

            class RecordingContext(Context):
                def resolve_or_missing(self, key: str) -> Any:
                    if templates.reads is not None:
                        templates.reads.names.add(key)
                    return super().resolve_or_missing(key)

            class MissingKeyError(jinja2.UndefinedError):
                missing: tuple[dict[str, Any], str] | None = None

            class KeyedUndefined(jinja2.StrictUndefined):
                """Its error tells which mapping lacked the key: for a series, the row."""

                __slots__ = ()

                def __init__(self, *args: Any, **kwargs: Any) -> None:
                    super().__init__(*args, **kwargs)
                    obj, name = self._undefined_obj, self._undefined_name
                    if type(obj) is dict and isinstance(name, str):
                        # NOTE: Jinja only calls it with the message: a factory does
                        self._undefined_exception = functools.partial(  # type: ignore[assignment]
                            _missing_key, obj, name
                        )

            def _missing_key(obj: dict[str, Any], name: str, message: str) -> MissingKeyError:
                error = MissingKeyError(message)
                error.missing = (obj, name)
                return error

            self._env = _bounded_environment(
                self.limit,
                loader=jinja2.FunctionLoader(self._load),
                undefined=KeyedUndefined,
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
                self._names[source] = tuple(name for name, attrs in plain if attrs is not None)
        if plain is not None:
            assert isinstance(plain, tuple)
            text = _substitute(plain, context)
            if isinstance(text, str):
                if self.reads is not None:
                    self.reads.names.update(self._names[source])
                return text
        return self._render(source, context)

    def _render(self, source: str, context: dict[str, Any]) -> str:
        import jinja2

        template = self._compiled.get(source)
        if template is None:
            template = self._compile(source)
            self._compiled[source] = template
        try:
            return self._generate(template, context)
        except RenderLimitError as exc:
            file, line = _template_frame(exc)
            raise TemplateProblem(str(exc), file, line, LIMIT_FIX) from None
        except RecursionError as exc:
            file, line = _template_frame(exc)
            raise TemplateProblem(
                "include recursion too deep: a template includes itself, or a macro calls "
                "itself, without end",
                file,
                line,
                "stop the recursion with an {% if %} that ends it",
            ) from None
        except MemoryError as exc:
            file, line = _template_frame(exc)
            raise TemplateProblem(
                "the template needs more memory than there is", file, line, LIMIT_FIX
            ) from None
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
                getattr(exc, "missing", None),
            ) from None
        except jinja2.TemplateError as exc:
            file, line = _template_frame(exc)
            raise TemplateProblem(
                f"template error: {exc}", file, line, "see the Jinja message above"
            ) from None
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            file, line = _template_frame(exc)
            fix = (
                "the sandbox allows a range of at most 100,000: use a smaller one, or a data table"
                if "Range too big" in str(exc)
                else "check the values this template combines"
            )
            raise TemplateProblem(f"template error: {exc}", file, line, fix) from None

    def _generate(self, template: Any, context: dict[str, Any]) -> str:
        """Render piece by piece, stopping once the text passes the limit: the error is
        thrown in where the template yielded its last piece, so it names that line."""
        self.env.start()
        pieces = template.generate(context)
        out: list[str] = []
        total = 0
        for piece in pieces:
            total += len(piece)
            if total > self.limit:
                pieces.throw(
                    RenderLimitError(
                        f"the rendered text passes {self.limit:,} characters (limits.render_chars)"
                    )
                )
            out.append(piece)
        return "".join(out)

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


# -- bounds ---------------------------------------------------------------------------------


def _bounded_environment(limit: int, **options: Any) -> Any:
    """An immutable sandbox whose renders count their steps and refuse oversized values.

    `start()` begins a render: its steps are counted from zero."""
    from jinja2.compiler import CodeGenerator, Frame
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class CountingCodeGenerator(CodeGenerator):
        def enter_frame(self, frame: Frame) -> None:
            super().enter_frame(frame)
            if frame.loop_frame:  # the top of a for loop's body: one step per iteration
                self.writeline("environment.step()")

        def visit_Concat(self, node: Any, frame: Frame) -> None:
            # as Jinja's own, with the parts measured before they are joined
            if frame.eval_ctx.volatile:
                join = "(markup_join if context.eval_ctx.volatile else str_join)"
            else:
                join = "markup_join" if frame.eval_ctx.autoescape else "str_join"
            self.write(f"{join}(environment.sized((")
            for part in node.nodes:
                self.visit(part, frame)
                self.write(", ")
            self.write(")))")

    class BoundedEnvironment(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**", "+", "%"})
        code_generator_class = CountingCodeGenerator

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(finalize=self.output, **kwargs)
            self.limit = limit
            self.steps = 0
            for name, predict in _FILTER_SIZES.items():
                self.filters[name] = _guarded(self.filters[name], predict, self)

        def start(self) -> None:
            self.steps = 0

        def step(self) -> None:
            self.steps += 1
            if self.steps > self.limit:
                raise RenderLimitError(
                    f"the template takes more than {self.limit:,} steps (loop iterations, "
                    "calls and includes; limits.render_chars)"
                )

        def check(self, size: int, what: str) -> None:
            if size > self.limit:
                raise RenderLimitError(
                    f"{what} would be about {size:,} characters; the limit is "
                    f"{self.limit:,} (limits.render_chars)"
                )

        def output(self, value: Any) -> Any:
            self.check(_size(value, self.limit), "an output value")
            return value

        def sized(self, parts: tuple[Any, ...]) -> tuple[Any, ...]:
            self.check(_size(parts, self.limit), "the result of `~`")
            return parts

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            self.check(
                _binop_size(operator, left, right, self.limit), f"the result of `{operator}`"
            )
            return super().call_binop(context, operator, left, right)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            __self.step()
            __self.check(_call_size(__obj, args, kwargs, __self.limit), "the result of a call")
            return super().call(__context, __obj, *args, **kwargs)

        def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
            wrapper = super().wrap_str_format(value)
            if wrapper is None:
                return None
            template = value.__self__

            def checked(*args: Any, **kwargs: Any) -> str:
                size = _format_size(template, args, kwargs, self.limit)
                self.check(size, "the result of `format`")
                return wrapper(*args, **kwargs)

            return checked

        def get_template(self, *args: Any, **kwargs: Any) -> Any:
            self.step()
            return super().get_template(*args, **kwargs)

        def select_template(self, *args: Any, **kwargs: Any) -> Any:
            self.step()
            return super().select_template(*args, **kwargs)

    return BoundedEnvironment(**options)


def _size(value: Any, limit: int) -> int:
    """About how many characters `value` takes as text, counted only until past `limit`
    (so a structure sharing one big part many times costs no more than `limit` to measure)."""
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, (list, tuple, set, frozenset, dict)):
            total += 2 + len(item)
            if total <= limit:
                stack.extend(item.items() if isinstance(item, dict) else item)
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        else:
            total += 1
    return total


def _binop_size(operator: str, left: Any, right: Any, limit: int) -> int:
    if operator == "*":
        for seq, count in ((left, right), (right, left)):
            if isinstance(count, int) and isinstance(seq, (str, list, tuple)):
                return _size(seq, limit) * max(count, 0)
    elif operator == "+":
        if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            return _size(left, limit) + _size(right, limit)
    elif operator == "**":
        if isinstance(left, int) and isinstance(right, int) and right > 0:
            return abs(left).bit_length() * right // 3
    elif operator == "%" and isinstance(left, str):
        return _percent_size(left, right, limit)
    return 0


_PERCENT_WIDTH = re.compile(r"%[-#0 +]*(\d*|\*)(?:\.(\d+|\*))?")
_NUMBER = re.compile(r"\d+")


def _percent_size(template: str, args: Any, limit: int) -> int:
    """The size of `template % args`: its text, the arguments, and every width or precision
    (a `*` takes one from the arguments)."""
    size = len(template) + _size(args, limit)
    values = args if isinstance(args, tuple) else (args,)
    numbers = [v for v in values if isinstance(v, int)]
    for match in _PERCENT_WIDTH.finditer(template):
        for part in match.groups():
            if part == "*":
                size += max(numbers, default=0)
            elif part:
                size += int(part)
    return size


def _format_size(template: str, args: Any, kwargs: Any, limit: int) -> int:
    """The size of `template.format(...)`: with every number in it taken as a width, and
    the arguments' numbers too when a field nests another (`{:{}}`)."""
    size = len(template) + _size(args, limit) + _size(kwargs, limit)
    for number in _NUMBER.findall(template):
        size += int(number) if len(number) < 20 else limit + 1
    if re.search(r"\{[^{}]*\{", template):
        values = [*args, *kwargs.values()]
        if args and isinstance(args[0], dict):  # format_map
            values += args[0].values()
        size += sum(v for v in values if isinstance(v, int) and v > 0)
    return size


def _call_size(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any], limit: int) -> int:
    """The size of what a string method that pads or repeats would return; 0 for others."""
    owner = getattr(obj, "__self__", None)
    if not isinstance(owner, str):
        return 0
    name = getattr(obj, "__name__", "")
    first = args[0] if args else None
    if name in ("center", "ljust", "rjust", "zfill") and isinstance(first, int):
        return max(len(owner), first)
    if name == "expandtabs":
        tabsize = first if isinstance(first, int) else kwargs.get("tabsize", 8)
        return len(owner) + owner.count("\t") * max(int(tabsize), 0)
    if name == "replace" and len(args) >= 2:
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        return _replace_size(owner, args[0], args[1], count)
    if name == "join" and isinstance(first, (list, tuple, range)):
        return _size(first, limit) + len(owner) * len(first)
    return 0


def _replace_size(text: Any, old: Any, new: Any, count: Any) -> int:
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return 0
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    return len(text) + found * (len(new) - len(old))


def _guarded(filter_function: Any, predict: Callable[..., int], env: Any) -> Any:
    """The filter, refusing to run when `predict(limit, **its arguments)` passes the limit."""
    signature = inspect.signature(filter_function)

    @functools.wraps(filter_function)  # keeps the pass_eval_context/pass_environment mark
    def guarded(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        env.check(predict(env.limit, **bound.arguments), "the result of a filter")
        return filter_function(*args, **kwargs)

    return guarded


def _lines(text: Any) -> int:
    return text.count("\n") + 1 if isinstance(text, str) else 1


def _width(width: Any) -> int:
    return len(width) if isinstance(width, str) else max(int(width), 0)


def _sized(value: Any) -> Callable[..., int]:
    return lambda limit, **a: _size(a[value], limit)


_FILTER_SIZES: dict[str, Callable[..., int]] = {
    "center": lambda limit, value, width, **_: _size(value, limit) + max(int(width), 0),
    "indent": lambda limit, s, width, **_: _size(s, limit) + _lines(s) * _width(width),
    "format": lambda limit, value, args, kwargs, **_: _percent_size(
        str(value), args or kwargs, limit
    ),
    "replace": lambda limit, s, old, new, count, **_: _replace_size(
        s, old, new, -1 if count is None else count
    ),
    "join": lambda limit, value, d, **_: (
        _size(value, limit) + (len(str(d)) * len(value) if hasattr(value, "__len__") else 0)
    ),
    "wordwrap": lambda limit, s, width, wrapstring, **_: (
        _size(s, limit) + (_size(s, limit) // max(int(width), 1) + 1) * len(wrapstring or "\n")
    ),
    "batch": lambda limit, value, linecount, fill_with, **_: (
        max(int(linecount), 0) if fill_with is not None else 0
    ),
    "string": _sized("value"),
    "tojson": _sized("value"),
    "pprint": _sized("value"),
    "urlencode": _sized("value"),
}
