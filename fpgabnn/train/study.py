"""Accuracy studies: every method on the same model, data, epochs and seeds; resumable; tables and plots.

A study file (YAML or TOML) names the cells (model x dataset), the methods and the seeds::

    out: runs/study                      # one run directory per (model, dataset, method, seed)
    results: benchmarks/results/accuracy # writes accuracy.json, accuracy.md and PNGs beside it
    seeds: [0, 1, 2]
    epochs: 10
    common: {max_train_samples: 20000}  # TrainConfig options shared by every run
    methods: [baseline, xnor, svd, rotation]     # names of METHOD_PRESETS, or {name: {options}}
    cells:
      - {model: lfc, dataset: mnist, epochs: 30}
      - {model: resnet20-preact, dataset: fashion-mnist, common: {lr: 0.05}, methods: [baseline, learned-scale]}
      - {model: sfc, dataset: mnist, tune: {lr: [0.005, 0.02]}, tune_epochs: 3}
      - {model: lfc, dataset: mnist, tune: {clip_weights: [false, true]}, tune_with: baseline}

Runs are resumable: a run whose ``metrics.json`` holds a test result is not redone; a run killed
mid-way continues from its ``last.pt`` (``Trainer(resume=True)``). Every finished run's ``metrics.json`` and
``report.json`` (no checkpoints) are also copied to ``archive`` (default: ``<results>_runs`` beside the
results, meant to be committed), and a run found there counts as finished too: a fresh clone resumes the
study where the committed results stand instead of retraining them. A finished run whose stored options
differ from the study's is an error (change ``out`` or delete the run), never silently reused.
``tune`` picks values by the best final *validation* accuracy of seed 0 (the validation split of the
training data); the test set is only ever evaluated, at the end of each run, with its last weights.
Each method is tuned on its own, unless ``tune_with`` names one method of the cell: then only that
method's tuning runs are trained and its choice applies to every method (one recipe for the whole cell).
"""

from __future__ import annotations

import copy
import fnmatch
import itertools
import json
import math
import os
import sys
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path


from fpgabnn.core.fileio import atomic_write_bytes, jsonable
from fpgabnn.errors import UserError

# Each method is a set of TrainConfig options on top of the cell's. RBNN's ablation (Lin et al. 2020,
# table 3): B = XNOR baseline (sign + analytic scale), T = training-aware sign gradients, R = bi-rotation
# (without A: the rotated weight itself), A = the adjustable rotated weight (theta).
METHOD_PRESETS: dict[str, dict] = {
    "baseline": {},
    "xnor": {"scaling": "analytic"},
    "learned-scale": {"scaling": "learned"},
    "svd": {"method": "svd"},
    "tucker": {"method": "tucker"},
    "holistic-tucker": {"method": "holistic-tucker"},
    "rotation": {"method": "rotation"},
    "rbnn-B": {"scaling": "analytic"},
    "rbnn-B+T": {"scaling": "analytic", "weight_grad": "rbnn", "act_grad": "rbnn"},
    "rbnn-B+R": {"scaling": "analytic", "method": "rotation", "method_options": {"adjustable": False}},
    "rbnn-B+T+R": {"scaling": "analytic", "method": "rotation", "method_options": {"adjustable": False},
                   "weight_grad": "rbnn", "act_grad": "rbnn"},
    "rbnn-B+T+R+A": {"scaling": "analytic", "method": "rotation", "weight_grad": "rbnn", "act_grad": "rbnn"},
    "tucker-rotation": {"method": "tucker-rotation"},
    "aux": {"aux": True},
}
ALL_METHODS = tuple(METHOD_PRESETS)
STUDY_KEYS = ("out", "results", "archive", "seeds", "epochs", "common", "methods", "cells", "tune", "tune_epochs", "tune_with")
CELL_KEYS = ("model", "dataset", "epochs", "common", "methods", "seeds", "tune", "tune_epochs", "tune_with")


# --------------------------------------------------------------------------------------------
# The plan


@dataclass
class Run:
    """One training run of the study."""

    model: str
    dataset: str
    method: str
    seed: int
    epochs: int
    options: dict  # TrainConfig options (without out)
    out: Path
    tune: dict | None = None  # {option: value} for a tuning run
    archive: Path | None = None  # where its metrics.json and report.json are kept once it has finished

    @property
    def label(self) -> str:
        tune = "" if not self.tune else " tune " + ",".join(f"{k}={v}" for k, v in self.tune.items())
        return f"{self.model}/{self.dataset}/{self.method}/seed{self.seed}{tune}"

    def config_dict(self) -> dict:
        return {**copy.deepcopy(self.options), "out": str(self.out)}


