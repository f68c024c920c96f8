"""Workload: JSON round trips. A nested document of a few thousand values
is serialised and parsed again and again (the C accelerator of the json
module does the work: many str, int, float, list and dict allocations made
in C with few Python frames above them), and each parsed copy is checked.

    python json_roundtrip.py      (LT_BENCH_SCALE=0.2 for a quick run)
"""
import json
import os
import random

SCALE = float(os.environ.get("LT_BENCH_SCALE", "1"))
ROUNDS = int(550 * SCALE)


def make_document(rng, n_users=300):
    users = []
    for i in range(n_users):
        users.append({
            "id": i,
            "name": "user-%05d" % i,
            "email": "user%d@example.org" % i,
            "score": rng.random() * 100,
            "active": i % 3 != 0,
            "tags": ["t%d" % (i % 17), "g%d" % (i % 5), "x"],
            "address": {"street": "%d Main St" % i, "city": "Springfield", "zip": "%05d" % (i * 7 % 99999)},
            "history": [{"ts": 1_700_000_000 + k, "v": rng.randint(0, 1000)} for k in range(4)],
        })
    return {"version": 3, "generated": "2024-01-01T00:00:00Z", "users": users}


def main():
    rng = random.Random(42)
    doc = make_document(rng)
    total = 0
    keep = []
    for r in range(ROUNDS):
        text = json.dumps(doc)
        back = json.loads(text)
        total += len(text) + len(back["users"])
        # Pretty-printed every few rounds: the pure-Python encoder path.
        if r % 20 == 0:
            total += len(json.dumps(back["users"][:50], indent=2, sort_keys=True))
        keep.append(back)
        if len(keep) > 4:
            keep.pop(0)
        doc["users"][r % len(doc["users"])]["score"] = rng.random()
    print("json_roundtrip", ROUNDS, total)


if __name__ == "__main__":
    main()
