"""Upload watchers started per request and never joined (scenario 10).

What leaks: one OS thread per upload (blocked forever on an event nobody
sets), its ``threading.Thread`` object, its stack, and the ``UploadJob`` it
watches.
Holder: the running threads themselves: each thread's frame holds ``job`` in a
local, and ``threading._active`` holds the ``Thread`` (whose ``_args`` hold
the job until ``run()`` returns).
Usual fix: a bounded pool (``concurrent.futures.ThreadPoolExecutor``), a
timeout on the wait, and ``join()``/shutdown when the work is done.
"""
import threading
import time


class UploadJob:
    def __init__(self, upload_id, size):
        self.upload_id = upload_id
        self.size = size
        self.cancelled = threading.Event()
        self.chunks = [b"\0" * 256 for _ in range(4)]


def _watch_upload(job):
    # Waits for a cancellation that never comes: the thread never ends.
    job.cancelled.wait()
    return job.upload_id


def tick(i):
    """One request: accept an upload, start a watcher thread for it."""
    job = UploadJob("up-%d" % i, 1024 * (i % 64 + 1))
    threading.Thread(target=_watch_upload, args=(job,), name="watch-%d" % i).start()  # LEAK-SITE
    return job.upload_id


if __name__ == "__main__":
    i = 0
    while True:
        tick(i)
        i += 1
        time.sleep(0.01)
