"""Paginated exports whose generators are parked and never resumed (scenario 9).

What leaks: one suspended ``generator`` per export, and with it its frame and
locals: the ``ExportCursor`` and the current page of rows.
Holder: the module global ``PENDING_EXPORTS`` (export id -> generator); the
client was supposed to come back for the next page and never did.
Usual fix: expire parked exports and ``close()`` their generators, or use a
stateless cursor (the last id) instead of a live generator.
"""
import time

PENDING_EXPORTS = {}


class ExportCursor:
    def __init__(self, table, page_size):
        self.table = table
        self.page_size = page_size
        self.offset = 0

    def fetch(self):
        rows = [(self.offset + k, "row-%d" % (self.offset + k), (self.offset + k) * 0.25) for k in range(self.page_size)]
        self.offset += self.page_size
        return rows


def export_rows(table, page_size):
    cursor = ExportCursor(table, page_size)  # LEAK-SITE(ExportCursor)
    while True:
        page = cursor.fetch()
        yield page


def tick(i):
    """One request: start an export, return the first page, park the rest."""
    export_id = "exp-%d" % i
    pages = export_rows("orders", 20)  # LEAK-SITE(generator)
    first = next(pages)
    PENDING_EXPORTS[export_id] = pages
    return len(first)


if __name__ == "__main__":
    i = 0
    while True:
        tick(i)
        i += 1
        time.sleep(0.01)
