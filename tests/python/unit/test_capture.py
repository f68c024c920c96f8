"""The capture file through leaktrace._core: CaptureWriter and read_capture.

Round trip, reading a file cut at every byte, damaged and foreign files, the
version check, never overwriting a file silently, the writer's errors, and
the size of an hour of a steady program."""
import os
import random
import struct
import sys
import time

import pytest

from leaktrace import _core

MAGIC = b"\x89LTC\r\n\x1a\n"


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def write_sample(path, **kwargs):
    """A small capture with every kind of record; returns what was written."""
    kw = dict(argv=["app.py", "--port", "8080"], mode="sampled", sample_mean=4096, python_version="3.11.7",
              pid=4242, created_ns=1_700_000_000_000_000_000)
    kw.update(kwargs)
    w = _core.CaptureWriter(path, **kw)
    names = ["app.py", "main", "work", "libc.so.6", "malloc", "builtins.dict", "builtins.list", "caf\u00e9"]
    ids = [w.add_string(s) for s in names]
    assert ids == list(range(len(names)))
    f0 = w.add_frame(0, 1, 10)
    f1 = w.add_frame(0, 2, 20)
    f2 = w.add_frame(3, 4, address=0x7F0012345678)
    f3 = w.add_frame(None, None)
    assert (f0, f1, f2, f3) == (0, 1, 2, 3)
    assert w.add_stack([f1, f0]) == 0
    assert w.add_stack((f2, f1, f0)) == 1
    assert w.add_stack([]) == 2
    fds = {"file": 3, "socket": 1, "pipe": 2, "anon_inode": 0, "other": 4}
    checkpoints = [
        dict(time_ns=10, rss=50_000_000, py_heap=20_000_000, fds_by_kind=fds, threads=4,
             sites={0: (100, 1), 1: (200, 2)}, census={5: (10, 1000)}),
        dict(time_ns=20, rss=50_004_096, py_heap=19_000_000, native_heap=2**64 - 1, threads=5,
             sites={1: (250, 3), 2: (50, 1)}, census=None),
        dict(time_ns=30, rss=49_000_000, sites={}, census={5: (11, 1100), 6: (1, 56)}),
    ]
    for cp in checkpoints:
        w.checkpoint(**cp)
    assert w.add_string("late") == len(names)
    checkpoints.append(dict(time_ns=40, sites={2: (0, 0)}, census={8: (7, 7), 5: (11, 1100)}))
    w.checkpoint(**checkpoints[-1])
    w.close(end_ns=99)
    assert w.closed
    return names + ["late"], checkpoints


def expected_checkpoint(cp, names):
    fds = {k: 0 for k in ("file", "socket", "pipe", "anon_inode", "other")}
    fds.update(cp.get("fds_by_kind") or {})
    census = cp.get("census")
    return {
        "time_ns": cp["time_ns"],
        "time": cp["time_ns"] / 1e9,
        "rss": cp.get("rss", 0),
        "py_heap": cp.get("py_heap", 0),
        "native_heap": cp.get("native_heap", 0),
        "fds_by_kind": fds,
        "threads": cp.get("threads", 0),
        "sites": dict(cp.get("sites") or {}),
        "census": None if census is None else {names[k]: v for k, v in census.items()},
    }


def test_round_trip(tmp_path):
    path = tmp_path / "run.lt"
    names, checkpoints = write_sample(path)
    got = _core.read_capture(path)
    assert got["header"] == {
        "version": (1, 0),
        "created_ns": 1_700_000_000_000_000_000,
        "created": 1_700_000_000.0,
        "pid": 4242,
        "python_version": "3.11.7",
        "argv": ["app.py", "--port", "8080"],
        "sample_mean": 4096,
        "mode": "sampled",
    }
    assert got["strings"] == names
    assert got["frames"] == [
        {"file": "app.py", "function": "main", "line": 10, "address": None},
        {"file": "app.py", "function": "work", "line": 20, "address": None},
        {"file": "libc.so.6", "function": "malloc", "line": 0, "address": 0x7F0012345678},
        {"file": None, "function": None, "line": 0, "address": None},
    ]
    assert got["stacks"] == [(1, 0), (2, 1, 0), ()]
    assert got["checkpoints"] == [expected_checkpoint(cp, names) for cp in checkpoints]
    assert got["trailer"] == {"end_ns": 99, "strings": 9, "frames": 4, "stacks": 3, "checkpoints": 4}
    assert got["complete"] is True
    assert got["stopped"] is None
    assert got["bytes_read"] == path.stat().st_size
    assert got["records"] == 1 + 9 + 4 + 3 + 4 + 1
    assert got["skipped"] == 0
    # str paths and bytes paths work too.
    assert _core.read_capture(str(path)) == got
    assert _core.read_capture(os.fsencode(path)) == got


