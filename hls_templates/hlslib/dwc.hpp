/**
 * \file dwc.hpp
 * \brief Data-width converter placed by the generator between layers.
 *
 * Converts between word widths of which one divides the other. Elements keep
 *   their little-endian order: when gathering, the first input word lands in the lowest bits;
 *   when splitting, the lowest bits leave first. Widths where neither divides the other are
 *   converted in two steps through their least common multiple (the generator emits both).
 */
#ifndef FPGABNN_DWC_HPP
#define FPGABNN_DWC_HPP

#include "common.hpp"

namespace fpgabnn {

/**
 * \tparam IN_W          input word width in bits
 * \tparam OUT_W         output word width in bits; IN_W % OUT_W == 0 or OUT_W % IN_W == 0
 * \tparam NUM_IN_WORDS  input words per frame; NUM_IN_WORDS * IN_W is a multiple of OUT_W
 */
template <unsigned IN_W, unsigned OUT_W, unsigned NUM_IN_WORDS>
void dwc(hls::stream<ap_uint<IN_W> >& in, hls::stream<ap_uint<OUT_W> >& out) {
    static_assert(IN_W % OUT_W == 0 || OUT_W % IN_W == 0, "one width must divide the other");
    static_assert((NUM_IN_WORDS * IN_W) % OUT_W == 0, "a frame must fill whole output words");
    if (IN_W == OUT_W) {
        for (unsigned i = 0; i < NUM_IN_WORDS; i++) {
#pragma HLS PIPELINE II=1 style=flp
            out.write(in.read());
        }
    } else if (OUT_W > IN_W) {
        const unsigned R = OUT_W / IN_W;  // input words per output word
        ap_uint<OUT_W> acc = 0;
        unsigned k = 0;  // invariant: k = i % R, the slot of input word i
        for (unsigned i = 0; i < NUM_IN_WORDS; i++) {
#pragma HLS PIPELINE II=1 style=flp
            acc((k + 1) * IN_W - 1, k * IN_W) = in.read();
            if (++k == R) {
                out.write(acc);
                k = 0;
            }
        }
    } else {
        const unsigned R = IN_W / OUT_W;  // output words per input word
        ap_uint<IN_W> word = 0;
        unsigned k = 0;  // invariant: k = o % R for output word o
        for (unsigned o = 0; o < NUM_IN_WORDS * R; o++) {
#pragma HLS PIPELINE II=1 style=flp
            if (k == 0) word = in.read();
            out.write(ap_uint<OUT_W>(word((k + 1) * OUT_W - 1, k * OUT_W)));
            if (++k == R) k = 0;
        }
    }
}

}  // namespace fpgabnn

#endif
