"""fpgabnn: binary neural networks from re-parametrised training to FPGA dataflow accelerators."""

__version__ = "0.1.0"
