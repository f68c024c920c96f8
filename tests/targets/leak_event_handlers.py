"""Shopping-cart views that subscribe to price changes and never unsubscribe (scenario 8).

What leaks: one ``CartView`` per request, kept by the bound method
``view.on_price_change`` (and a closure over the view) registered with the
event bus; the views are rendered once and dropped by the request, but the bus
still holds them.
Holder: the observer list ``bus._subscribers`` of the module global ``bus``.
Usual fix: unsubscribe when the view is done (a context manager), or register
weak callbacks (``weakref.WeakMethod``).
"""
import time


class EventBus:
    def __init__(self):
        self._subscribers = []

    def subscribe(self, callback):
        self._subscribers.append(callback)

    def unsubscribe(self, callback):
        self._subscribers.remove(callback)

    def publish(self, event, payload):
        for callback in list(self._subscribers[-4:]):
            callback(event, payload)


bus = EventBus()


class CartView:
    def __init__(self, cart_id, items):
        self.cart_id = cart_id
        self.items = items
        self.stale = False
        bus.subscribe(self.on_price_change)
        bus.subscribe(lambda event, payload: self._log(event))

    def on_price_change(self, event, payload):
        if payload["sku"] in self.items:
            self.stale = True

    def _log(self, event):
        return "%s: %s" % (self.cart_id, event)

    def render(self):
        return "<cart %s: %d items>" % (self.cart_id, len(self.items))


def tick(i):
    """One request: render a cart; a price feed event arrives."""
    view = CartView("cart-%d" % i, {"SKU-%d" % (i % 30): 1, "SKU-%d" % (i % 7): 2})  # LEAK-SITE
    html = view.render()
    bus.publish("price_changed", {"sku": "SKU-%d" % (i % 30), "price": 9.99})
    return html


if __name__ == "__main__":
    i = 0
    while True:
        tick(i)
        i += 1
        time.sleep(0.01)
