"""The service the routes ask: the models and how inference runs (state), the history and its
group commit (recorder), whether the database answers (dbhealth), training jobs, and the start-up
policy every way of starting the server applies (startup)."""
