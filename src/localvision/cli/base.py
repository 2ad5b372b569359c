"""The Typer classes the `localvision` command is built on: help and usage lines that follow
click's conventions, and every error that ends a command rendered once, by render.py.

typer 0.29 (which vendors click as `typer._click`) shows each option's Python type
(`--help <bool>`, `--backend <str>`) and a required argument as `{paths}...`. Here instead:

- an option shows click's metavar: TEXT, INTEGER, FLOAT, FILE, DIR, PATH, its choices as
  `[a|b|c]`, and a flag nothing;
- an argument is upper case; in the usage line a required one is bare (`PATHS...`) and an
  optional one bracketed (`[MODEL]`);
- a usage error (a bad value names the option, the value and what is allowed), a
  LocalVisionError and any other exception that escapes a command are each rendered by
  render.py and exit 2 (a usage error: click's own code), never with a traceback.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer import Abort, BadParameter
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from ..errors import LocalVisionError
from . import render

_TYPE_NAMES = {str: "TEXT", int: "INTEGER", float: "FLOAT", bool: "BOOLEAN"}
_PATH_NAMES = {"file": "FILE", "dir": "DIR", "path": "PATH"}


def metavar(param: TyperOption | TyperArgument) -> str:
    """click's name for what a parameter takes."""
    desc = param.type_descriptor
    if desc.is_choice:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in desc.choices) + "]"
    if desc.is_path:
        return _PATH_NAMES.get(desc.path_type, "PATH")
    annotation = desc.annotation
    if desc.is_list:
        (annotation,) = getattr(annotation, "__args__", (str,))
    return _TYPE_NAMES.get(annotation, getattr(annotation, "__name__", "VALUE").upper())


class _Option(TyperOption):
    def display_type_rich(self, ctx) -> str | None:
        if self.metavar is not None:
            return self.metavar
        if self.is_flag or self.count:
            return None  # a flag takes no value, so it shows none
        return metavar(self)


class _Argument(TyperArgument):
    @property
    def display_name_raw(self) -> str:
        return self.metavar or (self.name or "").upper()

    def display_type_rich(self, ctx) -> str | None:
        return metavar(self)

    def get_usage_pieces(self, ctx) -> list[str]:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return [name + ("..." if self.nargs != 1 else "")]


def _restyle(param: Any) -> None:
    """Give a parameter typer built (help option included) the click-style display above."""
    if type(param) is TyperOption:
        param.__class__ = _Option
    elif type(param) is TyperArgument:
        param.__class__ = _Argument


class _Styled:
    def get_params(self, ctx):
        params = super().get_params(ctx)
        for param in params:
            _restyle(param)
        return params


class Command(_Styled, TyperCommand):
    """A command whose help and usage read like click's."""


class Group(_Styled, TyperGroup):
    """The top-level group: also where every error that ends a command is rendered."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as exc:  # the help was shown (rich prints it as it is made)
            if exc.format_message().strip():
                exc.show()
            code = exc.exit_code
        except BadParameter as exc:
            code = render.render_usage_error(_in_click_words(exc))
        except ClickException as exc:
            code = render.render_usage_error(exc)
        except Abort:
            render.error_line("aborted")
            code = 1
        except LocalVisionError as exc:
            code = render.render_error(exc)
        except Exception as exc:  # a bug or a library's own failure: one line, not a traceback
            from ..dbwait import unavailable  # or a database server that cannot be reached

            typed = unavailable(exc)
            code = render.render_error(typed) if typed else render.render_unexpected(exc)
        sys.exit(code if isinstance(code, int) else 0)


def _in_click_words(exc: BadParameter) -> BadParameter:
    """typer checks values with pydantic, whose messages read "Value error, 'xml' is not one
    of ..." or "Input should be greater than or equal to 1"; say them as click does."""
    cause = exc.__cause__
    errors = getattr(cause, "errors", None)
    if callable(errors) and errors():
        exc.message = render.explain(errors()[0], bounds=_bounds(exc.param))
    return exc


def _bounds(param) -> str | None:
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is None and high is None:
        return None
    if low is None:
        return f"x<={high}"
    return f"x>={low}" if high is None else f"{low}<=x<={high}"


class App(typer.Typer):
    """typer.Typer with the classes above, no completion installer and no pretty tracebacks."""

    def __init__(self, **options):
        options.setdefault("cls", Group)
        options.setdefault("no_args_is_help", True)
        options.setdefault("add_completion", False)
        options.setdefault("pretty_exceptions_enable", False)
        super().__init__(**options)

    def command(self, name: str | None = None, *, cls: type | None = None, **options):
        return super().command(name, cls=cls or Command, **options)
