"""The HTML report in a real browser (headless Chromium).

The C writer is built straight from src/core with the C compiler, together
with tests/c/report_demo.c (a test-only program that writes a sample report
as HTML, JSON and text); the page template is turned into its C header by
the same script meson runs (src/core/report_template.py). No Python binding
is involved, so this runs on every Python of the test matrix alike.

Each page is loaded with --dump-dom (the DOM after the page's own script has
run) and with console logging on: the page must draw without a console
message of any kind (an uncaught error, a Content-Security-Policy refusal),
mark itself ready (<html data-lt-ready="1">, no data-lt-error), show the
verdict and every finding, and the hostile sample must not run any of the
code its strings carry. A screenshot is taken of the demo page (kept in
pytest's tmp dir, or copied to $LT_REPORT_SCREENSHOT_DIR when set).

CI installs Chromium (.ci/run: the Debian package "chromium"); elsewhere the
test is skipped, with the reason, when no Chromium or no C compiler exists.
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CORE = ROOT / "src" / "core"
CORE_SOURCES = ["report.c", "report_json.c", "report_text.c", "report_html.c", "utf8.c", "alloc.c", "strbuf.c"]

CONTRACT_KEYS = ["schema", "verdict", "confidence", "duration_s", "python", "argv", "series", "leaks"]
LEAK_KEYS = ["what", "type", "category", "count_delta", "bytes_delta", "bytes_per_second", "confidence",
             "alloc_site", "traceback", "holder_path", "hint"]

# tests/c/report_sample.h's hostile strings, as bytes.
HOSTILE_SCRIPT = "<script>document.documentElement.setAttribute('data-pwned','1')</script>"
HOSTILE_MISC = (b"& &amp; &lt; ' \" \\ \t\n\r \xe2\x80\xa8\xe2\x80\xa9 \xe2\x80\xae"
                b"dlrow \xff\xfe\xc0\xaf\xed\xa0\x80 <!-- ]]>")


def _env():
    """The environment for the compiler, report_demo and Chromium: without the
    sanitizer run's LD_PRELOAD of the ASan runtime (make sanitize), which is
    meant for the interpreter, not for a browser."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    return env


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _compiler():
    return shutil.which(os.environ.get("CC", "gcc")) or shutil.which("gcc") or shutil.which("cc")


@pytest.fixture(scope="module")
def chromium():
    path = _chromium()
    if path is None:
        pytest.skip("no Chromium on this machine (CI installs the Debian package 'chromium' in .ci/run)")
    return path


@pytest.fixture(scope="module")
def samples(tmp_path_factory, chromium):
    """Builds report_demo and writes the demo, hostile and empty samples."""
    cc = _compiler()
    if cc is None:
        pytest.skip("no C compiler to build the report writer")
    out = tmp_path_factory.mktemp("report_html")
    header = out / "report_html_template.h"
    subprocess.run([sys.executable, str(CORE / "report_template.py"), str(CORE / "report_template.html"),
                    str(header)], check=True, env=_env())
    exe = out / "report_demo"
    cmd = [cc, "-std=c11", "-D_GNU_SOURCE", "-O1", "-Wall", "-Wextra", "-Werror",
           "-I", str(out), "-I", str(CORE), "-I", str(ROOT / "tests" / "c"),
           str(ROOT / "tests" / "c" / "report_demo.c")] + [str(CORE / s) for s in CORE_SOURCES] + \
          ["-lm", "-o", str(exe)]
    build = subprocess.run(cmd, capture_output=True, text=True, env=_env())
    assert build.returncode == 0, build.stderr
    paths = {}
    for name in ("demo", "hostile", "empty"):
        subprocess.run([str(exe), name, str(out / name)], check=True, env=_env())
        paths[name] = out / name
    return paths


def _run_chromium(chromium, profile, *args, timeout=120):
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--no-default-browser-check", "--disable-extensions",
           "--user-data-dir=" + str(profile), "--enable-logging=stderr", "--v=0", *args]
    return subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout, env=_env())


