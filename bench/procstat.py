"""Process CPU accounting shared by the benchmarks (Linux /proc)."""

import os


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:  # fields after the command name: utime is #14, stime #15
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
