"""The build flow: named steps ``step(model, cfg) -> model``, each timed and checkpointed (FINN's builder idea),
run into a temporary directory that is renamed to the output directory only when every step succeeded."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from qonnx.core.modelwrapper import ModelWrapper

from fpgabnn import __version__
from fpgabnn.core.fileio import atomic_output_dir
from fpgabnn.core.names import safe_identifier
from fpgabnn.errors import UserError

BUILD_MARKER = "build.json"


@dataclass
class BuildConfig:
    model_path: Path
    out_dir: Path  # the temporary directory while building
    board: object
    clock_mhz: float
    target_fps: float | None
    folding_file: Path | None
    pixel_range: str
    top_name: str
    topk: int = 0
    host_threshold: bool = False
    backend: str = "both"
    finn: bool = False  # the input is finn-plus's dataflow graph (fpgabnn.finn.importer)
    vivado_ip: str | None = None  # "rtl" | "hls"; None: rtl when the build has rtl/, else hls
    timings: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)

    def checkpoint(self, model: ModelWrapper, name: str) -> None:
        inter = self.out_dir / "intermediate_models"
        inter.mkdir(exist_ok=True)
        model.save(str(inter / f"{name}.onnx"))


def step_lower(model: ModelWrapper, cfg: BuildConfig) -> ModelWrapper:
    from fpgabnn.transforms.labelselect import InsertLabelSelect
    from fpgabnn.transforms.pipeline import lower_to_hw

    if cfg.finn:  # a graph finn-plus converted to hardware layers: translate them
        from fpgabnn.finn.importer import from_finn

        model = from_finn(model)
    else:
        model = lower_to_hw(model)
    if cfg.topk:
        model = model.transform(InsertLabelSelect(cfg.topk))
    if cfg.host_threshold:
        from fpgabnn.deploy.driver.host_threshold import TABLE_FILE, save_table
        from fpgabnn.transforms.host_threshold import MoveInputThresholdToHost, host_threshold_table

        model = model.transform(MoveInputThresholdToHost())
        save_table(cfg.out_dir / TABLE_FILE, **host_threshold_table(model))
    return model


def step_fold(model: ModelWrapper, cfg: BuildConfig) -> ModelWrapper:
    from fpgabnn.transforms.folding import SetFolding, apply_folding_config, folding_config

    if cfg.folding_file is not None:
        model = apply_folding_config(model, cfg.folding_file, board=cfg.board)
    elif cfg.target_fps is None:  # a FINN graph without --target-fps/--folding keeps FINN's folding
        model = apply_folding_config(model, folding_config(model), board=cfg.board)
    else:
        model = model.transform(SetFolding(cfg.target_fps, cfg.clock_mhz, board=cfg.board))
    (cfg.out_dir / "folding_config.json").write_text(json.dumps(folding_config(model), indent=2) + "\n")
    return model


def step_insert_infrastructure(model: ModelWrapper, cfg: BuildConfig) -> ModelWrapper:
    """Width converters, the AXI-Stream ports at the board's DMA width and a FIFO on every stream, as nodes."""
    from fpgabnn.transforms.infrastructure import insert_infrastructure

    return insert_infrastructure(model, cfg.board.axi_port_width)


def step_size_fifos(model: ModelWrapper, cfg: BuildConfig) -> ModelWrapper:
    """StreamFIFO depths from the layers' read/write schedules (both backends and the estimate read them)."""
    from fpgabnn.transforms.fifo_sizing import SizeFIFOs, fifo_cost

    model = model.transform(SizeFIFOs())
    cfg.fifo_sizing = fifo_cost(model)
    return model


def step_estimate(model: ModelWrapper, cfg: BuildConfig) -> ModelWrapper:
    from fpgabnn.analysis.estimates import check_fits, estimate_dataflow

    cfg.report = estimate_dataflow(model, cfg.board, cfg.clock_mhz)
    check_fits(cfg.report)
    return model


def step_generate_hls(model: ModelWrapper, cfg: BuildConfig) -> ModelWrapper:
    from fpgabnn.codegen.hls import generate_hls

    if cfg.backend == "rtl":
        return model
    generate_hls(model, cfg.out_dir / "hls", top_name=cfg.top_name, clock_ns=1000.0 / cfg.clock_mhz,
                 part=cfg.board.part)
    return model


