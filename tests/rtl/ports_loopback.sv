// Test wrapper: the input port feeding the output port through a data FIFO and the frame-flag FIFO, as in the
// generated top (no layers in between).
`resetall
`timescale 1ns / 1ps
`default_nettype none

module ports_loopback #
(
    parameter IN_PORT = 64,
    parameter OUT_PORT = 64,
    parameter DATA_WIDTH = 8,
    parameter FRAME_WORDS = 1
)
(
    input  wire                 clk,
    input  wire                 rst,
    input  wire [IN_PORT-1:0]   s_axis_tdata,
    input  wire                 s_axis_tvalid,
    output wire                 s_axis_tready,
    input  wire                 s_axis_tlast,
    output wire [OUT_PORT-1:0]  m_axis_tdata,
    output wire                 m_axis_tvalid,
    input  wire                 m_axis_tready,
    output wire                 m_axis_tlast,
    output wire                 tlast_error
);

wire [DATA_WIDTH-1:0] a_tdata, b_tdata;
wire a_tvalid, a_tready, b_tvalid, b_tready;
wire fa_tdata, fa_tvalid, fa_tready, fb_tdata, fb_tvalid, fb_tready;
wire [2:0] unused_occ_a;
wire [4:0] unused_occ_f;

fpgabnn_axis_input #(.PORT_WIDTH(IN_PORT), .DATA_WIDTH(DATA_WIDTH), .FRAME_WORDS(FRAME_WORDS)) in_port (
    .clk(clk), .rst(rst),
    .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
    .s_axis_tlast(s_axis_tlast),
    .m_axis_tdata(a_tdata), .m_axis_tvalid(a_tvalid), .m_axis_tready(a_tready),
    .m_flag_tdata(fa_tdata), .m_flag_tvalid(fa_tvalid), .m_flag_tready(fa_tready),
    .tlast_error(tlast_error)
);

fpgabnn_fifo #(.DATA_WIDTH(DATA_WIDTH), .DEPTH(2), .IMPL(0)) data_fifo (
    .clk(clk), .rst(rst),
    .s_axis_tdata(a_tdata), .s_axis_tvalid(a_tvalid), .s_axis_tready(a_tready),
    .m_axis_tdata(b_tdata), .m_axis_tvalid(b_tvalid), .m_axis_tready(b_tready),
    .occupancy(unused_occ_a)
);

fpgabnn_fifo #(.DATA_WIDTH(1), .DEPTH(16), .IMPL(1)) flag_fifo (
    .clk(clk), .rst(rst),
    .s_axis_tdata(fa_tdata), .s_axis_tvalid(fa_tvalid), .s_axis_tready(fa_tready),
    .m_axis_tdata(fb_tdata), .m_axis_tvalid(fb_tvalid), .m_axis_tready(fb_tready),
    .occupancy(unused_occ_f)
);

fpgabnn_axis_output #(.DATA_WIDTH(DATA_WIDTH), .PORT_WIDTH(OUT_PORT), .FRAME_WORDS(FRAME_WORDS)) out_port (
    .clk(clk), .rst(rst),
    .s_axis_tdata(b_tdata), .s_axis_tvalid(b_tvalid), .s_axis_tready(b_tready),
    .s_flag_tdata(fb_tdata), .s_flag_tvalid(fb_tvalid), .s_flag_tready(fb_tready),
    .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready),
    .m_axis_tlast(m_axis_tlast)
);

endmodule

`resetall
