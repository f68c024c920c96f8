"""Control (must NOT be flagged): an exchange-rate cache that fills and plateaus.

The cache is keyed by currency pair and there are only 30 pairs: after the
first 30 requests (the warm-up) every lookup is a hit and nothing new is kept.
A leak finder that reports this as a leak is confusing warm-up with growth
(scenario 2's look-alike).
"""
import time

CURRENCIES = ["EUR", "USD", "GBP", "JPY", "CHF", "SEK"]
PAIRS = [(a, b) for a in CURRENCIES for b in CURRENCIES if a != b]   # 30 pairs
RATE_CACHE = {}


class Rate:
    __slots__ = ("base", "quote", "value")

    def __init__(self, base, quote, value):
        self.base = base
        self.quote = quote
        self.value = value


def get_rate(base, quote):
    key = base + "/" + quote
    rate = RATE_CACHE.get(key)
    if rate is None:
        rate = RATE_CACHE[key] = Rate(base, quote, 1.0 + (len(RATE_CACHE) % 17) / 10.0)
    return rate


def tick(i):
    """One request: convert a price."""
    base, quote = PAIRS[i % len(PAIRS)]
    return round((100 + i % 900) * get_rate(base, quote).value, 2)


if __name__ == "__main__":
    i = 0
    while True:
        tick(i)
        i += 1
        time.sleep(0.01)
