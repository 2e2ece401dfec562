/**
 * \file mvau.hpp
 * \brief Matrix-vector(-activation) unit: the fully-connected / convolution layer of a binary network.
 *
 * For every input vector x (MW elements) it computes acc[c] = sum_j lane(W[j][c], x[j]) for the MH
 * output channels c and sends activate(acc[c]). The matrix is folded onto PE x SIMD lanes: PE output
 * channels and SIMD input elements per cycle, NF = MH / PE neuron folds and SF = MW / SIMD synapse
 * folds, so one vector takes NF * SF cycles at II = 1. The input vector is read from the stream
 * during the first neuron fold and replayed from a local buffer for the others.
 */
#ifndef FPGABNN_MVAU_HPP
#define FPGABNN_MVAU_HPP

#include "common.hpp"

namespace fpgabnn {

/**
 * \tparam MW        matrix width: input elements per vector
 * \tparam MH        matrix height: output channels
 * \tparam SIMD      input elements per input word; divides MW
 * \tparam PE        output channels per output word; divides MH
 * \tparam NUM_VECS  input vectors per frame (OH * OW for a convolution, 1 for a dense layer)
 * \tparam TI        input element type (ap_uint<1> for bipolar inputs)
 * \tparam Mul       tile product: XnorMul (bipolar inputs, popcount) or SignMul (integer inputs)
 * \tparam TA        accumulator type, wide enough for the whole row
 * \tparam TO        output element type
 * \tparam Weights   BinaryWeights<SIMD, PE, NF * SF, ...>
 * \tparam Act       activation: IdentityAct, PopcountToDotAct or ThresholdAct
 *
 * \param in       input words, SIMD elements each, NUM_VECS * SF per frame
 * \param out      output words, PE elements each, NUM_VECS * NF per frame
 * \param weights  weight memory (see BinaryWeights for the layout)
 * \param act      activation (holds the thresholds, if any)
 */
template <unsigned MW, unsigned MH, unsigned SIMD, unsigned PE, unsigned NUM_VECS,
          typename TI, typename Mul, typename TA, typename TO, typename Weights, typename Act>
void mvau(hls::stream<ap_uint<SIMD * TI::width> >& in, hls::stream<ap_uint<PE * TO::width> >& out,
          const Weights& weights, const Act& act) {
    static_assert(MW % SIMD == 0, "SIMD must divide MW");
    static_assert(MH % PE == 0, "PE must divide MH");
    const unsigned SF = MW / SIMD;  // synapse fold: input words per vector
    const unsigned NF = MH / PE;    // neuron fold: output words per vector

    ap_uint<SIMD * TI::width> inbuf[SF];  // the current input vector, replayed for nf > 0
    TA acc[PE];
#pragma HLS ARRAY_PARTITION variable=acc complete

    unsigned nf = 0, sf = 0;
    unsigned tile = 0;  // invariant: tile = nf * SF + sf
    // one flat loop over all (vector, nf, sf) so that the whole body pipelines at II = 1
    for (unsigned i = 0; i < NUM_VECS * NF * SF; i++) {
#pragma HLS PIPELINE II=1 style=flp
        ap_uint<SIMD * TI::width> x;
        if (nf == 0) {
            x = in.read();
            inbuf[sf] = x;
        } else {
            x = inbuf[sf];
        }

        typename Mul::template Operand<TI, SIMD> operand;  // the input word, unpacked once for all PEs
        Mul::template unpack<TI, SIMD>(x, operand);
        for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
            const ap_uint<SIMD> w = weights.word(p, tile);
            const TA partial = Mul::template dot<TA, TI, SIMD>(w, operand);
            acc[p] = (sf == 0) ? partial : TA(acc[p] + partial);  // a new output channel starts at sf = 0
        }

        if (sf == SF - 1) {  // the PE channels nf*PE .. nf*PE+PE-1 are complete
            ap_uint<PE * TO::width> y = 0;
            for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
                set_elem<TO>(y, p, act.activate(nf, p, acc[p]));
            }
            out.write(y);
        }

        tile++;
        if (++sf == SF) {
            sf = 0;
            if (++nf == NF) {
                nf = 0;
                tile = 0;
            }
        }
    }
}

}  // namespace fpgabnn

#endif
