"""The timing the comparison scripts share: the median of three blocks, so that one disturbed block does not count."""
import statistics
import time


def timed_blocks(run, repeats: int, sync=lambda: None) -> float:
    """Median seconds of three blocks of `repeats` calls to run(), each block between two sync() calls."""
    blocks = []
    for _ in range(3):
        sync()
        t0 = time.perf_counter()
        for _ in range(repeats):
            run()
        sync()
        blocks.append(time.perf_counter() - t0)
    return statistics.median(blocks)
