"""Giving the C heap's free pages back (influxhtm.htm.allocator), in a fresh process whose heap the test
shapes: free holes between live blocks, which glibc keeps resident until trimmed."""

import subprocess
import sys
import textwrap

FRAGMENT_THEN_MEASURE = textwrap.dedent(
    """
    import sys, time
    from influxhtm.htm.allocator import HeapTrimmer, release_free_heap

    def resident_mb():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024

    def holes():
        # 3,000 blocks of 32 KB (heap, below glibc's mapping threshold), each followed by a small block
        # that stays: freeing the large ones leaves 94 MB of holes (82 MB of whole pages) the heap cannot
        # shrink past.
        large, small = [], []
        for _ in range(3000):
            large.append(bytes(32 * 1024))
            small.append(bytes(600))
        before = resident_mb()
        del large
        return small, before

    kept, before = holes()
    freed = resident_mb()
    if sys.argv[1] == "call":
        assert release_free_heap()
    else:
        trimmer = HeapTrimmer(interval=0.05).start()
        time.sleep(0.5)
        trimmer.stop()
    print(before, freed, resident_mb())
    """
)


def _run(mode: str) -> tuple[float, float, float]:
    out = subprocess.run(
        [sys.executable, "-c", FRAGMENT_THEN_MEASURE, mode], capture_output=True, text=True, check=True
    ).stdout
    before, freed, trimmed = map(float, out.split())
    return before, freed, trimmed


def test_freed_holes_stay_resident_until_the_heap_is_trimmed():
    before, freed, trimmed = _run("call")
    assert before - freed < 10, f"glibc kept the holes resident: {before:.0f} -> {freed:.0f} MB"
    assert freed - trimmed > 60, f"trimming gave back {freed - trimmed:.0f} MB of 94 MB of holes"


def test_the_trimmer_thread_trims_and_stops():
    _, freed, trimmed = _run("thread")
    assert freed - trimmed > 60, f"the trimmer gave back {freed - trimmed:.0f} MB of 94 MB of holes"
