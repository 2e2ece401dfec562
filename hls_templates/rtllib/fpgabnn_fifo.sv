// SPDX-License-Identifier: MIT
// fpgabnn: AXI-Stream FIFO holding exactly DEPTH words, as an hls::stream of that depth does: DEPTH - 1 in a
// memory (a shift register, LUTRAM or block RAM) and one in the output register. A word arriving while the
// memory is empty and the output register free goes straight to the output register, so a flowing stream
// holds one word and moves one per cycle at DEPTH >= 2 (DEPTH 1: one word every other cycle). s_axis_tready,
// m_axis_tvalid and m_axis_tdata come from registers. `occupancy` counts the words held (a gauge for
// simulation; leave it unconnected in hardware).
//
// The shift register is one SRL per data bit, all with the same shift enable and read address (Xilinx
// SRLC32E/SRL16E: one LUT per bit per 32 words). The block RAM's read register keeps the head word; a separate
// bypass register keeps a word that skipped the memory.

`resetall
`timescale 1ns / 1ps
`default_nettype none

module fpgabnn_fifo #
(
    // Width of the stream word in bits
    parameter DATA_WIDTH = 8,
    // Words held (at least 2 for one word per cycle)
    parameter DEPTH = 2,
    // Memory: 0 shift register (SRL, for shallow FIFOs), 1 distributed RAM (LUTRAM), 2 block RAM
    parameter IMPL = 0,
    // Width of the occupancy gauge
    parameter COUNT_WIDTH = $clog2(DEPTH + 2)
)
(
    input  wire                    clk,
    input  wire                    rst,

    /* AXI Stream input */
    input  wire [DATA_WIDTH-1:0]   s_axis_tdata,
    input  wire                    s_axis_tvalid,
    output wire                    s_axis_tready,

    /* AXI Stream output */
    output wire [DATA_WIDTH-1:0]   m_axis_tdata,
    output wire                    m_axis_tvalid,
    input  wire                    m_axis_tready,

    /* Status */
    output wire [COUNT_WIDTH-1:0]  occupancy
);

// words in the memory
localparam MEM_DEPTH = DEPTH - 1;
localparam ADDR_WIDTH = MEM_DEPTH > 1 ? $clog2(MEM_DEPTH) : 1;
localparam MCOUNT_WIDTH = $clog2(MEM_DEPTH + 1) > 0 ? $clog2(MEM_DEPTH + 1) : 1;

generate
    if (DEPTH < 1) begin : g_check_depth
        $error("Error: DEPTH must be at least 1 (instance %m)");
    end
    if (IMPL < 0 || IMPL > 2) begin : g_check_impl
        $error("Error: IMPL must be 0 (srl), 1 (lutram) or 2 (bram) (instance %m)");
    end
    if ((1 << COUNT_WIDTH) <= DEPTH) begin : g_check_count
        $error("Error: COUNT_WIDTH too small for DEPTH (instance %m)");
    end
endgenerate

reg [MCOUNT_WIDTH-1:0] mem_count_reg;  // words in the memory
reg                    full_reg;
reg                    m_axis_tvalid_reg;

wire push = s_axis_tvalid && !full_reg;
// the output register takes a word this cycle: from the memory when it holds one, else the input (bypass)
wire out_load = !m_axis_tvalid_reg || m_axis_tready;
wire mem_pop = out_load && (mem_count_reg != 0);
wire bypass = out_load && (mem_count_reg == 0) && push;
wire mem_push = push && !bypass;

wire [MCOUNT_WIDTH-1:0] mem_count_next = mem_count_reg + MCOUNT_WIDTH'(mem_push) - MCOUNT_WIDTH'(mem_pop);
wire out_valid_next = out_load ? (mem_pop || bypass) : 1'b1;

assign s_axis_tready = !full_reg;
assign m_axis_tvalid = m_axis_tvalid_reg;
assign occupancy = COUNT_WIDTH'(mem_count_reg) + COUNT_WIDTH'(m_axis_tvalid_reg);

always @(posedge clk) begin
    mem_count_reg <= mem_count_next;
    m_axis_tvalid_reg <= out_valid_next;
    full_reg <= COUNT_WIDTH'(mem_count_next) + COUNT_WIDTH'(out_valid_next) == COUNT_WIDTH'(DEPTH);
    if (rst) begin
        mem_count_reg <= 0;
        m_axis_tvalid_reg <= 1'b0;
        full_reg <= 1'b0;
    end
end

generate
    if (MEM_DEPTH == 0) begin : g_reg
        // DEPTH 1: the output register alone
        reg [DATA_WIDTH-1:0] out_reg;
        assign m_axis_tdata = out_reg;
        always @(posedge clk) if (bypass) out_reg <= s_axis_tdata;
        wire unused_mem = &{1'b0, mem_push, mem_pop};
    end else if (IMPL == 0 || IMPL == 1) begin : g_async
        // memories read combinationally into the output register
        wire [DATA_WIDTH-1:0] rd_data;
        reg [DATA_WIDTH-1:0] out_reg;
        assign m_axis_tdata = out_reg;
        always @(posedge clk) if (mem_pop || bypass) out_reg <= mem_pop ? rd_data : s_axis_tdata;
        if (IMPL == 0) begin : g_srl
            // new words enter at bit 0 and move up; the oldest is at mem_count_reg - 1
            wire [ADDR_WIDTH-1:0] rd_addr = ADDR_WIDTH'(mem_count_reg) - 1'b1;
            genvar b;
            for (b = 0; b < DATA_WIDTH; b = b + 1) begin : g_bit
                (* srl_style = "srl" *)
                reg [MEM_DEPTH-1:0] sr;
                if (MEM_DEPTH == 1) begin : g_one
                    always @(posedge clk) if (mem_push) sr <= s_axis_tdata[b];
                    assign rd_data[b] = sr;
                    wire unused_addr = &{1'b0, rd_addr};
                end else begin : g_many
                    always @(posedge clk) if (mem_push) sr <= {sr[MEM_DEPTH-2:0], s_axis_tdata[b]};
                    assign rd_data[b] = sr[rd_addr];
                end
            end
        end else begin : g_lutram
            reg [ADDR_WIDTH-1:0] wr_ptr_reg;
            reg [ADDR_WIDTH-1:0] rd_ptr_reg;
            (* ram_style = "distributed" *)
            reg [DATA_WIDTH-1:0] mem [0:MEM_DEPTH-1];
            assign rd_data = mem[rd_ptr_reg];
            always @(posedge clk) if (mem_push) mem[wr_ptr_reg] <= s_axis_tdata;
            always @(posedge clk) begin
                if (mem_push) wr_ptr_reg <= (wr_ptr_reg == ADDR_WIDTH'(MEM_DEPTH - 1)) ? 0 : wr_ptr_reg + 1'b1;
                if (mem_pop) rd_ptr_reg <= (rd_ptr_reg == ADDR_WIDTH'(MEM_DEPTH - 1)) ? 0 : rd_ptr_reg + 1'b1;
                if (rst) begin
                    wr_ptr_reg <= 0;
                    rd_ptr_reg <= 0;
                end
            end
        end
    end else begin : g_bram
        // the block RAM's read register holds the head word read from the memory; the bypass register holds
        // a word that skipped the memory; out_sel_reg says which of the two the output shows
        reg [ADDR_WIDTH-1:0] wr_ptr_reg;
        reg [ADDR_WIDTH-1:0] rd_ptr_reg;
        reg [DATA_WIDTH-1:0] rd_reg;
        reg [DATA_WIDTH-1:0] bypass_reg;
        reg out_sel_reg;
        (* ram_style = "block" *)
        reg [DATA_WIDTH-1:0] mem [0:MEM_DEPTH-1];
        assign m_axis_tdata = out_sel_reg ? rd_reg : bypass_reg;
        always @(posedge clk) if (mem_push) mem[wr_ptr_reg] <= s_axis_tdata;
        always @(posedge clk) if (mem_pop) rd_reg <= mem[rd_ptr_reg];
        always @(posedge clk) if (bypass) bypass_reg <= s_axis_tdata;
        always @(posedge clk) begin
            if (mem_pop || bypass) out_sel_reg <= mem_pop;
            if (mem_push) wr_ptr_reg <= (wr_ptr_reg == ADDR_WIDTH'(MEM_DEPTH - 1)) ? 0 : wr_ptr_reg + 1'b1;
            if (mem_pop) rd_ptr_reg <= (rd_ptr_reg == ADDR_WIDTH'(MEM_DEPTH - 1)) ? 0 : rd_ptr_reg + 1'b1;
            if (rst) begin
                wr_ptr_reg <= 0;
                rd_ptr_reg <= 0;
                out_sel_reg <= 1'b0;
            end
        end
    end
endgenerate

endmodule

`resetall
