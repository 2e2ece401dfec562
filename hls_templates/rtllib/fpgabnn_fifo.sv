// SPDX-License-Identifier: MIT
// fpgabnn: AXI-Stream FIFO. DEPTH words are held in a memory (a shift register, LUTRAM or block RAM) and one
// more in the output register (the memory's read register), so the FIFO holds DEPTH + 1 words. Both
// s_axis_tready and m_axis_tvalid are registers. `occupancy` counts the words held (a gauge for simulation;
// leave it unconnected in hardware).

`resetall
`timescale 1ns / 1ps
`default_nettype none

module fpgabnn_fifo #
(
    // Width of the stream word in bits
    parameter DATA_WIDTH = 8,
    // Words held in the memory (at least 2 for one word per cycle)
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

localparam ADDR_WIDTH = DEPTH > 1 ? $clog2(DEPTH) : 1;

generate
    if (DEPTH < 1) begin : g_check_depth
        $error("Error: DEPTH must be at least 1 (instance %m)");
    end
    if (IMPL < 0 || IMPL > 2) begin : g_check_impl
        $error("Error: IMPL must be 0 (srl), 1 (lutram) or 2 (bram) (instance %m)");
    end
    if ((1 << COUNT_WIDTH) <= DEPTH + 1) begin : g_check_count
        $error("Error: COUNT_WIDTH too small for DEPTH (instance %m)");
    end
endgenerate

reg [ADDR_WIDTH:0]   count_reg;
reg                  full_reg;
reg [DATA_WIDTH-1:0] m_axis_tdata_reg;
reg                  m_axis_tvalid_reg;

wire push = s_axis_tvalid && !full_reg;
wire pop = (count_reg != 0) && (!m_axis_tvalid_reg || m_axis_tready);
wire [DATA_WIDTH-1:0] rd_data;

assign s_axis_tready = !full_reg;
assign m_axis_tdata = m_axis_tdata_reg;
assign m_axis_tvalid = m_axis_tvalid_reg;
assign occupancy = COUNT_WIDTH'(count_reg) + COUNT_WIDTH'(m_axis_tvalid_reg);

wire [ADDR_WIDTH:0] count_next = count_reg + {{ADDR_WIDTH{1'b0}}, push} - {{ADDR_WIDTH{1'b0}}, pop};

generate
    if (IMPL == 0) begin : g_srl
        // new words enter at 0 and move up; the oldest is at count_reg - 1
        (* srl_style = "srl_reg" *)
        reg [DATA_WIDTH-1:0] mem [0:DEPTH-1];
        wire [ADDR_WIDTH:0] rd_addr = count_reg - 1'b1;
        integer i;
        assign rd_data = mem[rd_addr[ADDR_WIDTH-1:0]];
        wire unused_rd_addr = rd_addr[ADDR_WIDTH];
        always @(posedge clk) begin
            if (push) begin
                mem[0] <= s_axis_tdata;
                for (i = 1; i < DEPTH; i = i + 1) begin
                    mem[i] <= mem[i-1];
                end
            end
        end
    end else begin : g_ram
        reg [ADDR_WIDTH-1:0] wr_ptr_reg;
        reg [ADDR_WIDTH-1:0] rd_ptr_reg;
        if (IMPL == 2) begin : g_bram
            (* ram_style = "block" *)
            reg [DATA_WIDTH-1:0] mem [0:DEPTH-1];
            assign rd_data = mem[rd_ptr_reg];
            always @(posedge clk) if (push) mem[wr_ptr_reg] <= s_axis_tdata;
        end else begin : g_lutram
            (* ram_style = "distributed" *)
            reg [DATA_WIDTH-1:0] mem [0:DEPTH-1];
            assign rd_data = mem[rd_ptr_reg];
            always @(posedge clk) if (push) mem[wr_ptr_reg] <= s_axis_tdata;
        end
        always @(posedge clk) begin
            if (push) wr_ptr_reg <= (wr_ptr_reg == ADDR_WIDTH'(DEPTH - 1)) ? 0 : wr_ptr_reg + 1'b1;
            if (pop) rd_ptr_reg <= (rd_ptr_reg == ADDR_WIDTH'(DEPTH - 1)) ? 0 : rd_ptr_reg + 1'b1;
            if (rst) begin
                wr_ptr_reg <= 0;
                rd_ptr_reg <= 0;
            end
        end
    end
endgenerate

always @(posedge clk) begin
    // the memory's read register doubles as the output register
    if (pop) m_axis_tdata_reg <= rd_data;
    if (!m_axis_tvalid_reg || m_axis_tready) m_axis_tvalid_reg <= pop;
    count_reg <= count_next;
    full_reg <= count_next == (ADDR_WIDTH+1)'(DEPTH);
    if (rst) begin
        count_reg <= 0;
        full_reg <= 1'b0;
        m_axis_tvalid_reg <= 1'b0;
    end
end

endmodule

`resetall
