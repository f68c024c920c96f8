"""Report renderer that caches whole requests instead of the ETag (scenario 3).

What leaks: every ``RenderRequest`` (with its 4 KiB raw body) and the rendered
page. Holder: the module global ``RESPONSE_CACHE``, keyed by the full URL
including the per-request query string, so no two keys are the same. Only the
ETag was ever read back from the cache.
Usual fix: store only what is needed (the ETag), key by what identifies the
content, and bound the cache.
"""
import hashlib
import time

RESPONSE_CACHE = {}


class RenderRequest:
    def __init__(self, url, user, body):
        self.url = url
        self.user = user
        self.body = body
        self.headers = {"Accept": "text/html", "X-User": user}


def render(request):
    html = "<h1>Report for %s</h1><p>%d bytes of input</p>" % (request.user, len(request.body))
    etag = hashlib.sha1(html.encode()).hexdigest()
    # Intended to answer "304 Not Modified" later; keeps the whole request.
    RESPONSE_CACHE[request.url] = (request, html, etag)
    return etag


def tick(i):
    """One request: render a report page for a user."""
    user = "u%d" % (i % 40)
    url = "/reports/%s?ts=%d" % (user, 1700000000 + i)
    body = (b"%08d," % i) * 512
    return render(RenderRequest(url, user, body))  # LEAK-SITE


if __name__ == "__main__":
    i = 0
    while True:
        tick(i)
        i += 1
        time.sleep(0.01)
