// SPDX-License-Identifier: MIT
// fpgabnn: accelerator input port. Turns DMA beats (frames packed densely, little-endian, each frame padded to
// whole beats) into the first layer's words, dropping each frame's pad bits. For every frame it pushes one flag
// word, 1 when the frame's last beat carried TLAST (the batch ends there), for the output port to raise TLAST.
// A TLAST before a frame's last beat ends the frame early: the missing beats are zeros and tlast_error sticks.

`resetall
`timescale 1ns / 1ps
`default_nettype none

module fpgabnn_axis_input #
(
    // Width of the DMA port in bits
    parameter PORT_WIDTH = 64,
    // Width of the first layer's input word in bits
    parameter DATA_WIDTH = 8,
    // Words of DATA_WIDTH per frame
    parameter FRAME_WORDS = 1,
    // Beats of PORT_WIDTH per frame (derived)
    parameter BEATS = (FRAME_WORDS * DATA_WIDTH + PORT_WIDTH - 1) / PORT_WIDTH
)
(
    input  wire                   clk,
    input  wire                   rst,

    /* AXI Stream input (DMA) */
    input  wire [PORT_WIDTH-1:0]  s_axis_tdata,
    input  wire                   s_axis_tvalid,
    output wire                   s_axis_tready,
    input  wire                   s_axis_tlast,

    /* AXI Stream output (first layer) */
    output wire [DATA_WIDTH-1:0]  m_axis_tdata,
    output wire                   m_axis_tvalid,
    input  wire                   m_axis_tready,

    /* Frame flags (1 = batch ends with this frame) */
    output wire                   m_flag_tdata,
    output wire                   m_flag_tvalid,
    input  wire                   m_flag_tready,

    /* Status */
    output wire                   tlast_error
);

localparam FRAME_BITS = FRAME_WORDS * DATA_WIDTH;
localparam LAST_BITS = FRAME_BITS - (BEATS - 1) * PORT_WIDTH;
localparam BUF_WIDTH = PORT_WIDTH + DATA_WIDTH;
localparam CNT_WIDTH = $clog2(BUF_WIDTH + 1);
localparam BEAT_WIDTH = BEATS > 1 ? $clog2(BEATS) : 1;

generate
    if (BEATS != (FRAME_BITS + PORT_WIDTH - 1) / PORT_WIDTH) begin : g_check_beats
        $error("Error: BEATS does not match FRAME_WORDS * DATA_WIDTH / PORT_WIDTH (instance %m)");
    end
    if (FRAME_WORDS < 1 || PORT_WIDTH % 8 != 0) begin : g_check
        $error("Error: FRAME_WORDS must be positive and PORT_WIDTH a multiple of 8 (instance %m)");
    end
endgenerate

// a skid register keeps s_axis_tready a register at the port; no beat is taken while in reset
wire                  port_tready;
wire [PORT_WIDTH-1:0] beat_tdata;
wire                  beat_tvalid;
wire                  beat_tlast;
wire                  beat_tready;

fpgabnn_axis_register #(.DATA_WIDTH(PORT_WIDTH), .LAST_ENABLE(1)) port_reg (
    .clk(clk), .rst(rst),
    .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid && !rst), .s_axis_tready(port_tready),
    .s_axis_tlast(s_axis_tlast),
    .m_axis_tdata(beat_tdata), .m_axis_tvalid(beat_tvalid), .m_axis_tready(beat_tready),
    .m_axis_tlast(beat_tlast)
);

reg [BUF_WIDTH-1:0]  buf_reg;
reg [CNT_WIDTH-1:0]  cnt_reg;
reg [BEAT_WIDTH-1:0] beat_reg;
reg                  fill_reg;
reg                  error_reg;
reg [DATA_WIDTH-1:0] m_axis_tdata_reg;
reg                  m_axis_tvalid_reg;

wire last_beat = beat_reg == BEAT_WIDTH'(BEATS - 1);
wire emit = cnt_reg >= CNT_WIDTH'(DATA_WIDTH) && (!m_axis_tvalid_reg || m_axis_tready);
wire [CNT_WIDTH-1:0] cnt_after = emit ? cnt_reg - CNT_WIDTH'(DATA_WIDTH) : cnt_reg;
wire room = cnt_after <= CNT_WIDTH'(DATA_WIDTH);
wire src_valid = fill_reg || beat_tvalid;
wire flag_ok = !last_beat || m_flag_tready;
wire take = src_valid && room && flag_ok;

wire [PORT_WIDTH-1:0] last_mask = {PORT_WIDTH{1'b1}} >> (PORT_WIDTH - LAST_BITS);
wire [PORT_WIDTH-1:0] beat_bits = fill_reg ? {PORT_WIDTH{1'b0}} :
                                  (last_beat ? beat_tdata & last_mask : beat_tdata);
wire [CNT_WIDTH-1:0]  beat_count = last_beat ? CNT_WIDTH'(LAST_BITS) : CNT_WIDTH'(PORT_WIDTH);
wire [BUF_WIDTH-1:0]  buf_shifted = emit ? buf_reg >> DATA_WIDTH : buf_reg;
wire [BUF_WIDTH-1:0]  beat_placed = {{DATA_WIDTH{1'b0}}, beat_bits} << cnt_after;

assign s_axis_tready = port_tready && !rst;
assign beat_tready = take && !fill_reg;
assign m_axis_tdata = m_axis_tdata_reg;
assign m_axis_tvalid = m_axis_tvalid_reg;
assign m_flag_tdata = fill_reg || beat_tlast;
assign m_flag_tvalid = src_valid && room && last_beat;
assign tlast_error = error_reg;

always @(posedge clk) begin
    if (emit) m_axis_tdata_reg <= buf_reg[DATA_WIDTH-1:0];
    if (!m_axis_tvalid_reg || m_axis_tready) m_axis_tvalid_reg <= emit;
    buf_reg <= take ? buf_shifted | beat_placed : buf_shifted;
    cnt_reg <= take ? cnt_after + beat_count : cnt_after;
    if (take) begin
        beat_reg <= last_beat ? 0 : beat_reg + 1'b1;
        if (last_beat) begin
            fill_reg <= 1'b0;
        end else if (!fill_reg && beat_tlast) begin
            fill_reg <= 1'b1;
            error_reg <= 1'b1;
        end
    end
    if (rst) begin
        buf_reg <= 0;
        cnt_reg <= 0;
        beat_reg <= 0;
        fill_reg <= 1'b0;
        error_reg <= 1'b0;
        m_axis_tvalid_reg <= 1'b0;
    end
end

endmodule

`resetall
