// SPDX-License-Identifier: MIT
// fpgabnn: matrix-vector(-threshold) unit. Each input vector (MW elements, SF = MW / SIMD words) is written into
// one bank of a ping-pong buffer while the other bank is replayed NF = MH / PE times against the weights; tile
// t = nf * SF + sf multiplies the vector's word sf with weight word t (PE * SIMD bits: bit p * SIMD + s is the
// weight of lane s in PE p, 1 = +1), and PE p computes output channel nf * PE + p.
//   XNOR = 1 (bipolar input): each PE counts matches P = popcount(xnor(w, x)) over the vector;
//   XNOR = 0 (integer input): dot = sum w * a = 2 * sum_{w = +1} a - sum a (sum a shared by all PEs).
//   ACT 0: out bit = P >= T (XNOR, unsigned T) or dot >= T (integer, signed T), T from THRESH_FILE
//          (NF lines of PE * THR_BITS bits, PE p at bits p * THR_BITS);
//   ACT 1 / 2: out = dot (for XNOR dot = 2P - MW), OUT_BITS two's complement.
// The core runs freely: a tile is issued when its inputs are in the buffer and, for the last tile of an
// output word, when a credit says the output queue will have room, so no clock enable spans the pipeline.

`resetall
`timescale 1ns / 1ps
`default_nettype none

module fpgabnn_mvau #
(
    // Input vector length (matrix width)
    parameter MW = 16,
    // Output channels (matrix height)
    parameter MH = 16,
    // Output channels computed in parallel (divides MH)
    parameter PE = 1,
    // Input elements per word (divides MW)
    parameter SIMD = 1,
    // 1: bipolar input (XNOR-popcount), 0: integer input
    parameter XNOR = 1,
    // Bits of one input element (1 when XNOR)
    parameter IN_BITS = 1,
    // Integer input is two's complement (1) or unsigned (0)
    parameter IN_SIGNED = 0,
    // 0 threshold, 1 popcount_to_dot, 2 identity
    parameter ACT = 0,
    // Bits of one output element (1 for ACT 0)
    parameter OUT_BITS = 1,
    // Bits of one threshold (ACT 0)
    parameter THR_BITS = 8,
    // Weight memory: 0 distributed (LUT-ROM), 1 block RAM
    parameter RAM_STYLE = 0,
    // $readmemh files: weights (NF * SF lines of PE * SIMD bits) and thresholds (NF lines)
    parameter WEIGHT_FILE = "weights.memh",
    parameter THRESH_FILE = "thresholds.memh",
    // Output queue words (covers the pipeline's latency for one output word per cycle)
    parameter QUEUE_DEPTH = 8,
    // Stream word widths (derived)
    parameter IN_WIDTH = SIMD * IN_BITS,
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

localparam SF = MW / SIMD;
localparam NF = MH / PE;
localparam TILES = NF * SF;
localparam SF_W = SF > 1 ? $clog2(SF) : 1;
localparam NF_W = NF > 1 ? $clog2(NF) : 1;
localparam T_W = TILES > 1 ? $clog2(TILES) : 1;
localparam XB_W = $clog2(2 * SF);
// accumulator: popcount (unsigned, XNOR) or dot product (signed, integer input)
localparam ACC_W = XNOR ? $clog2(MW + 1) + 1 : IN_BITS + $clog2(MW + 1) + 2;
localparam PART_W = XNOR ? $clog2(SIMD + 1) + 1 : IN_BITS + $clog2(SIMD + 1) + 2;
localparam CMP_W = (ACC_W > THR_BITS ? ACC_W : THR_BITS) + 1;
localparam QCAP = QUEUE_DEPTH + 1;
localparam CR_W = $clog2(QCAP + 1);

generate
    if (MW % SIMD != 0 || MH % PE != 0) begin : g_check_fold
        $error("Error: SIMD must divide MW and PE must divide MH (instance %m)");
    end
    if (XNOR && IN_BITS != 1) begin : g_check_xnor
        $error("Error: XNOR needs IN_BITS = 1 (instance %m)");
    end
    if (ACT == 0 && OUT_BITS != 1) begin : g_check_act
        $error("Error: thresholds give OUT_BITS = 1 (instance %m)");
    end
    if (QUEUE_DEPTH < 2) begin : g_check_queue
        $error("Error: QUEUE_DEPTH must be at least 2 (instance %m)");
    end
endgenerate

// ---- input: ping-pong buffer of two vectors ---------------------------------------------------------------
reg [IN_WIDTH-1:0] ibuf [0:2*SF-1];
reg [1:0]          full_reg;
reg                wbank_reg;
reg [SF_W-1:0]     wcnt_reg;

wire s_ready = !full_reg[wbank_reg];
wire s_fire = s_axis_tvalid && s_ready;
wire w_last = wcnt_reg == SF_W'(SF - 1);
assign s_axis_tready = s_ready;

always @(posedge clk) begin
    if (s_fire) ibuf[(wbank_reg ? XB_W'(SF) : {XB_W{1'b0}}) + XB_W'(wcnt_reg)] <= s_axis_tdata;
end

// ---- issue: replay the full bank NF times, tile by tile --------------------------------------------------
reg                rbank_reg;
reg [SF_W-1:0]     sf_reg;
reg [NF_W-1:0]     nf_reg;
reg [T_W-1:0]      t_reg;
reg [CR_W-1:0]     credit_reg;

wire r_last_sf = sf_reg == SF_W'(SF - 1);
wire r_last_nf = nf_reg == NF_W'(NF - 1);
wire issue = full_reg[rbank_reg] && (!r_last_sf || credit_reg != 0);
wire m_fire;

wire bank_done = issue && r_last_sf && r_last_nf;

always @(posedge clk) begin
    if (issue) begin
        sf_reg <= r_last_sf ? {SF_W{1'b0}} : sf_reg + 1'b1;
        if (r_last_sf) nf_reg <= r_last_nf ? {NF_W{1'b0}} : nf_reg + 1'b1;
        t_reg <= (r_last_sf && r_last_nf) ? {T_W{1'b0}} : t_reg + 1'b1;
        if (r_last_sf && r_last_nf) rbank_reg <= !rbank_reg;
    end
    credit_reg <= credit_reg - CR_W'(issue && r_last_sf) + CR_W'(m_fire);

    // the writer fills a bank; a bank is released as its last tile reads it (the read is registered)
    if (s_fire) begin
        wcnt_reg <= w_last ? {SF_W{1'b0}} : wcnt_reg + 1'b1;
        if (w_last) wbank_reg <= !wbank_reg;
    end
    full_reg <= (full_reg | (s_fire && w_last ? (2'b01 << wbank_reg) : 2'b00))
              & ~(bank_done ? (2'b01 << rbank_reg) : 2'b00);

    if (rst) begin
        full_reg <= 2'b00;
        wbank_reg <= 1'b0;
        wcnt_reg <= 0;
        rbank_reg <= 1'b0;
        sf_reg <= 0;
        nf_reg <= 0;
        t_reg <= 0;
        credit_reg <= CR_W'(QCAP);
    end
end

// ---- stage 1: memory reads of the issued tile (registered: the weight ROM may be block RAM) ----------------
reg [IN_WIDTH-1:0]   s1_x;
reg [PE*SIMD-1:0]    s1_w;
reg [PE*THR_BITS-1:0] s1_thr;
reg                  s1_valid, s1_first, s1_last;

generate
    if (RAM_STYLE == 1) begin : g_wrom_block
        (* rom_style = "block", ram_style = "block" *)
        reg [PE*SIMD-1:0] wrom [0:TILES-1];
        initial $readmemh(WEIGHT_FILE, wrom);
        always @(posedge clk) s1_w <= wrom[t_reg];
    end else begin : g_wrom_lut
        (* rom_style = "distributed", ram_style = "distributed" *)
        reg [PE*SIMD-1:0] wrom [0:TILES-1];
        initial $readmemh(WEIGHT_FILE, wrom);
        always @(posedge clk) s1_w <= wrom[t_reg];
    end
    if (ACT == 0) begin : g_trom
        (* rom_style = "distributed" *)
        reg [PE*THR_BITS-1:0] trom [0:NF-1];
        initial $readmemh(THRESH_FILE, trom);
        always @(posedge clk) s1_thr <= trom[nf_reg];
    end else begin : g_no_trom
        always @(posedge clk) s1_thr <= {PE*THR_BITS{1'b0}};
        wire unused_nf = &{1'b0, nf_reg};
    end
endgenerate

always @(posedge clk) begin
    s1_x <= ibuf[(rbank_reg ? XB_W'(SF) : {XB_W{1'b0}}) + XB_W'(sf_reg)];
    s1_valid <= issue;
    s1_first <= sf_reg == 0;
    s1_last <= r_last_sf;
    if (rst) s1_valid <= 1'b0;
end

// ---- stage 2: per-PE partial sums of one tile ------------------------------------------------------------
reg [PE*PART_W-1:0]   s2_part;
reg [PE*THR_BITS-1:0] s2_thr;
reg                   s2_valid, s2_first, s2_last;
wire [PE*PART_W-1:0]  part;

genvar p, s;
generate
    if (XNOR) begin : g_xnor
        for (p = 0; p < PE; p = p + 1) begin : g_pe
            wire [PART_W-1:0] cnt;
            fpgabnn_addtree #(.N(SIMD), .IN_WIDTH(1), .SIGNED(0), .OUT_WIDTH(PART_W)) popcount (
                .in_data(~(s1_w[p*SIMD +: SIMD] ^ s1_x)), .out_sum(cnt)
            );
            assign part[p*PART_W +: PART_W] = cnt;
        end
    end else begin : g_int
        localparam EW = IN_BITS + 1;  // elements widened to signed
        wire [SIMD*EW-1:0] a;
        for (s = 0; s < SIMD; s = s + 1) begin : g_lane
            wire [IN_BITS-1:0] raw = s1_x[s*IN_BITS +: IN_BITS];
            assign a[s*EW +: EW] = IN_SIGNED ? {raw[IN_BITS-1], raw} : {1'b0, raw};
        end
        wire [PART_W-1:0] sum_a;
        fpgabnn_addtree #(.N(SIMD), .IN_WIDTH(EW), .SIGNED(1), .OUT_WIDTH(PART_W)) sum_all (
            .in_data(a), .out_sum(sum_a)
        );
        for (p = 0; p < PE; p = p + 1) begin : g_pe
            wire [SIMD*EW-1:0] masked;
            for (s = 0; s < SIMD; s = s + 1) begin : g_mask
                assign masked[s*EW +: EW] = s1_w[p*SIMD + s] ? a[s*EW +: EW] : {EW{1'b0}};
            end
            wire [PART_W-1:0] sum_pos;
            fpgabnn_addtree #(.N(SIMD), .IN_WIDTH(EW), .SIGNED(1), .OUT_WIDTH(PART_W)) sum_plus (
                .in_data(masked), .out_sum(sum_pos)
            );
            assign part[p*PART_W +: PART_W] = (sum_pos << 1) - sum_a;
        end
    end
endgenerate

always @(posedge clk) begin
    s2_part <= part;
    s2_thr <= s1_thr;
    s2_valid <= s1_valid;
    s2_first <= s1_first;
    s2_last <= s1_last;
    if (rst) s2_valid <= 1'b0;
end

// ---- stage 3: accumulate over the SF tiles of an output word ---------------------------------------------
reg [PE*ACC_W-1:0]    s3_acc;
reg [PE*THR_BITS-1:0] s3_thr;
reg                   s3_valid;

generate
    for (p = 0; p < PE; p = p + 1) begin : g_acc
        wire [ACC_W-1:0] part_ext = XNOR ? ACC_W'(s2_part[p*PART_W +: PART_W])
                                         : ACC_W'($signed(s2_part[p*PART_W +: PART_W]));
        always @(posedge clk) begin
            if (s2_valid) s3_acc[p*ACC_W +: ACC_W] <= (s2_first ? {ACC_W{1'b0}} : s3_acc[p*ACC_W +: ACC_W]) + part_ext;
        end
    end
endgenerate

always @(posedge clk) begin
    s3_valid <= s2_valid && s2_last;
    if (s2_valid && s2_last) s3_thr <= s2_thr;
    if (rst) s3_valid <= 1'b0;
end

// ---- activation into the output queue --------------------------------------------------------------------
wire [OUT_WIDTH-1:0] result;
generate
    for (p = 0; p < PE; p = p + 1) begin : g_act
        wire [ACC_W-1:0] acc = s3_acc[p*ACC_W +: ACC_W];
        if (ACT == 0) begin : g_thr
            wire signed [CMP_W-1:0] lhs = XNOR ? $signed(CMP_W'(acc)) : CMP_W'($signed(acc));
            wire [THR_BITS-1:0] t = s3_thr[p*THR_BITS +: THR_BITS];
            wire signed [CMP_W-1:0] rhs = XNOR ? $signed(CMP_W'(t)) : CMP_W'($signed(t));
            assign result[p] = lhs >= rhs;
        end else if (XNOR) begin : g_dot_xnor
            wire [ACC_W:0] dot = {acc, 1'b0} - (ACC_W+1)'(MW);
            assign result[p*OUT_BITS +: OUT_BITS] = OUT_BITS'(dot);  // the dot fits OUT_BITS
            wire unused_dot = &{1'b0, dot};
        end else begin : g_dot_int
            assign result[p*OUT_BITS +: OUT_BITS] = OUT_BITS'(acc);  // the dot fits OUT_BITS
            wire unused_acc = &{1'b0, acc};
        end
    end
    if (ACT != 0) begin : g_unused_thr
        wire unused_thr = &{1'b0, s3_thr};
    end
endgenerate

wire [$clog2(QCAP + 2)-1:0] unused_occupancy;
wire queue_ready_unused;

fpgabnn_fifo #(.DATA_WIDTH(OUT_WIDTH), .DEPTH(QCAP), .IMPL(0)) queue (
    .clk(clk), .rst(rst),
    .s_axis_tdata(result), .s_axis_tvalid(s3_valid), .s_axis_tready(queue_ready_unused),
    .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid), .m_axis_tready(m_axis_tready),
    .occupancy(unused_occupancy)
);

assign m_fire = m_axis_tvalid && m_axis_tready;

endmodule

`resetall