@dataclass
class Cell:
    model: str
    dataset: str
    epochs: int
    seeds: list
    methods: dict  # name -> options
    common: dict
    tune: dict = field(default_factory=dict)
    tune_epochs: int | None = None
    tune_with: str | None = None  # the one method whose tuning choice every method of the cell uses

    def tuned_by(self, method: str) -> str:
        """The method whose tuning runs decide ``method``'s options."""
        return self.tune_with or method


@dataclass
class Study:
    out: Path
    results: Path
    cells: list
    source: str = "study"
    archive: Path | None = None

    def archived(self, out: Path) -> Path | None:
        """The archive directory of the run directory ``out``."""
        return None if self.archive is None else self.archive / out.relative_to(self.out)


def _merge(*dicts: dict) -> dict:
    """Later dicts win; method_options are merged key by key."""
    out: dict = {}
    for d in dicts:
        for k, v in (d or {}).items():
            if k == "method_options" and isinstance(v, dict):
                out[k] = {**out.get(k, {}), **v}
            else:
                out[k] = copy.deepcopy(v)
    return out


def _methods(value, source: str) -> dict:
    if value is None:
        value = list(ALL_METHODS)
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list):
        unknown = [m for m in value if m not in METHOD_PRESETS]
        if unknown:
            raise UserError(f"{source}: unknown method {unknown[0]!r}; choose from {', '.join(ALL_METHODS)} "
                            "or give a mapping name: {options}")
        return {m: copy.deepcopy(METHOD_PRESETS[m]) for m in value}
    if isinstance(value, dict):
        out = {}
        for name, opts in value.items():
            base = METHOD_PRESETS.get(str(name), {})
            if opts is None and str(name) not in METHOD_PRESETS:
                raise UserError(f"{source}: unknown method {name!r} without options")
            out[str(name)] = _merge(base, opts or {})
        return out
    raise UserError(f"{source}: methods must be a list of names or a mapping name: {{options}}")


def load_study(path: str | os.PathLike) -> Study:
    """Read and check a study file (every run's options are validated before anything runs)."""
    from fpgabnn.train.config import TrainConfig, _read_mapping, normalise_keys

    path = Path(path)
    data = _read_mapping(path)
    source = str(path)
    unknown = sorted(set(data) - set(STUDY_KEYS))
    if unknown:
        raise UserError(f"{source}: unknown key {unknown[0]!r}; valid: {', '.join(STUDY_KEYS)}")
    if not data.get("cells"):
        raise UserError(f"{source}: no cells; add e.g. cells: [{{model: lfc, dataset: mnist}}]")

    def resolve(p, default):
        p = Path(p if p is not None else default)
        return p if p.is_absolute() else (Path.cwd() / p)

    out = resolve(data.get("out"), "runs/study")
    results = resolve(data.get("results"), "benchmarks/results/accuracy")
    archive = resolve(data.get("archive"), results.parent / f"{results.name}_runs")
    common = normalise_keys(data.get("common") or {}, f"{source} common")
    cells = []
    for i, raw in enumerate(data["cells"]):
        where = f"{source} cell {i + 1}"
        if not isinstance(raw, dict) or "model" not in raw or "dataset" not in raw:
            raise UserError(f"{where}: a cell needs model and dataset")
        bad = sorted(set(raw) - set(CELL_KEYS))
        if bad:
            raise UserError(f"{where}: unknown key {bad[0]!r}; valid: {', '.join(CELL_KEYS)}")
        epochs = raw.get("epochs", data.get("epochs"))
        seeds = raw.get("seeds", data.get("seeds", [0, 1, 2]))
        if not isinstance(epochs, int) or epochs < 1:
            raise UserError(f"{where}: epochs must be a positive integer, got {epochs!r}")
        if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
            raise UserError(f"{where}: seeds must be a non-empty list of integers")
        tune = raw.get("tune", data.get("tune")) or {}
        if not isinstance(tune, dict) or not all(isinstance(v, list) and v for v in tune.values()):
            raise UserError(f"{where}: tune must map an option to a non-empty list of values")
        cell = Cell(model=str(raw["model"]), dataset=str(raw["dataset"]), epochs=epochs, seeds=list(seeds),
                    methods=_methods(raw.get("methods", data.get("methods")), where),
                    common=_merge(common, normalise_keys(raw.get("common") or {}, where)),
                    tune={str(k).replace("-", "_"): v for k, v in tune.items()},
                    tune_epochs=raw.get("tune_epochs", data.get("tune_epochs")),
                    tune_with=raw.get("tune_with", data.get("tune_with")))
        if cell.tune_with is not None and cell.tune_with not in cell.methods:
            raise UserError(f"{where}: tune_with {cell.tune_with!r} is not one of the cell's methods "
                            f"({', '.join(cell.methods)})")
        for name, opts in cell.methods.items():  # check every combination now, not after hours
            values = normalise_keys(_merge(cell.common, opts), f"{where} method {name}")
            TrainConfig.from_dict({**values, "model": cell.model, "dataset": cell.dataset, "epochs": epochs,
                                   "out": "x"}).resolve()
        cells.append(cell)
    return Study(out=out, results=results, cells=cells, source=source, archive=archive)


