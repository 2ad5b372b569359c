"""The web service: FastAPI app factory, API routes, the browser UI."""
