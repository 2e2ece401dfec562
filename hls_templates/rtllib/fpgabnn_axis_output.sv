// SPDX-License-Identifier: MIT
// fpgabnn: accelerator output port. Packs the last layer's words densely (little-endian) into DMA beats, each
// frame zero-padded to whole beats, and raises TLAST on a frame's last beat when its flag (from the input port:
// the input frame ended a batch) is 1.

`resetall
`timescale 1ns / 1ps
`default_nettype none

module fpgabnn_axis_output #
(
    // Width of the last layer's output word in bits
    parameter DATA_WIDTH = 8,
    // Width of the DMA port in bits
    parameter PORT_WIDTH = 64,
    // Words of DATA_WIDTH per frame
    parameter FRAME_WORDS = 1
)
(
    input  wire                   clk,
    input  wire                   rst,

    /* AXI Stream input (last layer) */
    input  wire [DATA_WIDTH-1:0]  s_axis_tdata,
    input  wire                   s_axis_tvalid,
    output wire                   s_axis_tready,

    /* Frame flags (1 = batch ends with this frame) */
    input  wire                   s_flag_tdata,
    input  wire                   s_flag_tvalid,
    output wire                   s_flag_tready,

    /* AXI Stream output (DMA) */
    output wire [PORT_WIDTH-1:0]  m_axis_tdata,
    output wire                   m_axis_tvalid,
    input  wire                   m_axis_tready,
    output wire                   m_axis_tlast
);

localparam BUF_WIDTH = PORT_WIDTH + DATA_WIDTH;
localparam CNT_WIDTH = $clog2(BUF_WIDTH + 1);
localparam WORD_WIDTH = FRAME_WORDS > 1 ? $clog2(FRAME_WORDS) : 1;

generate if (FRAME_WORDS < 1 || PORT_WIDTH % 8 != 0) begin : g_check
    $error("Error: FRAME_WORDS must be positive and PORT_WIDTH a multiple of 8 (instance %m)");
end endgenerate

reg [BUF_WIDTH-1:0]  buf_reg;
reg [CNT_WIDTH-1:0]  cnt_reg;
reg [WORD_WIDTH-1:0] word_reg;
reg                  end_reg;
reg [PORT_WIDTH-1:0] m_axis_tdata_reg;
reg                  m_axis_tvalid_reg;
reg                  m_axis_tlast_reg;

// the frame's last bits are in the buffer and fit one beat: that beat ends the frame
wire is_final = end_reg && cnt_reg <= CNT_WIDTH'(PORT_WIDTH);
wire out_free = !m_axis_tvalid_reg || m_axis_tready;
wire emit = out_free && (end_reg ? (!is_final || s_flag_tvalid) : cnt_reg >= CNT_WIDTH'(PORT_WIDTH));
wire [CNT_WIDTH-1:0] cnt_after = !emit ? cnt_reg :
                                 (is_final ? {CNT_WIDTH{1'b0}} : cnt_reg - CNT_WIDTH'(PORT_WIDTH));
// room for a word once this cycle's beat has left (the next frame may start as the last beat leaves)
wire ready = end_reg ? emit && is_final : cnt_after <= CNT_WIDTH'(PORT_WIDTH);
wire s_fire = s_axis_tvalid && ready;
wire [BUF_WIDTH-1:0] buf_shifted = emit ? buf_reg >> PORT_WIDTH : buf_reg;
wire [BUF_WIDTH-1:0] word_placed = {{PORT_WIDTH{1'b0}}, s_axis_tdata} << cnt_after;

assign s_axis_tready = ready;
assign s_flag_tready = emit && is_final;
assign m_axis_tdata = m_axis_tdata_reg;
assign m_axis_tvalid = m_axis_tvalid_reg;
assign m_axis_tlast = m_axis_tlast_reg;

always @(posedge clk) begin
    if (emit) begin
        m_axis_tdata_reg <= buf_reg[PORT_WIDTH-1:0];
        m_axis_tlast_reg <= is_final && s_flag_tdata;
    end
    if (out_free) m_axis_tvalid_reg <= emit;
    buf_reg <= s_fire ? buf_shifted | word_placed : buf_shifted;
    cnt_reg <= s_fire ? cnt_after + CNT_WIDTH'(DATA_WIDTH) : cnt_after;
    if (emit && is_final) end_reg <= 1'b0;
    if (s_fire) begin
        if (word_reg == WORD_WIDTH'(FRAME_WORDS - 1)) begin
            word_reg <= 0;
            end_reg <= 1'b1;
        end else begin
            word_reg <= word_reg + 1'b1;
        end
    end
    if (rst) begin
        buf_reg <= 0;
        cnt_reg <= 0;
        word_reg <= 0;
        end_reg <= 1'b0;
        m_axis_tvalid_reg <= 1'b0;
        m_axis_tlast_reg <= 1'b0;
    end
end

endmodule

`resetall
