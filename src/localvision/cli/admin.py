"""`localvision keys ...` and `localvision users ...`: who may use a service that requires auth;
`localvision db ...`: the database's schema (its migrations).

They work on the database the service uses (`--db`, or LOCALVISION_DB), so run them on the
server's machine, before or while it runs; changes apply to the next request.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from ..config import Settings
from ..errors import InvalidArgument, LocalVisionError
from .base import App
from .options import settings_options
from .render import err, out

keys_app = App(help="API keys for programs: `Authorization: Bearer <key>`.")
users_app = App(help="Users who sign in to the web UI.")
db_app = App(help="The database's schema: history, users, keys and sessions (Alembic migrations).")

def _store(url: str):
    """The auth store on the database; one that cannot be reached is one line naming its host
    and port (never the password): no waiting here, a person at a terminal wants the answer."""
    from ..auth import AuthStore
    from ..dbwait import connect_url, describe, is_server, reason, unavailable

    try:
        return AuthStore.open(connect_url(url) if is_server(url) else url)
    except LocalVisionError:
        raise  # rendered once, by the CLI's renderer (render.py)
    except Exception as exc:  # a bad URL, an unreadable file, a server that cannot be reached
        typed = unavailable(exc, url)
        if typed is not None:
            raise typed from None
        raise InvalidArgument(
            f"Cannot open the database {describe(url)}: {reason(exc, url)}"
        ) from None


def _where(url: str) -> str:
    """A database URL fit to print: never its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: nothing in it to hide, and nothing to show either
        return "(not a database URL)"


def _run(db: str, action):
    from ..dbwait import unavailable

    store = _store(db)
    try:
        return action(store)
    except Exception as exc:  # the database went away between opening and using it
        typed = unavailable(exc, db)
        if typed is None:
            raise
        raise typed from None
    finally:
        store.close()


def _when(value: str | None) -> str:
    return value.replace("T", " ").replace("+00:00", " UTC") if value else "-"


# --- keys ---------------------------------------------------------------------------------------
@keys_app.command("create")
@settings_options("db")
def keys_create(
    name: Optional[str] = typer.Option(None, "--name", help="What the key is for (e.g. 'ci')."),
    user: str = typer.Option(
        "admin", "--user", help="The user the key acts as (its history, its role)."
    ),
    *,
    settings: Settings,
):
    """Make an API key and print it once (only its hash is kept).

    Without --user the key belongs to admin, who is created (an admin without a password: keys
    only) when there are no users yet."""

    def create(store):
        if user == "admin" and store.count_users() == 0:
            store.add_user("admin", None, role="admin")
            err.print(
                "Created user admin (role admin, no password: API keys only; "
                "`localvision users passwd admin` enables web sign-in).",
                highlight=False, soft_wrap=True,
            )  # fmt: skip
        return store.create_key(user, name)

    key_id, key = _run(settings.db, create)
    sys.stdout.write(key + "\n")  # alone on stdout, so KEY=$(localvision keys create) works
    label = f" ({name})" if name else ""
    err.print(
        f"API key {key_id}{escape(label)} for {escape(user)}. Copy it now: it is not shown again. "
        "Send it as `Authorization: Bearer <key>`.",
        highlight=False, soft_wrap=True,
    )  # fmt: skip


@keys_app.command("list")
@settings_options("db")
def keys_list(
    user: Optional[str] = typer.Option(None, "--user", help="Only this user's keys."),
    *,
    settings: Settings,
):
    """Every API key: id, name, owner, created, last used, revoked (never the key itself)."""
    keys = _run(settings.db, lambda store: store.list_keys(user))
    table = Table(title="localvision API keys", title_justify="left")
    for col in ("id", "name", "owner", "key", "created", "last used", "revoked"):
        table.add_column(col, overflow="fold")
    for k in keys:
        table.add_row(
            str(k["id"]), escape(k["name"] or "-"), escape(k["owner"]), k["prefix"] + "…",
            _when(k["created_at"]), _when(k["last_used_at"]),
            f"[red]{_when(k['revoked_at'])}[/]" if k["revoked_at"] else "no",
        )  # fmt: skip
    out.print(table if keys else "No API keys yet: `localvision keys create`.")