def test_defaults(tmp_path):
    path = tmp_path / "d.lt"
    with _core.CaptureWriter(path) as w:
        assert w.path == str(path)
        assert not w.closed
        w.checkpoint()
        w.checkpoint(rss=1)
    assert w.closed
    w.close()                                   # closing twice is fine
    got = _core.read_capture(path)
    h = got["header"]
    assert h["argv"] == sys.argv
    assert h["pid"] == os.getpid()
    assert h["python_version"] == "%d.%d.%d" % sys.version_info[:3]
    assert h["mode"] == "sampled"
    assert h["sample_mean"] == 512 * 1024
    assert abs(h["created"] - time.time()) < 60
    assert got["complete"]
    times = [cp["time_ns"] for cp in got["checkpoints"]]
    assert times == sorted(times) and times[0] >= 0
    assert got["trailer"]["end_ns"] >= times[-1]
    assert [cp["census"] for cp in got["checkpoints"]] == [None, None]
    for mode in ("off", "trace"):
        p = tmp_path / (mode + ".lt")
        _core.CaptureWriter(p, mode=mode, sample_mean=0, argv=[]).close()
        assert _core.read_capture(p)["header"]["mode"] == mode


def test_every_truncation(tmp_path):
    """A file cut at any byte reads up to its last complete record."""
    full_path = tmp_path / "full.lt"
    names, checkpoints = write_sample(full_path)
    data = full_path.read_bytes()
    full = _core.read_capture(full_path)
    cut_path = tmp_path / "cut.lt"
    boundaries = set()
    header_end = None
    for cut in range(len(data) + 1):
        cut_path.write_bytes(data[:cut])
        try:
            got = _core.read_capture(cut_path)
        except ValueError as e:
            assert header_end is None, "a longer prefix was readable"
            assert str(e).startswith("not a leaktrace capture: ")
            continue
        if header_end is None:
            header_end = cut
        assert got["header"] == full["header"]
        assert got["bytes_read"] <= cut
        for key in ("strings", "frames", "stacks", "checkpoints"):
            assert got[key] == full[key][: len(got[key])]
        assert got["complete"] == (cut == len(data))
        if got["bytes_read"] == cut:
            boundaries.add(cut)
            assert got["stopped"] is None
        else:
            assert got["stopped"].startswith("truncated at byte %d: " % got["bytes_read"])
    assert header_end is not None and header_end > len(MAGIC)
    assert len(boundaries) == full["records"]        # one per record after the header, plus the header's end
    assert len(data) in boundaries


def test_bit_flips_are_caught(tmp_path):
    path = tmp_path / "run.lt"
    write_sample(path)
    data = path.read_bytes()
    full = _core.read_capture(path)
    rng = random.Random(7)
    header_end = None
    for cut in range(len(data)):
        try:
            (tmp_path / "h.lt").write_bytes(data[:cut])
            _core.read_capture(tmp_path / "h.lt")
            header_end = cut
            break
        except ValueError:
            pass
    for _ in range(200):
        i = rng.randrange(len(data))
        bad = bytearray(data)
        bad[i] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(bad))
        if i < header_end:
            with pytest.raises(ValueError, match="^(not a|unsupported) leaktrace capture: "):
                _core.read_capture(path)
            continue
        got = _core.read_capture(path)
        assert not got["complete"]
        assert got["stopped"].startswith(("corrupt at byte", "truncated at byte"))
        assert got["records"] < full["records"]
        assert got["bytes_read"] <= i
        for key in ("strings", "frames", "stacks", "checkpoints"):
            assert got[key] == full[key][: len(got[key])]