def _slug(values: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(values.items())).replace("/", "_")


def _set_option(options: dict, key: str, value) -> dict:
    """``method_options.rank_ratio`` sets a method option; other keys set TrainConfig options."""
    options = copy.deepcopy(options)
    if key.startswith("method_options."):
        options.setdefault("method_options", {})[key.split(".", 1)[1]] = value
    else:
        options[key] = value
    return options


def method_options(cell: Cell, method: str) -> dict:
    from fpgabnn.train.config import normalise_keys

    values = normalise_keys(_merge(cell.common, cell.methods[method]), "study")
    values.update({"model": cell.model, "dataset": cell.dataset})
    return values


def tuning_runs(study: Study, cell: Cell, method: str) -> list[Run]:
    """The tuning runs that decide ``method``'s choice (with ``tune_with``: that method's)."""
    if not cell.tune:
        return []
    method = cell.tuned_by(method)
    keys = sorted(cell.tune)
    runs = []
    for combo in itertools.product(*(cell.tune[k] for k in keys)):
        choice = dict(zip(keys, combo))
        options = method_options(cell, method)
        for k, v in choice.items():
            options = _set_option(options, k, v)
        epochs = cell.tune_epochs or cell.epochs
        options["epochs"], options["seed"] = epochs, cell.seeds[0]
        out = study.out / cell.model / cell.dataset / method / f"tune-{_slug(choice)}-e{epochs}"
        runs.append(Run(cell.model, cell.dataset, method, cell.seeds[0], epochs, options, out, tune=choice,
                        archive=study.archived(out)))
    return runs


def main_runs(study: Study, cell: Cell, method: str, choice: dict | None) -> list[Run]:
    runs = []
    for seed in cell.seeds:
        options = method_options(cell, method)
        for k, v in (choice or {}).items():
            options = _set_option(options, k, v)
        options["epochs"], options["seed"] = cell.epochs, seed
        suffix = f"-{_slug(choice)}" if choice else ""
        out = study.out / cell.model / cell.dataset / method / f"seed{seed}{suffix}"
        runs.append(Run(cell.model, cell.dataset, method, seed, cell.epochs, options, out,
                        archive=study.archived(out)))
    return runs


# --------------------------------------------------------------------------------------------
# Run state


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def summary_of(run: Run) -> dict | None:
    """The finished run's metrics.json (its run directory's, else the archive's), or None."""
    for where in (run.out, run.archive):
        if where is not None:
            summary = _read_json(where / "metrics.json")
            if summary.get("test"):
                return summary
    return None


def archive_run(run: Run) -> None:
    """Copy a finished run's metrics.json and report.json (without the machine's paths) to its archive."""
    summary = _read_json(run.out / "metrics.json")
    if run.archive is None or not summary.get("test"):
        return
    report = ensure_report(run)
    summary["config"] = {k: v for k, v in summary.get("config", {}).items() if k != "out"}
    for name, doc in (("metrics.json", summary), ("report.json", report)):
        if doc is not None:
            data = (json.dumps(jsonable(doc)) + "\n").encode()
            target = run.archive / name
            if not target.is_file() or target.read_bytes() != data:
                target.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(target, data)


