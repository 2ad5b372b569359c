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
