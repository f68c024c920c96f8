"""What production mode (LEAKTRACE=1) costs a running program.

Suite 1 (service): an http.server on 127.0.0.1 whose handler builds a small
JSON answer (a few dicts, lists and strings per request), plain, with
LEAKTRACE=1 and with LEAKTRACE=1 LEAKTRACE_SAMPLE_MEAN=0 (no tracker), under a client loop in this process (one request per
connection, as http.server's HTTP/1.0 does). Per run: requests/s over a
fixed number of requests after a warm-up, and the server's CPU time per
request (from /proc: steadier on a shared machine). Modes are interleaved round by
round, the order rotating, and each run is paired with the plain run of
its round: the machine is noisy, a ratio within a round is what
holds.

Suite 2 (workloads): bench/workloads/*.py in the same three modes, wall
time per run, interleaved the same way.

Also: the start-up cost of the .pth file when LEAKTRACE is not set (the
line site.py executes for every interpreter), timed in-process.

    python production.py [--rounds 5] [--requests 4000] [--interval 10] [--workloads a,b] [--no-workloads]

Prints a table and one JSON line per run with --json FILE.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import http.client

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable

SERVICE = r'''
import http.server, json, sys
CACHE = {}
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        key = self.path.rsplit("/", 1)[-1]
        item = {"id": key, "tags": ["a", "b", key], "size": len(key), "nested": {"path": self.path}}
        CACHE[int(key) % 256] = item          # bounded: 256 entries
        body = json.dumps(item).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
'''


# The modes compared: plain, production mode as configured by default (the
# sampled tracker and the checkpoints), and production mode without the
# tracker (LEAKTRACE_SAMPLE_MEAN=0: checkpoints only).
MODES = ("plain", "production", "no-tracker")


def _env(mode, interval, sock_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEAKTRACE")}
    if mode != "plain":
        env.update(LEAKTRACE="1", LEAKTRACE_INTERVAL=str(interval), LEAKTRACE_QUIET="1",
                   LEAKTRACE_SOCKET_DIR=sock_dir)
    if mode == "no-tracker":
        env["LEAKTRACE_SAMPLE_MEAN"] = "0"
    return env


def _cpu(pid):
    """CPU seconds (user + system) of process pid so far, from /proc: on a
    shared machine the server's CPU time per request is steadier than
    requests per second, which also counts time spent waiting for a core."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def service_run(script, mode, interval, requests, sock_dir):
    proc = subprocess.Popen([PY, script], stdout=subprocess.PIPE, text=True, env=_env(mode, interval, sock_dir))
    try:
        port = int(proc.stdout.readline())

        def one(i):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("GET", "/item/%d" % i)
            r = c.getresponse()
            r.read()
            c.close()
            assert r.status == 200

        for i in range(300):        # warm-up: imports, caches, the first checkpoint
            one(i)
        c0, t0 = _cpu(proc.pid), time.perf_counter()
        for i in range(requests):
            one(i)
        t1, c1 = time.perf_counter(), _cpu(proc.pid)
        return requests / (t1 - t0), (c1 - c0) / requests
    finally:
        proc.terminate()
        proc.wait()


def workload_run(path, mode, interval, sock_dir):
    t0 = time.perf_counter()
    subprocess.run([PY, path], check=True, stdout=subprocess.DEVNULL, env=_env(mode, interval, sock_dir))
    return time.perf_counter() - t0


def pth_cost():
    """Seconds per execution of the installed .pth line with LEAKTRACE unset."""
    import site
    import timeit

    for d in site.getsitepackages():
        p = os.path.join(d, "leaktrace-production.pth")
        if os.path.exists(p):
            with open(p) as f:
                line = f.readline()
            break
    else:
        return None, None
    saved = os.environ.pop("LEAKTRACE", None)
    try:
        code = compile(line, p, "exec")
        n = 200000
        return timeit.timeit(lambda: exec(code, {}), number=n) / n, line.strip()
    finally:
        if saved is not None:
            os.environ["LEAKTRACE"] = saved


def startup(mode, sock_dir, n=20):
    """Median wall time of `python -c pass`."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run([PY, "-c", "pass"], check=True, env=_env(mode, 10, sock_dir))
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--interval", type=float, default=10.0, help="LEAKTRACE_INTERVAL of the production runs")
    ap.add_argument("--workloads", default="alloc_loop,json_roundtrip,compute_loop,request_loop")
    ap.add_argument("--no-workloads", action="store_true")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        sock_dir = os.path.join(tmp, "leaktrace")
        script = os.path.join(tmp, "service.py")
        with open(script, "w") as f:
            f.write(SERVICE)

        per_line, line = pth_cost()
        if per_line is not None:
            print("the .pth line with LEAKTRACE unset: %.2f us per interpreter start  [%s]" % (per_line * 1e6, line))
        s_plain, s_prod = startup("plain", sock_dir), startup("production", sock_dir)
        print("python -c pass: %.1f ms plain, %.1f ms with LEAKTRACE=1 (median of 20)" % (s_plain * 1e3, s_prod * 1e3))

        def rotate(r):
            return MODES[r % 3:] + MODES[:r % 3]

        svc = {m: [] for m in MODES}
        for r in range(args.rounds):
            got = {}
            for mode in rotate(r):
                got[mode] = service_run(script, mode, args.interval, args.requests, sock_dir)
                records.append({"suite": "service", "round": r, "mode": mode, "requests_per_s": got[mode][0],
                                "cpu_s_per_request": got[mode][1]})
            for m in MODES:
                svc[m].append(got[m])
            print("service round %d: " % r + ", ".join("%s %.0f req/s %.0f us CPU/req" % (m, got[m][0], got[m][1] * 1e6)
                                                        for m in MODES))
        for m in MODES[1:]:
            thr = [svc[m][k][0] / svc["plain"][k][0] for k in range(args.rounds)]
            cpu = [svc[m][k][1] / svc["plain"][k][1] for k in range(args.rounds)]
            print("service %-10s / plain: requests/s median %.3f (%.3f-%.3f), server CPU per request median %.3f "
                  "(%.3f-%.3f); %d rounds, interval %g s" % (m, statistics.median(thr), min(thr), max(thr),
                                                            statistics.median(cpu), min(cpu), max(cpu), args.rounds,
                                                            args.interval))

        if not args.no_workloads:
            for w in args.workloads.split(","):
                path = os.path.join(HERE, "workloads", w + ".py")
                runs = {m: [] for m in MODES}
                for r in range(args.rounds):
                    for mode in rotate(r):
                        runs[mode].append(workload_run(path, mode, args.interval, sock_dir))
                        records.append({"suite": "workload", "workload": w, "round": r, "mode": mode,
                                        "wall_s": runs[mode][-1]})
                parts = []
                for m in MODES[1:]:
                    ratio = [runs[m][k] / runs["plain"][k] for k in range(args.rounds)]
                    parts.append("%s %.3f (%.3f-%.3f)" % (m, statistics.median(ratio), min(ratio), max(ratio)))
                print("%-16s wall / plain, median (range): %s" % (w, ", ".join(parts)))
    if args.json:
        with open(args.json, "w") as f:
            for rec in records:
                f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
