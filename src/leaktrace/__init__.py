"""leaktrace: find memory leaks in Python programs.

What keeps growing (census), who holds it (holder paths), where it was
allocated (allocation tracking), and leak checks for test suites. The work
is done in C (leaktrace._core); this package re-exports it and the thin
Python glue. Names are loaded on first use, so `import leaktrace` (and the
pytest plugin, and the production-mode start-up hook) costs next to nothing
until something is called.
"""
import sys as _sys

if not ((3, 9) <= _sys.version_info[:2] <= (3, 13)):
    raise ImportError(
        "leaktrace supports CPython 3.9 to 3.13, not %d.%d" % _sys.version_info[:2]
    )

# leaktrace.check is pure Python and loads the C core only when called; it
# is imported here so that `leaktrace.check` is the function, not the module
# of the same name (importing a submodule sets the package attribute).
from leaktrace.check import (  # noqa: E402
    Finding,
    LeakCheckMixin,
    LeakError,
    LeakWarning,
    Verdict,
    assert_no_leaks,
    check,
    watch,
)

# Public name -> the module that defines it, loaded on first use.
_LAZY = {
    **dict.fromkeys((
        "AllocSnapshot", "Census", "Checkpoint", "SiteDelta", "SiteStat", "Tracker", "TypeDelta",
        "__version__", "census", "cyclic_garbage", "gc_state", "holder_graph", "holder_paths",
        "new_objects", "open_fds", "process_facts", "sizeof",
    ), "leaktrace._core"),
    "load_ipython_extension": "leaktrace.notebook",
    "unload_ipython_extension": "leaktrace.notebook",
    "enable": "leaktrace.production",   # production mode, docs/production.md
}

__all__ = sorted(
    ["Finding", "LeakCheckMixin", "LeakError", "LeakWarning", "Verdict", "assert_no_leaks", "check", "watch"]
    + [name for name in _LAZY if not name.endswith("ipython_extension")]
)


def __getattr__(name):
    import importlib

    if name == "_core":
        return importlib.import_module("leaktrace._core")
    where = _LAZY.get(name)
    if where is None:
        raise AttributeError("module 'leaktrace' has no attribute %r" % name)
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
