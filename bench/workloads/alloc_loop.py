"""Workload: allocation-heavy loops. Small objects of every common kind
(class instances, dicts, lists, tuples, str, bytes, bytearray) made and
dropped at a high rate, a sliding window of them kept alive, and a few
buffers that grow by reallocation. Nearly all time is spent allocating and
freeing, so this is the worst case for an allocation hook.

    python alloc_loop.py          (LT_BENCH_SCALE=0.2 for a quick run)
"""
import collections
import os

SCALE = float(os.environ.get("LT_BENCH_SCALE", "1"))
ROUNDS = int(60 * SCALE)
PER_ROUND = 10_000


class Item:
    __slots__ = ("key", "tags", "meta")

    def __init__(self, key, tags, meta):
        self.key = key
        self.tags = tags
        self.meta = meta


class Node:
    def __init__(self, name, value):
        self.name = name
        self.value = value
        self.children = []


def make_items(r):
    out = []
    for i in range(PER_ROUND):
        key = "k-%d-%d" % (r, i)
        tags = [key, i, (r, i)]
        meta = {"round": r, "i": i, "even": i % 2 == 0}
        out.append(Item(key, tags, meta))
    return out


def make_tree(r, width=40, depth=3):
    root = Node("root-%d" % r, r)
    level = [root]
    for d in range(depth):
        nxt = []
        for parent in level:
            for j in range(width if d == 0 else 4):
                child = Node("%s/%d" % (parent.name, j), j * d)
                parent.children.append(child)
                nxt.append(child)
        level = nxt
    return root


def grow_buffers(r):
    buf = bytearray()
    parts = []
    for i in range(400):
        buf += b"x" * (16 + i % 64)
        parts.append(str(i) * (1 + i % 8))
    return bytes(buf), "".join(parts)


def main():
    window = collections.deque(maxlen=8)   # about 8 rounds of objects stay alive
    total = 0
    for r in range(ROUNDS):
        items = make_items(r)
        tree = make_tree(r)
        blob, text = grow_buffers(r)
        window.append((items, tree, blob, text))
        total += len(items) + len(tree.children) + len(blob) + len(text)
        # Churn: objects that die at once.
        for i in range(2000):
            t = (i, str(i), [i] * 3)
            total += len(t[2])
    print("alloc_loop", ROUNDS, total)


if __name__ == "__main__":
    main()
