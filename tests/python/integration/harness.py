"""Runs one target program of tests/targets under leaktrace and prints JSON lines.

Usage: python harness.py TARGET_DIR MODULE [--warmup N] [--rounds N] [--ticks N]
                         [--sample TYPE_NAME] [--watch TYPE_NAME ...] [--graph]

The target is imported as a module (so its globals are real module globals),
its tick(i) is called --warmup times, then a Checkpoint is taken and --rounds
rounds of --ticks calls follow, each ended by a census. One JSON object per
line is printed:

  {"kind": "start", ...}   at the checkpoint: process facts, gc state, watched counts
  {"kind": "round", ...}   per round: census diff against the previous round
                           (every changed type), watched counts, cyclic_garbage(),
                           process_facts(), gc_state()
  {"kind": "final", ...}   new_objects(sample) since the checkpoint, holder_paths of
                           that sample and of the type name, holder_graph (with
                           --graph), watched counts after census(collect=True)

Each record is serialised and dropped as soon as it is measured, and only the
previous Census is kept, so the harness itself adds nothing that grows from
round to round (a control target must look flat). When holder paths are
searched no frame of the harness holds the target module or an instance
(holder_paths by type name runs before the new_objects sample exists): a
harness local would be a shorter path than the program's own holder. Errors
of an API that is not
there yet (holder_paths) are reported as {"error": "..."} in the record rather
than aborting, so the other assertions still run. The process ends with
os._exit: leaking targets leave non-daemon threads behind.
"""
import argparse
import importlib
import json
import os
import sys
import traceback


def emit(record):
    sys.stdout.write(json.dumps(record, sort_keys=True) + "\n")
    sys.stdout.flush()


def type_name(tp):
    """The census's name for a type: module.QualName, builtins bare."""
    if tp.__module__ == "builtins":
        return tp.__qualname__
    return "%s.%s" % (tp.__module__, tp.__qualname__)


def describe_error(exc):
    return {"error": "%s: %s" % (type(exc).__name__, exc)}


def parse_args(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("target_dir")
    parser.add_argument("module")
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ticks", type=int, default=30)
    parser.add_argument("--sample", default=None, help="qualified type name for new_objects/holder_paths")
    parser.add_argument("--watch", action="append", default=[], help="qualified type names to report counts of")
    parser.add_argument("--graph", action="store_true", help="also run holder_graph on the sample")
    return parser.parse_args(argv)


def observe(args, watch):
    """Warm-up, checkpoint, rounds. Returns (checkpoint, ticks run); the target
    module is referenced from here only while this frame runs."""
    import leaktrace

    sys.path.insert(0, os.path.abspath(args.target_dir))
    target = importlib.import_module(args.module)
    i = 0
    for _ in range(args.warmup):
        target.tick(i)
        i += 1

    checkpoint = leaktrace.Checkpoint()
    prev = checkpoint.census
    emit({
        "kind": "start",
        "facts": leaktrace.process_facts(),
        "gc_state": leaktrace.gc_state(),
        "watch": {name: list(prev.get(name)) for name in watch},
        "cyclic": {name: list(v) for name, v in leaktrace.cyclic_garbage().items()},
        "total_count": prev.total_count,
    })
    for r in range(args.rounds):
        for _ in range(args.ticks):
            target.tick(i)
            i += 1
        now = leaktrace.census()
        emit({
            "kind": "round",
            "round": r,
            "diff": [list(d) for d in now.diff(prev)],
            "watch": {name: list(now.get(name)) for name in watch},
            "cyclic": {name: list(v) for name, v in leaktrace.cyclic_garbage().items()},
            "facts": leaktrace.process_facts(),
            "gc_state": leaktrace.gc_state(),
        })
        prev = now
        del now
    return checkpoint, i


def report(args, watch, checkpoint, ticks_run):
    """The final record. Holder paths by type name are asked first, while no
    local of this frame holds an instance (a harness local would be a shorter
    path than the program's real holder); then the new_objects sample."""
    import leaktrace

    final = {"kind": "final", "ticks_run": ticks_run}
    if args.sample:
        try:
            from leaktrace import holder_paths
        except Exception as exc:
            holder_paths = None
            final["holder_paths"] = final["holder_paths_by_name"] = describe_error(exc)
        if holder_paths is not None:
            try:
                final["holder_paths_by_name"] = holder_paths(args.sample, max_paths=8)
            except Exception:
                final["holder_paths_by_name"] = {"error": traceback.format_exc()}
        try:
            sample = leaktrace.new_objects(args.sample, since=checkpoint, limit=8)
            final["new_objects"] = [type_name(type(o)) for o in sample]
        except Exception as exc:    # reported, asserted on by the test
            sample = []
            final["new_objects"] = describe_error(exc)
        if holder_paths is not None:
            try:
                final["holder_paths"] = holder_paths(sample, max_paths=8)
            except Exception:
                final["holder_paths"] = {"error": traceback.format_exc()}
        if args.graph:
            try:
                from leaktrace import holder_graph

                final["holder_graph"] = holder_graph(sample, max_paths=4)
            except Exception as exc:
                final["holder_graph"] = describe_error(exc)
        del sample
    collected = leaktrace.census(collect=True)
    final["watch_after_collect"] = {name: list(collected.get(name)) for name in watch}
    final["gc_state"] = leaktrace.gc_state()
    emit(final)


def main(argv=None):
    args = parse_args(argv)
    watch = list(args.watch)
    if args.sample and args.sample not in watch:
        watch.append(args.sample)
    checkpoint, ticks_run = observe(args, watch)
    report(args, watch, checkpoint, ticks_run)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
