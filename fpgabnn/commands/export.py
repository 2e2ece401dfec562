"""fpgabnn export: checkpoint -> QONNX file, written only when it reproduces the PyTorch model exactly."""

from __future__ import annotations

from pathlib import Path

HELP = "export a trained checkpoint to QONNX (+-1 weights, checked bit-exact against PyTorch)"
EPILOG = """examples:
  fpgabnn export runs/tfc/best.pt -o tfc.onnx
  fpgabnn export runs/cnv/last.pt -o cnv.onnx --samples 200 --data-dir ~/data/cifar-10-batches-py

Re-parametrisations are folded (weights become sign(latent), analytic scales constants, training-only
branches dropped), the model is exported with Brevitas and cleaned with qonnx, and the result is run with
qonnx on sample images from the checkpoint's data set (random pixels when the data set is not available):
the integer pre-activations of every binary layer and the predicted classes must match PyTorch, or nothing
is written.
"""

DEFAULT_SAMPLES = 100


def add_arguments(p):
    p.add_argument("checkpoint", help="last.pt/best.pt written by fpgabnn train")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.onnx", help="QONNX file to write")
    p.add_argument("--samples", type=int, default=DEFAULT_SAMPLES,
                   help=f"images used for the exactness check (default {DEFAULT_SAMPLES})")
    p.add_argument("--data-dir", default=None, help="where the checkpoint's data set is (default: as trained)")


def run(args) -> int:
    from fpgabnn.errors import UserError
    from fpgabnn.export import export_qonnx_model
    from fpgabnn.export.qonnx_export import check_output
    from fpgabnn.train.checkpoint import load_checkpoint, model_from_checkpoint

    if args.samples < 1:
        raise UserError(f"--samples must be a positive integer, got {args.samples}")
    output = Path(args.output)
    check_output(output)
    ckpt = load_checkpoint(args.checkpoint)
    model = model_from_checkpoint(ckpt, args.checkpoint)
    x, source = sample_inputs(ckpt, model.input_shape, args.samples, args.data_dir)
    report = export_qonnx_model(model, output, x)
    exact = sum(layer["equal"] for layer in report["layers"])
    print(f"wrote {output}: {len(report['layers'])} binary layers, checked on {report['samples']} {source}: "
          f"{exact}/{len(report['layers'])} layers bit-exact, {report['argmax_mismatches']} class mismatches, "
          f"max |output difference| {report['max_abs_output_diff']:.3g}")
    return 0


def sample_inputs(ckpt: dict, input_shape, n: int, data_dir=None):
    """(float32 [n, C, H, W] raw pixels, description): the checkpoint's data set when readable, else random."""
    import numpy as np

    from fpgabnn.errors import UserError

    dataset = ckpt.get("dataset") or {}
    name = dataset.get("name")
    if name:
        from fpgabnn.train.data import load_dataset

        data_dir = data_dir if data_dir is not None else dataset.get("data_dir")
        for split in ("test", "val"):
            try:
                data = load_dataset(name, data_dir=data_dir, split=split, max_samples=n,
                                    val_fraction=dataset.get("val_fraction", 0.1),
                                    seed=dataset.get("split_seed", 0), pad_to=dataset.get("pad_to"))
            except UserError:
                continue
            images = data.images[:n].float().numpy()
            if tuple(images.shape[1:]) == tuple(input_shape):
                return images, f"{name} {split} images"
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(n, *input_shape)).astype(np.float32), "random images"
