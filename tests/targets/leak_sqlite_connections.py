"""Per-request sqlite3 connections that are never closed (scenario 5).

What leaks: one ``sqlite3.Connection`` (and the file descriptor of the open
database file) per request.
Holder: the module global dict ``_REQUEST_CONNECTIONS``, filled by ``get_db()``
and meant to be emptied by a teardown hook that was never registered.
Usual fix: ``with closing(sqlite3.connect(...))``, close in teardown, or a
connection pool of fixed size.
"""
import os
import sqlite3
import tempfile
import time

DB_PATH = os.path.join(tempfile.mkdtemp(prefix="orders-"), "orders.db")
_REQUEST_CONNECTIONS = {}

with sqlite3.connect(DB_PATH) as _setup:
    _setup.execute("CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, total REAL)")
    _setup.executemany("INSERT INTO orders (total) VALUES (?)", [(k * 1.5,) for k in range(100)])
_setup.close()


def get_db(request_id):
    conn = _REQUEST_CONNECTIONS.get(request_id)
    if conn is None:
        conn = _REQUEST_CONNECTIONS[request_id] = sqlite3.connect(DB_PATH)  # LEAK-SITE
    return conn


def tick(i):
    """One request: look up an order total."""
    db = get_db("req-%d" % i)
    row = db.execute("SELECT total FROM orders WHERE id = ?", (1 + i % 100,)).fetchone()
    return row[0]


if __name__ == "__main__":
    i = 0
    while True:
        tick(i)
        i += 1
        time.sleep(0.01)