def test_corrupt_record_reports_where(tmp_path):
    path = tmp_path / "run.lt"
    write_sample(path)
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF                             # inside the trailer's checksum
    path.write_bytes(bytes(data))
    got = _core.read_capture(path)
    assert got["stopped"].startswith("corrupt at byte %d: " % got["bytes_read"])
    assert "checksum" in got["stopped"]
    assert got["trailer"] is None and not got["complete"]
    assert len(got["checkpoints"]) == 4
    # verify=False salvages a record whose checksum alone is wrong.
    salvaged = _core.read_capture(path, verify=False)
    assert salvaged["complete"] and salvaged["stopped"] is None


@pytest.mark.parametrize(
    "content, why",
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(30), "magic"),
        (b"hello, world\n", "magic"),
        (b"\x7fELF\x02\x01\x01" + bytes(60), "magic"),
        (bytes(random.Random(1).randrange(256) for _ in range(5000)), "magic"),
        (MAGIC[:5], "ends inside"),
        (MAGIC + b"\x01\x00\x00\x00" + bytes(random.Random(2).randrange(256) for _ in range(100)), "header"),
    ],
)
def test_foreign_files(tmp_path, content, why):
    path = tmp_path / "foreign"
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        _core.read_capture(path)
    message = str(info.value)
    assert message.startswith("not a leaktrace capture: %s: " % path)
    assert why in message
    assert "\n" not in message


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError):
        _core.read_capture(tmp_path / "nope.lt")
    with pytest.raises(IsADirectoryError):
        _core.read_capture(tmp_path)


def patch_version(data, major, minor):
    """The sample with another version; the header's checksum, which covers
    the preamble, is recomputed."""
    # Header record: type 1, a one-byte length (the sample's header is short).
    assert data[12] == 1 and data[13] < 0x80
    end = 12 + 2 + data[13]
    out = bytearray(data)
    out[8:12] = struct.pack("<HH", major, minor)
    out[end : end + 4] = struct.pack("<I", crc32c(bytes(out[:end])))
    return bytes(out)


def test_versions(tmp_path):
    path = tmp_path / "run.lt"
    write_sample(path)
    data = path.read_bytes()
    full = _core.read_capture(path)
    path.write_bytes(patch_version(data, 2, 0))
    with pytest.raises(ValueError, match=r"^unsupported leaktrace capture: .*version 2\.0 is newer.*upgrade"):
        _core.read_capture(path)
    path.write_bytes(patch_version(data, 0, 3))
    with pytest.raises(ValueError, match="^not a leaktrace capture: .*version"):
        _core.read_capture(path)
    # A newer minor version of the same major is read.
    path.write_bytes(patch_version(data, 1, 9))
    got = _core.read_capture(path)
    assert got["header"]["version"] == (1, 9)
    assert got["checkpoints"] == full["checkpoints"] and got["complete"]


def test_never_overwrites_silently(tmp_path):
    path = tmp_path / "precious.lt"
    path.write_bytes(b"the user's data")
    with pytest.raises(FileExistsError):
        _core.CaptureWriter(path)
    assert path.read_bytes() == b"the user's data"
    with _core.CaptureWriter(path, overwrite=True) as w:
        w.checkpoint(time_ns=1)
    assert _core.read_capture(path)["complete"]
    with pytest.raises(FileNotFoundError):
        _core.CaptureWriter(tmp_path / "no" / "such" / "dir.lt")


def test_unclosed_writer_leaves_a_readable_capture(tmp_path):
    path = tmp_path / "crash.lt"
    w = _core.CaptureWriter(path, argv=[])
    w.add_string("x")
    w.checkpoint(time_ns=5, sites={})
    del w
    got = _core.read_capture(path)
    assert got["complete"] is False
    assert got["stopped"] is None                # every byte read, just no trailer
    assert got["strings"] == ["x"] and len(got["checkpoints"]) == 1


