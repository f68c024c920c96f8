"""`leaktrace demo`: `leaktrace run` on the bundled billing service.

The service (leaktrace.demo_service) leaks in three of the classic ways of
SCENARIOS.md and keeps two things that must not be reported; the report
should name the three and only them.
"""
from leaktrace import cli


def main(duration=8.0):
    return cli.main(["run", "--duration", str(duration), "-m", "leaktrace.demo_service"])
