"""How long this process has run: live mode's start-up figures count from the command itself."""

from __future__ import annotations

import os
import time

_IMPORTED = time.monotonic()


def process_age_s() -> float:
    """Seconds since this process started (Linux: from ``/proc``; else since this module loaded).

    The interpreter's own start and every import count, as a user waiting for
    the first picture counts them.
    """
    try:
        with open("/proc/self/stat") as f:
            # The command name (field 2) may hold spaces; fields after its ")" are plain.
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start, in ticks
        return max(0.0, uptime - started)
    except (OSError, ValueError, IndexError):
        return time.monotonic() - _IMPORTED
