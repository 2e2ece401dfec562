"""A simulated Zynq for the real ``pynq`` package (run in the pynq environment of .ci/pynq-venv).

``SimulatedZynq`` is a pynq ``Device`` (found through pynq's Device registry by ``_probe_`` and
``_probe_priority_``) with register access (capability REGISTER_RW) instead of /dev/mem:

* its metadata parser describes the block design of the build's ``vivado/flow.json``: an ``axi_dma`` (7.1) at
  the address build.tcl assigns, with the DMA configuration build.tcl sets; pynq binds its own DMA driver;
* ``allocate`` hands out PynqBuffers at made-up physical addresses of a simulated DDR;
* the AXI DMA model decodes pynq's register writes (MM2S/S2MM control, address, length; PG021): a send
  transfer queues the bytes as one AXI-Stream burst with TLAST on its last beat; once a receive transfer is
  armed the stream goes through the build's simulator binary (the driver's SimTransport: C or RTL
  simulation) and the receive ends at the TLAST of the output, reporting the bytes written in S2MM_LENGTH.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from pynq.buffer import PynqBuffer
from pynq.pl_server.device import Device

DMA_VLNV = "xilinx.com:ip:axi_dma:7.1"
MM2S, S2MM = 0x00, 0x30
CR, SR, ADDR, ADDR_MSB = 0x00, 0x04, 0x18, 0x1C
LENGTH = {MM2S: 0x28, S2MM: 0x28}  # MM2S_LENGTH 0x28, S2MM_LENGTH 0x58 = 0x30 + 0x28
SR_HALTED, SR_IDLE, SR_INTERNAL_ERR = 0x1, 0x2, 0x10


class _Parser:
    """What pynq's Overlay reads from a .hwh parser, for the block design of build.tcl."""

    def __init__(self, flow: dict):
        p = str(flow["port_width"])
        self.ip_dict = {"dma": {
            "phys_addr": int(flow["dma_base"], 16), "addr_range": int(flow["dma_range"], 16),
            "type": DMA_VLNV, "fullpath": "dma", "state": None, "interrupts": {}, "gpio": {}, "registers": {},
            "mem_id": "", "streams": {},
            "parameters": {"c_include_sg": "0", "c_sg_length_width": str(flow["sg_length_width"]),
                           "c_include_mm2s": "1", "c_include_s2mm": "1", "c_micro_dma": "0",
                           "c_m_axi_mm2s_data_width": p, "c_m_axis_mm2s_tdata_width": p,
                           "c_m_axi_s2mm_data_width": p, "c_s_axis_s2mm_tdata_width": p,
                           "c_addr_width": str(flow["addr_width"]),
                           "c_mm2s_burst_size": str(flow["burst"]), "c_s2mm_burst_size": str(flow["burst"])},
        }}
        self.gpio_dict, self.interrupt_controllers, self.interrupt_pins = {}, {}, {}
        self.hierarchy_dict, self.mem_dict, self.clock_dict = {}, {}, {}
        self.systemgraph = None


class _Memory:
    def __init__(self, device):
        self.device = device

    def allocate(self, shape, dtype, **kwargs):
        return self.device.allocate_buffer(shape, dtype)