def step_vivado(model: ModelWrapper, cfg: BuildConfig) -> ModelWrapper:
    """vivado/build.tcl: the accelerator as IP, the block design for the board, bitstream and .hwh."""
    from fpgabnn.deploy.vivado import write_vivado

    import shutil

    ip = cfg.vivado_ip or ("rtl" if (cfg.out_dir / "rtl" / "manifest.json").is_file() else "hls")
    write_vivado(cfg.out_dir, cfg.board, cfg.clock_mhz, cfg.top_name, ip,
                 vitis_hls=shutil.which("vitis_hls") or "vitis_hls")
    return model


def step_driver(model: ModelWrapper, cfg: BuildConfig) -> ModelWrapper:
    """driver/: the numpy-only Python package that runs the accelerator (PYNQ board, C or RTL simulation)."""
    from fpgabnn.deploy.driver_gen import write_driver

    write_driver(model, cfg)
    return model


def step_generate_rtl(model: ModelWrapper, cfg: BuildConfig) -> ModelWrapper:
    """rtl/: the hand-written Verilog modules, the generated top, memory files and manifest.json."""
    from fpgabnn.codegen.rtl import generate_rtl

    if cfg.backend in ("rtl", "both"):
        generate_rtl(model, cfg.out_dir / "rtl", top_name=cfg.top_name, clock_mhz=cfg.clock_mhz,
                     port_width=cfg.board.axi_port_width)
    return model


#: the build flow in order. Hooks for branch `rtl`: its FIFO sizing step ("size_fifos", SizeFIFOs from
#: fpgabnn/transforms/fifo_sizing.py) goes right after "insert_infrastructure" (it sets the StreamFIFO depths
#: that estimate and both generators read), and its "generate_rtl" step after "generate_hls".
BUILD_STEPS = (
    ("lower", step_lower),
    ("fold", step_fold),
    ("insert_infrastructure", step_insert_infrastructure),
    ("size_fifos", step_size_fifos),
    ("estimate", step_estimate),
    ("generate_hls", step_generate_hls),
    ("generate_rtl", step_generate_rtl),
    ("vivado", step_vivado),
    ("driver", step_driver),
)

#: steps whose output model is checkpointed under intermediate_models/
CHECKPOINTED_STEPS = ("lower", "fold", "insert_infrastructure", "size_fifos")


