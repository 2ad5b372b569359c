"""Who may use the service: users (web sign-in), API keys, and the secret that signs sessions.

They live in the same database as the history (the same SQLAlchemy URL, `--db`), so the CLI that
manages them and the server that checks them always agree.

- Passwords are hashed with Argon2id (pwdlib's recommended parameters); a sign-in for a user who
  does not exist still spends one Argon2 verification, so timing does not reveal who exists.
- API keys are 256-bit random tokens shown once; only their SHA-256 is stored (a slow hash adds
  nothing for a token with that much entropy) plus a short prefix to recognise them by.
- A web session is a row here (so signing out, a new password or removing the user really ends
  it) named by a random token that the browser holds in a signed cookie; only the token's SHA-256
  is stored. The signing secret is generated on first use and kept in the database, so sessions
  survive a restart and every process serving the same database accepts the same cookies.

Nothing here knows about HTTP; `localvision.server.auth` turns it into requests and cookies.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from .database import write_transaction
from .errors import InvalidArgument, Unauthorized, UnknownKey, UnknownUser, UserExists
from .history import HistoryStore, metadata

ROLES = ("admin", "user")
KEY_PREFIX = "lv_"  # makes a leaked key recognisable (secret scanners, logs)
MIN_PASSWORD = 8
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=True),  # NULL: no web sign-in (keys only)
    Column("role", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=True),
    Column("username", String(64), nullable=False, index=True),  # the owner
    Column("prefix", String(16), nullable=False),  # shown in listings; not enough to use the key
    Column("key_hash", String(64), nullable=False, unique=True),  # SHA-256 hex of the whole key
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # SHA-256 hex of the cookie's token
    Column("username", String(64), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),  # sent back in X-CSRF-Token on every POST
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)

auth_secrets = Table(
    "auth_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
)


# --- policy -------------------------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach. Any other name counts as public: a
    hostname may resolve to anything, so we do not guess in the permissive direction."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def auth_enabled(mode: str, host: str) -> bool:
    """The `auth` setting: on, off, or auto (on exactly when the service is reachable from other
    machines)."""
    if mode == "on":
        return True
    if mode == "off":
        return False
    return not is_loopback(host)


# --- crypto -------------------------------------------------------------------------------------
def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def sha256_hex(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


hash_api_key = sha256_hex


def _hasher():
    from pwdlib import PasswordHash

    return PasswordHash.recommended()


_HASHER = None
_DUMMY_HASH = None


def hasher():
    global _HASHER
    if _HASHER is None:
        _HASHER = _hasher()
    return _HASHER


def hash_password(password: str) -> str:
    return hasher().hash(password)


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_urlsafe(16))
    return _DUMMY_HASH


def check_username(name: str) -> str:
    if not USERNAME.match(name or ""):
        raise InvalidArgument(
            f"Invalid user name {name!r}: use 1-64 letters, digits, '_', '.', '@' or '-', "
            "starting with a letter or digit."
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidArgument(f"The password is too short: use at least {MIN_PASSWORD} characters.")
    return password


# --- the store ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Principal:
    """Who is making a request, and how they proved it."""

    user: str
    role: str
    via: str  # "key" or "session"
    key_id: int | None = None
    csrf: str | None = None  # the session's CSRF token (sessions only)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes; they were written as UTC
        value = value.replace(tzinfo=timezone.utc)
    return value.isoformat(timespec="seconds")


class AuthStore:
    """Users, API keys and the session secret, on an existing engine (the history's)."""

    def __init__(self, engine: Engine, owner: HistoryStore | None = None):
        from .migrate import upgrade

        self.engine = engine
        self._owner = owner  # set when this store opened the database itself
        if owner is None:  # a HistoryStore has done it already
            upgrade(engine)

    def _write(self, work):
        """`work(conn)` in one write transaction (history.write_transaction: SQLite's lock up
        front; PostgreSQL's deadlock victims run again)."""
        return write_transaction(self.engine, work)

    @classmethod
    def open(cls, url: str) -> "AuthStore":
        """Open the database at `url` (creating it and every table, history's too)."""
        store = HistoryStore(url)
        return cls(store.engine, owner=store)

    def close(self) -> None:
        if self._owner is not None:
            self._owner.close()

    # --- users ---
    def add_user(self, username: str, password: str | None, role: str = "user") -> None:
        check_username(username)
        if role not in ROLES:
            raise InvalidArgument(f"Unknown role {role!r}: use admin or user.")
        hashed = hash_password(check_password(password)) if password is not None else None
        row = {"username": username, "password_hash": hashed, "role": role, "created_at": _now()}
        try:
            self._write(lambda conn: conn.execute(insert(users), row))
        except IntegrityError:
            raise UserExists(f"The user {username!r} already exists.") from None

    def set_password(self, username: str, password: str) -> None:
        """A new password ends every session the user has open."""
        hashed = hash_password(check_password(password))

        def change(conn) -> int:
            done = conn.execute(
                update(users).where(users.c.username == username).values(password_hash=hashed)
            ).rowcount
            conn.execute(delete(sessions).where(sessions.c.username == username))
            return done

        if not self._write(change):
            raise self._unknown_user(username)

    def remove_user(self, username: str) -> int:
        """Delete the user, end their sessions and revoke their keys (kept, revoked, so listings
        still explain them). Their history rows stay. Returns how many keys were revoked."""

        def remove(conn) -> int:
            if not conn.execute(delete(users).where(users.c.username == username)).rowcount:
                raise self._unknown_user(username)
            conn.execute(delete(sessions).where(sessions.c.username == username))
            return conn.execute(
                update(api_keys)
                .where(api_keys.c.username == username, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=_now())
            ).rowcount

        return self._write(remove)

    def get_user(self, username: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).mappings().first()
        return dict(row) if row else None

    def list_users(self) -> list[dict]:
        keys = (
            select(api_keys.c.username, func.count().label("n"))
            .where(api_keys.c.revoked_at.is_(None))
            .group_by(api_keys.c.username)
            .subquery()
        )
        query = (
            select(users, func.coalesce(keys.c.n, 0).label("active_keys"))
            .outerjoin(keys, keys.c.username == users.c.username)
            .order_by(users.c.username)
        )
        with self.engine.connect() as conn:
            return [
                {
                    "username": r["username"],
                    "role": r["role"],
                    "created_at": _iso(r["created_at"]),
                    "can_sign_in": r["password_hash"] is not None,
                    "active_keys": r["active_keys"],
                }
                for r in conn.execute(query).mappings()
            ]

    def count_users(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(users)).scalar_one()

    def authenticate(self, username: str, password: str) -> dict | None:
        """The user row when the password is right; None otherwise. Always costs one Argon2
        verification. A hash made with weaker parameters than today's is upgraded."""
        user = self.get_user(username) if USERNAME.match(username or "") else None
        stored = user["password_hash"] if user else None
        ok, new_hash = hasher().verify_and_update(password, stored or _dummy_hash())
        if not (ok and stored):
            return None
        if new_hash:
            self._write(lambda conn: conn.execute(
                update(users)
                .where(users.c.username == username, users.c.password_hash == stored)
                .values(password_hash=new_hash)
            ))  # fmt: skip
            user = self.get_user(username)
        return user

    def require_user(self, username: str) -> dict:
        user = self.get_user(username)
        if user is None:
            raise self._unknown_user(username)
        return user

    @staticmethod
    def _unknown_user(username: str) -> UnknownUser:
        return UnknownUser(
            f"There is no user {username!r}.",
            hint=f"localvision users add {username}" if USERNAME.match(username or "") else None,
        )

    # --- API keys ---
    def create_key(self, username: str, name: str | None = None) -> tuple[int, str]:
        """A new key for `username`: (id, key). The key itself is never stored; show it now."""
        self.require_user(username)
        key = new_api_key()
        row = {
            "name": (name or None) and name[:128],
            "username": username,
            "prefix": key[: len(KEY_PREFIX) + 6],
            "key_hash": hash_api_key(key),
            "created_at": _now(),
        }
        new = self._write(lambda conn: conn.execute(insert(api_keys), row))
        return new.inserted_primary_key[0], key

    def list_keys(self, username: str | None = None) -> list[dict]:
        """Every key (or one user's), newest first; never the key itself."""
        query = select(api_keys).order_by(api_keys.c.id.desc())
        if username is not None:
            query = query.where(api_keys.c.username == username)
        with self.engine.connect() as conn:
            return [
                {
                    "id": r["id"],
                    "name": r["name"],
                    "owner": r["username"],
                    "prefix": r["prefix"],
                    "created_at": _iso(r["created_at"]),
                    "last_used_at": _iso(r["last_used_at"]),
                    "revoked_at": _iso(r["revoked_at"]),
                }
                for r in conn.execute(query).mappings()
            ]

    def count_keys(self) -> int:
        with self.engine.connect() as conn:
            active = api_keys.c.revoked_at.is_(None)
            return conn.execute(select(func.count()).where(active)).scalar_one()

    def revoke_key(self, key_id: int) -> dict:
        """Revoke a key; returns it as listed. Revoking a revoked key changes nothing."""
        self._write(lambda conn: conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=_now())
        ))  # fmt: skip
        for key in self.list_keys():
            if key["id"] == key_id:
                return key
        raise UnknownKey(f"There is no API key with id {key_id}.", hint="localvision keys list")

    def verify_key(self, key: str) -> Principal:
        """The principal an API key speaks for; Unauthorized when it is unknown or revoked, or
        its owner no longer exists."""
        query = (
            select(api_keys.c.id, api_keys.c.revoked_at, users.c.username, users.c.role)
            .select_from(api_keys.outerjoin(users, users.c.username == api_keys.c.username))
            .where(api_keys.c.key_hash == hash_api_key(key))
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        if row is None:
            raise Unauthorized("This API key is not valid.")
        if row["revoked_at"] is not None:
            raise Unauthorized("This API key has been revoked.")
        if row["username"] is None:
            raise Unauthorized("This API key's owner no longer exists.")
        return Principal(row["username"], row["role"], "key", key_id=row["id"])

    def touch_key(self, key_id: int) -> None:
        used = update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=_now())
        self._write(lambda conn: conn.execute(used))

    # --- web sessions ---
    def create_session(self, username: str, lifetime: timedelta) -> tuple[str, str]:
        """A new session for a signed-in user: (token for the cookie, CSRF token)."""
        token, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), _now()
        row = {
            "token_hash": sha256_hex(token),
            "username": username,
            "csrf": csrf,
            "created_at": now,
            "expires_at": now + lifetime,
        }

        def create(conn) -> None:
            conn.execute(delete(sessions).where(sessions.c.expires_at < now))  # tidy up
            conn.execute(insert(sessions), row)

        self._write(create)
        return token, csrf

    def session_principal(self, token: str) -> Principal | None:
        """Who holds this session token; None when it has ended, expired or never existed."""
        query = (
            select(users.c.username, users.c.role, sessions.c.csrf)
            .select_from(sessions.join(users, users.c.username == sessions.c.username))
            .where(sessions.c.token_hash == sha256_hex(token), sessions.c.expires_at > _now())
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return Principal(row["username"], row["role"], "session", csrf=row["csrf"]) if row else None

    def end_session(self, token: str) -> None:
        gone = delete(sessions).where(sessions.c.token_hash == sha256_hex(token))
        self._write(lambda conn: conn.execute(gone))

    # --- the session secret ---
    def secret(self, name: str = "session") -> str:
        """A random secret generated once per database and kept there."""
        query = select(auth_secrets.c.value).where(auth_secrets.c.name == name)
        with self.engine.connect() as conn:
            value = conn.execute(query).scalar_one_or_none()
        if value is not None:
            return value
        row = {"name": name, "value": secrets.token_hex(32)}
        try:
            self._write(lambda conn: conn.execute(insert(auth_secrets), row))
        except IntegrityError:
            # Another process made it first (on PostgreSQL, our insert waited for theirs to
            # commit, then found the name taken): use theirs, so both sign the same cookies.
            pass
        with self.engine.connect() as conn:
            return conn.execute(query).scalar_one()
