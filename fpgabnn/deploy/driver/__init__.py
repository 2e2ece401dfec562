"""The accelerator's Python driver: numpy only, so it runs on a PYNQ image as it is.

Every build copies this package into ``<build>/driver/`` beside ``accel.json`` (the accelerator's I/O and
the host pre/post-processing the build split off) and ``host_params.npz``. With the build directory on
``sys.path``::

    from driver import Accelerator
    accel = Accelerator(backend="pynq")          # or "rtlsim" / "csim" off-board
    y = accel.predict(x)                         # what qonnx execution of model_source.onnx returns
"""

from .accelerator import Accelerator, DriverError

__all__ = ["Accelerator", "DriverError"]