def run_state(run: Run) -> str:
    """"done" (a test result with the same options), "partial" (a last.pt to resume) or "new"."""
    from fpgabnn.train.config import TrainConfig

    summary = summary_of(run)
    if summary is not None:
        want = TrainConfig.from_dict(run.config_dict()).resolve().to_dict()
        stored = {k: v for k, v in summary.get("config", {}).items() if k in want}
        try:  # a run from before an option existed gets that option's default (archived runs have no out)
            have = TrainConfig.from_dict({"out": str(run.out), **stored}).resolve().to_dict()
        except (UserError, TypeError):
            have = stored
        diff = sorted(k for k in want if k not in ("out", "workers", "device") and have.get(k) != want[k])
        if diff:
            raise UserError(f"{run.out} (or its archive) holds a finished run with other options "
                            f"({diff[0]}={have.get(diff[0])!r}, the study asks {want[diff[0]]!r}); "
                            "delete it or change the study's out and archive")
        return "done"
    if (run.out / "last.pt").is_file():
        return "partial"
    return "new"


def execute(run: Run, threads: int = 1) -> dict:
    """Train one run (resuming when it has a last.pt) and write its report.json; returns its summary."""
    import torch

    from fpgabnn.train.config import TrainConfig
    from fpgabnn.train.trainer import Trainer

    torch.set_num_threads(threads)
    state = run_state(run)
    if state != "done":
        run.out.mkdir(parents=True, exist_ok=True)
        with open(run.out / "train.log", "a") as log_file:
            config = TrainConfig.from_dict(run.config_dict())
            explicit = set(run.config_dict()) if state == "partial" else None
            Trainer(config, resume=state == "partial", explicit=explicit, progress=False,
                    log=lambda msg: print(msg, file=log_file, flush=True)).fit()
    ensure_report(run)
    return summary_of(run)


def ensure_report(run: Run) -> dict | None:
    """report.json of a finished run: per-layer flip rate, angle, quantisation error, scales (from last.pt)."""
    report = run.out / "report.json"
    if not report.is_file():
        if not (run.out / "last.pt").is_file():
            kept = None if run.archive is None else run.archive / "report.json"
            return json.loads(kept.read_text()) if kept is not None and kept.is_file() else None
        from fpgabnn.train.inspect import inspect_checkpoint

        rep = inspect_checkpoint(run.out / "last.pt")
        slim = {"layers": [{k: la[k] for k in ("name", "shape", "flip_rate", "angle_deg", "quant_error", "scales")}
                           for la in rep["layers"]], "flip_rate": rep["flip_rate"]}
        atomic_write_bytes(report, (json.dumps(jsonable(slim)) + "\n").encode())
    return json.loads(report.read_text())


def _execute_quiet(run: Run, threads: int) -> tuple[str, str | None]:
    try:
        execute(run, threads)
        return run.label, None
    except UserError as err:
        return run.label, f"error: {err}"
    except Exception as err:  # noqa: BLE001  (an internal failure of one run must not stop the others)
        return run.label, f"internal error: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"


# --------------------------------------------------------------------------------------------
# The driver


