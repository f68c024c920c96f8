"""Workload: a compute loop. Float and small-int arithmetic in pure Python
(a Mandelbrot set, n-body steps, a dynamic-programming table). Of the four
workloads it allocates the least: floats come from the float free list and
the ints stay small (cached), so what reaches the allocator is mostly the
range iterators of inner loops and list growth (about 2 M allocations a
second against 4 to 10 M for the others). It measures what a tool costs
code that computes more than it allocates.

    python compute_loop.py        (LT_BENCH_SCALE=0.2 for a quick run)
"""
import math
import os

SCALE = float(os.environ.get("LT_BENCH_SCALE", "1"))
ROUNDS = int(32 * SCALE)


def mandelbrot(size=120, max_iter=60):
    # Floats come from the float free list and every int stays below 257
    # (the interpreter's cached small ints): no allocator call per step.
    inside = 0
    for py in range(size):
        ci = 2.4 * py / size - 1.2
        for px in range(size):
            cr = 3.0 * px / size - 2.1
            zr = zi = 0.0
            n = 0
            while n < max_iter and zr * zr + zi * zi < 4.0:
                zr, zi = zr * zr - zi * zi + cr, 2.0 * zr * zi + ci
                n += 1
            inside += n == max_iter
    return inside


def nbody(steps, bodies=5):
    pos = [[float(i), float(i * 2 % 3), float(i * 3 % 5)] for i in range(bodies)]
    vel = [[0.0, 0.0, 0.0] for _ in range(bodies)]
    mass = [1.0 + i for i in range(bodies)]
    dt = 0.001
    for _ in range(steps):
        for i in range(bodies):
            pi, vi = pos[i], vel[i]
            for j in range(i + 1, bodies):
                pj, vj = pos[j], vel[j]
                dx = pi[0] - pj[0]
                dy = pi[1] - pj[1]
                dz = pi[2] - pj[2]
                d2 = dx * dx + dy * dy + dz * dz + 0.01
                mag = dt / (d2 * math.sqrt(d2))
                mi, mj = mass[i] * mag, mass[j] * mag
                vi[0] -= dx * mj
                vi[1] -= dy * mj
                vi[2] -= dz * mj
                vj[0] += dx * mi
                vj[1] += dy * mi
                vj[2] += dz * mi
        for i in range(bodies):
            p, v = pos[i], vel[i]
            p[0] += dt * v[0]
            p[1] += dt * v[1]
            p[2] += dt * v[2]
    return sum(p[0] for p in pos)


def lcs(a, b):
    prev = [0] * (len(b) + 1)
    for ca in a:
        cur = [0]
        for j, cb in enumerate(b):
            cur.append(prev[j] + 1 if ca == cb else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def main():
    total = 0.0
    a = "ACGT" * 60
    b = "AGCT" * 60
    for r in range(ROUNDS):
        total += mandelbrot()
        total += nbody(6_000)
        total += lcs(a, b[r % 4:])
    print("compute_loop", ROUNDS, round(total, 3))


if __name__ == "__main__":
    main()
