// SPDX-License-Identifier: MIT
// fpgabnn: combinational adder tree (a popcount for 1-bit unsigned inputs).

`resetall
`timescale 1ns / 1ps
`default_nettype none

module fpgabnn_addtree #
(
    // Number of inputs
    parameter N = 4,
    // Width of one input
    parameter IN_WIDTH = 1,
    // Inputs are two's complement (1) or unsigned (0)
    parameter SIGNED = 0,
    // Width of the sum (derived: wide enough for N inputs)
    parameter OUT_WIDTH = IN_WIDTH + $clog2(N + 1)
)
(
    input  wire [N*IN_WIDTH-1:0]  in_data,
    output wire [OUT_WIDTH-1:0]   out_sum
);

// a complete binary tree over the inputs padded to a power of two: leaves at LEAVES-1 .. 2*LEAVES-2, node k sums
// its children 2k+1 and 2k+2 (the zero-extended upper bits of unsigned nodes are constants synthesis trims)
localparam LEVELS = $clog2(N);
localparam LEAVES = 1 << LEVELS;

generate if (N < 1) begin : g_check
    $error("Error: N must be at least 1 (instance %m)");
end endgenerate

wire [OUT_WIDTH-1:0] node [0:2*LEAVES-2];

genvar i;
generate
    for (i = 0; i < LEAVES; i = i + 1) begin : g_leaf
        if (i >= N) begin : g_pad
            assign node[LEAVES-1+i] = {OUT_WIDTH{1'b0}};
        end else if (SIGNED) begin : g_signed
            assign node[LEAVES-1+i] = OUT_WIDTH'($signed(in_data[i*IN_WIDTH +: IN_WIDTH]));
        end else begin : g_unsigned
            assign node[LEAVES-1+i] = OUT_WIDTH'(in_data[i*IN_WIDTH +: IN_WIDTH]);
        end
    end
    for (i = 0; i < LEAVES - 1; i = i + 1) begin : g_node
        assign node[i] = node[2*i+1] + node[2*i+2];
    end
endgenerate

assign out_sum = node[0];

endmodule

`resetall