class _InlineExecutor:
    """``--jobs 1``: runs in this process (Ctrl-C then reaches the trainer, which saves and stops)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def submit(self, fn, *args):
        future = Future()
        future.set_result(fn(*args))
        return future


def final_val(run: Run) -> float:
    return summary_of(run)["epochs"][-1]["val_acc"]


def plan(study: Study) -> list[tuple[Run, str]]:
    """Every run known now (tuning runs, and main runs of cells without tuning) with its state."""
    runs = [r for c in study.cells for m in c.methods if c.tuned_by(m) == m for r in tuning_runs(study, c, m)]
    runs += [r for c in study.cells if not c.tune for m in c.methods for r in main_runs(study, c, m, None)]
    return [(r, run_state(r)) for r in runs]


def selected(run: Run, only: list[str] | None) -> bool:
    """``only``: shell patterns on run labels, e.g. "sfc/mnist/*" or "lfc/mnist/*/seed0"."""
    return not only or any(fnmatch.fnmatch(run.label, pat) for pat in only)


def run_study(study: Study, jobs: int = 1, progress: bool | None = None, log=None, threads: int = 1,
              only: list[str] | None = None) -> dict:
    """Tune (seed 0, validation), then train every seed; results written after each finished run.

    Runs are queued seed by seed (every method's first seed before any second seed), so a study that is
    stopped early still has every method in its table.
    """
    import multiprocessing

    from tqdm.auto import tqdm

    log = log or (lambda m: print(m, file=sys.stderr))
    choices: dict = {}
    planned = [(r, state) for r, state in plan(study) if selected(r, only)]
    queue = sorted((r for r, state in planned if state != "done"), key=lambda r: 0 if r.tune else 1 + r.seed)
    done = sum(1 for _, state in planned if state == "done")
    total = len(planned) + sum(len(c.seeds) for c in study.cells for m in c.methods if c.tune)
    bar = tqdm(total=total, initial=done, desc="study", unit="run", disable=None if progress is None else not progress,
               file=sys.stderr)
    errors: list[str] = []
    tuned: set = set()
    pool_cm = (ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) if jobs > 1
               else _InlineExecutor())
    with pool_cm as pool:
        futures: dict = {}
        while True:
            for c in study.cells:  # a cell whose tuning is complete gets its main runs
                for m in c.methods:
                    if not c.tune or (id(c), m) in tuned:
                        continue
                    tr = tuning_runs(study, c, m)
                    if all(run_state(r) == "done" for r in tr):
                        best = max(tr, key=final_val)
                        choices[(c.model, c.dataset, m)] = best.tune
                        tuned.add((id(c), m))
                        log(f"{c.model}/{c.dataset}/{m}: chose {_slug(best.tune)} on validation")
                        for r in main_runs(study, c, m, best.tune):
                            if not selected(r, only):
                                continue
                            if run_state(r) == "done":
                                bar.update(1)
                            else:
                                queue.append(r)
            queue.sort(key=lambda r: 0 if r.tune else 1 + r.seed)  # stable: seed by seed, methods in order
            while queue and len(futures) < max(1, jobs):
                r = queue.pop(0)
                bar.set_postfix_str(r.label)
                futures[pool.submit(_execute_quiet, r, threads)] = r
            if not futures:
                break
            finished, _ = wait(list(futures), return_when=FIRST_COMPLETED)
            for f in finished:
                futures.pop(f)
                label, err = f.result()
                if err:
                    errors.append(f"{label}: {err}")
                    log(f"{label}: {err}")
                bar.update(1)
            write_results(study, choices)
    bar.close()
    write_results(study, choices)
    return {"errors": errors, "choices": {"/".join(k): v for k, v in choices.items()}}


# --------------------------------------------------------------------------------------------
# Results: accuracy.json, accuracy.md, plots


def _std(values: list) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def collect(study: Study, choices: dict | None = None) -> list[dict]:
    """One row per (cell, method) with the finished seeds (partial rows say which seeds are in)."""
    rows = []
    for c in study.cells:
        for m in c.methods:
            choice = (choices or {}).get((c.model, c.dataset, m))
            if c.tune and choice is None:
                choice = _choice_from_disk(study, c, m)
                if choice is None:
                    continue
            seeds, accs, minutes, histories, reports, loads = [], [], [], [], [], []
            for r in main_runs(study, c, m, choice):
                summary = summary_of(r)
                if summary is None:
                    continue
                seeds.append(r.seed)
                accs.append(summary["test"]["test_acc"])
                minutes.append(sum(e["epoch_time"] for e in summary["epochs"]) / 60)
                loads += [e["loadavg"] for e in summary["epochs"] if isinstance(e.get("loadavg"), (int, float))]
                histories.append(summary["epochs"])
                reports.append(ensure_report(r))
            if not seeds:
                continue
            row = {"model": c.model, "dataset": c.dataset, "method": m, "epochs": c.epochs, "seeds": seeds,
                   "test_acc": accs, "mean": sum(accs) / len(accs), "std": _std(accs),
                   "train_minutes": sum(minutes) / len(minutes)}
            if loads:  # what the minutes were measured under (runs from before this was recorded have none)
                row["loadavg"] = sum(loads) / len(loads)
            if choice:
                row["chosen_on_validation"] = choice
            row["_histories"], row["_reports"] = histories, reports
            rows.append(row)
    return rows


def _choice_from_disk(study: Study, cell: Cell, method: str) -> dict | None:
    runs = tuning_runs(study, cell, method)
    if not runs or not all(summary_of(r) is not None for r in runs):
        return None
    return max(runs, key=final_val).tune


def write_results(study: Study, choices: dict | None = None) -> dict:
    """accuracy.json (keeps an existing "hardware" list), accuracy.md and the PNGs, atomically."""
    for c in study.cells:  # every finished run into the archive (also runs finished by an older version)
        for m in c.methods:
            for r in tuning_runs(study, c, m) + main_runs(study, c, m, _choice_from_disk(study, c, m) if c.tune else None):
                archive_run(r)
    rows = collect(study, choices)
    json_path = study.results.with_suffix(".json")
    earlier = _read_json(json_path) if json_path.is_file() else {}
    hardware = earlier.get("hardware", [])
    rows = _keep_earlier_rows(study, rows, earlier.get("runs", []))
    public = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    doc = {"runs": public, "hardware": hardware}
    json_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(json_path, (json.dumps(jsonable(doc), indent=1) + "\n").encode())
    figures = plot_results([r for r in rows if "_histories" in r], study.results)
    for model, dataset in dict.fromkeys((r["model"], r["dataset"]) for r in rows if "_histories" not in r):
        if not any((r["model"], r["dataset"]) == (model, dataset) and "_histories" in r for r in rows):
            figures += [f.name for f in sorted(study.results.parent.glob(f"{study.results.name}_{model}_{dataset}_*.png"))]
    atomic_write_bytes(study.results.with_suffix(".md"), markdown(rows, hardware, figures, study.source).encode())
    return doc


def _keep_earlier_rows(study: Study, rows: list, earlier: list) -> list:
    """Rows of the existing accuracy.json whose runs are neither here nor archived (trained on another
    machine before the archive existed) stay, marked "kept", unless this machine's row has as many seeds."""
    new = {(r["model"], r["dataset"], r["method"]): r for r in rows}
    old = {(r["model"], r["dataset"], r["method"]): r for r in earlier if not r.get("_histories")}
    merged = []
    for c in study.cells:
        for m in c.methods:
            key = (c.model, c.dataset, m)
            row, kept = new.get(key), old.get(key)
            if kept is not None and (row is None or len(kept["seeds"]) > len(row["seeds"])):
                row = {**kept, "kept": True}
            if row is not None:
                merged.append(row)
    return merged


def _baseline(rows: list, row: dict) -> dict | None:
    for r in rows:
        if r["model"] == row["model"] and r["dataset"] == row["dataset"] and r["method"] == "baseline":
            return r
    return None


def markdown(rows: list, hardware: list, figures: list, source: str) -> str:
    lines = ["# Accuracy study", "",
             f"Written by `fpgabnn experiment {Path(source).name}` (fpgabnn/train/study.py) from the runs it finished.",
             "Test accuracy of the last epoch's weights on the data set's own test set, mean +- sample std over seeds;",
             "choices (where any) were made on the validation split. Minutes: summed epoch times per run, as measured",
             "on the machine that ran it (on a shared CPU they vary several-fold with its load: compare step times",
             "with benchmarks/train_step_time.py, and idle-core estimates in study_plan.md). Load: the machine's mean",
             "1-minute load average at the runs' epoch ends (2 = the study's own two jobs on 2 cores; '-': not recorded).",
             "Verdict: whether the mean beats the baseline's mean by more than the larger of the two stds.", "",
             "Note: in the FC and CNV models (and the post-activation ResNets) every binary layer feeds a BatchNorm,",
             "which cancels a per-channel weight scale: xnor and learned-scale can only differ from the baseline",
             "there by rounding; only resnet20-preact lets a scale act.", "",
             "(kept): a row kept from the results file as it stood, its runs trained on another machine before",
             "finished runs were archived (no curves of its own in the figures then).", ""]
    cells = []
    for r in rows:
        key = (r["model"], r["dataset"])
        if key not in cells:
            cells.append(key)
    for model, dataset in cells:
        lines += [f"## {model} on {dataset}", "",
                  "| method | epochs | seeds | test acc (mean +- std) | minutes/run | load | vs baseline |",
                  "|---|---|---|---|---|---|---|"]
        for r in [r for r in rows if (r["model"], r["dataset"]) == (model, dataset)]:
            base = _baseline(rows, r)
            if r["method"] == "baseline" or base is None:
                verdict = "" if r["method"] == "baseline" else "no baseline yet"
            elif len(r["seeds"]) < 2 or len(base["seeds"]) < 2:
                verdict = f"{100 * (r['mean'] - base['mean']):+.2f} pt (one seed: no verdict)"
            else:
                margin = max(r["std"], base["std"])
                diff = r["mean"] - base["mean"]
                word = "better" if diff > margin else "worse" if diff < -margin else "no clear difference"
                verdict = f"{100 * diff:+.2f} pt, {word}"
            chosen = f" ({_slug(r['chosen_on_validation'])})" if r.get("chosen_on_validation") else ""
            load = f"{r['loadavg']:.1f}" if "loadavg" in r else "-"
            chosen += " (kept)" if r.get("kept") else ""
            lines.append(f"| {r['method']}{chosen} | {r['epochs']} | {len(r['seeds'])} | "
                         f"{100 * r['mean']:.2f} +- {100 * r['std']:.2f} | {r['train_minutes']:.1f} | {load} | {verdict} |")
        lines.append("")
    if hardware:
        lines += ["## On simulated hardware", "", "| model | dataset | method | images | PyTorch acc | hardware acc | simulation |",
                  "|---|---|---|---|---|---|---|"]
        for h in hardware:
            lines.append(f"| {h['model']} | {h['dataset']} | {h['method']} | {h['images']} | {100 * h['torch_acc']:.2f} | "
                         f"{100 * h['hw_acc']:.2f} | {h['sim']} |")
        lines.append("")
    if figures:
        lines += ["## Figures", ""] + [f"![{f}]({f})" for f in figures] + [""]
    return "\n".join(lines)


def plot_results(rows: list, results: Path) -> list[str]:
    """Per cell: validation accuracy by epoch per method; flip rate per layer; scale distributions."""
    from fpgabnn.train.plots import _png, plt

    names = []
    cells = sorted({(r["model"], r["dataset"]) for r in rows})
    for model, dataset in cells:
        sub = [r for r in rows if (r["model"], r["dataset"]) == (model, dataset)]
        stem = f"{results.name}_{model}_{dataset}"
        fig, ax = plt.subplots(figsize=(8, 5))
        for r in sub:
            n = min(len(h) for h in r["_histories"])
            ys = [sum(h[e]["val_acc"] for h in r["_histories"]) / len(r["_histories"]) for e in range(n)]
            ax.plot(range(1, n + 1), ys, label=r["method"])
        ax.set(xlabel="epoch", ylabel="validation accuracy (mean over seeds)", title=f"{model} on {dataset}")
        ax.legend(fontsize=7, ncol=2)
        names.append(_save(fig, _png, results.parent / f"{stem}_curves.png"))
        fig, ax = plt.subplots(figsize=(8, 5))
        for r in sub:
            rep = next((p for p in r["_reports"] if p), None)
            if rep:
                ax.plot(range(1, len(rep["layers"]) + 1), [la["flip_rate"] for la in rep["layers"]], "o-", label=r["method"])
        ax.set(xlabel="binary layer", ylabel="fraction of signs flipped since step 0", title=f"flip rate per layer, {model} on {dataset} (seed {sub[0]['seeds'][0]})")
        ax.legend(fontsize=7, ncol=2)
        names.append(_save(fig, _png, results.parent / f"{stem}_flips.png"))
        panels = {"alpha": "learned weight scale alpha", "theta": "rotation angle theta (rad); |sin theta| rotates"}
        found = {kind: [] for kind in panels}
        for r in sub:
            rep = next((p for p in r["_reports"] if p), None)
            for kind in panels:
                hists = [s["histogram"] for la in (rep or {}).get("layers", []) for s in la["scales"] if s["name"] == kind]
                if hists:
                    found[kind].append((r["method"], hists))
        kinds = [k for k in panels if found[k]]
        if kinds:
            fig, axes = plt.subplots(1, len(kinds), figsize=(7 * len(kinds), 5), squeeze=False)
            for ax, kind in zip(axes[0], kinds):
                for method, hists in found[kind]:
                    centres, counts = [], []
                    for h in hists:
                        e = h["edges"]
                        centres += [(a + b) / 2 for a, b in zip(e, e[1:])]
                        counts += h["counts"]
                    ax.hist(centres, weights=counts, bins=40, histtype="step", label=method)
                ax.set(xlabel=panels[kind], ylabel="output channels (all binary layers)",
                       title=f"{kind} after training, {model} on {dataset}")
                ax.legend(fontsize=7)
            names.append(_save(fig, _png, results.parent / f"{stem}_scales.png"))
    return names


def _save(fig, png, path: Path) -> str:
    atomic_write_bytes(path, png(fig))
    return path.name


