"""Control (must NOT be flagged): orders built and freed within each request.

Every request allocates an ``Order`` with its lines and a receipt; all of it is
garbage when the request returns and reference counting frees it at once.
"""
import time


class OrderLine:
    __slots__ = ("sku", "qty", "price")

    def __init__(self, sku, qty, price):
        self.sku = sku
        self.qty = qty
        self.price = price


class Order:
    def __init__(self, order_id, lines):
        self.order_id = order_id
        self.lines = lines

    def receipt(self):
        return "\n".join("%s x%d %.2f" % (l.sku, l.qty, l.qty * l.price) for l in self.lines)


def tick(i):
    """One request: price an order and return its receipt."""
    order = Order("ord-%d" % i, [OrderLine("SKU-%d" % k, 1 + k % 4, 3.5 + k) for k in range(20)])
    return len(order.receipt())


if __name__ == "__main__":
    i = 0
    while True:
        tick(i)
        i += 1
        time.sleep(0.01)