def build(model_path: Path, out_dir: Path, board_name: str = "pynq-z2", target_fps: float | None = None,
          folding_file: Path | None = None, clock_mhz: float | None = None, pixel_range: str = "raw",
          top_name: str = "bnn_top", topk: int = 0, quiet: bool = False, host_threshold: bool = False,
          backend: str = "both", vivado: str | None = None, vivado_ip: str | None = None) -> dict:
    """Run every build step; returns the report dict (also written to out_dir/report.json)."""
    from fpgabnn.analysis.report import write_report
    from fpgabnn.deploy.boards import load_board
    from fpgabnn.transforms.pipeline import prepare_source
    from fpgabnn.transforms.tidy import load_qonnx

    board = load_board(board_name)
    clock = float(clock_mhz or board.clock_mhz)
    if clock <= 0:
        raise UserError(f"clock {clock} MHz is not positive; pass --clock-mhz with a positive value")
    if target_fps is not None and target_fps <= 0:
        raise UserError(f"--target-fps {target_fps:g} is not positive; pass a positive frame rate")
    if backend not in ("hls", "rtl", "both"):
        raise UserError(f"backend '{backend}' is not one of hls, rtl, both")
    if folding_file is not None and not folding_file.is_file():
        raise UserError(f"folding file {folding_file} does not exist; pass a FINN-format folding JSON")
    if out_dir.exists() and not (out_dir / BUILD_MARKER).is_file():
        raise UserError(f"{out_dir} exists and is not an fpgabnn build directory; choose another --out or remove it")
    top = safe_identifier(top_name, prefix="top")
    from fpgabnn.deploy.vivado import IP_SOURCES, find_tool

    if vivado_ip is not None and vivado_ip not in IP_SOURCES:
        raise UserError(f"unknown --vivado-ip '{vivado_ip}'; use one of {', '.join(IP_SOURCES)}")
    vivado_exe = find_tool("vivado", vivado)
    from fpgabnn.finn.importer import finn_reference, is_finn_graph

    raw = load_qonnx(model_path)
    finn = is_finn_graph(raw)
    if finn:
        if pixel_range != "raw":
            raise UserError("--pixel-range applies to QONNX models; a FINN dataflow graph already takes raw UINT8 "
                            "pixels, so leave it out")
        source, first = finn_reference(raw), raw  # the reference: FINN's graph in qonnx's general ops
    else:
        source = first = prepare_source(raw, pixel_range)
    default_fps = None if folding_file or finn else 10_000.0
    with atomic_output_dir(out_dir, overwrite=True) as tmp:
        cfg = BuildConfig(model_path, tmp, board, clock, target_fps or default_fps, folding_file, pixel_range, top,
                          topk, host_threshold, backend=backend, finn=finn,
                          vivado_ip=vivado_ip)
        source.save(str(tmp / "model_source.onnx"))
        model = first
        for name, step in BUILD_STEPS:
            start = time.perf_counter()
            model = step(model, cfg)
            cfg.timings[name] = round(time.perf_counter() - start, 4)
            if name in CHECKPOINTED_STEPS:
                cfg.checkpoint(model, f"after_{name}")
        model.save(str(tmp / "model_hw.onnx"))
        report = dict(cfg.report)
        report["step_seconds"] = cfg.timings
        report["fifo_sizing"] = getattr(cfg, "fifo_sizing", None)
        write_report(report, tmp, quiet=quiet)
        from fpgabnn import __version__

        meta = {
            "fpgabnn_build": 1,
            "fpgabnn_version": __version__,
            "source_model": str(model_path),
            "pixel_range": pixel_range,
            "board": board.name,
            "board_file": board.path,
            "clock_mhz": clock,
            "target_fps": cfg.target_fps,
            "folding_file": str(folding_file) if folding_file else None,
            "top_name": top,
            "topk": topk,
            "host_threshold": bool(host_threshold),
            "port_width": board.axi_port_width,
            "estimated_cycles_per_frame": report["ii_cycles"],
            "slowest_layer_cycles": report["slowest_layer_cycles"],
            "estimated_fps": report["fps"],
            "fifo_bits": report["fifo_bits"],
            "backend": backend,
            "source_kind": "finn-dataflow" if finn else "qonnx",
        }
        (tmp / BUILD_MARKER).write_text(json.dumps(meta, indent=2) + "\n")
    _run_vivado_if_present(out_dir, report, vivado_exe, quiet)
    return report


def _run_vivado_if_present(out_dir: Path, report: dict, vivado_exe: str | None, quiet: bool) -> None:
    """With Vivado: run vivado/build.tcl and add bitfile, hwh, utilisation and WNS to the report.
    Without: one line saying what to run where Vivado is installed."""
    from fpgabnn.core.fileio import atomic_write_bytes, jsonable
    from fpgabnn.deploy.vivado import instructions, run_vivado

    import shutil

    flow = json.loads((out_dir / "vivado" / "flow.json").read_text())
    if vivado_exe is not None and flow["ip_source"] == "hls" and shutil.which("vitis_hls") is None:
        line = ("vitis_hls not found: the HLS IP needs Vitis HLS beside Vivado; put it on PATH, or build with the "
                f"RTL backend; then run `cd {out_dir / 'vivado'} && vivado -mode batch -source build.tcl`")
        report["vivado"] = {"ran": False, "command": line}
        if not quiet:
            print(line)
    elif vivado_exe is None:
        report["vivado"] = {"ran": False, "command": instructions(out_dir)}
        if not quiet:
            print(instructions(out_dir))
    else:
        if not quiet:
            print(f"running Vivado ({vivado_exe}) in {out_dir / 'vivado'}; log in vivado/vivado.log")
        report["vivado"] = {"ran": True, **run_vivado(out_dir, vivado_exe)}
        if not quiet:
            v = report["vivado"]
            print(f"bitstream {v['bitfile']}, WNS {v['wns_ns']} ns, utilisation {v['utilization']}")
    atomic_write_bytes(out_dir / "report.json", (json.dumps(jsonable(report), indent=2) + "\n").encode())
