"""Engine behaviour that users feel: on SQLite a long read never holds up a writer."""
import threading

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Division, LoginThrottle


def test_an_open_read_does_not_block_a_writer_on_sqlite(database, engine_name):
    if engine_name != "sqlite":
        pytest.skip("PostgreSQL readers never block writers")
    app = database
    outcome = {}

    def write():
        with app.test_request_context("/", method="POST"):
            db.session.add(LoginThrottle(key="ip:test", failures=1))
            db.session.commit()
            outcome["written"] = True
            db.session.remove()

    with app.test_request_context("/", method="GET"):
        assert db.session.scalar(select(func.count()).select_from(Division)) == 811  # a read transaction is open
        writer = threading.Thread(target=write)
        writer.start()
        writer.join(timeout=20)
        db.session.remove()
    assert outcome == {"written": True}
