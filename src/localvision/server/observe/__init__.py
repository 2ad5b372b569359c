"""What the server says about itself: the request observer (observer), the metrics it feeds
(/metrics), and the access log and logging set-up (logs)."""
