// SPDX-License-Identifier: MIT
// fpgabnn: AXI-Stream data-width converter between widths of which one divides the other. Narrow words are
// little-endian parts of the wide word: the first narrow word is the wide word's least significant part.

`resetall
`timescale 1ns / 1ps
`default_nettype none

module fpgabnn_dwc #
(
    // Width of the input word in bits
    parameter IN_WIDTH = 8,
    // Width of the output word in bits (a multiple or a divisor of IN_WIDTH)
    parameter OUT_WIDTH = 16
)
(
    input  wire                  clk,
    input  wire                  rst,

    /* AXI Stream input */
    input  wire [IN_WIDTH-1:0]   s_axis_tdata,
    input  wire                  s_axis_tvalid,
    output wire                  s_axis_tready,

    /* AXI Stream output */
    output wire [OUT_WIDTH-1:0]  m_axis_tdata,
    output wire                  m_axis_tvalid,
    input  wire                  m_axis_tready
);

localparam UP = OUT_WIDTH > IN_WIDTH;
// narrow words per wide word
localparam RATIO = UP ? OUT_WIDTH / IN_WIDTH : IN_WIDTH / OUT_WIDTH;
localparam CNT_WIDTH = $clog2(RATIO + 1);

generate
    if ((UP && OUT_WIDTH % IN_WIDTH != 0) || (!UP && IN_WIDTH % OUT_WIDTH != 0)) begin : g_check
        $error("Error: one of IN_WIDTH and OUT_WIDTH must divide the other (instance %m)");
    end

    if (RATIO == 1) begin : g_same
        wire unused_tlast;
        fpgabnn_axis_register #(.DATA_WIDTH(IN_WIDTH)) reg_inst (
            .clk(clk), .rst(rst),
            .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
            .s_axis_tlast(1'b1),
            .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready),
            .m_axis_tlast(unused_tlast)
        );
    end else if (UP) begin : g_up
        // RATIO-1 narrow words wait in part_reg; the last one completes the output register
        reg [OUT_WIDTH-IN_WIDTH-1:0] part_reg;
        reg [CNT_WIDTH-1:0]          cnt_reg;
        reg [OUT_WIDTH-1:0]          m_axis_tdata_reg;
        reg                          m_axis_tvalid_reg;

        wire at_last = cnt_reg == CNT_WIDTH'(RATIO - 1);
        wire ready = !at_last || !m_axis_tvalid_reg;
        wire s_fire = s_axis_tvalid && ready;

        assign s_axis_tready = ready;
        assign m_axis_tdata = m_axis_tdata_reg;
        assign m_axis_tvalid = m_axis_tvalid_reg;

        always @(posedge clk) begin
            if (m_axis_tready) m_axis_tvalid_reg <= 1'b0;
            if (s_fire) begin
                if (at_last) begin
                    m_axis_tdata_reg <= {s_axis_tdata, part_reg};
                    m_axis_tvalid_reg <= 1'b1;
                    cnt_reg <= 0;
                end else begin
                    part_reg[cnt_reg*IN_WIDTH +: IN_WIDTH] <= s_axis_tdata;
                    cnt_reg <= cnt_reg + 1'b1;
                end
            end
            if (rst) begin
                cnt_reg <= 0;
                m_axis_tvalid_reg <= 1'b0;
            end
        end
    end else begin : g_down
        // a skid register in front keeps s_axis_tready a register; the wide word is shifted out low part first
        wire [IN_WIDTH-1:0] in_tdata;
        wire                in_tvalid;
        wire                unused_tlast;
        reg  [IN_WIDTH-1:0] data_reg;
        reg  [CNT_WIDTH-1:0] cnt_reg;

        wire in_tready = (cnt_reg == 0) || (cnt_reg == 1 && m_axis_tready);

        fpgabnn_axis_register #(.DATA_WIDTH(IN_WIDTH)) reg_inst (
            .clk(clk), .rst(rst),
            .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
            .s_axis_tlast(1'b1),
            .m_axis_tdata(in_tdata), .m_axis_tvalid(in_tvalid), .m_axis_tready(in_tready),
            .m_axis_tlast(unused_tlast)
        );

        assign m_axis_tdata = data_reg[OUT_WIDTH-1:0];
        assign m_axis_tvalid = cnt_reg != 0;

        always @(posedge clk) begin
            if (in_tvalid && in_tready) begin
                data_reg <= in_tdata;
                cnt_reg <= CNT_WIDTH'(RATIO);
            end else if (m_axis_tvalid && m_axis_tready) begin
                data_reg <= data_reg >> OUT_WIDTH;
                cnt_reg <= cnt_reg - 1'b1;
            end
            if (rst) cnt_reg <= 0;
        end
    end
endgenerate

endmodule

`resetall
