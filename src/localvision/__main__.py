"""`python -m localvision` runs the CLI."""

from .cli import app

app()
