#!/usr/bin/env python
import os
import sys


def main() -> None:
    if (
        sys.argv[1:2] == ["serve"]
        and "--check-only" not in sys.argv
        and "MALLOC_ARENA_MAX" not in os.environ
    ):
        # glibc gives each thread that allocates its own arena (up to 8 per
        # core) and keeps their freed memory: with a turn per thread, the
        # server's RSS grew by a third under load. The setting is read when a
        # process starts, so start again with it, before Django loads anything.
        os.environ["MALLOC_ARENA_MAX"] = "2"
        os.execv(sys.executable, [sys.executable, *sys.argv])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ade.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
