"""History on a real PostgreSQL server (tests/pgserver.py): what only a server database can show.

The common suites (history, auth, hostile input, recorder) run on both backends through the
`db_url` fixtures; here: the test server itself, a server killed in the middle of a batch, and
many writers at once from several processes' worth of engines.
"""

from __future__ import annotations

from sqlalchemy import create_engine, text


def test_the_test_server_runs_unprivileged_and_survives_a_kill(pg_server):
    import os

    import psutil

    url = pg_server.create_database()
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x int)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        master = psutil.Process(pg_server.pid())
        assert master.uids().real != 0 or os.geteuid() != 0
        pg_server.kill()
        assert pg_server.pid() is None
        pg_server.start()
        engine.dispose()  # the old connections died with the server
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
    finally:
        engine.dispose()
        if pg_server.pid() is None:
            pg_server.start()
        pg_server.drop_database(url)


def test_a_server_killed_mid_batch_leaves_the_batch_whole_or_absent(pg_server):
    """A large add_batch in flight when the server is SIGKILLed (postmaster and backends, as a
    crash would): after crash recovery the batch is all there or not there at all, and what was
    committed before it is all there."""
    import threading
    import time

    from sqlalchemy import func, select

    from localvision.history import HistoryStore, Record, recognitions

    url = pg_server.create_database()
    store = HistoryStore(url)
    preds = [{"label": "espresso", "index": 967, "probability": 0.9}]
    store.add_batch([Record(f"before-{i}.jpg", None, "m", preds, 1.0, None) for i in range(50)])
    big = [Record(f"big-{i}.jpg", "ab" * 32, "m", preds * 5, 1.0, None) for i in range(40_000)]
    outcome: dict = {}

    def write() -> None:
        try:
            outcome["batch"] = store.add_batch(big)
        except Exception as exc:  # noqa: BLE001 - the connection dies with the server
            outcome["error"] = exc

    watcher = create_engine(pg_server.url(url.rsplit("/", 1)[1]))
    try:
        writer = threading.Thread(target=write)
        writer.start()
        # Uncommitted rows are invisible to other sessions, but they do grow the table's file:
        # wait until a good part of the batch is written, then kill the server under it.
        with watcher.connect() as conn:
            size = text("SELECT pg_relation_size('recognitions')")
            start = conn.execute(size).scalar_one()
            while conn.execute(size).scalar_one() < start + 2_000_000 and writer.is_alive():
                time.sleep(0.005)
        in_flight = writer.is_alive()
        pg_server.kill()
        writer.join(timeout=60)
        assert in_flight, "the batch finished before the kill: make it larger"
        assert "error" in outcome  # the writer saw the server go, and said so
        pg_server.start()
        store.engine.dispose()  # connections to the dead server; the pool would test them anyway
        with store.engine.connect() as conn:
            big_rows = conn.execute(
                select(func.count()).where(recognitions.c.filename.like("big-%"))
            ).scalar_one()
            batches = conn.execute(
                select(func.count(func.distinct(recognitions.c.batch_id)))
                .where(recognitions.c.filename.like("big-%"))
            ).scalar_one()
        assert big_rows in (0, len(big)), f"{big_rows} of {len(big)} rows: a half-written batch"
        assert batches == (1 if big_rows else 0)
        assert store.count() == 50 + big_rows  # everything committed before is still there
        store.add_batch([Record("after.jpg", None, "m", preds, 1.0, None)])  # and it works again
        assert store.count() == 51 + big_rows
    finally:
        watcher.dispose()
        store.close()
        if pg_server.pid() is None:
            pg_server.start()
        pg_server.drop_database(url)


def test_a_writer_that_postgresql_picks_as_a_deadlock_victim_is_run_again(pg_server):
    """Two writers taking the same two rows in opposite orders: PostgreSQL aborts one of them
    (deadlock detected); write_transaction runs it again, so both succeed."""
    import threading

    from localvision.history import write_transaction

    url = pg_server.create_database()
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (id int PRIMARY KEY, n int)"))
            conn.execute(text("INSERT INTO t VALUES (1, 0), (2, 0)"))
        both_hold_one = threading.Barrier(2, timeout=10)
        attempts: list[str] = []
        errors: list[BaseException] = []

        def work(first: int, second: int):
            def step(conn) -> None:
                attempts.append(f"{first}{second}")
                conn.execute(text("UPDATE t SET n = n + 1 WHERE id = :i"), {"i": first})
                if len(attempts) <= 2:  # the first round: meet, then reach for the other row
                    both_hold_one.wait()
                conn.execute(text("UPDATE t SET n = n + 1 WHERE id = :i"), {"i": second})

            try:
                write_transaction(engine, step)
            except BaseException as exc:  # noqa: BLE001 - asserted below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=p) for p in ((1, 2), (2, 1))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert errors == []
        assert len(attempts) == 3  # one of the two ran twice
        with engine.connect() as conn:
            assert conn.execute(text("SELECT n FROM t ORDER BY id")).scalars().all() == [2, 2]
    finally:
        engine.dispose()
        pg_server.drop_database(url)


def test_the_url_forms_hosted_databases_hand_out_mean_psycopg(pg_server):
    """`postgres://` (DATABASE_URL, hosted PostgreSQL) and a plain `postgresql://` open the same
    database through psycopg 3 (SQLAlchemy alone would look for psycopg2, not installed)."""
    from localvision.dbwait import connect_url, where
    from localvision.history import HistoryStore, Record

    url = pg_server.create_database()
    preds = [{"label": "espresso", "index": 967, "probability": 0.9}]
    try:
        for scheme in ("postgres://", "postgresql://"):
            form = scheme + url.split("://", 1)[1]
            assert where(form).startswith(f"PostgreSQL at 127.0.0.1:{pg_server.port} ")
            assert "connect_timeout=" in connect_url(form)
            store = HistoryStore(form)
            try:
                assert store.engine.dialect.driver == "psycopg"
                store.add_batch([Record(f"{scheme}.jpg", None, "m", preds, 1.0, None)])
            finally:
                store.close()
        store = HistoryStore(url)
        try:
            assert store.count() == 2
        finally:
            store.close()
    finally:
        pg_server.drop_database(url)
