"""Alembic's environment for localvision's database (history, users, keys, sessions).

localvision runs the migrations itself (localvision.migrate: at start and `localvision db
upgrade`), on a connection it has already opened, inside a transaction that holds the
migration lock; it hands that connection over in `config.attributes["connection"]`. Run from the
`alembic` command line instead (to write a new revision), a `sqlalchemy.url` option is used.
"""

from alembic import context
from sqlalchemy import create_engine

from localvision.history import metadata  # every table (auth's register there too)
import localvision.auth  # noqa: F401  (users, api_keys, sessions, auth_secrets)
import localvision.rules  # noqa: F401  (rules)

config = context.config


def run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite: ALTERs that SQLite lacks are done by copying the table (batch mode)
        render_as_batch=connection.dialect.name == "sqlite",
    )
    # In localvision's own transaction already: this opens none of its own, so the migrations
    # and the version stamp commit together, or not at all, when that transaction ends.
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        run(conn)
