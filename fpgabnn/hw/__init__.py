"""Hardware layers: qonnx custom ops in domain ``fpgabnn.hw`` (the domain name is this module's path,
so qonnx's registry finds the classes below)."""

from fpgabnn.hw.base import DOMAIN, HWLayer
from fpgabnn.hw.labelselect import LabelSelect
from fpgabnn.hw.maxpool import MaxPool
from fpgabnn.hw.mvau import MVAU
from fpgabnn.hw.sliding_window import SlidingWindow
from fpgabnn.hw.thresholding import Thresholding

__all__ = ["DOMAIN", "HWLayer", "LabelSelect", "MaxPool", "MVAU", "SlidingWindow", "Thresholding"]

HW_OP_TYPES = ("Thresholding", "SlidingWindow", "MVAU", "MaxPool", "LabelSelect")
