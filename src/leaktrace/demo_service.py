"""A small billing service with the leaks of the seed articles, for `leaktrace demo`.

Each request leaks in one of the classic ways (SCENARIOS.md):
- scenario 2, a module-global cache that is never trimmed (INVOICES);
- scenario 8, a callback registered per request and never removed (Hooks.on_paid);
- scenario 11, exceptions kept with their tracebacks (FAILURES).
And it does two things that must NOT be reported: a warm-up cache of currency
rates that fills once and stays, and large temporaries freed after each request.
"""
import functools


class Invoice:
    def __init__(self, number, customer, lines):
        self.number = number
        self.customer = customer
        self.lines = lines
        self.total = sum(price * qty for _, price, qty in lines)


class Hooks:
    on_paid = []


INVOICES = {}
FAILURES = []
_RATES = {}


@functools.lru_cache(maxsize=64)
def _tax_rate(country):
    return 0.2 if country in ("FR", "DE") else 0.1


def _rate(currency):
    # Warm-up cache: only three currencies exist, so it plateaus.
    if currency not in _RATES:
        _RATES[currency] = 1.0 + len(_RATES) / 10
    return _RATES[currency]


def handle_request(i):
    """One request: bill a customer, notify listeners, record failures."""
    customer = "customer-%d" % (i % 50)
    lines = [("item-%d" % k, 9.5 + k, 1 + k % 3) for k in range(4)]
    invoice = Invoice("inv-%d" % i, customer, lines)
    INVOICES[invoice.number] = invoice
    invoice.total *= _rate(("EUR", "USD", "GBP")[i % 3]) * (1 + _tax_rate(("FR", "US")[i % 2]))

    def notify(inv=invoice):
        return inv.number

    Hooks.on_paid.append(notify)

    report = [str(k) * 20 for k in range(200)]  # a large temporary, freed on return
    try:
        if i % 4 == 0:
            raise ValueError("card declined for %s" % customer)
    except ValueError as exc:
        FAILURES.append(exc)
    return len(report)


def main():
    """Serve requests until stopped (Ctrl-C, or `leaktrace run --duration`)."""
    import time

    i = 0
    try:
        while True:
            for _ in range(50):
                handle_request(i)
                i += 1
            time.sleep(0.01)
    except KeyboardInterrupt:
        pass
    print("served %d requests" % i)


if __name__ == "__main__":
    main()