@keys_app.command("revoke")
@settings_options("db")
def keys_revoke(
    key_id: int = typer.Argument(..., help="The key's id (see `localvision keys list`)."),
    *,
    settings: Settings,
):
    """Revoke an API key: requests with it are refused from now on."""
    key = _run(settings.db, lambda store: store.revoke_key(key_id))
    label = f" ({key['name']})" if key["name"] else ""
    out.print(escape(f"Revoked API key {key_id}{label} of {key['owner']}."), highlight=False)


# --- users --------------------------------------------------------------------------------------
def _read_password(stdin: bool, confirm: bool = True) -> str:
    if stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    return typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)


PasswordStdin = typer.Option(
    False, "--password-stdin", help="Read the password from the first line of stdin."
)


@users_app.command("add")
@settings_options("db")
def users_add(
    username: str = typer.Argument(..., help="The user name to sign in with."),
    admin: bool = typer.Option(False, "--admin", help="An admin sees all history, users and keys."),
    password_stdin: bool = PasswordStdin,
    *,
    settings: Settings,
):
    """Add a user who can sign in to the web UI (asks for the password)."""
    from ..auth import check_password, check_username

    check_username(username)
    password = check_password(_read_password(password_stdin))
    role = "admin" if admin else "user"
    _run(settings.db, lambda store: store.add_user(username, password, role=role))
    out.print(escape(f"Added {role} {username}."), highlight=False)


@users_app.command("passwd")
@settings_options("db")
def users_passwd(
    username: str = typer.Argument(..., help="Whose password to set."),
    password_stdin: bool = PasswordStdin,
    *,
    settings: Settings,
):
    """Set a user's password; their open sessions end."""

    def change(store):
        from ..auth import check_password

        store.require_user(username)
        store.set_password(username, check_password(_read_password(password_stdin)))

    _run(settings.db, change)
    message = f"Password changed for {username}; their sessions have ended."
    out.print(escape(message), highlight=False)


@users_app.command("remove")
@settings_options("db")
def users_remove(
    username: str = typer.Argument(..., help="The user to remove."),
    *,
    settings: Settings,
):
    """Remove a user: their sessions end and their API keys are revoked (history is kept)."""
    revoked = _run(settings.db, lambda store: store.remove_user(username))
    out.print(escape(f"Removed {username}; revoked {revoked} API key(s)."), highlight=False)


@users_app.command("list")
@settings_options("db")
def users_list(*, settings: Settings):
    """Every user: role, created, whether they can sign in, how many active API keys."""
    users = _run(settings.db, lambda store: store.list_users())
    table = Table(title="localvision users", title_justify="left")
    for col in ("user", "role", "created", "web sign-in", "active keys"):
        table.add_column(col, overflow="fold")
    for u in users:
        table.add_row(
            escape(u["username"]), u["role"], _when(u["created_at"]),
            "yes" if u["can_sign_in"] else "no (no password)", str(u["active_keys"]),
        )  # fmt: skip
    out.print(table if users else "No users yet: `localvision users add NAME --admin`.")


