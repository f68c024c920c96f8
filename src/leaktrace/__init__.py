"""leaktrace: find memory leaks in Python programs.

What keeps growing (census), who holds it (holder paths) and, in later
components, where it was allocated. The work is done in C (leaktrace._core);
this package only re-exports it.
"""
import sys as _sys

if not ((3, 9) <= _sys.version_info[:2] <= (3, 13)):
    raise ImportError(
        "leaktrace supports CPython 3.9 to 3.13, not %d.%d" % _sys.version_info[:2]
    )

from leaktrace._core import (  # noqa: E402
    AllocSnapshot,
    Census,
    Checkpoint,
    SiteDelta,
    SiteStat,
    Tracker,
    TypeDelta,
    __version__,
    census,
    cyclic_garbage,
    gc_state,
    holder_graph,
    holder_paths,
    new_objects,
    open_fds,
    process_facts,
    sizeof,
)

import atexit as _atexit  # noqa: E402

from leaktrace import _core  # noqa: E402
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
from leaktrace.notebook import load_ipython_extension, unload_ipython_extension  # noqa: E402,F401
from leaktrace.production import enable  # noqa: E402  (production mode, docs/production.md)

# No allocation hook may record while the interpreter tears itself down.
_atexit.register(_core._stop_tracking)

__all__ = [
    "Finding",
    "LeakCheckMixin",
    "LeakError",
    "LeakWarning",
    "Verdict",
    "assert_no_leaks",
    "check",
    "watch",
    "AllocSnapshot",
    "Census",
    "Checkpoint",
    "SiteDelta",
    "SiteStat",
    "Tracker",
    "TypeDelta",
    "__version__",
    "census",
    "enable",
    "cyclic_garbage",
    "gc_state",
    "holder_graph",
    "holder_paths",
    "new_objects",
    "open_fds",
    "process_facts",
    "sizeof",
]
