"""The `localvision` command: every command and group, registered in one place.

The modules below hold the commands (classify, watch, video, serve, train, bench, library: models,
weights and export; admin: keys, users and db); they import the floor beneath them (shared.py,
options.py, base.py, render.py) and never this module or one another, so nothing runs in a
circle. Every option that has a setting is made from it (options.py), and can also be set as a
LOCALVISION_<NAME> environment variable.

Exit codes: 0 every input succeeded, 1 some inputs failed, 2 a usage, model or weights error.
"""

from __future__ import annotations

from .admin import db_app, keys_app, users_app
from .base import App
from .bench import bench
from .classify import classify
from .library import export, models_app, weights_app
from .serve import serve
from .train import train
from .video import video
from .watch import watch

app = App(help="localvision: local, offline image recognition (ResNet-18, ImageNet-1k).")

# in the order `localvision --help` lists them
for command in (classify, watch, video):
    app.command()(command)
for group, name in ((weights_app, "weights"), (keys_app, "keys"), (users_app, "users"),
                    (db_app, "db"), (models_app, "models")):
    app.add_typer(group, name=name)
for command in (serve, bench, export, train):
    app.command()(command)
