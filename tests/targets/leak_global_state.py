"""Discount engine with a mutable default argument (scenario 15, global state in a loop).

What leaks: one ``DiscountLine`` per request. ``apply_discounts(cart,
applied=[])`` was meant to start from an empty list on every call, but a
default value is created once, so it is global state that every request
appends to.
Holder: the function's defaults: ``apply_discounts.__defaults__[0]``, reached
from the module global ``apply_discounts``.
Usual fix: ``applied=None`` and ``applied = [] if applied is None else applied``;
keep per-request state local.
"""
import time


class DiscountLine:
    __slots__ = ("code", "cart_id", "amount")

    def __init__(self, code, cart_id, amount):
        self.code = code
        self.cart_id = cart_id
        self.amount = amount


def apply_discounts(cart, applied=[]):
    if cart["total"] > 50:
        applied.append(DiscountLine("SPEND50", cart["id"], 5.0))  # LEAK-SITE
    if cart["items"] >= 3:
        applied.append(DiscountLine("BUNDLE3", cart["id"], 2.5))  # LEAK-SITE
    return cart["total"] - sum(line.amount for line in applied if line.cart_id == cart["id"])


def tick(i):
    """One checkout: price a cart."""
    return apply_discounts({"id": "cart-%d" % i, "total": 40.0 + i % 60, "items": 1 + i % 5})


if __name__ == "__main__":
    i = 0
    while True:
        tick(i)
        i += 1
        time.sleep(0.01)
