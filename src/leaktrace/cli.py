"""The leaktrace command line. Argument parsing only: the work is in C."""
import argparse
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="leaktrace", description="Find memory leaks in Python programs.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="run a bundled leaky service and explain what leaks")
    demo.add_argument("--rounds", type=int, default=5, help="observation rounds (default 5)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from leaktrace.demo import main as demo_main

        return demo_main(rounds=args.rounds)
    parser.print_help(sys.stderr)
    return 2
