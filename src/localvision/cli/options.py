"""Command-line options made from the settings (config.py): a command names the settings it takes,
and each one's option comes from its Settings field, so a new option is one name in one list.

    @settings_options("model", "top_k", "lang")
    def classify(paths: list[str] = typer.Argument(...), *, settings: Settings): ...

The option for a setting takes from its field the help (the description), the choices (a
Literal), the bounds (ge/le) and the type; its default is None, "not given", so that the value
comes from LOCALVISION_<NAME> or the field's default when Settings is built. Its spelling is
`--name-with-dashes`, short for the settings of one command's own subject (`video_fps` is
`--fps` on `video`, SUBJECT_PREFIXES), with the short flags and path kinds below. The options
stand where the command's `settings` parameter stands, in the order named; the command receives
the Settings built from the values given, or, where it names a `given` parameter instead, the
values themselves (`Given`), to build them when it chooses (train reports a refused value in its
own event stream).
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Optional

import typer
from pydantic import ValidationError

from ..config import Settings
from ..errors import InvalidArgument
from . import render

# Settings named after the one command that takes them drop that prefix: `localvision video
# --fps`, `localvision watch --existing`, `localvision train --epochs`.
SUBJECT_PREFIXES = ("video_", "stream_", "watch_", "train_")
SHORT_FLAGS = {"model": "-m", "top_k": "-k"}
# What a path setting names, as click shows and checks it (FILE, DIR).
PATH_KINDS = {"weights": "file", "labels": "file", "model_dir": "dir", "sort_into": "dir",
              "converter_dir": "dir"}  # fmt: skip


def field(name: str):
    """The Settings field for `name`; a name Settings does not have is a programming error."""
    try:
        return Settings.model_fields[name]
    except KeyError:
        raise ValueError(f"{name!r} is not a setting (config.Settings)") from None


def help_of(name: str) -> str:
    """Each option's help comes from its one definition in Settings."""
    return field(name).description or ""


def choices(name: str):
    """A setting's type (its Literal of choices), so an option lists and checks the same ones."""
    return field(name).annotation


def flags(name: str) -> tuple[str, ...]:
    """How the option for setting `name` is spelled, e.g. ("--top-k", "-k")."""
    short = next((name[len(p):] for p in SUBJECT_PREFIXES if name.startswith(p)), name)
    long = "--" + short.replace("_", "-")
    return (long, SHORT_FLAGS[name]) if name in SHORT_FLAGS else (long,)


def option(name: str, *decls: str, **options):
    """The typer option for setting `name`: its help and bounds (ge/le) from Settings; `decls`
    (default: flags(name)) and `options` as typer.Option takes them."""
    for rule in field(name).metadata:
        if getattr(rule, "ge", None) is not None:
            options.setdefault("min", rule.ge)
        if getattr(rule, "le", None) is not None:
            options.setdefault("max", rule.le)
    kind = PATH_KINDS.get(name)
    if kind is not None:
        options.setdefault("dir_okay" if kind == "file" else "file_okay", False)
    return typer.Option(None, *(decls or flags(name)), help=help_of(name), **options)


def annotation(name: str):
    """The option's Python type: the setting's, optional (None: not given)."""
    hint = field(name).annotation
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        (hint,) = [a for a in typing.get_args(hint) if a is not type(None)]
    return Optional[hint]


# --- from the values given to Settings ------------------------------------------------------------
def settings_from(**given) -> Settings:
    """Settings from the environment, overridden by the options given on the command line. A
    value Settings refuses is named as the option or LOCALVISION_* variable it came from."""
    given = {k: v for k, v in given.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error.get("loc") else None
        reason = render.explain(error)
        spelled = _option_named(name) if name in given else None
        if spelled is not None:
            raise typer.BadParameter(reason, param_hint=spelled) from None
        where = f"LOCALVISION_{name.upper()}" if name else "the settings"
        raise InvalidArgument(
            f"Invalid value for {where}: {reason}", hint=f"correct or unset {where}"
        ) from None


def _option_named(setting: str) -> str | None:
    """How the running command spells the option for a setting, e.g. "'--batch-size'"."""
    ctx = click_context()
    for param in ctx.command.params if ctx else ():
        if param.name == setting and param.opts:
            return " / ".join(f"'{o}'" for o in param.opts)
    return None


def click_context():
    from typer._click.globals import get_current_context

    return get_current_context(silent=True)


@dataclass(frozen=True)
class Given:
    """The setting options as given on the command line (None: not given)."""

    values: dict[str, Any]

    def get(self, name: str) -> Any:
        return self.values.get(name)

    def settings(self, **more) -> Settings:
        """Settings from these values and `more` (e.g. a command's argument that is a setting)."""
        return settings_from(**{**self.values, **more})


# --- the decorator ------------------------------------------------------------------------------
RECEIVERS = ("settings", "given")


def settings_options(*names: str) -> Callable:
    """Give a command an option for each setting named; it receives them as `settings` (the
    Settings they make) or `given` (Given). The command's `.settings_names` lists them."""
    for name in names:
        field(name)  # a typo fails at import, not when someone runs the command
    if len(set(names)) != len(names):
        raise ValueError(f"a setting is named twice: {names}")

    def decorate(command: Callable) -> Callable:
        # annotations as written (strings, under `from __future__ import annotations`): typer
        # resolves them in the command's module; the receiver's own is never needed
        signature = inspect.signature(command)
        params = list(signature.parameters.values())
        receivers = [p.name for p in params if p.name in RECEIVERS]
        if len(receivers) != 1:
            raise TypeError(f"{command.__name__} must take one of {RECEIVERS}, not {receivers}")
        (receiver,) = receivers
        at = [p.name for p in params].index(receiver)
        kind = params[at].kind  # keyword-only where the command wrote `*, settings: Settings`
        params[at : at + 1] = [
            inspect.Parameter(n, kind, default=option(n), annotation=annotation(n)) for n in names
        ]

        @functools.wraps(command)
        def run(**kwargs):
            given = Given({n: kwargs.pop(n) for n in names})
            kwargs[receiver] = given if receiver == "given" else given.settings()
            return command(**kwargs)

        # typer reads the parameters from the signature and their types from the annotations
        run.__signature__ = signature.replace(parameters=params)
        run.__annotations__ = {p.name: p.annotation for p in params}
        run.settings_names = names
        return run

    return decorate