# --- serve's auth policy ------------------------------------------------------------------------
def serve_auth(settings: Settings, insecure_no_auth: bool, before_db=None) -> Settings:
    """Decide auth for `localvision serve`, saying loudly what was decided. Auth may be off on a
    non-loopback address only with --insecure-no-auth, never by a quiet setting alone.
    before_db: called once the decision is made, before the database is first opened (serve
    waits for a database server there: dbwait.py)."""
    from ..auth import auth_enabled, is_loopback
    from ..server.service.startup import check_auth

    public = not is_loopback(settings.host)
    if insecure_no_auth:
        if settings.auth == "on":
            raise InvalidArgument("--insecure-no-auth contradicts auth=on; choose one.")
        settings = settings.model_copy(update={"auth": "off"})
        if public:
            err.print(
                f"[bold red]WARNING: authentication is OFF on {escape(settings.host)} "
                "(--insecure-no-auth): anyone who can reach this address can classify images and "
                "read the whole history.[/]",
                highlight=False, soft_wrap=True,
            )  # fmt: skip
        return settings
    check_auth(settings)  # the service's own policy: auth off on a public address is refused
    if auth_enabled(settings.auth, settings.host) and before_db is not None:
        # the first admin and key, and who can get in, are the service's start-up policy
        # (server/service/startup.py), said in its log however it is started
        before_db(settings)
    return settings


# --- db -----------------------------------------------------------------------------------------
def _schema(url: str, action):
    """Run `action(engine)` on the database, with the errors rendered as _store renders them."""
    from ..history import open_engine

    try:
        engine = open_engine(url)
    except Exception as exc:
        raise InvalidArgument(f"Cannot open the database {_where(url)}: {exc}") from None
    try:
        return action(engine)
    except LocalVisionError:
        raise
    except Exception as exc:  # unreachable, refused, not a database
        from ..dbwait import unavailable

        typed = unavailable(exc, url)  # a server that cannot be reached: named as _store names it
        if typed is not None:
            raise typed from None
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())  # the driver's words
        raise InvalidArgument(f"Cannot open the database {_where(url)}: {reason}") from None
    finally:
        engine.dispose()


def _revision(rev: str | None) -> str:
    return rev or "none (a new database, or one made before migrations)"


def _missing_file(url: str) -> str | None:
    """The path of an SQLite file that does not exist yet (None otherwise): opening it would
    create it, which `db current` must not do, and `db upgrade` says it did."""
    from sqlalchemy.engine import make_url

    try:
        u = make_url(url)
    except Exception:
        return None
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:":
        return None
    path = Path(u.database).expanduser()
    return None if path.exists() else str(path)


@db_app.command("upgrade")
@settings_options("db")
def db_upgrade(*, settings: Settings):
    """Bring the database's schema to this version's newest revision, keeping every row.

    The service and the keys/users commands do it themselves when they open the database; this
    does it ahead of time (e.g. before starting several servers on one database)."""
    from ..migrate import upgrade

    where = _where(settings.db)
    new = _missing_file(settings.db)
    before = _schema(settings.db, upgrade)
    if new:
        made = f"Created the database {where} (a new file) and brought it to {before.head}."
        out.print(escape(made), highlight=False, soft_wrap=True)
    elif before.up_to_date:
        out.print(escape(f"The database {where} is up to date (revision {before.head})."),
                  highlight=False, soft_wrap=True)  # fmt: skip
    else:
        out.print(
            escape(f"Upgraded the database {where} from revision {_revision(before.current)} "
                   f"to {before.head}."),
            highlight=False, soft_wrap=True,
        )  # fmt: skip


@db_app.command("current")
@settings_options("db")
def db_current(*, settings: Settings):
    """The database's schema revision, and whether `localvision db upgrade` has work to do
    (changes nothing)."""
    from ..migrate import status

    where = _where(settings.db)
    if _missing_file(settings.db):  # looked at, not made
        from ..migrate import head

        out.print(escape(f"{where}: no such file yet (revision none); newest {head()}: needs "
                         "`localvision db upgrade` (or serve), which creates it."),
                  highlight=False, soft_wrap=True)  # fmt: skip
        return
    now = _schema(settings.db, status)
    state = "up to date" if now.up_to_date else "needs `localvision db upgrade`"
    out.print(
        escape(f"{where}: revision {_revision(now.current)}; newest {now.head}: {state}."),
        highlight=False, soft_wrap=True,
    )  # fmt: skip
