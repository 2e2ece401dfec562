// SPDX-License-Identifier: MIT
// fpgabnn: max-pool of an H x W x C feature map (NHWC, PE channels per word), no padding, floor mode.
// KIND 0: bipolar bits (max = OR), 1: signed, 2: unsigned elements.
//   OVERLAP = 0 (windows no larger than the stride): the input streams once; a row buffer keeps the running
//     maximum of every output pixel of the current output row (one read-modify-write per word, in LUTRAM).
//   OVERLAP = 1: a sliding-window generator (SIMD = PE) produces every window and a reduction over its
//     KH * KW words keeps one running maximum per channel group.

`resetall
`timescale 1ns / 1ps
`default_nettype none

module fpgabnn_maxpool #
(
    // Input feature map height, width, channels
    parameter H = 4,
    parameter W = 4,
    parameter C = 1,
    // Channels per word (divides C)
    parameter PE = 1,
    // Window and stride
    parameter KH = 2,
    parameter KW = 2,
    parameter SH = 2,
    parameter SW = 2,
    // Bits of one element and its kind: 0 bipolar, 1 signed, 2 unsigned
    parameter ELEM_BITS = 1,
    parameter KIND = 0,
    // Windows overlap (kernel > stride) (derived)
    parameter OVERLAP = (KH > SH) || (KW > SW),
    // Output size (derived)
    parameter OH = (H - KH) / SH + 1,
    parameter OW = (W - KW) / SW + 1,
    // Stream word width (derived)
    parameter DATA_WIDTH = PE * ELEM_BITS
)
(
    input  wire                   clk,
    input  wire                   rst,

    /* AXI Stream input */
    input  wire [DATA_WIDTH-1:0]  s_axis_tdata,
    input  wire                   s_axis_tvalid,
    output wire                   s_axis_tready,

    /* AXI Stream output */
    output wire [DATA_WIDTH-1:0]  m_axis_tdata,
    output wire                   m_axis_tvalid,
    input  wire                   m_axis_tready
);

localparam CW = C / PE;
localparam CWW = $clog2(CW + 1);
localparam AW = OW * CW > 1 ? $clog2(OW * CW) : 1;

generate
    if (C % PE != 0 || (KIND == 0 && ELEM_BITS != 1)) begin : g_check
        $error("Error: PE must divide C, bipolar elements are 1 bit (instance %m)");
    end
    if (OVERLAP != ((KH > SH) || (KW > SW))) begin : g_check_overlap
        $error("Error: OVERLAP must be (KH > SH) || (KW > SW) (instance %m)");
    end
endgenerate

// lane-wise maximum of two words
function automatic [DATA_WIDTH-1:0] word_max(input [DATA_WIDTH-1:0] a, input [DATA_WIDTH-1:0] b);
    integer l;
    reg [ELEM_BITS-1:0] ea, eb;
    begin
        for (l = 0; l < PE; l = l + 1) begin
            ea = a[l*ELEM_BITS +: ELEM_BITS];
            eb = b[l*ELEM_BITS +: ELEM_BITS];
            if (KIND == 1) word_max[l*ELEM_BITS +: ELEM_BITS] = $signed(ea) > $signed(eb) ? ea : eb;
            else word_max[l*ELEM_BITS +: ELEM_BITS] = ea > eb ? ea : eb;
        end
    end
endfunction

reg [DATA_WIDTH-1:0] m_axis_tdata_reg;
reg                  m_axis_tvalid_reg;
wire out_free = !m_axis_tvalid_reg || m_axis_tready;
assign m_axis_tdata = m_axis_tdata_reg;
assign m_axis_tvalid = m_axis_tvalid_reg;

// the reduction: in_* words with their running-maximum address, first and last contribution
wire [DATA_WIDTH-1:0] in_data;
wire                  in_valid;
wire                  in_ready;
wire                  in_use, in_first, in_last;
wire [AW-1:0] in_addr;

(* ram_style = "distributed" *)
reg [DATA_WIDTH-1:0] acc [0:OW*CW-1];
wire [DATA_WIDTH-1:0] val = in_first ? in_data : word_max(acc[in_addr], in_data);
wire in_fire = in_valid && in_ready;
assign in_ready = !in_last || out_free;

always @(posedge clk) begin
    if (in_fire && in_use && !in_last) acc[in_addr] <= val;
    if (out_free) m_axis_tvalid_reg <= 1'b0;
    if (in_fire && in_last) begin
        m_axis_tdata_reg <= val;
        m_axis_tvalid_reg <= 1'b1;
    end
    if (rst) m_axis_tvalid_reg <= 1'b0;
end

generate
if (!OVERLAP) begin : g_stream
    reg [$clog2(SH+1)-1:0] ky_reg;
    reg [$clog2(SW+1)-1:0] kx_reg;
    reg [$clog2(H+1)-1:0]  oy_reg;
    reg [$clog2(W+1)-1:0]  ox_reg;
    reg [CWW-1:0]          cw_reg;
    wire last_cw = cw_reg == CWW'(CW - 1);
    wire last_kx = kx_reg == ($clog2(SW+1))'(SW - 1);
    // columns past the last window (floor mode) belong to no output pixel
    reg [$clog2(W+1)-1:0] x_reg;
    reg [$clog2(H+1)-1:0] y_reg;
    wire last_x = x_reg == ($clog2(W+1))'(W - 1);
    wire last_y = y_reg == ($clog2(H+1))'(H - 1);

    assign in_data = s_axis_tdata;
    assign in_valid = s_axis_tvalid;
    assign s_axis_tready = in_ready;
    assign in_use = ky_reg < ($clog2(SH+1))'(KH) && kx_reg < ($clog2(SW+1))'(KW)
                  && oy_reg < ($clog2(H+1))'(OH) && ox_reg < ($clog2(W+1))'(OW);
    assign in_first = ky_reg == 0 && kx_reg == 0;
    assign in_last = in_use && ky_reg == ($clog2(SH+1))'(KH - 1) && kx_reg == ($clog2(SW+1))'(KW - 1);
    assign in_addr = AW'(ox_reg) * AW'(CW)
                   + AW'(cw_reg);

    always @(posedge clk) begin
        if (in_fire) begin
            cw_reg <= last_cw ? {CWW{1'b0}} : cw_reg + 1'b1;
            if (last_cw) begin
                x_reg <= last_x ? 0 : x_reg + 1'b1;
                kx_reg <= last_x || last_kx ? 0 : kx_reg + 1'b1;
                ox_reg <= last_x ? 0 : (last_kx ? ox_reg + 1'b1 : ox_reg);
                if (last_x) begin
                    y_reg <= last_y ? 0 : y_reg + 1'b1;
                    ky_reg <= last_y || ky_reg == ($clog2(SH+1))'(SH - 1) ? 0 : ky_reg + 1'b1;
                    oy_reg <= last_y ? 0 : (ky_reg == ($clog2(SH+1))'(SH - 1) ? oy_reg + 1'b1 : oy_reg);
                end
            end
        end
        if (rst) begin
            cw_reg <= 0;
            x_reg <= 0;
            y_reg <= 0;
            kx_reg <= 0;
            ky_reg <= 0;
            ox_reg <= 0;
            oy_reg <= 0;
        end
    end
end else begin : g_window
    wire [DATA_WIDTH-1:0] win_tdata;
    wire win_tvalid;
    fpgabnn_swg #(.H(H), .W(W), .C(C), .SIMD(PE), .KH(KH), .KW(KW), .SH(SH), .SW(SW), .ELEM_BITS(ELEM_BITS))
    windows (
        .clk(clk), .rst(rst),
        .s_axis_tdata(s_axis_tdata), .s_axis_tvalid(s_axis_tvalid), .s_axis_tready(s_axis_tready),
        .m_axis_tdata(win_tdata), .m_axis_tvalid(win_tvalid), .m_axis_tready(in_ready)
    );
    reg [$clog2(KH*KW+1)-1:0] e_reg;  // window element (kh * KW + kw)
    reg [CWW-1:0] cw_reg;
    wire last_cw = cw_reg == CWW'(CW - 1);
    wire last_e = e_reg == ($clog2(KH*KW+1))'(KH * KW - 1);
    assign in_data = win_tdata;
    assign in_valid = win_tvalid;
    assign in_use = 1'b1;
    assign in_first = e_reg == 0;
    assign in_last = last_e;
    assign in_addr = AW'(cw_reg);
    always @(posedge clk) begin
        if (in_fire) begin
            cw_reg <= last_cw ? {CWW{1'b0}} : cw_reg + 1'b1;
            if (last_cw) e_reg <= last_e ? 0 : e_reg + 1'b1;
        end
        if (rst) begin
            cw_reg <= 0;
            e_reg <= 0;
        end
    end
end
endgenerate

endmodule

`resetall
