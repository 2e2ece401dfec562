"""The runtime shipped in every build's driver/ (numpy only): frame packing now, the Accelerator class later."""