def test_writer_errors(tmp_path):
    w = _core.CaptureWriter(tmp_path / "e.lt", argv=[])
    with pytest.raises(ValueError):
        w.add_frame(0, None)                     # string 0 not added yet
    w.add_string("f.py")
    w.add_frame(0, None, 3)
    with pytest.raises(ValueError):
        w.add_stack([1])                         # frame 1 not added yet
    with pytest.raises(OverflowError):
        w.add_stack([-1])
    with pytest.raises(TypeError):
        w.add_stack(5)
    w.add_stack([0])
    with pytest.raises(ValueError):
        w.checkpoint(sites={1: (1, 1)})          # stack 1 not added yet
    with pytest.raises(ValueError):
        w.checkpoint(census={3: (1, 1)})         # string 3 not added yet
    with pytest.raises(TypeError):
        w.checkpoint(sites={0: 5})
    with pytest.raises(TypeError):
        w.checkpoint(sites=[(0, 1, 1)])
    with pytest.raises(ValueError):
        w.checkpoint(fds_by_kind={"sockets": 1})
    with pytest.raises(TypeError):
        w.add_string(b"bytes")
    w.checkpoint(time_ns=1, sites={0: (1, 1)})
    w.close()
    for call in (lambda: w.add_string("x"), lambda: w.checkpoint(), lambda: w.add_stack([])):
        with pytest.raises(ValueError, match="closed"):
            call()
    got = _core.read_capture(tmp_path / "e.lt")
    assert got["complete"] and got["records"] == 6   # the refused calls left nothing
    with pytest.raises(ValueError):
        _core.CaptureWriter(tmp_path / "m.lt", mode="fast")
    assert not (tmp_path / "m.lt").exists()
    with pytest.raises(TypeError):
        _core.CaptureWriter(tmp_path / "a.lt", argv=[1])
    with pytest.raises(TypeError):
        _core.CaptureWriter(tmp_path / "a.lt", argv=["a"], sample_mean="big")


def test_odd_strings_round_trip(tmp_path):
    path = tmp_path / "s.lt"
    odd = ["", "\x00inside", "\u4e2d\u6587", "a" * 100_000, "\U0001f600"]
    with _core.CaptureWriter(path, argv=["caf\u00e9", ""]) as w:
        for s in odd:
            w.add_string(s)
        w.add_string("bad \udcff byte")              # an undecodable file-name byte
    got = _core.read_capture(path)
    assert got["strings"][: len(odd)] == odd
    assert got["strings"][-1] == "bad \ufffd byte"  # read back replaced, never an error
    assert got["header"]["argv"] == ["caf\u00e9", ""]


def test_steady_hour_is_under_a_megabyte(tmp_path):
    """Sampled mode, a checkpoint every 10 s for an hour: 360 checkpoints of
    300 sites and 200 types with a little churn."""
    rng = random.Random(3)
    path = tmp_path / "hour.lt"
    w = _core.CaptureWriter(path, argv=["server.py"], sample_mean=512 * 1024)
    for i in range(400):
        w.add_string("/srv/app/pkg%d/module_%d.py" % (i % 9, i))
        w.add_string("handler_%d" % i)
    types = [w.add_string("pkg.models.Type%d" % i) for i in range(200)]
    frames = [w.add_frame(2 * i, 2 * i + 1, 10 + i) for i in range(400)]
    stacks = [w.add_stack(rng.sample(frames, 16)) for _ in range(330)]
    sites = {s: (n * 512 * 1024, n) for s in stacks[:300] for n in [rng.randrange(1, 50)]}
    census = {t: (n, n * 64) for t in types for n in [rng.randrange(10, 10**5)]}
    spare = stacks[300:]
    for c in range(360):
        for s in rng.sample(sorted(sites), 20):
            b, n = sites[s]
            sites[s] = (b + 512 * 1024, n + 1)
        for t in rng.sample(types, 20):
            n, b = census[t]
            census[t] = (n + 3, b + 192)
        if c % 12 == 11 and spare:
            del sites[rng.choice(sorted(sites))]
            sites[spare.pop()] = (512 * 1024, 1)
        w.checkpoint(time_ns=c * 10**10, rss=(300 << 20) + rng.randrange(1 << 20), py_heap=200 << 20,
                     fds_by_kind={"file": 10, "socket": 40 + rng.randrange(3)}, threads=8, sites=sites,
                     census=census)
    w.close(end_ns=3600 * 10**9)
    size = path.stat().st_size
    assert size <= 1_000_000, size
    got = _core.read_capture(path)
    assert got["complete"] and len(got["checkpoints"]) == 360
    last = got["checkpoints"][-1]
    assert last["sites"] == sites
    assert last["census"] == {"pkg.models.Type%d" % (t - 800): v for t, v in census.items()}
