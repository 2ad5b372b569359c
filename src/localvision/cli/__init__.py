"""The `localvision` command (Typer + rich): `app` is the console script's entry point
(pyproject.toml) and `python -m localvision`'s. app.py registers the commands; options.py makes
their options from the settings; render.py prints everything."""

from .app import app
from .options import settings_from

__all__ = ["app", "settings_from"]
