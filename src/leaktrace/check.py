"""Leak checks for tests and notebooks: run code repeatedly, decide from the
per-run growth whether it leaks.

The measurement and the decision are C (``leaktrace._core.RepeatCheck`` and
``src/core/repeatcheck.c``); the findings (holder path, allocation site,
category, hint) come from the same pipeline as ``leaktrace run``. This
module is glue: it runs the code, takes the checkpoints and shapes the
result.

    >>> import leaktrace
    >>> CACHE = []
    >>> def handle(i=[0]):
    ...     i[0] += 1
    ...     CACHE.append(object())
    >>> v = leaktrace.check(handle, warmup=1, repeat=5)
    >>> bool(v)                      # False: it leaks
    False
    >>> v.findings[0].type, v.findings[0].count_per_run
    ('object', [1, 1, 1, 1, 1])

Method: the code runs ``warmup`` times, then ``repeat`` times with a
checkpoint before the first measured run and after each (garbage
collected, the type cache and ``re``'s cache cleared first). A series (a
type's count or bytes, the live bytes of an allocation site, open
descriptors, threads, asyncio tasks) leaks when it grows in most runs
(``repeat - repeat // 4`` of them: 4 of 5) and its median growth per run is
above the allowance (``max_objects``, ``max_bytes``; 0 by default; a
run's bytes change of at most 256 B with no new object is resizing noise). A cache
that fills once, a buffer reused, a container that resizes now and then do
not grow in most runs.
"""
from __future__ import annotations

import functools
import sys
import warnings
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

__all__ = [
    "Finding",
    "Verdict",
    "LeakError",
    "LeakWarning",
    "check",
    "watch",
    "assert_no_leaks",
    "LeakCheckMixin",
]

# A type's bytes changing by at most this much in a run, its count
# unchanged, is no change: a container that over-allocates grows in steps of
# a few dozen pointers now and then (a list of 100 items by 96-160 bytes),
# which is resizing, not a leak. Growth by new objects is judged by count.
NOISE_BYTES = 256

# Holder-path elements that belong to the harness, not to the code under
# test: a pytest fixture's value (through the test item, or the fixture's
# cached result), freed at teardown. (Paths through leaktrace's own modules
# are dropped by the findings pipeline itself.)
_HARNESS = (".funcargs", ".cached_result")


class LeakError(AssertionError):
    """Raised when a checked piece of code leaks; ``.verdict`` has the details."""

    def __init__(self, verdict: "Verdict") -> None:
        super().__init__(verdict.summary())
        self.verdict = verdict


class LeakWarning(UserWarning):
    """Warned by ``@leaktrace.watch`` (on_leak="warn") when the calls leak."""


class Finding:
    """One thing that grows: what, how much per run, where, held by whom, how to fix.

    ``type`` ("billing.Invoice", "fd", "threading.Thread"), ``what``
    ("objects", "memory", "resource"), ``category`` (report-schema
    categories), ``count_per_run`` / ``bytes_per_run`` (the growth of each
    measured run), ``site`` (``{"file", "line", "function"}`` or None),
    ``traceback``, ``holder_path`` (root first), ``hint``, ``confidence``.
    """

    __slots__ = ("type", "what", "category", "count_per_run", "bytes_per_run", "site", "traceback",
                 "holder_path", "hint", "confidence")

    def __init__(self, leak: Dict[str, Any], row: Optional[Dict[str, Any]]) -> None:
        self.type: str = leak["type"]
        self.what: str = leak["what"]
        self.category: str = leak["category"]
        self.count_per_run: Optional[List[int]] = row["count"] if row else None
        self.bytes_per_run: Optional[List[int]] = row["bytes"] if row else None
        self.site: Optional[Dict[str, Any]] = leak.get("alloc_site")
        self.traceback: List[Dict[str, Any]] = leak.get("traceback") or []
        self.holder_path: List[str] = leak.get("holder_path") or []
        self.hint: str = leak.get("hint") or ""
        self.confidence: float = leak.get("confidence") or 0.0

    def as_dict(self) -> Dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    def lines(self, index: int) -> List[str]:
        """The finding in at most five lines of text."""
        out = ["#%d %s  %s, %s, confidence %.2f" % (index, self.type, self.what, self.category, self.confidence)]
        out.append("   per run  %s" % _per_run(self.count_per_run, self.bytes_per_run))
        if self.site:
            out.append("   site     %s:%s in %s" % (self.site["file"], self.site["line"], self.site["function"]))
        if self.holder_path:
            out.append("   held by  %s" % " \u2192 ".join(self.holder_path))
        if self.hint:
            out.append("   hint     %s" % self.hint)
        return out

    def __repr__(self) -> str:
        return "Finding(%r, %s, per run %s)" % (self.type, self.category,
                                                 _per_run(self.count_per_run, self.bytes_per_run))


