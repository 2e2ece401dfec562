"""Run the build's driver with backend="pynq" on the simulated Zynq (inside the pynq environment).
usage: run_driver.py BUILD_DIR IMAGES.npy OUT.npz BATCH"""

import json
import sys
from pathlib import Path

import numpy as np

build, images, out, batch = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
sys.path.insert(0, str(build))
sys.path.insert(0, str(Path(__file__).parent))

import sim_device  # noqa: E402,F401  registers SimulatedZynq with pynq's Device registry
from pynq import Device  # noqa: E402

from driver import Accelerator, DriverError  # noqa: E402

device = Device.active_device
assert type(device).__name__ == "SimulatedZynq", type(device)
accel = Accelerator(backend="pynq", batch_size=batch)
x = np.load(images)
y = accel.predict(x)
errors = []
for bad in (x[:, :, :5], x.astype(np.complex64), x[0]):
    try:
        accel.predict(bad)
    except DriverError as err:
        errors.append(str(err))
tp = accel.throughput_test()
np.savez(out, y=y, transfers=np.array([device.transfers["mm2s"], device.transfers["s2mm"]]),
         errors=np.array(errors), dma_type=np.array(type(accel.transport.dma).__module__ + "." + type(accel.transport.dma).__name__),
         throughput=np.array(json.dumps(tp)))
