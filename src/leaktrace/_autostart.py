"""Imported by leaktrace-production.pth at interpreter start-up when
LEAKTRACE is set (and not "0"): starts production mode. A bad setting or a
socket that cannot be made costs one line on stderr, never the program."""


def _start():
    import sys

    try:
        from leaktrace.production import enable

        enable()
    except (ValueError, OSError, RuntimeError, ImportError) as e:
        sys.stderr.write("leaktrace: production mode not started: %s\n" % e)


_start()
