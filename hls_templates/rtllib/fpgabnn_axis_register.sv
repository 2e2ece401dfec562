// SPDX-License-Identifier: MIT
// fpgabnn: AXI-Stream register slice with a skid buffer (two entries). s_axis_tready is a register, so the
// slice cuts every combinational path between its neighbours while sustaining one word per cycle.

`resetall
`timescale 1ns / 1ps
`default_nettype none

module fpgabnn_axis_register #
(
    // Width of the stream word in bits
    parameter DATA_WIDTH = 8,
    // Carry tlast (1) or tie it to 1 (0)
    parameter LAST_ENABLE = 0
)
(
    input  wire                   clk,
    input  wire                   rst,

    /* AXI Stream input */
    input  wire [DATA_WIDTH-1:0]  s_axis_tdata,
    input  wire                   s_axis_tvalid,
    output wire                   s_axis_tready,
    input  wire                   s_axis_tlast,

    /* AXI Stream output */
    output wire [DATA_WIDTH-1:0]  m_axis_tdata,
    output wire                   m_axis_tvalid,
    input  wire                   m_axis_tready,
    output wire                   m_axis_tlast
);

generate if (DATA_WIDTH < 1) begin : g_check_width
    $error("Error: DATA_WIDTH must be at least 1 (instance %m)");
end endgenerate

reg [DATA_WIDTH-1:0] m_axis_tdata_reg;
reg                  m_axis_tvalid_reg;
reg                  m_axis_tlast_reg;
reg [DATA_WIDTH-1:0] skid_tdata_reg;
reg                  skid_tvalid_reg;
reg                  skid_tlast_reg;

wire out_free = !m_axis_tvalid_reg || m_axis_tready;
wire s_fire = s_axis_tvalid && !skid_tvalid_reg;

assign s_axis_tready = !skid_tvalid_reg;
assign m_axis_tdata  = m_axis_tdata_reg;
assign m_axis_tvalid = m_axis_tvalid_reg;
assign m_axis_tlast  = LAST_ENABLE ? m_axis_tlast_reg : 1'b1;

always @(posedge clk) begin
    if (out_free) begin
        if (skid_tvalid_reg) begin
            m_axis_tdata_reg <= skid_tdata_reg;
            m_axis_tlast_reg <= skid_tlast_reg;
            m_axis_tvalid_reg <= 1'b1;
            skid_tvalid_reg <= 1'b0;
        end else begin
            m_axis_tdata_reg <= s_axis_tdata;
            m_axis_tlast_reg <= s_axis_tlast;
            m_axis_tvalid_reg <= s_fire;
        end
    end else if (s_fire) begin
        skid_tdata_reg <= s_axis_tdata;
        skid_tlast_reg <= s_axis_tlast;
        skid_tvalid_reg <= 1'b1;
    end

    if (rst) begin
        m_axis_tvalid_reg <= 1'b0;
        skid_tvalid_reg <= 1'b0;
    end
end

endmodule

`resetall
