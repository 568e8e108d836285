"""Full index build, both PDF parsers side by side: parse + chunk + embed (cold cache) + index.

    python scripts/bench_build.py --pdfs ../shared/pdfs [--rounds 2]

Each round builds, for each parser in turn, a fresh data root holding the same PDFs (added once,
then copied), with an empty embedding cache, by running `paperqa index --full` as a whole process.
Alternating the parsers within a round keeps a busy machine's load from favouring one of them.
Prints each run's seconds and the median per parser.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PARSERS = ("pypdf", "pdfium")


def paperqa(*args: str, env: dict[str, str]) -> None:
    cmd = [sys.executable, "-m", "paperqa.app.cli", *args]
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pdfs", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "pdfs")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PAPERQA_HISTORY": "0"}
    work = Path(tempfile.mkdtemp(prefix="paperqa-bench-build-"))
    try:
        seed = work / "seed"
        paperqa("add", str(args.pdfs), "--home", str(seed), env=env)
        times: dict[str, list[float]] = {p: [] for p in PARSERS}
        for r in range(args.rounds):
            for parser in PARSERS if r % 2 == 0 else reversed(PARSERS):
                home = work / f"{parser}-{r}"
                (home / "corpus").mkdir(parents=True)
                shutil.copytree(seed / "corpus" / "pdfs", home / "corpus" / "pdfs")
                shutil.copy(seed / "corpus" / "manifest.json", home / "corpus" / "manifest.json")
                t0 = time.perf_counter()
                paperqa("index", "--full", "--home", str(home), env={**env, "PAPERQA_PARSER": parser})
                times[parser].append(time.perf_counter() - t0)
                print(f"round {r + 1} {parser:7s} {times[parser][-1]:6.1f} s", flush=True)
        med = {p: statistics.median(v) for p, v in times.items()}
        print(
            f"median: pypdf {med['pypdf']:.1f} s, pdfium {med['pdfium']:.1f} s, {med['pypdf'] / med['pdfium']:.2f}x"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
