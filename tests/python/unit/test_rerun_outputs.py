"""`leaktrace run` again with the same --json/--html/--capture files: its own
earlier outputs are replaced without --force (the capture's magic and the
HTML page's generator tag mark them), while a file that is not leaktrace's
is still refused."""
import os
import subprocess
import sys


def _run(tmp_path, *args):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("LEAKTRACE_FOLLOW", None)
    return subprocess.run([sys.executable, "-m", "leaktrace", "run", "-q"] + list(args), cwd=str(tmp_path),
                          env=env, capture_output=True, text=True, timeout=120)


def test_second_run_replaces_its_own_outputs(tmp_path):
    (tmp_path / "p.py").write_text("x = [1, 2, 3]\n")
    outs = ["--json", "r.json", "--html", "r.html", "--capture", "cap.lt"]
    first = _run(tmp_path, *outs, "p.py")
    assert first.returncode == 0, first.stderr
    before = {name: (tmp_path / name).read_bytes() for name in ("r.json", "r.html", "cap.lt")}
    second = _run(tmp_path, *outs, "p.py")
    assert second.returncode == 0, second.stderr
    for name, old in before.items():
        assert (tmp_path / name).stat().st_size > 0
    # The capture was written anew (its header holds the new run's PID and time).
    assert (tmp_path / "cap.lt").read_bytes() != before["cap.lt"]


def test_foreign_file_is_still_refused(tmp_path):
    (tmp_path / "p.py").write_text("x = 1\n")
    (tmp_path / "notes.html").write_text("<html><body>my notes</body></html>\n")
    proc = _run(tmp_path, "--html", "notes.html", "p.py")
    assert proc.returncode == 2
    assert "not a leaktrace report" in proc.stderr
    assert (tmp_path / "notes.html").read_text() == "<html><body>my notes</body></html>\n"
