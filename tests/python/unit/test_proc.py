"""process_facts() and open_fds(): /proc facts of this and other processes."""
import os
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

import leaktrace

KINDS = {"file", "socket", "pipe", "anon_inode", "other"}


def kinds():
    return leaktrace.process_facts()["fds_by_kind"]


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_process_facts_shape():
    facts = leaktrace.process_facts()
    assert set(facts) == {"rss", "vm", "threads", "fds", "fds_by_kind"}
    assert set(facts["fds_by_kind"]) == KINDS
    assert 0 < facts["rss"] <= facts["vm"]
    assert facts["threads"] >= 1
    assert facts["fds"] == sum(facts["fds_by_kind"].values())


def test_fd_count_matches_proc_self_fd():
    listed = len(os.listdir("/proc/self/fd")) - 1     # listdir's own descriptor
    assert leaktrace.process_facts()["fds"] == listed
    assert len(leaktrace.open_fds()) == listed


def test_each_kind_counts_up_by_the_right_amount(tmp_path):
    before = kinds()
    path = tmp_path / "ledger.csv"
    f = open(path, "w")
    a, b = socket.socketpair()
    r, w = os.pipe()
    ep = select.epoll()
    null = open(os.devnull, "rb")
    try:
        after = kinds()
        assert after["file"] - before["file"] == 1
        assert after["socket"] - before["socket"] == 2
        assert after["pipe"] - before["pipe"] == 2
        assert after["anon_inode"] - before["anon_inode"] == 1
        assert after["other"] - before["other"] == 1
        fds = {fd: (kind, target) for fd, kind, target in leaktrace.open_fds()}
        assert fds[f.fileno()] == ("file", os.path.realpath(str(path)))
        assert fds[a.fileno()][0] == fds[b.fileno()][0] == "socket"
        assert fds[a.fileno()][1].startswith("socket:[")
        assert fds[r][0] == fds[w][0] == "pipe" and fds[r][1].startswith("pipe:[")
        assert fds[ep.fileno()] == ("anon_inode", "anon_inode:[eventpoll]")
        assert fds[null.fileno()] == ("other", "/dev/null")
    finally:
        f.close()
        a.close()
        b.close()
        os.close(r)
        os.close(w)
        ep.close()
        null.close()
    assert kinds() == before


def test_deleted_and_directory_fds_are_files(tmp_path):
    before = kinds()["file"]
    fd_dir = os.open(str(tmp_path), os.O_RDONLY | os.O_DIRECTORY)
    tmp = tempfile.TemporaryFile(dir=str(tmp_path))      # unlinked at once: "(deleted)"
    try:
        assert kinds()["file"] - before == 2
        fds = {fd: (kind, target) for fd, kind, target in leaktrace.open_fds()}
        assert fds[fd_dir] == ("file", os.path.realpath(str(tmp_path)))
        assert fds[tmp.fileno()][0] == "file" and fds[tmp.fileno()][1].endswith("(deleted)")
    finally:
        os.close(fd_dir)
        tmp.close()


def test_many_fds_are_all_counted(tmp_path):
    """More descriptors than fit in one getdents buffer."""
    before = leaktrace.process_facts()["fds"]
    pipes = [os.pipe() for _ in range(300)]
    try:
        assert leaktrace.process_facts()["fds"] - before == 600
        assert len(leaktrace.open_fds()) - before == 600
    finally:
        for r, w in pipes:
            os.close(r)
            os.close(w)


def test_threads_count_up_and_down():
    before = leaktrace.process_facts()["threads"]
    stop = threading.Event()
    workers = [threading.Thread(target=stop.wait) for _ in range(3)]
    for t in workers:
        t.start()
    try:
        assert leaktrace.process_facts()["threads"] - before == 3
    finally:
        stop.set()
        for t in workers:
            t.join()
    assert wait_for(lambda: leaktrace.process_facts()["threads"] == before)


def test_rss_follows_touched_memory():
    before = leaktrace.process_facts()["rss"]
    block = bytearray(64 * 1024 * 1024)          # zero-filled: every page touched
    try:
        assert leaktrace.process_facts()["rss"] - before >= 60 * 1024 * 1024
    finally:
        del block


def test_facts_of_another_process(tmp_path):
    child = subprocess.Popen(
        [sys.executable, "-c",
         "import os, sys, threading, time\n"
         "pipes = [os.pipe() for _ in range(3)]\n"
         "ev = threading.Event()\n"
         "ts = [threading.Thread(target=ev.wait, daemon=True) for _ in range(2)]\n"
         "[t.start() for t in ts]\n"
         "print('ready', flush=True)\n"
         "sys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert child.stdout.readline().strip() == b"ready"
        facts = leaktrace.process_facts(pid=child.pid)
        assert facts["threads"] == 3
        assert facts["fds_by_kind"]["pipe"] >= 8          # 3 pairs + its stdin and stdout
        fds = leaktrace.open_fds(child.pid)
        assert len(fds) == facts["fds"]
        assert sum(1 for _, kind, _ in fds if kind == "pipe") == facts["fds_by_kind"]["pipe"]
        assert leaktrace.process_facts(pid=os.getpid())["threads"] == leaktrace.process_facts()["threads"]
    finally:
        child.stdin.close()
        child.wait()
        child.stdout.close()


def test_bad_pids():
    with pytest.raises(ValueError):
        leaktrace.process_facts(pid=-1)
    with pytest.raises(ValueError):
        leaktrace.open_fds(pid=-1)
    with open("/proc/sys/kernel/pid_max") as f:
        unused = int(f.read()) + 1                     # no process can have it
    with pytest.raises(FileNotFoundError):
        leaktrace.process_facts(pid=unused)
    with pytest.raises(FileNotFoundError):
        leaktrace.open_fds(pid=unused)
    with pytest.raises(TypeError):
        leaktrace.process_facts(pid="1")
    with pytest.raises(OverflowError):
        leaktrace.process_facts(pid=2 ** 40)