def _console_lines(stderr):
    """Chromium logs every console message (errors, CSP refusals, logs) as
    INFO:CONSOLE lines; the page writes none."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def _load(chromium, path, tmp_path):
    proc = _run_chromium(chromium, tmp_path / "profile", "--dump-dom", path.with_suffix(".html").as_uri())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _console_lines(proc.stderr) == [], "\n".join(_console_lines(proc.stderr))
    return proc.stdout


def _html_tag(dom):
    m = re.search(r"<html[^>]*>", dom)
    assert m, dom[:500]
    return m.group(0)


def test_demo_json_follows_the_contract(samples):
    data = json.loads(samples["demo"].with_suffix(".json").read_text(encoding="utf-8"))
    assert list(data)[:len(CONTRACT_KEYS)] == CONTRACT_KEYS
    assert list(data)[len(CONTRACT_KEYS):] == ["warnings", "advice"]
    assert data["schema"] == "leaktrace/report-1"
    assert list(data["series"]) == ["t", "rss", "heap", "fds", "threads"]
    assert all(len(v) == 61 for v in data["series"].values())
    for leak in data["leaks"]:
        assert list(leak) == LEAK_KEYS + ["x_count_per_second"]
        assert isinstance(leak["count_delta"], int) and isinstance(leak["bytes_per_second"], float)
    assert [leak["type"] for leak in data["leaks"]] == ["billing.Invoice", "fd", "native"]
    assert data["leaks"][0]["alloc_site"] == {"file": "/srv/app/billing/invoice.py", "line": 42,
                                              "function": "create_invoice"}


def test_demo_page_renders(chromium, samples, tmp_path):
    dom = _load(chromium, samples["demo"], tmp_path)
    html = _html_tag(dom)
    assert 'data-lt-ready="1"' in html
    assert "data-lt-error" not in html
    assert "v-leak" in html
    assert '<h1 class="verdict">Leak found' in dom
    data = json.loads(samples["demo"].with_suffix(".json").read_text(encoding="utf-8"))
    for leak in data["leaks"]:
        assert '<h3 class="name">%s</h3>' % leak["type"] in dom
    assert dom.count('<article class="card"') == 3
    # What the script drew: the three memory lines, the resource chart, one
    # holder graph per finding with a path, and the flame graph's bars.
    for cls in ("rss", "heap", "native", "fds", "threads"):
        assert 'class="line %s"' % cls in dom
    assert dom.count('class="box root"') == 2
    assert dom.count('class="box target"') == 2
    flame = dom[dom.index('id="lt-flame"'):]
    assert flame.count("<rect") >= 15
    assert "220 MiB live in 6 sampled stacks" in flame
    # The source lines given by the callback, in the traceback too.
    assert '<pre class="src">invoice = Invoice(customer, items, issued=now())</pre>' in dom


def test_demo_page_screenshot(chromium, samples, tmp_path):
    shot = tmp_path / "report_demo.png"
    proc = _run_chromium(chromium, tmp_path / "profile", "--hide-scrollbars", "--window-size=1280,3400",
                         "--screenshot=" + str(shot), samples["demo"].with_suffix(".html").as_uri())
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _console_lines(proc.stderr) == []
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1280, 3400)
    assert len(png) > 50_000            # a drawn page, not a blank one
    keep = os.environ.get("LT_REPORT_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)


def test_hostile_page_runs_nothing(chromium, samples, tmp_path):
    dom = _load(chromium, samples["hostile"], tmp_path)
    html = _html_tag(dom)
    assert 'data-lt-ready="1"' in html
    assert "data-lt-error" not in html
    # Every string carried code that would set data-pwned; none ran.
    assert not re.search(r"data-pwned\s*=", dom.replace("setAttribute('data-pwned'", ""))
    assert "<img" not in dom
    # The strings are shown as text.
    assert "&lt;script&gt;document.documentElement.setAttribute('data-pwned','1')&lt;/script&gt;" in dom
    # And the data survives exactly (JSON escaping is lossless; ill-formed
    # UTF-8 is replaced as Python's decoder does).
    data = json.loads(samples["hostile"].with_suffix(".json").read_text(encoding="utf-8"))
    assert data["leaks"][0]["type"] == HOSTILE_SCRIPT
    assert data["leaks"][0]["holder_path"][2] == HOSTILE_MISC.decode("utf-8", "replace")
    assert data["confidence"] is None and data["duration_s"] is None
    assert data["leaks"][0]["count_delta"] == -2 ** 63
    assert len(data["leaks"][1]["type"]) == 10 * 1024


def test_empty_page_renders(chromium, samples, tmp_path):
    dom = _load(chromium, samples["empty"], tmp_path)
    html = _html_tag(dom)
    assert 'data-lt-ready="1"' in html and "data-lt-error" not in html
    assert "v-inconclusive" in html
    assert "No samples were recorded." in dom
    assert "No allocation stacks were sampled in this run." in dom
    data = json.loads(samples["empty"].with_suffix(".json").read_text(encoding="utf-8"))
    assert data["leaks"] == [] and data["advice"] is None
