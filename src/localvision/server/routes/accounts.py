"""Who am I, and the users and API keys visible to the caller (read-only over HTTP; they are
managed with `localvision users` and `localvision keys` on the server's machine)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from ..guards.gate import gate_of, history_scope, principal_of, require_admin

router = APIRouter(tags=["auth"])


@router.get("/api/v1/me")
async def me(request: Request):
    """Who this request is made as. `auth` is false when the server does not require sign-in."""
    p, gate = principal_of(request), gate_of(request)
    return {
        "auth": gate.enabled,
        "user": p.user if p else None,
        "role": p.role if p else None,
        "via": p.via if p else None,
    }


@router.get("/api/v1/users")
async def list_users(request: Request, _admin=Depends(require_admin)):
    """Every user (admins only)."""
    store = await gate_of(request).store(request.app)
    return {"users": await run_in_threadpool(store.list_users)}


@router.get("/api/v1/keys")
async def list_keys(request: Request):
    """API keys (never the keys themselves): every key for an admin, a user's own otherwise."""
    store = await gate_of(request).store(request.app)
    return {"keys": await run_in_threadpool(store.list_keys, history_scope(request))}
