"""Benchmarks, one entry point: ``python scripts/bench.py draw|report|import|http|all [options]``.

Each subcommand prints its figures and the ratio against a baseline measured in the same run;
``python scripts/bench.py SUBCOMMAND --help`` lists its options (sizes, durations, database).
``all`` runs each one with small sizes, quickly, as CI does.
"""

import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# subcommand -> module; each has ``main(argv)`` and ``SMALL_ARGV``, the small run ``all`` makes
BENCHMARKS = {
    "draw": "scripts.benchmarks.draw",
    "report": "scripts.benchmarks.report",
    "import": "scripts.benchmarks.importer",
    "http": "scripts.benchmarks.http",
}


def run(name: str, argv: list[str] | None) -> int:
    """Run one benchmark (``argv`` None: its small CI size)."""
    module = importlib.import_module(BENCHMARKS[name])
    if name == "draw" and argv and "--e2e" in argv:  # the draw over HTTP, end to end
        module = importlib.import_module("scripts.benchmarks.draw_e2e")
    if argv is None:
        argv = list(getattr(module, "SMALL_ARGV", []))
    return module.main(argv) or 0


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the benchmark named by the first argument."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in (*BENCHMARKS, "all") or argv[0] in ("-h", "--help"):
        print(__doc__)
        print(f"subcommands: {', '.join(BENCHMARKS)}, all")
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    name, rest = argv[0], argv[1:]
    if name != "all":
        return run(name, rest)
    if rest:
        print("all takes no options; run the subcommands one by one to size them", file=sys.stderr)
        return 2
    worst = 0
    for each in BENCHMARKS:
        print(f"== {each} ==", flush=True)
        worst = max(worst, run(each, None))
    return worst


if __name__ == "__main__":
    raise SystemExit(main())
