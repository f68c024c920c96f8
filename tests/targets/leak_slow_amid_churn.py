"""Order API that remembers one short access line per request (slow leak amid churn).

Every request parses a ~50 KB JSON order batch (thousands of temporary dicts,
strings and floats), prices it into a temporary list, allocates a 512 KB
response buffer, waits for the stock service with all of it alive, and drops
it: heavy churn of large temporaries that makes the heap and RSS swing by
about a megabyte between requests, most of the time in a request.
What leaks: one ~200-byte access-log line (a ``str``) per request, kept for an
"audit" that was never written.
Holder: the module global list ``ACCESS_LOG``; nothing ever trims it.
Usual fix: write the line to a real log (``logging``) instead of a list, or
keep a bounded ``collections.deque(maxlen=...)``.
"""
import json
import time

ACCESS_LOG = []
ACCESS_LINE = ("%08d POST /api/v2/orders/batch items=%04d total=%012.2f client=%s "
               "agent=checkout-service/4.2 region=eu-west-1 trace=%016x")

# One order batch as it arrives on the wire: parsed afresh by every request.
PAYLOAD = json.dumps([
    {"sku": "SKU-%05d" % k, "qty": 1 + k % 7, "price": 3.25 + (k % 90) * 0.5,
     "tags": ["promo", "eu", "w%d" % (k % 52)], "note": "line %d of the batch" % k}
    for k in range(400)
])


def handle(i):
    """One request: parse, price, answer; remember the access line."""
    batch = json.loads(PAYLOAD)                                    # churn: ~2.5k temporaries
    priced = [line["qty"] * line["price"] * (1.0 + (i % 5) / 100) for line in batch]
    scratch = bytearray(512 * 1024)                                # churn: a large buffer
    time.sleep(0.003)                                              # the stock service answers
    total = sum(priced)
    client = "10.%d.%d.7" % (i % 256, (i >> 8) % 256)
    ACCESS_LOG.append(ACCESS_LINE % (i, len(batch), total, client, i * 2654435761))  # LEAK-SITE
    del batch, priced, scratch
    return total


def tick(i):
    return handle(i)


if __name__ == "__main__":
    i = 0
    while True:
        tick(i)
        i += 1
        time.sleep(0.002)
