"""Workload: an app-like request loop. Raw HTTP requests are parsed
(request line, headers, query string), routed by regular expression to
handlers that read and update an in-memory store through a bounded LRU
cache, build response objects (dataclasses, dicts, f-strings, a JSON body)
and log a line per request through the logging module. Many modules, deep
stacks and a steady mix of short-lived and cached objects: the shape of a
web service's hot loop, without sockets.

    python request_loop.py        (LT_BENCH_SCALE=0.2 for a quick run)
"""
import collections
import dataclasses
import io
import json
import logging
import os
import re
import urllib.parse

SCALE = float(os.environ.get("LT_BENCH_SCALE", "1"))
REQUESTS = int(60_000 * SCALE)


@dataclasses.dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes


@dataclasses.dataclass
class Response:
    status: int
    headers: dict
    body: bytes


class LRU:
    def __init__(self, capacity):
        self.capacity = capacity
        self.data = collections.OrderedDict()
        self.hits = self.misses = 0

    def get(self, key, make):
        try:
            value = self.data[key]
            self.data.move_to_end(key)
            self.hits += 1
            return value
        except KeyError:
            self.misses += 1
            value = self.data[key] = make(key)
            if len(self.data) > self.capacity:
                self.data.popitem(last=False)
            return value


STORE = {i: {"id": i, "name": "product-%d" % i, "price": 10 + i % 90, "stock": i % 13} for i in range(5000)}
CACHE = LRU(1000)
LOG = logging.getLogger("bench.request")


def parse(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    url = urllib.parse.urlsplit(target)
    query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
    return Request(method, url.path, query, headers, body)


def render_product(pid):
    p = STORE[pid]
    related = [f"/products/{(pid + k) % 5000}" for k in (1, 2, 3)]
    return {"product": p, "links": {"self": f"/products/{pid}", "related": related}}


def get_product(req, pid):
    doc = CACHE.get(int(pid), render_product)
    return 200, doc


def list_products(req):
    page = int(req.query.get("page", "0"))
    size = int(req.query.get("size", "20"))
    ids = range(page * size % 5000, page * size % 5000 + size)
    return 200, {"items": [STORE[i % 5000] for i in ids], "page": page}


def update_product(req, pid):
    data = json.loads(req.body)
    item = STORE[int(pid)]
    item.update({k: v for k, v in data.items() if k in ("price", "stock")})
    CACHE.data.pop(int(pid), None)
    return 204, None


ROUTES = [
    ("GET", re.compile(r"^/products/(\d+)$"), get_product),
    ("GET", re.compile(r"^/products$"), list_products),
    ("PUT", re.compile(r"^/products/(\d+)$"), update_product),
]


def dispatch(req):
    for method, pattern, handler in ROUTES:
        if method == req.method:
            m = pattern.match(req.path)
            if m:
                return handler(req, *m.groups())
    return 404, {"error": "not found", "path": req.path}


def handle(raw):
    req = parse(raw)
    status, doc = dispatch(req)
    body = b"" if doc is None else json.dumps(doc).encode()
    resp = Response(status, {"content-type": "application/json", "content-length": str(len(body))}, body)
    LOG.info("%s %s -> %d (%d bytes) ua=%s", req.method, req.path, resp.status, len(resp.body),
             req.headers.get("user-agent", "-"))
    return resp


def make_request(i):
    kind = i % 10
    headers = (f"Host: shop.example\r\nUser-Agent: bench/{i % 7}\r\nAccept: application/json\r\n"
               f"X-Request-Id: {i:08x}\r\nCookie: session={i % 257:04x}; theme=dark")
    if kind < 6:
        # Mostly a hot set of 300 products (served from the cache), now and
        # then any of the 5000.
        pid = (i * 7919) % 5000 if i % 4 == 0 else (i * 31) % 300
        return f"GET /products/{pid} HTTP/1.1\r\n{headers}\r\n\r\n".encode()
    if kind < 9:
        return f"GET /products?page={i % 50}&size=20&sort=price HTTP/1.1\r\n{headers}\r\n\r\n".encode()
    body = json.dumps({"price": i % 100, "stock": i % 11})
    return f"PUT /products/{i % 5000} HTTP/1.1\r\n{headers}\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode()


def main():
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)
    LOG.propagate = False
    recent = collections.deque(maxlen=500)   # e.g. a debug ring buffer
    total = 0
    for i in range(REQUESTS):
        resp = handle(make_request(i))
        recent.append(resp)
        total += resp.status + len(resp.body)
        if sink.tell() > 1 << 20:             # rotate the log
            sink.seek(0)
            sink.truncate()
    print("request_loop", REQUESTS, total, CACHE.hits, CACHE.misses)


if __name__ == "__main__":
    main()
