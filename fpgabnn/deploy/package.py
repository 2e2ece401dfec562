"""``fpgabnn package``: one zip with what a PYNQ board needs to run a build: the bitstream and .hwh (when
Vivado has made them), the numpy-only driver, validate.py, the inference notebook and a short README."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from fpgabnn.core.fileio import atomic_write_bytes
from fpgabnn.errors import UserError

_PACKAGE = Path(__file__).resolve().parents[1]
#: the inference notebook (notebooks/ of the checkout, or fpgabnn/notebooks package data)
NOTEBOOK = "3_inference_on_the_board.ipynb"
NOTEBOOK_DIRS = (_PACKAGE / "notebooks", _PACKAGE.parent / "notebooks")


def load_build_meta(build_dir: Path) -> dict:
    """build.json of ``build_dir``; refuses a directory that is not a build, or a build of another version."""
    from fpgabnn import __version__

    marker = Path(build_dir) / "build.json"
    if not marker.is_file():
        raise UserError(f"{build_dir} is not an fpgabnn build directory (no build.json); run `fpgabnn build` first")
    try:
        meta = json.loads(marker.read_text())
    except ValueError:
        raise UserError(f"{marker} is damaged; rebuild with `fpgabnn build`") from None
    version = meta.get("fpgabnn_version")
    if version != __version__:
        raise UserError(f"{build_dir} was built by fpgabnn {version or 'before 0.1.0'}, this is fpgabnn "
                        f"{__version__}; rebuild it with `fpgabnn build`")
    return meta


def _readme(meta: dict, design: str, has_bit: bool) -> str:
    bit = (f"- `{design}.bit`, `{design}.hwh`: the bitstream and its hardware handoff (PYNQ's Overlay loads the pair)\n"
           if has_bit else "- no bitstream yet: run `vivado -mode batch -source build.tcl` in the build's vivado/ "
           "on a machine with Vivado, then package again\n")
    return f"""# fpgabnn accelerator package: {meta.get('top_name', 'bnn_top')} for {meta.get('board')}

Built by fpgabnn {meta.get('fpgabnn_version')} at {meta.get('clock_mhz')} MHz from {Path(str(meta.get('source_model'))).name}.

{bit}- `driver/`: the Python driver (numpy only; runs on the PYNQ image as it is)
- `validate.py`: accuracy and fps on a labelled test set
- `{NOTEBOOK}`: inference and throughput, step by step

On the board (PYNQ 3.x / 4.x image), unzip and run:

```bash
sudo python3 validate.py           # test_set.npz when packaged with --test-set; else --dataset FILE.npz
```

```python
from driver import Accelerator
accel = Accelerator()                 # loads {design}.bit
y = accel.predict(x)                  # x: a batch of raw 0..255 pixels in the model's input shape
print(accel.throughput_test())
```
"""


TEST_SET = "test_set.npz"


def test_set_npz(source: str, shape: list, samples: int) -> bytes:
    """A labelled test set as .npz bytes (x: uint8 raw pixels in the model's input shape, y: labels), from a
    data set name fpgabnn knows (its test split) or an .npz of the user's with x and y."""
    import numpy as np

    if source.endswith(".npz"):
        path = Path(source)
        if not path.is_file():
            raise UserError(f"test set {path} does not exist; pass a data set name (mnist, ...) or an .npz with x and y")
        data = np.load(path)
        if "x" not in data or "y" not in data:
            raise UserError(f"test set {path} has arrays {sorted(data)}; it needs x (raw pixels) and y (labels)")
        x, y = data["x"], data["y"]
    else:
        from fpgabnn.train.data import load_dataset

        ds = load_dataset(source, split="test", max_samples=samples)
        x, y = ds.images.numpy(), ds.labels.numpy()
    x, y = np.asarray(x)[:samples], np.asarray(y).reshape(-1)[:samples]
    if x.ndim < 1 or len(x) != len(y) or int(np.prod(x.shape[1:])) != int(np.prod(shape[1:])):
        raise UserError(f"test set images of shape {tuple(x.shape)} do not match the model input {tuple(shape)}; "
                        "pass the data set the model was trained on")
    buf = io.BytesIO()
    np.savez_compressed(buf, x=x.reshape(len(x), *shape[1:]).astype(np.uint8), y=y.astype(np.int64))
    return buf.getvalue()


def package_build(build_dir: Path, target: Path, test_set: str | None = None, samples: int = 10000) -> dict:
    """Write the zip ``target`` (never overwriting it); returns {path, files, bitstream}. ``test_set``: a data set
    name or .npz to include as test_set.npz, which validate.py uses by default."""
    build_dir, target = Path(build_dir), Path(target)
    if target.exists():
        raise UserError(f"{target} already exists; choose another -o path or remove it first")
    if target.suffix != ".zip":
        raise UserError(f"package target {target} must end in .zip")
    meta = load_build_meta(build_dir)
    driver = build_dir / "driver"
    if not (driver / "accel.json").is_file():
        raise UserError(f"{build_dir} has no driver/; rebuild it with this fpgabnn (`fpgabnn build`)")
    design = json.loads((driver / "accel.json").read_text())["design"]
    members = {}
    for f in sorted(driver.iterdir()):
        if f.is_file() and f.suffix != ".pyc":
            members[f"driver/{f.name}"] = f.read_bytes()
    validate = build_dir / "validate.py"
    if validate.is_file():
        members["validate.py"] = validate.read_bytes()
    out = build_dir / "vivado" / "output"
    bit, hwh = out / f"{design}.bit", out / f"{design}.hwh"
    has_bit = bit.is_file() and hwh.is_file()
    if has_bit:
        members[f"{design}.bit"], members[f"{design}.hwh"] = bit.read_bytes(), hwh.read_bytes()
    notebook = next((d / NOTEBOOK for d in NOTEBOOK_DIRS if (d / NOTEBOOK).is_file()), None)
    if notebook is not None:
        members[NOTEBOOK] = notebook.read_bytes()
    if test_set:
        shape = json.loads((driver / "accel.json").read_text())["model_input"]["shape"]
        members[TEST_SET] = test_set_npz(test_set, shape, samples)
    members["README.md"] = _readme(meta, design, has_bit).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    atomic_write_bytes(target, buf.getvalue())
    return {"path": str(target), "files": sorted(members), "bitstream": has_bit}
