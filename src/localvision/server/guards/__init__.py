"""The guards at the door, as middleware and dependencies, run before any route: the body's
size and shape (body), who is asking (gate, throttle), where from (origin), how often
(ratelimit), the HTTP protocol's own limits (protocol), and the error shapes of the protocols
we speak (dialects)."""