def _signed(values: Optional[Sequence[int]]) -> str:
    return " ".join("%+d" % v for v in values or ())


def _per_run(count: Optional[Sequence[int]], nbytes: Optional[Sequence[int]]) -> str:
    parts = []
    if count:
        parts.append("objects %s" % _signed(count))
    if nbytes and any(nbytes):
        parts.append("bytes %s" % _signed(nbytes))
    return "; ".join(parts) if parts else "(no per-run series)"


class Verdict:
    """The result of a check: ``verdict`` ("leak", "no-leak" or "inconclusive"),
    ``findings`` (most significant first), ``growth`` (every series that grew in
    some run, per-run deltas, leaking first), ``warmup``, ``runs``, ``report``
    (the JSON report as a dict, schema leaktrace/report-1, or None) and
    ``text`` (the full text report).

    ``bool(verdict)`` is True when the code does NOT leak, so that
    ``assert leaktrace.check(f)`` reads as "f passes the leak check".
    ``summary()`` is the short failure message (at most ~20 lines).
    """

    def __init__(self, verdict: str, findings: List[Finding], growth: List[Dict[str, Any]], warmup: int,
                 runs: int, report: Optional[Dict[str, Any]], text: str, html: Optional[str] = None,
                 name: str = "") -> None:
        self.verdict = verdict
        self.findings = findings
        self.growth = growth
        self.warmup = warmup
        self.runs = runs
        self.report = report
        self.text = text
        self.html = html
        self.name = name

    @property
    def leaking(self) -> bool:
        return self.verdict == "leak"

    def __bool__(self) -> bool:
        return self.verdict != "leak"

    def extra_growth(self) -> List[Dict[str, Any]]:
        """Leaking descriptor, thread and task series (shown with the findings)."""
        return [g for g in self.growth if g["leaking"] and g["kind"] in ("fds", "threads", "tasks")]

    def summary(self, max_findings: int = 3) -> str:
        """At most ~20 lines: the verdict, what grew per run, site, holder, hint."""
        head = "leaktrace: %s%s after %d warm-up and %d measured runs" % (
            "LEAK" if self.leaking else self.verdict, " in " + self.name if self.name else "",
            self.warmup, self.runs)
        lines = [head]
        for g in self.extra_growth():
            lines.append("   %-8s %s per run" % (g["kind"], _signed(g["count"])))
        for i, f in enumerate(self.findings[:max_findings], 1):
            lines.extend(f.lines(i))
        if len(self.findings) > max_findings:
            lines.append("   (%d more findings in the JSON report)" % (len(self.findings) - max_findings))
        return "\n".join(lines[:20])

    def as_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "verdict": self.verdict, "warmup": self.warmup, "runs": self.runs,
                "findings": [f.as_dict() for f in self.findings], "growth": self.growth, "report": self.report}

    def __repr__(self) -> str:
        return "<leaktrace.Verdict %s: %d findings over %d runs>" % (self.verdict, len(self.findings), self.runs)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        """A compact table for notebooks (the full HTML report is ``.html``)."""
        from leaktrace.notebook import verdict_html
        return verdict_html(self)


def clear_caches() -> None:
    """Clears the interpreter caches that may be cleared at any time without
    changing what a program does: the method cache (``sys._clear_type_cache``)
    and the compiled-pattern cache of ``re`` (``re.purge``)."""
    sys._clear_type_cache()
    re = sys.modules.get("re")  # a program that never imported re has no cache to clear
    if re is not None:
        re.purge()


