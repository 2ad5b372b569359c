"""Changes to the app's OpenAPI schema: the API key as a bearer security scheme when auth is on,
so /docs has an Authorize button."""

from __future__ import annotations

from fastapi import FastAPI


def document_bearer(app: FastAPI) -> None:
    """Declare the API key in the OpenAPI schema, so /docs has an Authorize button and its
    "Try it out" requests carry the key (they could not carry a session's CSRF token)."""
    build = app.openapi

    def openapi() -> dict:
        schema = build()
        schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
        schemes["apiKey"] = {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from `localvision keys create`.",
        }
        schema["security"] = [{"apiKey": []}]
        return schema

    app.openapi = openapi
