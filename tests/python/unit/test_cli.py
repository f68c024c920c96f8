"""The leaktrace command line: bad input gets one clear line and exit 2,
nothing the user owns is overwritten, and the program runs as it would
without us."""
import json
import os
import subprocess
import sys
import textwrap

import pytest


def leaktrace(*args, cwd=None, timeout=120, input=None):
    return subprocess.run([sys.executable, "-m", "leaktrace"] + list(args), cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, input=input)


def one_error_line(proc):
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("leaktrace: error: ")
    return lines[0]


def write(path, text):
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_no_command_is_usage():
    proc = leaktrace()
    assert proc.returncode == 2


def test_missing_script(tmp_path):
    line = one_error_line(leaktrace("run", str(tmp_path / "nope.py")))
    assert "no such script" in line


def test_no_program():
    assert "no program" in one_error_line(leaktrace("run", "--duration", "1"))


def test_directory_as_script(tmp_path):
    assert "directory" in one_error_line(leaktrace("run", str(tmp_path)))


def test_syntax_error(tmp_path):
    script = write(tmp_path / "bad.py", "def f(:\n    pass\n")
    line = one_error_line(leaktrace("run", script))
    assert "does not compile" in line and "bad.py" in line


@pytest.mark.parametrize("value", ["0", "-1", "abc"])
def test_bad_duration(tmp_path, value):
    script = write(tmp_path / "ok.py", "pass\n")
    line = one_error_line(leaktrace("run", "--duration", value, script))
    assert "duration" in line


def test_unknown_option(tmp_path):
    script = write(tmp_path / "ok.py", "pass\n")
    one_error_line(leaktrace("run", "--no-such-option", script))


def test_unwritable_json_path(tmp_path):
    script = write(tmp_path / "ok.py", "pass\n")
    line = one_error_line(leaktrace("run", "--json", str(tmp_path / "missing-dir" / "r.json"), script))
    assert "cannot write" in line


def test_refuses_to_overwrite_a_file_that_is_not_ours(tmp_path):
    script = write(tmp_path / "ok.py", "pass\n")
    precious = tmp_path / "notes.json"
    precious.write_text('{"my": "data"}')
    line = one_error_line(leaktrace("run", "--json", str(precious), script))
    assert "--force" in line
    assert precious.read_text() == '{"my": "data"}'


def test_report_of_a_missing_or_foreign_capture(tmp_path):
    assert "no such capture" in one_error_line(leaktrace("report", str(tmp_path / "none.lt")))
    foreign = tmp_path / "image.png"
    foreign.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    line = one_error_line(leaktrace("report", str(foreign)))
    assert "not a leaktrace capture" in line


def test_program_runs_as_main_with_its_argv_and_exit_code(tmp_path):
    script = write(tmp_path / "prog.py", """
        import sys
        print("argv", sys.argv)
        print("main", __name__, sys.path[0] == __import__("os").path.dirname(__file__))
        data = sys.stdin.read()
        print("stdin", data.strip())
        sys.exit(7)
        """)
    proc = leaktrace("run", "-q", script, "a", "--b", input="hello\n")
    assert proc.returncode == 7, proc.stderr
    assert "argv ['%s', 'a', '--b']" % script in proc.stdout
    assert "main __main__ True" in proc.stdout
    assert "stdin hello" in proc.stdout
    # Our output goes to stderr only.
    assert "leaktrace" not in proc.stdout


def test_program_that_raises_exits_1_with_its_traceback(tmp_path):
    script = write(tmp_path / "boom.py", "raise RuntimeError('boom')\n")
    proc = leaktrace("run", "-q", script)
    assert proc.returncode == 1
    assert "RuntimeError: boom" in proc.stderr


