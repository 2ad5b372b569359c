"""Everything the `localvision` command prints, from one place.

stdout carries results only (a table, JSON or CSV); stderr carries the rest: an error line with
its hint, warnings, notes, the progress bar. An error looks the same wherever it comes from: a
typed LocalVisionError (a model, weights or usage problem: exit 2), a usage error click found in
the command line (exit 2), or anything unexpected (exit 2, one line, never a traceback). One
input's error is a row of the results, rendered by `error_cell`, next to `error_line` here.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import LocalVisionError
from ..report import CLI_LEAD, rows_to_csv
from ..results import NOT_SURE

if TYPE_CHECKING:  # pragma: no cover
    from typer._click.exceptions import ClickException

out = Console()
err = Console(stderr=True)

USAGE_EXIT = 2  # a usage, model or weights error (and anything unexpected)


# --- stderr: errors, warnings, notes ------------------------------------------------------------
def _say(text: str) -> None:
    err.print(text, highlight=False, soft_wrap=True)


def error_line(message: str, hint: str | None = None) -> None:
    """`error: <message>`, then `  to fix: <hint>` when there is one."""
    _say(f"[bold red]error:[/] {escape(message)}")
    if hint:
        _say(f"  to fix: {escape(hint)}")


def error_cell(error: dict) -> str:
    """One input's error as a results-table cell: its stable code, then its message."""
    return f"[red]{escape(error['code'])}[/]: {escape(error['message'])}"


def warning(text: str) -> None:
    _say(f"[yellow]warning:[/] {escape(text)}")


def note(text: str) -> None:
    _say(f"note: {escape(text)}")


def render_error(exc: LocalVisionError) -> int:
    """A typed error that ended a command: its line and hint; the exit code."""
    error_line(exc.message, exc.hint)
    return USAGE_EXIT


def render_unexpected(exc: BaseException) -> int:
    """Anything else that escaped a command: one readable line, no traceback."""
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    error_line(
        f"unexpected {type(exc).__name__}" + (f": {detail}" if detail else ""),
        hint="this is a bug in localvision; please report it with the command that you ran",
    )
    return USAGE_EXIT


def render_usage_error(exc: ClickException) -> int:
    """A usage error found in the command line: the usage, the error, where to read more."""
    ctx = getattr(exc, "ctx", None)
    hint = None
    if ctx is not None:
        _say(escape(ctx.get_usage()))
        if ctx.command.get_help_option(ctx) is not None:
            hint = f"see '{ctx.command_path} {ctx.help_option_names[0]}'"
    error_line(exc.format_message(), hint)
    return exc.exit_code


# --- pydantic's validation errors, in click's words ----------------------------------------------
_BOUNDS = {
    "greater_than_equal": ("ge", ">="),
    "greater_than": ("gt", ">"),
    "less_than_equal": ("le", "<="),
    "less_than": ("lt", "<"),
}
_KINDS = {
    "int_parsing": "integer", "int_type": "integer", "int_from_float": "integer",
    "float_parsing": "number", "float_type": "number",
    "bool_parsing": "boolean (true or false)", "bool_type": "boolean (true or false)",
}  # fmt: skip


def explain(error: dict, bounds: str | None = None) -> str:
    """One pydantic error (typer's own coercion or Settings) as click says it: the value and
    what was expected, e.g. "0 is not in the range 1<=x<=1024." or "'xml' is not one of
    'table', ...". `bounds`: the whole range, when known (pydantic names one end only)."""
    kind, value, ctx = error.get("type", ""), error.get("input"), error.get("ctx") or {}
    if kind == "value_error" and "error" in ctx:  # typer's choices, our validators
        text = str(ctx["error"])
        return text if text.endswith(".") else text + "."
    if kind == "literal_error":
        return f"{value!r} is not one of {ctx.get('expected')}."
    if kind in _BOUNDS:
        key, op = _BOUNDS[kind]
        return f"{value} is not in the range {bounds or f'x{op}{ctx.get(key)}'}."
    if kind in _KINDS:
        return f"{value!r} is not a valid {_KINDS[kind]}."
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")


# --- stdout: results ------------------------------------------------------------------------------


def _label(p: dict) -> str:
    """The label, and the English one beside it when the label is in another language."""
    english = p.get("label_en", p["label"])
    return escape(p["label"] if english == p["label"] else f"{p['label']} ({english})")


def results_table(rows: list[dict], running: str, lang: str) -> Table:
    table = Table(title=f"localvision · {running}", title_justify="left")
    table.add_column("file", overflow="fold")
    table.add_column("top labels")
    text = any("text" in row for row in rows)
    if text:
        table.add_column("text", overflow="fold")
    for row in rows:
        if row["error"]:
            table.add_row(escape(row["path"]), error_cell(row["error"]), *[""] * text)
            continue
        lines = [f"{p['probability'] * 100:5.1f}%  {_label(p)}" for p in row["predictions"]]
        if row.get("uncertain"):  # never a confident-looking guess under the floor
            lines.insert(0, f"[yellow]{NOT_SURE.get(lang, NOT_SURE['en'])}[/]")
        for g in row.get("groups") or ():
            lines.append(f"[dim]{g['probability'] * 100:5.1f}%  {_label(g)} (group)[/]")
        read = ["\n".join(escape(line["text"]) for line in row.get("text") or ())] * text
        table.add_row(escape(row["path"]), "\n".join(lines), *read)
    return table


def results_text(rows: list[dict], fmt: str, running: str, k: int, lang: str) -> str:
    """The results as `fmt` (table, json or csv) text, for a file or a pipe."""
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return rows_to_csv(rows, lead=CLI_LEAD, k=k, lang=lang)
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(results_table(rows, running, lang))
    return console.file.getvalue()
