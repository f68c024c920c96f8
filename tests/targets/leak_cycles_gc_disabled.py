"""Catalogue service that turned the cyclic collector off (scenario 1, gc disabled).

What leaks: every ``CatalogNode`` tree built for a breadcrumb. Each child keeps
a back-pointer to its parent and the parent lists its children, so each tree
is a reference cycle; reference counting cannot free it and ``gc.disable()``
(done at import "for latency") means the collector never will.
Holder: nothing. The trees are cyclic garbage, which ``cyclic_garbage()``
reports and ``gc_state()`` explains (``enabled: False``).
Usual fix: keep the back-pointer as ``weakref.ref(parent)``, or leave the
collector on (``gc.freeze()`` after start-up is the latency-friendly variant).
"""
import gc
import time

gc.disable()


class CatalogNode:
    def __init__(self, slug, parent=None):
        self.slug = slug
        self.parent = parent
        self.children = []
        if parent is not None:
            parent.children.append(self)

    def breadcrumb(self):
        node, parts = self, []
        while node is not None:
            parts.append(node.slug)
            node = node.parent
        return " / ".join(reversed(parts))


def tick(i):
    """One request: build the category tree of a product page, render the breadcrumb."""
    root = CatalogNode("catalog")  # LEAK-SITE
    dept = CatalogNode("dept-%d" % (i % 12), root)  # LEAK-SITE
    shelf = CatalogNode("shelf-%d" % (i % 50), dept)  # LEAK-SITE
    product = CatalogNode("product-%d" % i, shelf)  # LEAK-SITE
    CatalogNode("reviews", product)  # LEAK-SITE
    return product.breadcrumb()


if __name__ == "__main__":
    i = 0
    while True:
        tick(i)
        i += 1
        time.sleep(0.01)
