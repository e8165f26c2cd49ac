"""Near-duplicate search at scale: LSH candidates checked by the exact rule, on synthetic
fingerprints (no media): time and peak memory at 10k, 100k and 1M videos, and on 10k the
groups against checking every pair of similar length (the quadratic reference).

Fingerprints as build sees them: 1-60 min, 10 keyframe dHashes, half with speech, every tenth
a re-upload of an earlier video (pipeline/synthetic.py: `fingerprints`). A second 10k set
flips up to 10 bits per keyframe, the rule's limit, where LSH may miss pairs.

usage: python bench/dedup.py [--smoke]   (--smoke: 2k videos, no 100k or 1M run)
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

from pipeline.core.curation import Policy  # noqa: E402
from pipeline.core.near_duplicates import duplicate_groups  # noqa: E402
from pipeline.synthetic import fingerprints  # noqa: E402

POLICY = Policy(duplicates=True)


def timed(videos: list, exhaustive: bool = False) -> tuple[dict[str, str], float, float]:
    """(groups, seconds, peak MiB the search allocated)."""
    tracemalloc.start()
    started = time.perf_counter()
    groups = duplicate_groups(videos, POLICY, exhaustive=exhaustive)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return groups, seconds, peak


def agreement(n: int, max_flips: int) -> None:
    videos = fingerprints(n, seed=1, max_flips=max_flips)
    lsh, lsh_s, _ = timed(videos)
    exact, exact_s, _ = timed(videos, exhaustive=True)
    same = lsh == exact
    missed = len(set(exact) - set(lsh))
    print(
        f"{n:>9,} videos, up to {max_flips:2d} bits flipped: LSH {len(lsh)} duplicates in "
        f"{lsh_s:.2f} s, every pair {len(exact)} in {exact_s:.2f} s; "
        f"{'same groups' if same else f'{missed} missed by LSH'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    sizes = [2_000] if args.smoke else [10_000, 100_000, 1_000_000]
    for n in sizes:
        videos = fingerprints(n)
        groups, seconds, peak = timed(videos)
        print(f"{n:>9,} videos: LSH {seconds:6.2f} s, {peak:7.1f} MiB peak, {len(groups)} dups")
    for flips in (4, 10):
        agreement(sizes[0], flips)
    print(f"process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
