"""The timing the comparison scripts share: the median of three blocks, so that one disturbed block does not count."""
import statistics
import time


def add_step_options(parser) -> None:
    """The options of the PyTorch training benchmarks: block size, warm-up, threads and JSON output."""
    parser.add_argument("--steps", type=int, default=20, help="steps per timed block (3 blocks)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


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