def test_module_mode_and_double_dash(tmp_path):
    pkg = tmp_path / "mymod.py"
    pkg.write_text("import sys\nprint('mod', __name__, sys.argv[1:])\n")
    proc = leaktrace("run", "-q", "-m", "mymod", "--", "x", cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "mod __main__ ['x']" in proc.stdout


def test_json_report_of_a_clean_program(tmp_path):
    script = write(tmp_path / "clean.py", "x = [i for i in range(1000)]\n")
    out = tmp_path / "r.json"
    proc = leaktrace("run", "-q", "--json", str(out), script)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    assert report["schema"] == "leaktrace/report-1"
    assert report["verdict"] in ("no-leak", "inconclusive")
    assert report["argv"] == [script]
    assert report["python"] == "%d.%d.%d" % sys.version_info[:3]
    for key in ("t", "rss", "heap", "fds", "threads"):
        assert len(report["series"][key]) >= 1
    # A second run may replace our own earlier report without --force.
    proc = leaktrace("run", "-q", "--json", str(out), script)
    assert proc.returncode == 0, proc.stderr


def test_script_that_forks(tmp_path):
    script = write(tmp_path / "forks.py", """
        import os
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        print("parent done")
        """)
    proc = leaktrace("run", "-q", script)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("parent done") == 1


def test_warnings_for_a_huge_object_and_deep_recursion(tmp_path):
    # SCENARIOS.md 13 and 14: reported as warnings, not leaks.
    script = write(tmp_path / "extremes.py", """
        import sys, time
        sys.setrecursionlimit(3000)
        blob = bytes(80 * 1024 * 1024)
        def deep(n):
            if n == 0:
                time.sleep(1.0)
                return 0
            return deep(n - 1) + 1
        deep(2000)
        """)
    out = tmp_path / "r.json"
    proc = leaktrace("run", "-q", "--interval", "0.1", "--json", str(out), script)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    kinds = {w["kind"]: w["message"] for w in report["warnings"]}
    assert "bytes object of 80.0 MiB" in kinds["huge-object"]
    assert "recursion limit (3000)" in kinds["deep-recursion"]
    assert report["verdict"] != "leak"


def test_html_flame_graph_holds_the_live_allocation_stacks(tmp_path):
    # The flame graph's data: the tracker's stacks with live bytes at the
    # end, heaviest first; the function that keeps 4 MB alive is in it.
    script = write(tmp_path / "keeper.py", """
        KEPT = []
        def keep_blocks():
            for _ in range(400):
                KEPT.append(bytearray(10000))
        def churn():
            for _ in range(2000):
                bytearray(1000)
        keep_blocks()
        churn()
        """)
    out = tmp_path / "r.html"
    capture = tmp_path / "r.lt"
    proc = leaktrace("run", "-q", "--mode", "trace", "--html", str(out), "--capture", str(capture), script)
    assert proc.returncode == 0, proc.stderr
    flame = flame_data(out)
    check_flame(flame, script)
    # Re-rendered from the capture: the same stacks, from its last checkpoint.
    replayed = tmp_path / "replayed.html"
    proc = leaktrace("report", str(capture), "--html", str(replayed))
    assert proc.returncode == 0, proc.stderr
    again = flame_data(replayed)
    check_flame(again, script)
    assert again[0] == flame[0]


def flame_data(html):
    page = html.read_text()
    start = page.index('id="lt-flame-data">') + len('id="lt-flame-data">')
    return json.loads(page[start:page.index("</script>", start)])


def check_flame(flame, script):
    assert flame, "no flame data"
    weights = [entry["live_bytes"] for entry in flame]
    assert weights == sorted(weights, reverse=True)
    top = flame[0]
    assert top["live_bytes"] >= 4_000_000
    assert top["frames"][0] == {"file": script, "line": 5, "function": "keep_blocks"}
    frames = [f for entry in flame for f in entry["frames"]]
    assert not any(f["function"] == "churn" for f in frames)
    # leaktrace's launcher (cli.py, runpy) is cut from every stack.
    assert not any("/leaktrace/" in f["file"] or "runpy" in f["file"] for f in frames)
