/**
 * \file maxpool.hpp
 * \brief Max-pooling on a stream (no padding, floor mode). For bipolar activations (one-bit elements,
 *        1 = +1) the maximum is the OR of the bits.
 *
 * maxpool: windows that do not overlap (KH <= SH and KW <= SW), the common 2x2 / stride 2 case.
 *   Every input pixel belongs to at most one window, so one row of partial maxima (OW pixels) is
 *   enough and the kernel runs at one input word per cycle.
 * window_max: the reduction half of overlapping pooling; the generator puts a sliding_window in
 *   front of it, and it reduces each KH * KW window to one pixel.
 */
#ifndef FPGABNN_MAXPOOL_HPP
#define FPGABNN_MAXPOOL_HPP

#include "common.hpp"

namespace fpgabnn {

/**
 * \tparam H, W    input height and width
 * \tparam C       channels
 * \tparam PE      channels per stream word; divides C
 * \tparam KH, KW  window height and width (KH <= SH, KW <= SW)
 * \tparam SH, SW  stride
 * \tparam TE      element type (ap_uint<1> for bipolar values)
 */
template <unsigned H, unsigned W, unsigned C, unsigned PE, unsigned KH, unsigned KW, unsigned SH,
          unsigned SW, typename TE>
void maxpool(hls::stream<ap_uint<PE * TE::width> >& in, hls::stream<ap_uint<PE * TE::width> >& out) {
    static_assert(C % PE == 0, "PE must divide C");
    static_assert(KH <= SH && KW <= SW, "overlapping windows: use sliding_window + window_max");
    static_assert(H >= KH && W >= KW, "the window must fit into the input");
    typedef ap_uint<PE * TE::width> word_t;
    const unsigned CF = C / PE;
    const unsigned OH = (H - KH) / SH + 1;
    const unsigned OW = (W - KW) / SW + 1;

    // Running maximum of the current window within the current input row, one word per channel fold: a
    // register chain (fully partitioned, shifted every word), so the kx direction needs no memory access.
    word_t run[CF];
#pragma HLS ARRAY_PARTITION variable=run complete
    // Maxima of rows ky < KH - 1 of the current output row's windows. A word is read and written once per
    // window per input row; the next access to the same word is a whole input row later.
    word_t partial[OW * CF];
#pragma HLS DEPENDENCE variable=partial inter false

    // input position: row (oy, ky) with y = oy*SH + ky, column (ox, kx) with x = ox*SW + kx, fold cf
    unsigned oy = 0, ky = 0, ox = 0, kx = 0, cf = 0;
    for (unsigned i = 0; i < H * W * CF; i++) {
#pragma HLS PIPELINE II=1 style=flp
        const word_t x = in.read();
        const bool in_window = ky < KH && kx < KW && oy < OH && ox < OW;
        const word_t r = (kx == 0) ? x : max_word<PE, TE>(run[0], x);  // run[0] is this fold's running max
        if (in_window && kx == KW - 1) {  // the window's part of this row is complete
            const unsigned a = ox * CF + cf;
            const word_t m = (ky == 0) ? r : max_word<PE, TE>(partial[a], r);
            if (ky == KH - 1) {
                out.write(m);
            } else {
                partial[a] = m;
            }
        }
        for (unsigned j = 0; j + 1 < CF; j++) {  // shift the chain: fold cf + 1 comes to the front
#pragma HLS UNROLL
            run[j] = run[j + 1];
        }
        run[CF - 1] = r;
        if (++cf == CF) {
            cf = 0;
            if (++kx == SW) {
                kx = 0;
                ox++;
            }
            if (ox * SW + kx == W) {  // end of the input row
                ox = 0;
                kx = 0;
                if (++ky == SH) {
                    ky = 0;
                    oy++;
                }
            }
        }
    }
}

/**
 * Reduces windows produced by sliding_window (KH * KW pixels of CF words each, per output pixel)
 * to their element-wise maximum.
 * \tparam NUM_PIXELS  output pixels per frame (OH * OW)
 * \tparam WINDOW      pixels per window (KH * KW)
 * \tparam C           channels
 * \tparam PE          channels per stream word; divides C
 * \tparam TE          element type
 */
template <unsigned NUM_PIXELS, unsigned WINDOW, unsigned C, unsigned PE, typename TE>
void window_max(hls::stream<ap_uint<PE * TE::width> >& in, hls::stream<ap_uint<PE * TE::width> >& out) {
    static_assert(C % PE == 0, "PE must divide C");
    const unsigned CF = C / PE;
    // running maxima of the current window, one word per channel fold, in a register chain shifted every word
    // (run[0] is always the current fold's), so no memory is read and written in the same cycle
    ap_uint<PE * TE::width> run[CF];
#pragma HLS ARRAY_PARTITION variable=run complete
    unsigned k = 0, cf = 0;  // invariant: word i is channel fold cf of window pixel k
    for (unsigned i = 0; i < NUM_PIXELS * WINDOW * CF; i++) {
#pragma HLS PIPELINE II=1 style=flp
        const ap_uint<PE * TE::width> x = in.read();
        const ap_uint<PE * TE::width> m = (k == 0) ? x : max_word<PE, TE>(run[0], x);
        for (unsigned j = 0; j + 1 < CF; j++) {
#pragma HLS UNROLL
            run[j] = run[j + 1];
        }
        run[CF - 1] = m;
        if (k == WINDOW - 1) out.write(m);
        if (++cf == CF) {
            cf = 0;
            if (++k == WINDOW) k = 0;
        }
    }
}

}  // namespace fpgabnn

#endif
