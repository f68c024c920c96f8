"""%load_ext leaktrace, %%leaktrace and %leaktrace_census in IPython's
InteractiveShell."""
import pytest

IPython = pytest.importorskip("IPython")
from IPython.testing.globalipapp import get_ipython  # noqa: E402


@pytest.fixture(scope="module")
def ip():
    shell = get_ipython()
    shell.run_line_magic("load_ext", "leaktrace")
    return shell


def test_cell_magic_leak_and_clean(ip):
    ip.run_cell("class Row: pass\nROWS = []")
    r = ip.run_cell("%%leaktrace -w 1 -r 4\nROWS.append(Row())\nROWS.append(Row())")
    r.raise_error()
    v = r.result
    assert v.verdict == "leak"
    assert v.findings[0].count_per_run == [2, 2, 2, 2]
    path = v.findings[0].holder_path
    assert path[-2] in (".ROWS", "['ROWS']") and "frame leaktrace()" not in path[0], path
    html = v._repr_html_()
    assert "LEAK" in html and "Row" in html and "<script" not in html
    r = ip.run_cell("%%leaktrace\ntmp = [Row() for _ in range(1000)]\ndel tmp")
    r.raise_error()
    assert r.result.verdict == "no-leak" and "no-leak" in r.result._repr_html_()


def test_census_magic_growth_since_last_call(ip):
    ip.run_cell("class Blob: pass")
    first = ip.run_line_magic("leaktrace_census", "")
    assert first.first and len(first.rows) == 20
    ip.run_cell("BLOBS = [Blob() for _ in range(50000)]")
    table = ip.run_line_magic("leaktrace_census", "50")
    assert not table.first
    rows = {r[0]: r for r in table.rows}
    blob = [r for name, r in rows.items() if name.endswith("Blob")]
    assert blob and blob[0][1] >= 50000 and blob[0][3] >= 50000
    assert "<table>" in table._repr_html_() and "Blob" in repr(table)
