"""A small HTTP service for `leaktrace attach`: listens on 127.0.0.1 (a free
port, printed as "PORT <n>" on stdout), answers every GET with a short
body, and runs until it is killed.

By default its handler keeps a record of every request in a module-global
dict that nothing trims (the leak attach must find, with its type, site and
holder). With --clean the records go to a bounded deque: memory plateaus.
"""
import collections
import http.server
import sys


class RequestRecord:
    def __init__(self, n, path):
        self.n = n
        self.path = path
        self.tags = ["seen", path]


SEEN = {}
RECENT = collections.deque(maxlen=64)
CLEAN = "--clean" in sys.argv


class Handler(http.server.BaseHTTPRequestHandler):
    served = 0

    def do_GET(self):
        Handler.served += 1
        record = RequestRecord(Handler.served, self.path)  # LEAK-SITE
        if CLEAN:
            RECENT.append(record)
        else:
            SEEN["req-%d" % record.n] = record
        body = b"ok %d\n" % record.n
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


def main():
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
