"""Process CPU accounting shared by the benchmarks (Linux /proc)."""

import os


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:  # fields after the command name: utime is #14, stime #15
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_mb(pid: int | str, key: str) -> float:
    """A /proc/<pid>/status memory line (kB) in MB; NaN if absent."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def rss_mb() -> float:
    """This process's resident set in MB."""
    return _status_mb("self", "VmRSS")


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident set (VmHWM) in MB."""
    return _status_mb(pid, "VmHWM")
