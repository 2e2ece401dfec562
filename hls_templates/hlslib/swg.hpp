/**
 * \file swg.hpp
 * \brief Sliding-window generator (im2col on a stream) with optional constant padding.
 *
 * Input: an H x W x C feature map, SIMD channels per word, pixel by pixel. Output: for every output
 * pixel (oy, ox) the KH * KW * C window elements ordered (kh, kw, c), SIMD per word -- the order in
 * which the following matrix-vector unit consumes its input vector.
 *
 * The padded map (HP x WP) is written row by row into a circular buffer of B = KH + SH rows; padding
 * positions are written with the pad word instead of being read from the stream. Output row oy
 * needs padded rows oy*SH .. oy*SH + KH - 1. Each loop iteration may write one word and read one
 * word:
 *  - a read is allowed once row oy*SH + KH - 1 is complete (the write row wr is past it);
 *  - a write of row wr overwrites row wr - B, allowed once that row is no longer needed,
 *    i.e. wr - B < oy*SH.
 * With B = KH + SH rows the next SH input rows are written while the current output row is
 * read, so the loop is output-bound after the first KH rows.
 */
#ifndef FPGABNN_SWG_HPP
#define FPGABNN_SWG_HPP

#include "common.hpp"

namespace fpgabnn {

/**
 * \tparam H, W        input feature map height and width (without padding)
 * \tparam C           channels
 * \tparam SIMD        channels per stream word; divides C
 * \tparam KH, KW      kernel height and width
 * \tparam SH, SW      stride
 * \tparam PT, PL, PB, PR  padding at the top, left, bottom, right
 * \tparam EW          bits per element
 *
 * \param in        input words, H * W * C / SIMD per frame
 * \param out       output words, OH * OW * KH * KW * C / SIMD per frame
 * \param pad_word  the word written at padding positions (SIMD copies of the pad element)
 */
template <unsigned H, unsigned W, unsigned C, unsigned SIMD, unsigned KH, unsigned KW, unsigned SH,
          unsigned SW, unsigned PT, unsigned PL, unsigned PB, unsigned PR, unsigned EW>
void sliding_window(hls::stream<ap_uint<SIMD * EW> >& in, hls::stream<ap_uint<SIMD * EW> >& out,
                    const ap_uint<SIMD * EW> pad_word) {
    static_assert(C % SIMD == 0, "SIMD must divide C");
    const unsigned CF = C / SIMD;           // words per pixel
    const unsigned HP = H + PT + PB;        // padded height
    const unsigned WP = W + PL + PR;        // padded width
    static_assert(HP >= KH && WP >= KW, "the kernel must fit into the padded map");
    const unsigned OH = (HP - KH) / SH + 1;
    const unsigned OW = (WP - KW) / SW + 1;
    const unsigned B = KH + SH;             // rows in the circular buffer
    const unsigned OUT_WORDS = OH * OW * KH * KW * CF;
    const unsigned MAX_ITERS = HP * WP * CF + OUT_WORDS;  // no write and read overlap at all

    ap_uint<SIMD * EW> buf[B][WP * CF];
#pragma HLS DEPENDENCE variable=buf inter false
    // (a row is read only after it was completely written, at least one full row write earlier)

    // write side: padded position (wr, wc, wf), buffer row wslot = wr % B
    unsigned wr = 0, wc = 0, wf = 0, wslot = 0;
    // read side: output pixel (oy, ox), window offset (ky, kx), channel fold rf; rbase = (oy*SH) % B
    unsigned oy = 0, ox = 0, ky = 0, kx = 0, rf = 0, rbase = 0;

    for (;;) {
#pragma HLS PIPELINE II=1 style=flp
#pragma HLS LOOP_TRIPCOUNT min=OUT_WORDS max=MAX_ITERS
        const bool in_done = (wr == HP);
        const bool out_done = (oy == OH);
        if (in_done && out_done) break;
        const bool can_read = !out_done && (in_done || wr >= oy * SH + KH);
        const bool can_write = !in_done && (out_done || wr < oy * SH + B);

        if (can_read) {
            unsigned slot = rbase + ky;
            if (slot >= B) slot -= B;
            out.write(buf[slot][(ox * SW + kx) * CF + rf]);
            // advance (oy, ox, ky, kx, rf) in output order
            if (++rf == CF) {
                rf = 0;
                if (++kx == KW) {
                    kx = 0;
                    if (++ky == KH) {
                        ky = 0;
                        if (++ox == OW) {
                            ox = 0;
                            oy++;
                            rbase += SH;
                            if (rbase >= B) rbase -= B;
                        }
                    }
                }
            }
        }

        if (can_write) {
            const bool pad = (wr < PT) || (wr >= PT + H) || (wc < PL) || (wc >= PL + W);
            buf[wslot][wc * CF + wf] = pad ? pad_word : in.read();
            if (++wf == CF) {
                wf = 0;
                if (++wc == WP) {
                    wc = 0;
                    wr++;
                    if (++wslot == B) wslot = 0;
                }
            }
        }
    }
}

/**
 * Parallel-window mode (SIMD = C): one output word per output pixel holding its whole KH x KW x C window,
 * ordered (kh, kw, c) from the lowest bits, so the following MVAU takes SIMD = MW. Same ring buffer and
 * schedule as sliding_window, with the buffer split into rows and KW column banks so that a whole window is
 * read in one cycle; a frame takes max(padded input pixels, fill + output pixels) cycles.
 * Template parameters as sliding_window (no SIMD: a word is one pixel, C elements).
 */
template <unsigned H, unsigned W, unsigned C, unsigned KH, unsigned KW, unsigned SH, unsigned SW, unsigned PT,
          unsigned PL, unsigned PB, unsigned PR, unsigned EW>
void sliding_window_parallel(hls::stream<ap_uint<C * EW> >& in, hls::stream<ap_uint<KH * KW * C * EW> >& out,
                             const ap_uint<C * EW> pad_word) {
    const unsigned HP = H + PT + PB;  // padded height
    const unsigned WP = W + PL + PR;  // padded width
    static_assert(HP >= KH && WP >= KW, "the kernel must fit into the padded map");
    const unsigned OH = (HP - KH) / SH + 1;
    const unsigned OW = (WP - KW) / SW + 1;
    const unsigned B = KH + SH;  // rows in the circular buffer
    const unsigned PW = C * EW;  // bits per pixel

    ap_uint<PW> buf[B][WP];
#pragma HLS ARRAY_PARTITION variable=buf complete dim=1
#pragma HLS ARRAY_PARTITION variable=buf cyclic factor=KW dim=2
#pragma HLS DEPENDENCE variable=buf inter false

    unsigned wr = 0, wc = 0, wslot = 0;  // write side: padded position (wr, wc) into buffer row wslot
    unsigned oy = 0, ox = 0, rbase = 0;  // read side: output pixel (oy, ox); rbase = (oy * SH) % B
    for (;;) {
#pragma HLS PIPELINE II=1 style=flp
#pragma HLS LOOP_TRIPCOUNT min=HP*WP max=HP*WP+OH*OW
        const bool in_done = (wr == HP);
        const bool out_done = (oy == OH);
        if (in_done && out_done) break;
        const bool can_read = !out_done && (in_done || wr >= oy * SH + KH);
        const bool can_write = !in_done && (out_done || wr < oy * SH + B);

        if (can_read) {
            ap_uint<KH * KW * PW> window = 0;
            for (unsigned ky = 0; ky < KH; ky++) {
#pragma HLS UNROLL
                unsigned slot = rbase + ky;
                if (slot >= B) slot -= B;
                for (unsigned kx = 0; kx < KW; kx++) {
#pragma HLS UNROLL
                    window((ky * KW + kx + 1) * PW - 1, (ky * KW + kx) * PW) = buf[slot][ox * SW + kx];
                }
            }
            out.write(window);
            if (++ox == OW) {
                ox = 0;
                oy++;
                rbase += SH;
                if (rbase >= B) rbase -= B;
            }
        }

        if (can_write) {
            const bool pad = (wr < PT) || (wr >= PT + H) || (wc < PL) || (wc >= PL + W);
            buf[wslot][wc] = pad ? pad_word : in.read();
            if (++wc == WP) {
                wc = 0;
                wr++;
                if (++wslot == B) wslot = 0;
            }
        }
    }
}

}  // namespace fpgabnn

#endif
