"""Control (must NOT be flagged): reference cycles that the collector frees.

Each request builds a small parent/child tree with back-pointers (cycles),
exactly like ``leak_cycles_gc_disabled`` but with the collector left on at its
default thresholds: the cycles are freed by the automatic collections.
"""
import time

# Names from a fixed set: each request makes no new strings, only the cycles
# (untracked objects kept by garbage cycles are tested in unit/test_gc.py).
REPLY_NAMES = tuple("reply-%d" % k for k in range(6))
CHILD_NAMES = tuple("reply-%d-1" % k for k in range(6))


class TreeNode:
    def __init__(self, name, parent=None):
        self.name = name
        self.parent = parent
        self.children = []
        if parent is not None:
            parent.children.append(self)


def tick(i):
    """One request: build a comment thread, count its replies."""
    root = TreeNode("post")
    for k in range(6):
        reply = TreeNode(REPLY_NAMES[k], root)
        TreeNode(CHILD_NAMES[k], reply)
    return sum(len(child.children) for child in root.children)


if __name__ == "__main__":
    i = 0
    while True:
        tick(i)
        i += 1
        time.sleep(0.01)
