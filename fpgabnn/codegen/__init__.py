"""Code generation from the hardware-layer graph: HLS C++ rendered from hls_templates/ (``hls``), with the
per-layer template contexts in ``hls_contexts``."""
