"""Sensor pipeline that keeps every processed batch (scenario 7, seed 002).

What leaks: each batch of 200 ``Reading`` objects after it has been averaged.
Holder: the class attribute ``DataProcessor.cache``: a list defined once in the
class body, so every instance appends to the same list and ``clear_cache()``,
which rebinds ``self.cache``, never empties it.
Usual fix: make the cache per instance, ``del``/``clear()`` the batch after use,
or stream readings through a generator instead of materialising lists.
"""
import time


class Reading:
    __slots__ = ("sensor", "ts", "value")

    def __init__(self, sensor, ts, value):
        self.sensor = sensor
        self.ts = ts
        self.value = value


class DataProcessor:
    cache = []          # shared by every instance: the leak

    def load_data(self, batch):
        self.cache.append(batch)

    def process_data(self):
        batch = self.cache[-1]
        return sum(r.value for r in batch) / len(batch)

    def clear_cache(self):
        self.cache = []  # rebinds on the instance; the class list keeps growing


def tick(i):
    """One request: average a batch of readings from the sensor gateway."""
    processor = DataProcessor()
    processor.load_data([Reading("s-%d" % (k % 8), i * 1000 + k, (i + k) % 97 * 0.5) for k in range(200)])  # LEAK-SITE
    mean = processor.process_data()
    processor.clear_cache()
    return mean


if __name__ == "__main__":
    i = 0
    while True:
        tick(i)
        i += 1
        time.sleep(0.01)
