"""Control (must NOT be flagged): a bounded ``functools.lru_cache`` on unbounded keys.

Every request geocodes new addresses, but the cache keeps at most 128 results;
once it is full (during the warm-up) each miss evicts the oldest entry.
This is the fix of scenarios 2 and 3 applied; it must look flat.
"""
import functools
import time


class GeoPoint:
    __slots__ = ("lat", "lon", "address")

    def __init__(self, lat, lon, address):
        self.lat = lat
        self.lon = lon
        self.address = address


@functools.lru_cache(maxsize=128)
def geocode(address):
    h = sum(address.encode())
    return GeoPoint(h % 180 - 90.0, h % 360 - 180.0, address)


def tick(i):
    """One request: geocode the five stops of a delivery route."""
    return [geocode("%d Main Street, Springfield %05d" % (i * 5 + k, i % 999)).lat for k in range(5)]


if __name__ == "__main__":
    i = 0
    while True:
        tick(i)
        i += 1
        time.sleep(0.01)
