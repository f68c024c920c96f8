"""IPython / Jupyter magics: ``%load_ext leaktrace``, then

``%%leaktrace [-w WARMUP] [-r REPEAT] [--max-bytes N] [--max-objects N]``
    runs the cell WARMUP times, then REPEAT times measured, and shows the
    verdict (the findings as an HTML table; the text report in a terminal).
    The verdict object is the cell's value (``_`` afterwards).

``%leaktrace_census [N]``
    the N (20) largest types by bytes, with their growth since the previous
    ``%leaktrace_census`` (the census and the diff are C; see leaktrace.census).

IPython is imported only when the extension is loaded.
"""
from __future__ import annotations

import html
from typing import Any, List, Optional

__all__ = ["load_ipython_extension", "unload_ipython_extension", "CensusTable"]


class CensusTable:
    """The rows of ``%leaktrace_census``: (type, count, bytes, count growth, bytes growth)."""

    def __init__(self, rows: List[tuple], first: bool) -> None:
        self.rows = rows
        self.first = first

    def __repr__(self) -> str:
        head = "%-50s %10s %12s %10s %12s" % ("type", "count", "bytes", "+count", "+bytes")
        lines = [head] + ["%-50.50s %10d %12d %+10d %+12d" % r for r in self.rows]
        if self.first:
            lines.append("(first census: growth is counted from here)")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        cells = "".join(
            "<tr><td><code>%s</code></td><td>%d</td><td>%d</td><td>%+d</td><td>%+d</td></tr>"
            % (html.escape(r[0]), r[1], r[2], r[3], r[4]) for r in self.rows)
        note = "<p>first census: growth is counted from here</p>" if self.first else ""
        return ("<table><thead><tr><th>type</th><th>count</th><th>bytes</th><th>+count</th><th>+bytes</th>"
                "</tr></thead><tbody>%s</tbody></table>%s" % (cells, note))


def verdict_html(v: Any) -> str:
    """A compact HTML rendering of a Verdict for notebooks (all text escaped)."""
    e = html.escape
    color = "#b00020" if v.leaking else "#1b5e20"
    out = ['<div class="leaktrace-verdict"><p style="color:%s"><b>%s</b> after %d warm-up and %d measured runs</p>'
           % (color, e("LEAK" if v.leaking else v.verdict), v.warmup, v.runs)]
    if v.findings:
        out.append("<table><thead><tr><th>#</th><th>type</th><th>category</th><th>per run</th><th>site</th>"
                   "<th>held by</th><th>hint</th></tr></thead><tbody>")
        from leaktrace.check import _per_run
        for i, f in enumerate(v.findings, 1):
            site = "%s:%s in %s" % (f.site["file"], f.site["line"], f.site["function"]) if f.site else ""
            out.append("<tr><td>%d</td><td><code>%s</code></td><td>%s</td><td>%s</td><td><code>%s</code></td>"
                       "<td><code>%s</code></td><td>%s</td></tr>"
                       % (i, e(f.type), e(f.category), e(_per_run(f.count_per_run, f.bytes_per_run)), e(site),
                          e(" \u2192 ".join(f.holder_path)), e(f.hint)))
        out.append("</tbody></table>")
    out.append("</div>")
    return "".join(out)


def _run_cell(code: Any, args: Any) -> Any:
    from IPython import get_ipython

    from leaktrace.check import _measure

    def run() -> None:
        shell = get_ipython()
        exec(code, shell.user_global_ns, shell.user_ns)

    return _measure(run, warmup=args.warmup, repeat=args.repeat, max_bytes=args.max_bytes,
                    max_objects=args.max_objects, sites=not args.no_sites, name="cell")


def _magics_class() -> Any:
    from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
    from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

    @magics_class
    class LeaktraceMagics(Magics):
        def __init__(self, shell: Any) -> None:
            super().__init__(shell)
            self._last_census: Optional[Any] = None

        @magic_arguments()
        @argument("-w", "--warmup", type=int, default=2, help="unmeasured runs first (2)")
        @argument("-r", "--repeat", type=int, default=5, help="measured runs (5)")
        @argument("--max-bytes", type=float, default=0, help="bytes per run allowed (0)")
        @argument("--max-objects", type=float, default=0, help="objects per run allowed (0)")
        @argument("--no-sites", action="store_true", help="do not track allocation sites")
        @cell_magic
        def leaktrace(self, line: str, cell: str) -> Any:
            """Runs the cell repeatedly and shows whether it leaks."""
            args = parse_argstring(self.leaktrace, line)
            if args.warmup < 0 or args.repeat < 2:
                raise ValueError("%%leaktrace: -w must be 0 or more and -r 2 or more")
            code = compile(cell, "<leaktrace cell>", "exec")
            # No local of ours may lead to the user's namespace: holder paths
            # should start there (module __main__), not at this frame.
            del self
            return _run_cell(code, args)

        @line_magic
        def leaktrace_census(self, line: str) -> CensusTable:
            """The largest types and their growth since the previous call."""
            import leaktrace

            n = int(line.strip() or 20)
            now = leaktrace.census(collect=True)
            prev, self._last_census = self._last_census, now
            growth = {d.type: (d.count_delta, d.bytes_delta) for d in now.diff(prev)} if prev is not None else {}
            rows = [(name, count, nbytes) + growth.get(name, (0, 0)) for name, count, nbytes in now.top(n)]
            return CensusTable(rows, prev is None)

    return LeaktraceMagics


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext leaktrace``: registers ``%%leaktrace`` and ``%leaktrace_census``."""
    ipython.register_magics(_magics_class())


def unload_ipython_extension(ipython: Any) -> None:
    """Nothing to undo beyond what IPython does itself."""
