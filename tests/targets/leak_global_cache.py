"""Billing service whose invoice cache never forgets (scenario 2).

What leaks: one ``Invoice`` (with its line items) per request.
Holder: the module global ``INVOICE_CACHE``, a plain dict keyed by invoice id;
invoice ids only ever increase, so every request adds an entry.
Usual fix: bound the cache (``functools.lru_cache(maxsize=...)``, a TTL cache)
or drop the entry once the invoice is paid.
"""
import time

INVOICE_CACHE = {}


class LineItem:
    __slots__ = ("sku", "quantity", "unit_price")

    def __init__(self, sku, quantity, unit_price):
        self.sku = sku
        self.quantity = quantity
        self.unit_price = unit_price


class Invoice:
    def __init__(self, invoice_id, customer, items):
        self.invoice_id = invoice_id
        self.customer = customer
        self.items = items
        self.currency = "EUR"

    def total(self):
        return sum(item.quantity * item.unit_price for item in self.items)


def _load_invoice_from_db(invoice_id):
    n = int(invoice_id.split("-")[1])
    items = [LineItem("SKU-%05d" % (n * 7 + k), 1 + k % 3, 9.99 + k) for k in range(4)]
    return Invoice(invoice_id, "customer-%d" % (n % 250), items)  # LEAK-SITE


def get_invoice(invoice_id):
    invoice = INVOICE_CACHE.get(invoice_id)
    if invoice is None:
        invoice = INVOICE_CACHE[invoice_id] = _load_invoice_from_db(invoice_id)
    return invoice


def tick(i):
    """One request: render the total of a freshly issued invoice."""
    invoice = get_invoice("inv-%d" % (1000 + i))
    return "%s %.2f %s" % (invoice.invoice_id, invoice.total(), invoice.currency)


if __name__ == "__main__":
    i = 0
    while True:
        tick(i)
        i += 1
        time.sleep(0.01)
