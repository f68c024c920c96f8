"""Declined payments kept as exception objects for a retry report (scenario 11).

What leaks: one ``PaymentDeclined`` per failed charge, and through its
``__traceback__`` the frames of ``charge()`` and ``process_payment()`` with
their locals, among them the ``ChargeRequest`` and its card data.
Holder: the module global list ``FAILED_CHARGES``; the path runs
``[i] -> __traceback__ -> frame ... local 'request'``.
Usual fix: store what the report needs (id, reason), not the exception; or
``traceback.clear_frames(exc.__traceback__)`` / ``exc.with_traceback(None)``.
"""
import time

FAILED_CHARGES = []


class PaymentDeclined(Exception):
    pass


class ChargeRequest:
    def __init__(self, order_id, amount_cents, card_token):
        self.order_id = order_id
        self.amount_cents = amount_cents
        self.card_token = card_token
        self.raw = ("order=%s;amount=%d;" % (order_id, amount_cents)).encode() * 16


def charge(request):
    if request.amount_cents % 3 != 1:
        raise PaymentDeclined("card %s declined for %s" % (request.card_token[-4:], request.order_id))  # LEAK-SITE(PaymentDeclined)
    return "ok"


def process_payment(order_id, amount_cents):
    request = ChargeRequest(order_id, amount_cents, "tok_%016d" % amount_cents)  # LEAK-SITE(ChargeRequest)
    try:
        return charge(request)
    except PaymentDeclined as exc:
        FAILED_CHARGES.append(exc)
        return "declined"


def tick(i):
    """One request: charge an order (two out of three are declined)."""
    return process_payment("order-%d" % i, 1000 + i)


if __name__ == "__main__":
    i = 0
    while True:
        tick(i)
        i += 1
        time.sleep(0.01)