class SimulatedZynq(Device):
    """A PYNQ board whose PL is the build's simulator behind a model of the AXI DMA."""

    _probe_priority_ = 1  # ahead of the real embedded device (50) when FPGABNN_SIM_BUILD is set

    @classmethod
    def _probe_(cls):
        build = os.environ.get("FPGABNN_SIM_BUILD")
        return [cls(Path(build))] if build else []

    def __init__(self, build_dir: Path):
        super().__init__("fpgabnn-simulated-zynq")
        self.name = "fpgabnn-simulated-zynq"
        self.build_dir = Path(build_dir)
        self.capabilities = {"REGISTER_RW": True, "MEMORY_MAPPED": False, "CALLABLE": False}
        self.timestamp = ""
        self.bitfile_name = None
        self._regs = {}
        self._ddr = {}  # physical base -> PynqBuffer
        self._next_phys = 0x1000_0000
        self._pending_stream = None  # bytes sent by MM2S, waiting for the receiver
        self._rx = None  # (address, length) of the armed S2MM transfer
        self.transfers = {"mm2s": 0, "s2mm": 0}
        flow = json.loads((self.build_dir / "vivado" / "flow.json").read_text())
        self.flow, self.base = flow, int(flow["dma_base"], 16)
        self.transport = None

    # ---- pynq Device interface --------------------------------------------------------------------
    def get_bitfile_metadata(self, bitfile_name):
        return _Parser(self.flow)

    def download(self, bitstream, parser=None):
        from driver.accelerator import Accelerator  # the build's own driver: its SimTransport is the PL

        sim = Accelerator.__new__(Accelerator)
        sim.build_dir = self.build_dir
        sim.config = json.loads((self.build_dir / "driver" / "accel.json").read_text())
        from driver.transport import SimTransport

        backend = os.environ.get("FPGABNN_SIM_BACKEND", "csim")
        self.transport = SimTransport(sim._find_simulator(backend).resolve(), sim.config["io"],
                                      cwd=self.build_dir / sim.config[backend]["cwd"])
        for ch in (MM2S, S2MM):
            self._regs[ch + SR] = SR_HALTED
        self.post_download(bitstream, parser, self.name)

    @property
    def default_memory(self):
        return _Memory(self)

    def allocate_buffer(self, shape, dtype):
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        phys = self._next_phys
        self._next_phys += (nbytes + 4095) // 4096 * 4096 + 4096
        buf = PynqBuffer(shape, dtype, buffer=bytearray(max(nbytes, 1)), device=self, device_address=phys,
                         bo=phys, coherent=True)
        self._ddr[phys] = buf
        return buf

    def flush(self, *args):
        pass

    def invalidate(self, *args):
        pass

    def read_registers(self, address, length):
        value = self._regs.get(address - self.base, 0)
        return int(value).to_bytes(4, "little")[:length]

    def write_registers(self, address, data):
        off = address - self.base
        value = int.from_bytes(bytes(data), "little")
        self._regs[off] = value
        ch = S2MM if off >= S2MM else MM2S
        reg = off - ch
        if reg == CR:
            running = value & 1
            self._regs[ch + SR] = (SR_IDLE if running else SR_HALTED)
        elif reg == LENGTH[ch]:
            self._regs[ch + SR] &= ~SR_IDLE
            phys = self._regs.get(ch + ADDR, 0) | (self._regs.get(ch + ADDR_MSB, 0) << 32)
            if ch == MM2S:
                self._pending_stream = self._read_ddr(phys, value)
                self.transfers["mm2s"] += 1
                self._regs[ch + SR] |= SR_IDLE  # the DMA has read the buffer; the stream waits in the PL
            else:
                self._rx = (phys, value)
            self._run_stream()

    # ---- the AXI DMA model ------------------------------------------------------------------------
    def _read_ddr(self, phys, length):
        for base, buf in self._ddr.items():
            if base <= phys and phys + length <= base + buf.nbytes:
                return np.frombuffer(buf.view(np.uint8).reshape(-1), dtype=np.uint8)[phys - base: phys - base + length].copy()
        raise RuntimeError(f"DMA read outside allocated memory at 0x{phys:x}")

    def _write_ddr(self, phys, data):
        for base, buf in self._ddr.items():
            if base <= phys and phys + data.size <= base + buf.nbytes:
                flat = buf.view(np.uint8).reshape(-1)
                flat[phys - base: phys - base + data.size] = data
                return
        raise RuntimeError(f"DMA write outside allocated memory at 0x{phys:x}")

    def _run_stream(self):
        """MM2S burst (TLAST on its last beat) through the PL; S2MM stops at the output's TLAST."""
        if self._pending_stream is None or self._rx is None:
            return
        io = self.transport.io
        from driver import frames

        in_frame = frames.bytes_per_frame(io["in_elems"], io["in_bits"], io["port_width"])
        stream = self._pending_stream
        if stream.size % in_frame:
            raise RuntimeError(f"MM2S sent {stream.size} bytes, not whole frames of {in_frame} bytes")
        out = self.transport.transfer(stream.reshape(-1, in_frame)).reshape(-1)  # TLAST after its last beat
        phys, room = self._rx
        if out.size > room:  # S2MM buffer shorter than the packet: internal error, as PG021 describes
            self._regs[S2MM + SR] = SR_INTERNAL_ERR | SR_IDLE
        else:
            self._write_ddr(phys, out)
            self._regs[S2MM + LENGTH[S2MM]] = out.size  # bytes received up to TLAST
            self._regs[S2MM + SR] |= SR_IDLE
        self.transfers["s2mm"] += 1
        self._pending_stream, self._rx = None, None
