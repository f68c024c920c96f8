"""`leaktrace demo`: watch the bundled billing service and say what leaks.

Glue only: the census, the diffs, the sample of new objects and the holder
paths are computed by leaktrace._core.
"""
import sys

import leaktrace
from leaktrace import demo_service

REQUESTS_PER_ROUND = 200


def _serve(start, count):
    for i in range(start, start + count):
        demo_service.handle_request(i)


def main(rounds=5, out=None):
    out = out or sys.stdout
    if rounds < 2:
        print("leaktrace demo: --rounds must be at least 2", file=sys.stderr)
        return 2
    _serve(0, REQUESTS_PER_ROUND)  # warm-up: the service's caches fill here
    start = leaktrace.Checkpoint(collect=True)
    previous = start.census
    sustained = None  # types that grew in every round, not just overall
    for r in range(1, rounds + 1):
        _serve(r * REQUESTS_PER_ROUND, REQUESTS_PER_ROUND)
        now = leaktrace.census(collect=True)
        grown = {d.type for d in now.diff(previous) if d.count_delta > 0}
        sustained = grown if sustained is None else sustained & grown
        previous = now

    growing = [d for d in now.diff(start) if d.type in sustained]
    print("leaktrace demo: %d rounds of %d requests to %s" % (rounds, REQUESTS_PER_ROUND, demo_service.__name__), file=out)
    print("%d live objects, %d bytes; these types grew in every round:" % (now.total_count, now.total_bytes), file=out)
    for d in growing[:12]:
        print("  %-34s %+8d objects %+10d bytes" % (d.type, d.count_delta, d.bytes_delta), file=out)

    print("\nwho holds the new objects (shortest path from a root):", file=out)
    for d in growing[:12]:
        sample = leaktrace.new_objects(d.type, since=start, limit=5)
        paths = leaktrace.holder_paths(sample, max_paths=1)
        if paths:
            print("  %-34s %s" % (d.type, " -> ".join(paths[0])), file=out)
    return 0
