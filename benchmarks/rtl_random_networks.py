"""The RTL property test at benchmark scale: N hypothesis-generated binary networks (MLPs and CNNs, the tests'
generator) with a random legal folding, 64- or 128-bit ports and sized FIFOs, through the RTL backend and
Verilator, each run without stalls (measured cycles per frame against the estimate: the modelled pipeline with its sized
FIFOs, fifo_sizing.py) and with random input idles and
output back-pressure (bit-exactness, TLAST, no deadlock). Unlike the CI test (30 networks), a failing network is
recorded and the run goes on, so the outcome counts every case.

    python benchmarks/rtl_random_networks.py --networks 500 --jobs 2      # writes results/rtl_random_networks.*
    python benchmarks/rtl_random_networks.py --only 1:138                 # one case again, in detail
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "transforms"))  # the tests' network generator


def _histogram(ratios: list[float]) -> dict:
    edges = [0.0, 0.5, 0.9, 0.95, 0.99, 1.0, 1.01, 1.05, 1.1, 1.5, float("inf")]
    out = {}
    for lo, hi in zip(edges, edges[1:]):
        if lo == 1.0:
            out["= 1"] = sum(x == 1.0 for x in ratios)
            out[f"(1, {hi})"] = sum(1.0 < x < hi for x in ratios)
            continue
        out[f"[{lo}, {hi})"] = sum(lo <= x < hi for x in ratios)
    return out


def run_shard(args) -> list[dict]:
    shard, count, deadline, only, done = args
    import numpy as np
    from hypothesis import HealthCheck, Phase, given, seed, settings
    from hypothesis import strategies as st
    
    from qonnx.custom_op.registry import getCustomOp

    from fpgabnn.codegen.hls import hw_nodes
    from fpgabnn.codegen.rtl import generate_rtl
    from fpgabnn.errors import UserError
    from fpgabnn.sim.reference import compare_with_source
    from fpgabnn.sim.rtlsim import Deadlock, run_rtlsim
    from fpgabnn.transforms.fifo_sizing import SizeFIFOs
    from fpgabnn.transforms.infrastructure import insert_infrastructure
    from fpgabnn.transforms.pipeline import lower_to_hw, prepare_source, split_dataflow
    from lowering_builders import build_network, fold_randomly, random_images
    from test_lower_random_graphs import network_specs

    results: list[dict] = []
    work = Path(tempfile.mkdtemp(prefix=f"rtl_random_{shard}_"))

    @seed(1000 + shard)
    @settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(spec=network_specs(), folding_seed=st.integers(0, 2**32 - 1), port=st.sampled_from([64, 128]))
    def one(spec, folding_seed, port):
        if time.time() > deadline:
            return
        rec = {"shard": shard, "index": len(results), "port": port}
        if only is not None and len(results) != only:  # --only: draw the example (same sequence), skip the work
            results.append({**rec, "outcome": "skipped"})
            return
        if len(results) in done:  # --resume: this draw ran before; keep its record
            results.append(done[len(results)])
            return
        start = time.perf_counter()
        try:
            source = prepare_source(build_network(spec), pixel_range="raw")
            try:
                lowered = lower_to_hw(source)
            except UserError as err:
                rec.update(outcome="refused", reason=str(err)[:200])
                return
            rng = np.random.default_rng(folding_seed)
            fold_randomly(lowered, rng)
            hw = insert_infrastructure(lowered, port).transform(SizeFIFOs())
            rtl = work / f"n{len(results)}" / "rtl"
            manifest = generate_rtl(hw, rtl, top_name="rand_top", clock_mhz=100.0, port_width=port)
            images = random_images(source.get_tensor_shape(source.graph.input[0].name), 8, seed=folding_seed % 1000)
            ref = compare_with_source(source, lowered, images)
            expected = ref["expected_outputs"]
            out, stats = run_rtlsim(rtl, ref["hw_inputs"], quick=True)
            stalled, sstats = run_rtlsim(rtl, ref["hw_inputs"], quick=True, batch=3,
                                         valid_prob=float(rng.choice([0.5, 0.1])),
                                         ready_prob=float(rng.choice([0.5, 0.1])))
            exact = (ref["bit_exact"] and np.array_equal(np.asarray(out).reshape(expected.shape), expected)
                     and np.array_equal(np.asarray(stalled).reshape(expected.shape), expected))
            tlast_ok = not (stats["tlast_mismatches"] or stats["tlast_error"] or sstats["tlast_mismatches"])
            ii, cpf = float(manifest["cycles"]), float(stats["cycles_per_frame"])
            rec.update(outcome="exact" if exact and tlast_ok else "MISMATCH", ii=ii, cycles_per_frame=cpf,
                       ratio=round(cpf / ii, 4), layers=len(split_dataflow(lowered).hw),
                       slowest_layer=int(manifest["slowest_layer_cycles"]),
                       fifo_bits=int(sum(f["depth"] * f["width"] for f in manifest["fifos"])),
                       fifo_peak_over_depth=sum(int(stats["fifo_max_occupancy"].get(f["name"], 0)) > f["depth"]
                                                for f in manifest["fifos"]))
            if only is not None:  # the case in detail: every node's own cycles, the FIFOs and what rtlsim saw
                rec["nodes"] = [{"name": n.name, "op": n.op_type, "cycles": int(getCustomOp(n).exp_cycles())}
                                for n in hw_nodes(hw)]
                rec["fifos"] = {f["name"]: {"depth": f["depth"], "peak": stats["fifo_max_occupancy"].get(f["name"])}
                                for f in manifest["fifos"]}
                rec["frame_end_cycles"] = stats.get("frame_end_cycles")
                rec["rtl_dir"] = str(rtl)
        except Deadlock as err:
            rec.update(outcome="DEADLOCK", reason=str(err)[:300])
        except Exception as err:  # recorded, never hidden: an internal failure is not a pass
            rec.update(outcome="ERROR", reason=f"{type(err).__name__}: {err}"[:300],
                       where=traceback.format_exc().splitlines()[-3:])
        finally:
            rec["seconds"] = round(time.perf_counter() - start, 2)
            results.append(rec)
            print(f"[shard {shard}] {len(results)}: {rec['outcome']}", flush=True)

    one()
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--networks", type=int, default=500)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--minutes", type=float, default=120.0, help="stop generating after this long (recorded)")
    ap.add_argument("--out", default=str(HERE / "results" / "rtl_random_networks"))
    ap.add_argument("--only", metavar="SHARD:INDEX", help="re-run one case of a --jobs run and print it in detail")
    ap.add_argument("--resume", action="store_true",
                    help="keep the networks OUT.json already holds (same --networks and --jobs: the same draws) "
                         "and run the rest")
    args = ap.parse_args()
    if args.only:
        shard, index = (int(x) for x in args.only.split(":"))
        per = -(-args.networks // args.jobs)
        runs = run_shard((shard, per, time.time() + 3600, index, {}))  # the same example count: the same draws
        print(json.dumps(runs[index], indent=1))
        return 0
    deadline = time.time() + 60 * args.minutes
    per = -(-args.networks // args.jobs)
    start = time.perf_counter()
    done: dict = {i: {} for i in range(args.jobs)}
    earlier_wall, sessions = 0.0, 1
    previous = Path(args.out).with_suffix(".json")
    if args.resume and previous.is_file():
        old = json.loads(previous.read_text())
        if (old["summary"]["requested"], old["summary"]["jobs"]) != (args.networks, args.jobs):
            raise SystemExit(f"{previous} was run with --networks {old['summary']['requested']} --jobs "
                             f"{old['summary']['jobs']}; resume with the same values")
        for r in old["runs"]:
            done[r["shard"]][r["index"]] = r
        earlier_wall, sessions = old["summary"]["wall_seconds"], old["summary"].get("sessions", 1) + 1
    with mp.get_context("spawn").Pool(args.jobs) as pool:
        shards = pool.map(run_shard, [(i, per, deadline, None, done[i]) for i in range(args.jobs)])
    runs = [r for s in shards for r in s]
    wall = time.perf_counter() - start + earlier_wall
    counts = {}
    for r in runs:
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    ratios = sorted(r["ratio"] for r in runs if "ratio" in r)
    summary = {
        "requested": args.networks, "generated": len(runs), "counts": counts, "wall_seconds": round(wall, 1),
        "sessions": sessions,
        "jobs": args.jobs, "stopped_by_time_limit": len(runs) < args.networks,
        "cycles_over_ii": {"min": ratios[0], "p05": ratios[len(ratios) // 20], "median": ratios[len(ratios) // 2],
                           "p95": ratios[min(len(ratios) - 1, len(ratios) * 19 // 20)], "max": ratios[-1],
                           "exact": sum(x == 1.0 for x in ratios),
                           "below_0.95": sum(x < 0.95 for x in ratios), "above_1.05": sum(x > 1.05 for x in ratios),
                           "histogram": _histogram(ratios)} if ratios else None,
        "fifo_peak_over_depth_networks": sum(r.get("fifo_peak_over_depth", 0) > 0 for r in runs),
        "estimate_below_slowest_layer": sum(r["ii"] < r["slowest_layer"] for r in runs if "ii" in r),
        "estimate_above_slowest_layer": sum(r["ii"] > r["slowest_layer"] for r in runs if "ii" in r),
    }
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps({"summary": summary, "runs": runs}, indent=1) + "\n")
    lines = ["# Random networks through the RTL backend and Verilator", "",
             "`python benchmarks/rtl_random_networks.py` (the generator of tests/transforms/test_lower_random_graphs.py; "
             "random legal folding, 64/128-bit ports, sized FIFOs; each network simulated without stalls and with "
             "random input idles and output back-pressure, 8 frames).", "",
             f"- networks requested: {args.networks}; generated: {len(runs)}"
             + (" (stopped by the time limit)" if summary["stopped_by_time_limit"] else ""),
             f"- outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
             "  (refused = the lowering refuses the network with one line naming the node, as the CI test allows)",
             ]
    if ratios:
        c = summary["cycles_over_ii"]
        lines.append(f"- measured cycles per frame / estimate (the modelled pipeline with sized FIFOs, no stalls), "
                     f"{len(ratios)} networks: min {c['min']}, 5% {c['p05']}, median {c['median']}, 95% {c['p95']}, "
                     f"max {c['max']}; exactly equal: {c['exact']}; below 0.95: {c['below_0.95']}; "
                     f"above 1.05: {c['above_1.05']}")
        lines.append("- ratio histogram: " + ", ".join(f"{k}: {v}" for k, v in c["histogram"].items()))
        lines.append(f"- estimate below the slowest layer's own cycles (overlap across frames): "
                     f"{summary['estimate_below_slowest_layer']}; above it (layers' interplay): "
                     f"{summary['estimate_above_slowest_layer']}")
        lines.append(f"- networks where a FIFO held more words than its depth: "
                     f"{summary['fifo_peak_over_depth_networks']} (a StreamFIFO of depth D holds exactly D words)")
        outside = [r for r in runs if "ratio" in r and not 0.95 <= r["ratio"] <= 1.05]
        if outside:
            lines += ["", "## Outside 5%", ""] + [
                f"- shard {r['shard']} #{r['index']}: measured {r['cycles_per_frame']} vs estimate {r['ii']} "
                f"(slowest layer {r['slowest_layer']}, {r['layers']} layers, port {r['port']}); re-run with "
                f"`--only {r['shard']}:{r['index']}`" for r in outside]
    lines.append(f"- wall time {wall / 60:.1f} min with {args.jobs} processes"
                 + (f", over {sessions} runs (--resume)" if sessions > 1 else ""))
    bad = [r for r in runs if r["outcome"] in ("MISMATCH", "DEADLOCK", "ERROR")]
    if bad:
        lines += ["", "## Failures", ""] + [f"- shard {r['shard']} #{r['index']}: {r['outcome']} {r.get('reason', '')}"
                                            for r in bad]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
