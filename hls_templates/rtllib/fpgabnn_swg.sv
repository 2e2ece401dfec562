// SPDX-License-Identifier: MIT
// fpgabnn: sliding-window generator (im2col on a stream) for an H x W x C feature map in NHWC order, windows of
// KH x KW, strides SH, SW, padding PT, PL, PB, PR (pad elements are PAD_VALUE, for integer inputs).
//   PARALLEL = 0: output words of SIMD elements, window order (kh, kw, c) for every output pixel. The input is
//     written into a line buffer of KH + SH rows by a write controller while a separate read controller reads
//     the windows out of it; the two meet only through row counters.
//   PARALLEL = 1 (SIMD = C): one output word per output pixel holding the whole window, elements in (kh, kw, c)
//     order. Every padded position takes one cycle: a shift register of (KH - 1) rows plus KW pixels holds the
//     window, and a word leaves whenever the window's bottom-right corner is at an output position.

`resetall
`timescale 1ns / 1ps
`default_nettype none

module fpgabnn_swg #
(
    // Input feature map height, width, channels
    parameter H = 4,
    parameter W = 4,
    parameter C = 1,
    // Elements per input word (divides C; equals C when PARALLEL)
    parameter SIMD = 1,
    // Window and stride
    parameter KH = 3,
    parameter KW = 3,
    parameter SH = 1,
    parameter SW = 1,
    // Padding: top, left, bottom, right
    parameter PT = 0,
    parameter PL = 0,
    parameter PB = 0,
    parameter PR = 0,
    // Bits of one element and the raw bits of a pad element
    parameter ELEM_BITS = 1,
    parameter PAD_VALUE = 0,
    // 0 SIMD elements per output word, 1 one window per output word
    parameter PARALLEL = 0,
    // Line buffer memory: 0 distributed (LUTRAM), 1 block RAM
    parameter RAM_STYLE = 0,
    // Output size (derived)
    parameter OH = (H + PT + PB - KH) / SH + 1,
    parameter OW = (W + PL + PR - KW) / SW + 1,
    // Stream word widths (derived)
    parameter IN_WIDTH = SIMD * ELEM_BITS,
    parameter OUT_WIDTH = PARALLEL ? KH * KW * C * ELEM_BITS : SIMD * ELEM_BITS
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

localparam CW = C / SIMD;
localparam [ELEM_BITS-1:0] PAD_ELEM = ELEM_BITS'(PAD_VALUE);

generate
    if (C % SIMD != 0 || (PARALLEL && SIMD != C)) begin : g_check_simd
        $error("Error: SIMD must divide C (and equal C in parallel mode) (instance %m)");
    end
    if (OH < 1 || OW < 1 || OH != (H + PT + PB - KH) / SH + 1 || OW != (W + PL + PR - KW) / SW + 1) begin : g_check
        $error("Error: OH/OW do not match the window (instance %m)");
    end
endgenerate

genvar i;
generate
if (!PARALLEL) begin : g_normal
    localparam R = KH + SH;                 // rows in the line buffer
    localparam ROW_WORDS = W * CW;
    localparam DEPTH = R * ROW_WORDS;
    localparam AW = $clog2(DEPTH) > 0 ? $clog2(DEPTH) : 1;
    localparam RW = $clog2(4 * (H + R)) + 2;  // absolute row counters (modular, compared by signed difference)
    localparam YW = $clog2(H + PT + PB + KH + 2) + 2;
    localparam XW = $clog2(W + PL + PR + KW + 2) + 2;
    localparam SLW = $clog2(R + 1);
    localparam CWW = $clog2(CW + 1);
    localparam COLW = $clog2(ROW_WORDS + 1);
    localparam QUEUE_DEPTH = 4;
    localparam QCAP = QUEUE_DEPTH + 1;
    localparam CRW = $clog2(QCAP + 1);

    reg [IN_WIDTH-1:0] mem [0:DEPTH-1];

    // ---- write controller ----
    reg [RW-1:0]   done_reg;     // absolute index of the row being written (= complete rows)
    reg [SLW-1:0]  ws_reg;       // its slot
    reg [COLW-1:0] wcol_reg;
    reg [RW-1:0]   free_reg;     // absolute index of the first row the reader still needs

    wire signed [RW-1:0] ahead = $signed(done_reg - free_reg);
    wire w_ready = ahead < $signed(RW'(R));
    wire s_fire = s_axis_tvalid && w_ready;
    assign s_axis_tready = w_ready;

    always @(posedge clk) begin
        if (s_fire) mem[AW'(ws_reg) * AW'(ROW_WORDS) + AW'(wcol_reg)] <= s_axis_tdata;
    end

    // ---- read controller ----
    reg [RW-1:0]         base_reg;   // absolute index of the frame's row 0
    reg [SLW-1:0]        rs_reg;     // slot of row lo (the first row of the current output row's windows)
    reg signed [YW-1:0]  ybase_reg;  // oh * SH - PT
    reg signed [XW-1:0]  xbase_reg;  // ow * SW - PL
    reg [$clog2(OH+1)-1:0] oh_reg;
    reg [$clog2(OW+1)-1:0] ow_reg;
    reg [$clog2(KH+1)-1:0] kh_reg;
    reg [$clog2(KW+1)-1:0] kw_reg;
    reg [CWW-1:0]        cw_reg;
    reg [CRW-1:0]        credit_reg;

    wire last_cw = cw_reg == CWW'(CW - 1);
    wire last_kw = kw_reg == ($clog2(KW+1))'(KW - 1);
    wire last_kh = kh_reg == ($clog2(KH+1))'(KH - 1);
    wire last_ow = ow_reg == ($clog2(OW+1))'(OW - 1);
    wire last_oh = oh_reg == ($clog2(OH+1))'(OH - 1);
    wire last_pix = last_cw && last_kw && last_kh;
    wire last_row = last_pix && last_ow;
    wire last_frame = last_row && last_oh;

    wire signed [YW-1:0] lo = ybase_reg < 0 ? {YW{1'b0}} : ybase_reg;
    wire signed [YW-1:0] hi_raw = ybase_reg + YW'(KH - 1);
    wire signed [YW-1:0] hi = hi_raw > $signed(YW'(H - 1)) ? $signed(YW'(H - 1)) : hi_raw;
    wire signed [YW-1:0] y = ybase_reg + $signed(YW'(kh_reg));
    wire signed [XW-1:0] x = xbase_reg + $signed(XW'(kw_reg));
    wire pad = y < 0 || y > $signed(YW'(H - 1)) || x < 0 || x > $signed(XW'(W - 1));
    // rows up to hi are complete (and, for the frame's last word, the whole frame is written)
    wire signed [RW-1:0] need = last_frame ? $signed(base_reg + RW'(H - 1)) : $signed(base_reg + RW'(hi));
    wire rows_ok = hi < 0 && !last_frame ? 1'b1 : $signed(done_reg - RW'(need)) > 0;
    wire issue = rows_ok && credit_reg != 0;

    wire [YW-1:0] dy = y - lo;
    wire [SLW:0] slot_sum = {1'b0, rs_reg} + (SLW+1)'(dy);
    wire [SLW-1:0] slot = slot_sum >= (SLW+1)'(R) ? SLW'(slot_sum - (SLW+1)'(R)) : SLW'(slot_sum);
    wire [AW-1:0] raddr = AW'(slot) * AW'(ROW_WORDS) + AW'(x) * AW'(CW) + AW'(cw_reg);

    // lo of the next output row (or of the next frame) and the slot advance to it
    wire signed [YW-1:0] ybase_next = ybase_reg + YW'(SH);
    wire signed [YW-1:0] lo_next = last_oh ? {YW{1'b0}} : (ybase_next < 0 ? {YW{1'b0}} : ybase_next);
    wire [YW-1:0] adv = last_oh ? YW'(H) - lo : lo_next - lo;
    wire [SLW:0] rs_sum = {1'b0, rs_reg} + (SLW+1)'(adv);
    wire [SLW-1:0] rs_next = rs_sum >= (SLW+1)'(R) ? SLW'(rs_sum - (SLW+1)'(R)) : SLW'(rs_sum);

    reg [IN_WIDTH-1:0] rd_reg;
    reg                rd_valid, rd_pad;
    wire m_fire = m_axis_tvalid && m_axis_tready;

    always @(posedge clk) begin
        rd_reg <= mem[raddr];
        rd_pad <= pad;
        rd_valid <= issue;
        credit_reg <= credit_reg - CRW'(issue) + CRW'(m_fire);

        if (s_fire) begin
            if (wcol_reg == COLW'(ROW_WORDS - 1)) begin
                wcol_reg <= 0;
                done_reg <= done_reg + 1'b1;
                ws_reg <= ws_reg == SLW'(R - 1) ? {SLW{1'b0}} : ws_reg + 1'b1;
            end else begin
                wcol_reg <= wcol_reg + 1'b1;
            end
        end

        if (issue) begin
            cw_reg <= last_cw ? {CWW{1'b0}} : cw_reg + 1'b1;
            if (last_cw) kw_reg <= last_kw ? 0 : kw_reg + 1'b1;
            if (last_cw && last_kw) kh_reg <= last_kh ? 0 : kh_reg + 1'b1;
            if (last_pix) begin
                ow_reg <= last_ow ? 0 : ow_reg + 1'b1;
                xbase_reg <= last_ow ? -$signed(XW'(PL)) : xbase_reg + XW'(SW);
            end
            if (last_row) begin
                oh_reg <= last_oh ? 0 : oh_reg + 1'b1;
                ybase_reg <= last_oh ? -$signed(YW'(PT)) : ybase_next;
                rs_reg <= rs_next;
                free_reg <= free_reg + RW'(adv);
                if (last_oh) base_reg <= base_reg + RW'(H);
            end
        end

        if (rst) begin
            done_reg <= 0;
            ws_reg <= 0;
            wcol_reg <= 0;
            free_reg <= 0;
            base_reg <= 0;
            rs_reg <= 0;
            ybase_reg <= -$signed(YW'(PT));
            xbase_reg <= -$signed(XW'(PL));
            oh_reg <= 0;
            ow_reg <= 0;
            kh_reg <= 0;
            kw_reg <= 0;
            cw_reg <= 0;
            rd_valid <= 1'b0;
            credit_reg <= CRW'(QCAP);
        end
    end

    wire [$clog2(QCAP + 2)-1:0] unused_occupancy;
    wire unused_queue_ready;
    fpgabnn_fifo #(.DATA_WIDTH(OUT_WIDTH), .DEPTH(QCAP), .IMPL(0)) queue (
        .clk(clk), .rst(rst),
        .s_axis_tdata(rd_pad ? {SIMD{PAD_ELEM}} : rd_reg), .s_axis_tvalid(rd_valid),
        .s_axis_tready(unused_queue_ready),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready),
        .occupancy(unused_occupancy)
    );
    wire unused = &{1'b0, dy, slot_sum, rs_sum, RAM_STYLE[0]};
end else begin : g_parallel
    localparam HP = H + PT + PB;
    localparam WP = W + PL + PR;
    localparam PW = C * ELEM_BITS;          // one pixel
    localparam TAPS = (KH - 1) * WP + KW;   // pixels of the window span, newest first
    localparam YW = $clog2(HP + 1) + 1;
    localparam XW = $clog2(WP + 1) + 1;

    reg [PW-1:0] sr [0:TAPS-1];             // sr[0] is the newest pixel
    reg [YW-1:0] py_reg;
    reg [XW-1:0] px_reg;
    reg [$clog2(SH+1)-1:0] yph_reg;         // (py - (KH - 1)) mod SH
    reg [$clog2(SW+1)-1:0] xph_reg;
    reg [$clog2(OH+1)-1:0] orow_reg;        // output rows emitted in this frame
    reg [$clog2(OW+1)-1:0] ocol_reg;
    reg [OUT_WIDTH-1:0] m_axis_tdata_reg;
    reg                 m_axis_tvalid_reg;

    // (comparisons with a zero pad or a 1-wide window are constant: fine)
    /* verilator lint_off UNSIGNED */
    wire in_frame = py_reg >= YW'(PT) && py_reg < YW'(PT + H) && px_reg >= XW'(PL) && px_reg < XW'(PL + W);
    wire row_on = py_reg >= YW'(KH - 1) && yph_reg == 0 && orow_reg < ($clog2(OH+1))'(OH);
    wire col_on = px_reg >= XW'(KW - 1) && xph_reg == 0 && ocol_reg < ($clog2(OW+1))'(OW);
    /* verilator lint_on UNSIGNED */
    wire emit_here = row_on && col_on;
    wire out_free = !m_axis_tvalid_reg || m_axis_tready;
    wire have = !in_frame || s_axis_tvalid;
    wire advance = have && (!emit_here || out_free);
    wire [PW-1:0] pixel = in_frame ? s_axis_tdata : {C{PAD_ELEM}};
    wire last_x = px_reg == XW'(WP - 1);
    wire last_y = py_reg == YW'(HP - 1);

    assign s_axis_tready = in_frame && (!emit_here || out_free);
    assign m_axis_tdata = m_axis_tdata_reg;
    assign m_axis_tvalid = m_axis_tvalid_reg;

    // window element (kh, kw) is the pixel (KH-1-kh) rows and (KW-1-kw) columns back from the newest one
    wire [OUT_WIDTH-1:0] window;
    for (i = 0; i < KH * KW; i = i + 1) begin : g_tap
        localparam D = (KH - 1 - i / KW) * WP + (KW - 1 - i % KW);
        if (D == 0) begin : g_new
            assign window[i*PW +: PW] = pixel;
        end else begin : g_old
            assign window[i*PW +: PW] = sr[D-1];
        end
    end

    integer k;
    /* verilator lint_off UNSIGNED */
    always @(posedge clk) begin
        if (out_free) m_axis_tvalid_reg <= 1'b0;
        if (advance) begin
            sr[0] <= pixel;
            for (k = 1; k < TAPS; k = k + 1) sr[k] <= sr[k-1];
            if (emit_here) begin
                m_axis_tdata_reg <= window;
                m_axis_tvalid_reg <= 1'b1;
            end
            px_reg <= last_x ? 0 : px_reg + 1'b1;
            if (last_x) begin
                ocol_reg <= 0;
                xph_reg <= 0;
                py_reg <= last_y ? 0 : py_reg + 1'b1;
                if (last_y) begin
                    orow_reg <= 0;
                    yph_reg <= 0;
                end else if (py_reg >= YW'(KH - 1)) begin
                    yph_reg <= yph_reg == ($clog2(SH+1))'(SH - 1) ? 0 : yph_reg + 1'b1;
                    if (row_on) orow_reg <= orow_reg + 1'b1;
                end
            end else if (px_reg >= XW'(KW - 1)) begin
                xph_reg <= xph_reg == ($clog2(SW+1))'(SW - 1) ? 0 : xph_reg + 1'b1;
                if (col_on) ocol_reg <= ocol_reg + 1'b1;
            end
        end
        if (rst) begin
            py_reg <= 0;
            px_reg <= 0;
            yph_reg <= 0;
            xph_reg <= 0;
            orow_reg <= 0;
            ocol_reg <= 0;
            m_axis_tvalid_reg <= 1'b0;
        end
    end
    /* verilator lint_on UNSIGNED */
    wire unused = &{1'b0, RAM_STYLE[0]};
end
endgenerate

endmodule

`resetall
