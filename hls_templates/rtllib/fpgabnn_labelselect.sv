// SPDX-License-Identifier: MIT
// fpgabnn: top-K label selection over C values (PE per word); outputs the K indices of the largest values, largest
// first, ties to the lower index. Each lane keeps a sorted list of its K best (insertion, one value per lane per
// cycle); after the frame's last word the lists are merged, one output index per cycle.

`resetall
`timescale 1ns / 1ps
`default_nettype none

module fpgabnn_labelselect #
(
    // Number of values (labels)
    parameter C = 10,
    // Values per input word (divides C)
    parameter PE = 1,
    // Indices to output
    parameter K = 1,
    // Bits of one value, and whether it is two's complement
    parameter IN_BITS = 8,
    parameter IN_SIGNED = 1,
    // Bits of one output index (derived)
    parameter OUT_BITS = C > 2 ? $clog2(C) : 1,
    // Stream word widths (derived)
    parameter IN_WIDTH = PE * IN_BITS,
    parameter OUT_WIDTH = OUT_BITS
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

localparam CW = C / PE;
localparam IW = $clog2(C + 1);          // index registers (one spare bit)
localparam KW = $clog2(K + 1);
localparam CWW = $clog2(CW + 1);
localparam VW = IN_BITS + 1;            // values widened to signed

generate
    if (C % PE != 0 || K < 1 || K > C || OUT_BITS < (C > 2 ? $clog2(C) : 1)) begin : g_check
        $error("Error: PE must divide C, 1 <= K <= C, OUT_BITS must hold an index (instance %m)");
    end
endgenerate

reg [PE*K*VW-1:0] val_reg;
reg [PE*K*IW-1:0] idx_reg;
reg [PE*K-1:0]    vld_reg;
reg [PE*KW-1:0]   ptr_reg;
reg [CWW-1:0]     word_reg;
reg [IW-1:0]      base_reg;             // index of the word's lane 0
reg               merge_reg;
reg [KW-1:0]      out_cnt_reg;
reg [OUT_WIDTH-1:0] m_axis_tdata_reg;
reg                 m_axis_tvalid_reg;

wire out_free = !m_axis_tvalid_reg || m_axis_tready;
wire s_fire = s_axis_tvalid && !merge_reg;
assign s_axis_tready = !merge_reg;
assign m_axis_tdata = m_axis_tdata_reg;
assign m_axis_tvalid = m_axis_tvalid_reg;

// ---- insertion of one value per lane ----
reg [PE*K*VW-1:0] val_ins;
reg [PE*K*IW-1:0] idx_ins;
reg [PE*K-1:0]    vld_ins;
integer p, j;
always @* begin
    val_ins = val_reg;
    idx_ins = idx_reg;
    vld_ins = vld_reg;
    for (p = 0; p < PE; p = p + 1) begin : ins
        reg signed [VW-1:0] v;
        reg [K-1:0] gt;
        v = IN_SIGNED ? $signed({s_axis_tdata[p*IN_BITS + IN_BITS - 1], s_axis_tdata[p*IN_BITS +: IN_BITS]})
                      : $signed({1'b0, s_axis_tdata[p*IN_BITS +: IN_BITS]});
        // strictly greater moves ahead, so equal values keep the earlier (lower) index first
        for (j = 0; j < K; j = j + 1) gt[j] = !vld_reg[p*K + j] || v > $signed(val_reg[(p*K + j)*VW +: VW]);
        for (j = 0; j < K; j = j + 1) begin
            if (gt[j]) begin
                if (j > 0 && gt[j > 0 ? j - 1 : 0]) begin
                    val_ins[(p*K + j)*VW +: VW] = val_reg[(p*K + j - 1)*VW +: VW];
                    idx_ins[(p*K + j)*IW +: IW] = idx_reg[(p*K + j - 1)*IW +: IW];
                    vld_ins[p*K + j] = vld_reg[p*K + j - 1];
                end else begin
                    val_ins[(p*K + j)*VW +: VW] = v;
                    idx_ins[(p*K + j)*IW +: IW] = base_reg + IW'(p);
                    vld_ins[p*K + j] = 1'b1;
                end
            end
        end
    end
end

// ---- merge: the best list head, ties to the lower index ----
reg [$clog2(PE+1)-1:0] best;
reg                    best_ok;
reg signed [VW-1:0]    best_v;
reg [IW-1:0]           best_i;
always @* begin
    best = 0;
    best_ok = 1'b0;
    best_v = 0;
    best_i = 0;
    for (p = 0; p < PE; p = p + 1) begin : pick
        reg [KW-1:0] q;
        reg signed [VW-1:0] hv;
        reg [IW-1:0] hi;
        q = ptr_reg[p*KW +: KW];
        hv = 0;
        hi = 0;
        if (q < KW'(K) && vld_reg[p*K + 32'(q)]) begin
            hv = $signed(val_reg[(p*K + 32'(q))*VW +: VW]);
            hi = idx_reg[(p*K + 32'(q))*IW +: IW];
            if (!best_ok || hv > best_v || (hv == best_v && hi < best_i)) begin
                best = ($clog2(PE+1))'(p);
                best_ok = 1'b1;
                best_v = hv;
                best_i = hi;
            end
        end
    end
end

wire last_word = word_reg == CWW'(CW - 1);
wire emit = merge_reg && out_free;
wire last_out = out_cnt_reg == KW'(K - 1);

always @(posedge clk) begin
    if (out_free) m_axis_tvalid_reg <= 1'b0;
    if (s_fire) begin
        val_reg <= val_ins;
        idx_reg <= idx_ins;
        vld_reg <= vld_ins;
        word_reg <= last_word ? {CWW{1'b0}} : word_reg + 1'b1;
        base_reg <= last_word ? {IW{1'b0}} : base_reg + IW'(PE);
        if (last_word) merge_reg <= 1'b1;
    end
    if (emit) begin
        m_axis_tdata_reg <= OUT_WIDTH'(best_i);
        m_axis_tvalid_reg <= 1'b1;
        ptr_reg[best*KW +: KW] <= ptr_reg[best*KW +: KW] + 1'b1;
        out_cnt_reg <= last_out ? {KW{1'b0}} : out_cnt_reg + 1'b1;
        if (last_out) begin
            merge_reg <= 1'b0;
            vld_reg <= 0;
            ptr_reg <= 0;
        end
    end
    if (rst) begin
        vld_reg <= 0;
        ptr_reg <= 0;
        word_reg <= 0;
        base_reg <= 0;
        merge_reg <= 1'b0;
        out_cnt_reg <= 0;
        m_axis_tvalid_reg <= 1'b0;
    end
end

endmodule

`resetall
