// SPDX-License-Identifier: MIT
// fpgabnn: multi-threshold unit, PE channels per word. Channel of lane p in word j is (j mod ROWS) * PE + p
// (ROWS = 1 when all channels share their thresholds).
//   MODE 0 (table): the raw output bits of every raw input pattern come from a ROM (a LUT-ROM for small inputs);
//     MEM_FILE holds ROWS * 2**IN_BITS lines of PE * OUT_BITS bits (lane p at bits p * OUT_BITS), line
//     r * 2**IN_BITS + x for row r and raw input x.
//   MODE 1 (compare): out = OUT_BASE + #(x >= T_i) over NT thresholds (raw bits, OUT_BITS wide);
//     MEM_FILE holds ROWS lines of PE * NT thresholds of IN_BITS + 2 bits (two's complement; lane p
//     threshold i at bits (p * NT + i) * (IN_BITS + 2)), so a threshold may lie one above the input range.

`resetall
`timescale 1ns / 1ps
`default_nettype none

module fpgabnn_thresholding #
(
    // Channels per frame pixel
    parameter CHANNELS = 1,
    // Channels per word
    parameter PE = 1,
    // Bits of one input element
    parameter IN_BITS = 8,
    // Input elements are two's complement (1) or unsigned (0)
    parameter IN_SIGNED = 0,
    // Bits of one output element
    parameter OUT_BITS = 1,
    // 0 table, 1 compare
    parameter MODE = 0,
    // Threshold rows: 1 (shared) or CHANNELS / PE
    parameter ROWS = 1,
    // Thresholds per channel (compare mode)
    parameter NT = 1,
    // Output of a count of 0 (compare mode; raw output bits are OUT_BASE + count)
    parameter integer OUT_BASE = 0,
    // $readmemh file of the table (mode 0) or the thresholds (mode 1)
    parameter MEM_FILE = "thresholds.memh",
    // Stream word widths (derived)
    parameter IN_WIDTH = PE * IN_BITS,
    parameter OUT_WIDTH = PE * OUT_BITS
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

localparam ROW_WIDTH = ROWS > 1 ? $clog2(ROWS) : 1;
localparam TW = IN_BITS + 2;

generate
    if (CHANNELS % PE != 0 || (ROWS != 1 && ROWS != CHANNELS / PE)) begin : g_check
        $error("Error: PE must divide CHANNELS and ROWS be 1 or CHANNELS / PE (instance %m)");
    end
    if (MODE != 0 && MODE != 1) begin : g_check_mode
        $error("Error: MODE must be 0 (table) or 1 (compare) (instance %m)");
    end
endgenerate

reg [ROW_WIDTH-1:0]  row_reg;
reg [OUT_WIDTH-1:0]  m_axis_tdata_reg;
reg                  m_axis_tvalid_reg;
wire [OUT_WIDTH-1:0] result;

wire ready = !m_axis_tvalid_reg || m_axis_tready;
wire s_fire = s_axis_tvalid && ready;
wire [ROW_WIDTH-1:0] row = ROWS > 1 ? row_reg : {ROW_WIDTH{1'b0}};

assign s_axis_tready = ready;
assign m_axis_tdata = m_axis_tdata_reg;
assign m_axis_tvalid = m_axis_tvalid_reg;

genvar p, i;
generate
    if (MODE == 0) begin : g_table
        localparam DEPTH = ROWS << IN_BITS;
        localparam AW = $clog2(DEPTH) > 0 ? $clog2(DEPTH) : 1;
        for (p = 0; p < PE; p = p + 1) begin : g_lane
            // each lane has its own copy of the table (its own read port), a LUT-ROM
            (* rom_style = "distributed" *)
            reg [OUT_BITS-1:0] rom [0:DEPTH-1];
            reg [OUT_WIDTH-1:0] file_words [0:DEPTH-1];
            integer k;
            initial begin
                $readmemh(MEM_FILE, file_words);
                for (k = 0; k < DEPTH; k = k + 1) rom[k] = file_words[k][p*OUT_BITS +: OUT_BITS];
            end
            wire [AW-1:0] addr = AW'({row, s_axis_tdata[p*IN_BITS +: IN_BITS]});
            assign result[p*OUT_BITS +: OUT_BITS] = rom[addr];
        end
    end else begin : g_compare
        reg [PE*NT*TW-1:0] thr_rom [0:ROWS-1];
        initial $readmemh(MEM_FILE, thr_rom);
        wire [PE*NT*TW-1:0] thr = thr_rom[row];
        for (p = 0; p < PE; p = p + 1) begin : g_lane
            wire [IN_BITS-1:0] x_raw = s_axis_tdata[p*IN_BITS +: IN_BITS];
            wire signed [TW-1:0] x = IN_SIGNED ? TW'($signed(x_raw)) : $signed(TW'(x_raw));
            wire [NT-1:0] ge;
            for (i = 0; i < NT; i = i + 1) begin : g_cmp
                assign ge[i] = x >= $signed(thr[(p*NT+i)*TW +: TW]);
            end
            wire [$clog2(NT+1):0] count;
            fpgabnn_addtree #(.N(NT), .IN_WIDTH(1), .SIGNED(0), .OUT_WIDTH($clog2(NT+1)+1)) counter (
                .in_data(ge), .out_sum(count)
            );
            assign result[p*OUT_BITS +: OUT_BITS] = OUT_BITS'(OUT_BASE + integer'(count));
        end
    end
endgenerate

always @(posedge clk) begin
    if (ready) m_axis_tvalid_reg <= s_fire;
    if (s_fire) begin
        m_axis_tdata_reg <= result;
        if (ROWS > 1) row_reg <= (row_reg == ROW_WIDTH'(ROWS - 1)) ? {ROW_WIDTH{1'b0}} : row_reg + 1'b1;
    end
    if (rst) begin
        row_reg <= 0;
        m_axis_tvalid_reg <= 1'b0;
    end
end

endmodule

`resetall
