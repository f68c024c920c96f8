"""Control (must NOT be flagged): a generator pipeline consumed to the end.

Each request streams rows through generator stages (parse -> filter ->
aggregate); every generator is exhausted and freed, nothing is parked.
The fix of scenario 9 applied.
"""
import time


def read_lines(i):
    for k in range(200):
        yield "%d,%s,%d" % (k, "sku-%d" % (k % 13), (i + k) % 50)


def parse(lines):
    for line in lines:
        row_id, sku, qty = line.split(",")
        yield {"id": int(row_id), "sku": sku, "qty": int(qty)}


def in_stock(rows):
    for row in rows:
        if row["qty"] > 10:
            yield row


def tick(i):
    """One request: total the in-stock quantity of an inventory file."""
    return sum(row["qty"] for row in in_stock(parse(read_lines(i))))


if __name__ == "__main__":
    i = 0
    while True:
        tick(i)
        i += 1
        time.sleep(0.01)
