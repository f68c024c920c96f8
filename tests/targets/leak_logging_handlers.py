"""A logging handler added per request and never removed (scenario 8, logging).

What leaks: one ``RequestContextHandler`` per request (and every record
formatting it does afterwards: each log call now runs all of them).
Holder: ``logging.getLogger("payments").handlers``, reached from the module
global ``log`` or from the logging manager's ``loggerDict``.
Usual fix: configure handlers once at start-up; pass per-request context with
a ``logging.Filter``/``LoggerAdapter``, or ``removeHandler`` in ``finally``.
"""
import logging
import time

log = logging.getLogger("payments")
log.setLevel(logging.INFO)
log.propagate = False


class RequestContextHandler(logging.Handler):
    def __init__(self, request_id):
        super().__init__(level=logging.INFO)
        self.request_id = request_id
        self.emitted = 0

    def emit(self, record):
        self.emitted += 1


def tick(i):
    """One request: attach the request id to log output, log the payment."""
    log.addHandler(RequestContextHandler("req-%d" % i))  # LEAK-SITE
    log.info("payment %d captured", i)


if __name__ == "__main__":
    i = 0
    while True:
        tick(i)
        i += 1
        time.sleep(0.01)
