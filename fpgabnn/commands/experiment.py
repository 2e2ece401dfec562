"""fpgabnn experiment: run an accuracy study (every method, same model, data, epochs and seeds)."""

from __future__ import annotations

HELP = "run an accuracy study from a YAML/TOML file: methods x models x data sets x seeds, resumable"
EPILOG = """examples:
  fpgabnn experiment benchmarks/accuracy_study.yaml --jobs 2
  fpgabnn experiment benchmarks/accuracy_smoke.yaml --dry-run     # list the runs and their state

Each run trains into OUT/<model>/<dataset>/<method>/seed<N>. A finished run is not redone; a run
stopped mid-way resumes from its last.pt. After every finished run the results are rewritten:
RESULTS.json ({"runs": [...], "hardware": [...]}), RESULTS.md and RESULTS_<model>_<dataset>_*.png.
Methods: baseline xnor learned-scale svd tucker holistic-tucker rotation rbnn-B rbnn-B+T rbnn-B+R
rbnn-B+T+R rbnn-B+T+R+A tucker-rotation aux (fpgabnn/train/study.py says what each one sets).
"""


def add_arguments(p):
    p.add_argument("config", help="study file (.yaml/.yml/.toml): out, results, seeds, epochs, common, methods, cells")
    p.add_argument("--jobs", type=int, default=1, help="runs trained in parallel processes (default 1)")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1)")
    p.add_argument("--only", action="append", metavar="PATTERN",
                   help="train only runs whose label matches (shell pattern, repeatable), e.g. 'sfc/mnist/*/seed0'")
    p.add_argument("--dry-run", action="store_true", help="print the planned runs and their state, train nothing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    from fpgabnn.errors import UserError
    from fpgabnn.train.study import load_study, plan, run_study, selected, write_results

    if args.jobs < 1 or args.threads < 1:
        raise UserError("--jobs and --threads must be positive integers")
    study = load_study(args.config)
    if args.dry_run:
        for r, state in plan(study):
            if not selected(r, args.only):
                continue
            print(f"{state:8s} {r.label}  {r.out}")
        return 0
    result = run_study(study, jobs=args.jobs, progress=False if args.no_progress else None, threads=args.threads,
                       only=args.only)
    doc = write_results(study)
    print(f"{len(doc['runs'])} method/cell rows in {study.results.with_suffix('.json')}"
          + (f"; {len(result['errors'])} runs failed" if result["errors"] else ""))
    return 1 if result["errors"] else 0
