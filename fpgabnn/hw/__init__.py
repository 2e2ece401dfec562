"""Hardware layers: qonnx custom ops in domain ``fpgabnn.hw`` (the domain name is this module's path,
so qonnx's registry finds the classes below)."""

from fpgabnn.hw.axis import AxisInput, AxisOutput
from fpgabnn.hw.base import DOMAIN, HWLayer, HWParams
from fpgabnn.hw.dwc import DataWidthConverter
from fpgabnn.hw.fifo import StreamFIFO
from fpgabnn.hw.labelselect import LabelSelect
from fpgabnn.hw.maxpool import MaxPool
from fpgabnn.hw.mvau import MVAU
from fpgabnn.hw.sliding_window import SlidingWindow
from fpgabnn.hw.thresholding import Thresholding

__all__ = ["DOMAIN", "HWLayer", "HWParams", "LabelSelect", "MaxPool", "MVAU", "SlidingWindow", "Thresholding",
           "DataWidthConverter", "StreamFIFO", "AxisInput", "AxisOutput"]

#: compute layers (the lowering creates them; they fold and carry provenance)
LAYER_OP_TYPES = ("Thresholding", "SlidingWindow", "MVAU", "MaxPool", "LabelSelect")
#: infrastructure nodes (InsertDWC, InsertFIFO, InsertIOPorts create them)
INFRASTRUCTURE_OP_TYPES = ("DataWidthConverter", "StreamFIFO", "AxisInput", "AxisOutput")
HW_OP_TYPES = LAYER_OP_TYPES + INFRASTRUCTURE_OP_TYPES