def _row_for(leak: Dict[str, Any], growth: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    kind = {"fd": "fds"}.get(leak["type"])
    for g in growth:
        if kind is not None and g["kind"] == kind:
            return g
        if g["kind"] == "type" and g["name"] == leak["type"]:
            return g
    if leak["category"] == "thread":
        for g in growth:
            if g["kind"] == "threads":
                return g
    return None


class _Measure:
    """One repeated check: a RepeatCheck plus, while measuring, a Tracker in
    trace mode (for the allocation sites) unless another one is running."""

    def __init__(self, repeat: int, *, max_bytes: float = 0, max_objects: float = 0, fds: bool = True,
                 threads: bool = True, tasks: bool = True, ignore: Iterable[str] = (), sites: bool = True,
                 min_runs: int = 0, ours: Iterable[str] = (), noise_bytes: float = NOISE_BYTES) -> None:
        from leaktrace import _core

        self._core = _core
        self.rc = _core.RepeatCheck(repeat=repeat, min_runs=min_runs, max_bytes=float(max_bytes),
                                    noise_bytes=float(noise_bytes),
                                    max_objects=float(max_objects), fds=fds, threads=threads, tasks=tasks,
                                    sites=sites, ignore=tuple(ignore), ours=tuple(ours) + _HARNESS)
        self.tracker = None
        if sites:
            tracker = _core.Tracker(mode="trace")
            try:
                tracker.start()
            except RuntimeError:
                pass            # another Tracker runs (leaktrace run): no sites of our own
            else:
                self.tracker = tracker

    def checkpoint(self) -> None:
        clear_caches()
        self.rc.checkpoint()

    def verdict(self, *, warmup: int, name: str = "", html: bool = False,
                argv: Optional[List[str]] = None) -> Verdict:
        try:
            runs = self.rc.runs
            if runs < 1:
                return Verdict("inconclusive", [], [], warmup, runs, None, "no measured run", name=name)
            growth = self.rc.decide()
            formats: Tuple[str, ...] = ("json", "text", "html") if html else ("json", "text")
            out = self.rc.report(argv=argv or [], formats=formats)
        finally:
            self.stop()
        import json  # imported when first used: `import leaktrace` stays cheap (production start-up)

        report = json.loads(out["json"])
        findings = [Finding(leak, _row_for(leak, growth)) for leak in report["leaks"]]
        verdict = report["verdict"]
        if verdict == "leak" and runs < 2:
            verdict = "inconclusive"    # one run shows growth, not sustained growth
        return Verdict(verdict, findings, growth, warmup, runs, report, out["text"], out.get("html"), name=name)

    def stop(self) -> None:
        if self.tracker is not None:
            self.tracker.stop()
            self.tracker = None


def _runner(func: Callable[..., Any], args: Sequence[Any], kwargs: Dict[str, Any]) -> Tuple[Callable[[], Any], Callable[[], None]]:
    """A no-argument callable running func once (coroutine functions in one
    event loop kept for all runs), and a closer."""
    import inspect

    if inspect.iscoroutinefunction(func):
        import asyncio

        loop = asyncio.new_event_loop()
        return (lambda: loop.run_until_complete(func(*args, **kwargs))), loop.close
    return (lambda: func(*args, **kwargs)), (lambda: None)


def check(func: Callable[..., Any], *args: Any, warmup: int = 2, repeat: int = 5, max_bytes: float = 0,
          max_objects: float = 0, fds: bool = True, threads: bool = True, tasks: bool = True,
          ignore: Iterable[str] = (), sites: bool = True, min_runs: int = 0, html: bool = False,
          **kwargs: Any) -> Verdict:
    """Runs ``func(*args, **kwargs)`` ``warmup`` times, then ``repeat`` times
    measured, and returns the :class:`Verdict`. Coroutine functions run in one
    event loop of their own.

    ``max_objects`` / ``max_bytes``: growth per run allowed (median over the
    runs). ``fds``, ``threads``, ``tasks``: also judge open descriptors, OS
    threads and live asyncio tasks. ``ignore``: type names (or ``"prefix*"``)
    not to judge. ``sites``: track allocation sites during the measured runs
    (trace mode, about 1.5x slower). ``html``: also render the HTML report
    (``Verdict.html``).

        >>> import leaktrace
        >>> v = leaktrace.check(lambda: [0] * 1000)      # a large temporary
        >>> v.verdict
        'no-leak'
    """
    if warmup < 0 or repeat < 2:
        raise ValueError("warmup must be 0 or more and repeat 2 or more")
    run, close = _runner(func, args, kwargs)
    try:
        return _measure(run, warmup=warmup, repeat=repeat, max_bytes=max_bytes, max_objects=max_objects,
                        fds=fds, threads=threads, tasks=tasks, ignore=ignore, sites=sites, min_runs=min_runs,
                        html=html, name=getattr(func, "__qualname__", ""))
    finally:
        close()


def _measure(run: Callable[[], Any], *, warmup: int, repeat: int, name: str = "", html: bool = False,
             ours: Iterable[str] = (), **opts: Any) -> Verdict:
    for _ in range(warmup):
        run()
    m = _Measure(repeat, ours=ours, **opts)
    try:
        m.checkpoint()
        for _ in range(repeat):
            run()
            m.checkpoint()
    except BaseException:
        m.stop()
        raise
    return m.verdict(warmup=warmup, name=name, html=html)


def assert_no_leaks(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Verdict:
    """``check(func, *args, **kwargs)``, raising :class:`LeakError` (an
    AssertionError) with the short summary when it leaks."""
    v = check(func, *args, **kwargs)
    if v.leaking:
        raise LeakError(v)
    return v


class LeakCheckMixin:
    """For unittest.TestCase: ``self.assertNoLeaks(func, *args, warmup=2, repeat=5, ...)``.

        class TestCache(leaktrace.LeakCheckMixin, unittest.TestCase):
            def test_lookup(self):
                self.assertNoLeaks(cache.lookup, "key")
    """

    def assertNoLeaks(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Verdict:
        v = check(func, *args, **kwargs)
        if v.leaking:
            raise self.failureException(v.summary())  # type: ignore[attr-defined]
        return v


class watch:
    """Measures growth across runs you mark, as a context manager or a decorator.

    Context manager: a checkpoint at entry, one per ``w.checkpoint()`` (call
    it after each iteration of the work inside), one at exit; then
    ``w.verdict`` and ``w.report()`` (the JSON report, the same findings
    shape as ``leaktrace run --json``)::

        with leaktrace.watch() as w:
            for request in requests:
                handle(request)
                w.checkpoint()
        print(w.report()["verdict"])

    A block without ``w.checkpoint()`` is one run: growth in it is reported,
    but the verdict is "inconclusive" (one run cannot show sustained growth).

    Decorator: the first ``warmup`` calls are warm-up, the next ``repeat``
    are measured; then the verdict is made, and on a leak ``on_leak`` says
    what happens: "warn" (a LeakWarning), "raise" (LeakError from the call
    that completed the measurement) or None. ``f.leaktrace`` is the watch::

        @leaktrace.watch(warmup=2, repeat=5, on_leak="raise")
        def handle(request): ...
    """

    def __init__(self, *, warmup: int = 2, repeat: int = 5, max_bytes: float = 0, max_objects: float = 0,
                 fds: bool = True, threads: bool = True, tasks: bool = True, ignore: Iterable[str] = (),
                 sites: bool = True, on_leak: Optional[str] = "warn", max_runs: int = 1000) -> None:
        if on_leak not in ("warn", "raise", None):
            raise ValueError("on_leak must be 'warn', 'raise' or None")
        self.warmup, self.repeat, self.on_leak = warmup, repeat, on_leak
        self._opts = dict(max_bytes=max_bytes, max_objects=max_objects, fds=fds, threads=threads, tasks=tasks,
                          ignore=tuple(ignore), sites=sites)
        self._max_runs = max_runs
        self._m: Optional[_Measure] = None
        self._calls = 0
        self.verdict: Optional[Verdict] = None

    # -- context manager --
    def __enter__(self) -> "watch":
        self.verdict = None
        self._m = _Measure(self._max_runs, **self._opts)
        self._m.checkpoint()
        return self

    def checkpoint(self) -> None:
        """Marks the end of one run inside the with-block."""
        if self._m is None:
            raise RuntimeError("checkpoint() is for the inside of `with leaktrace.watch() as w:`")
        self._m.checkpoint()

    def __exit__(self, *exc: object) -> bool:
        m, self._m = self._m, None
        if m is None:
            return False
        if exc[0] is not None:
            m.stop()
            return False
        m.checkpoint()
        self.verdict = m.verdict(warmup=0)
        return False

    def report(self) -> Dict[str, Any]:
        """The JSON report (schema leaktrace/report-1) of the last verdict, as a dict."""
        if self.verdict is None or self.verdict.report is None:
            raise RuntimeError("no verdict yet: the with-block has not ended, or the decorated function "
                               "has not completed its warm-up and measured calls")
        return self.verdict.report

    # -- decorator --
    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self._calls += 1
            measured = self._calls - self.warmup
            if measured <= 0 or self.verdict is not None:
                return func(*args, **kwargs)
            if measured == 1:
                self._m = _Measure(self.repeat, **self._opts)
                self._m.checkpoint()
            try:
                result = func(*args, **kwargs)
            except BaseException:
                if self._m is not None:
                    self._m.stop()
                    self._m = None
                self.verdict = Verdict("inconclusive", [], [], self.warmup, measured - 1, None,
                                       "a measured call raised", name=func.__qualname__)
                raise
            m = self._m
            assert m is not None
            m.checkpoint()
            if measured == self.repeat:
                self._m = None
                self.verdict = m.verdict(warmup=self.warmup, name=func.__qualname__)
                if self.verdict.leaking:
                    if self.on_leak == "raise":
                        raise LeakError(self.verdict)
                    if self.on_leak == "warn":
                        warnings.warn(self.verdict.summary(), LeakWarning, stacklevel=2)
            return result

        wrapper.leaktrace = self  # type: ignore[attr-defined]
        return wrapper
