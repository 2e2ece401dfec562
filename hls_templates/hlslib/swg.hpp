/**
 * \file swg.hpp
 * \brief Sliding-window generator (im2col on a stream) with optional constant padding.
 *
 * Input: an H x W x C feature map, SIMD channels per word, pixel by pixel. Output: for every output
 * pixel (oy, ox) the KH * KW * C window elements ordered (kh, kw, c), SIMD per word -- the order in
 * which the following matrix-vector unit consumes its input vector.
 *
 * The ring-buffer schedule is WindowRing's (below), shared by the normal and the parallel-window mode.
 */
#ifndef FPGABNN_SWG_HPP
#define FPGABNN_SWG_HPP

#include "common.hpp"

namespace fpgabnn {

/**
 * The row schedule both window modes share: the padded map (HP x WP, FOLD words per pixel) is written row by
 * row into a ring of B = KH + SH rows, padding positions from the pad word instead of the stream, while output
 * rows are read from it. Output row oy needs padded rows oy*SH .. oy*SH + KH - 1:
 *  - a read is allowed once row oy*SH + KH - 1 is complete (the write row wr is past it);
 *  - a write of row wr overwrites row wr - B, allowed once that row is no longer needed (wr - B < oy*SH).
 */
template <unsigned H, unsigned W, unsigned FOLD, unsigned KH, unsigned SH, unsigned PT, unsigned PL, unsigned PB,
          unsigned PR, unsigned OH>
struct WindowRing {
    static const unsigned HP = H + PT + PB;
    static const unsigned WP = W + PL + PR;
    static const unsigned B = KH + SH;
    // write side: padded position (wr, wc, wf) into ring row wslot; read side: output row oy, ring row rbase
    unsigned wr = 0, wc = 0, wf = 0, wslot = 0, oy = 0, rbase = 0;

    bool in_done() const { return wr == HP; }
    bool out_done() const { return oy == OH; }
    bool can_read() const { return !out_done() && (in_done() || wr >= oy * SH + KH); }
    bool can_write() const { return !in_done() && (out_done() || wr < oy * SH + B); }
    bool write_is_pad() const { return (wr < PT) || (wr >= PT + H) || (wc < PL) || (wc >= PL + W); }
    /** ring row of window row ky of the current output row */
    unsigned slot(unsigned ky) const {
        unsigned s = rbase + ky;
        return s >= B ? s - B : s;
    }
    void advance_write() {
        if (++wf == FOLD) {
            wf = 0;
            if (++wc == WP) {
                wc = 0;
                wr++;
                if (++wslot == B) wslot = 0;
            }
        }
    }
    void advance_out_row() {
        oy++;
        rbase += SH;
        if (rbase >= B) rbase -= B;
    }
};

/**
 * Sliding-window generator: for every output pixel (oy, ox) the KH * KW * C window elements ordered (kh, kw, c),
 * SIMD per word -- the order in which the following matrix-vector unit consumes its input vector. Each loop
 * iteration may write one word and read one word; with B = KH + SH rows the next SH input rows are written while
 * the current output row is read, so the loop is output-bound after the first KH rows.
 *
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
    const unsigned CF = C / SIMD;  // words per pixel
    static_assert(H + PT + PB >= KH && W + PL + PR >= KW, "the kernel must fit into the padded map");
    const unsigned OH = (H + PT + PB - KH) / SH + 1;
    const unsigned OW = (W + PL + PR - KW) / SW + 1;
    typedef WindowRing<H, W, CF, KH, SH, PT, PL, PB, PR, OH> Ring;
    const unsigned OUT_WORDS = OH * OW * KH * KW * CF;
    const unsigned MAX_ITERS = Ring::HP * Ring::WP * CF + OUT_WORDS;  // no write and read overlap at all

    ap_uint<SIMD * EW> buf[Ring::B][Ring::WP * CF];
#pragma HLS DEPENDENCE variable=buf inter false
    // (a row is read only after it was completely written, at least one full row write earlier)

    Ring ring;
    unsigned ox = 0, ky = 0, kx = 0, rf = 0;  // read side: output pixel column, window offset, channel fold
    for (;;) {
#pragma HLS PIPELINE II=1 style=flp
#pragma HLS LOOP_TRIPCOUNT min=OUT_WORDS max=MAX_ITERS
        if (ring.in_done() && ring.out_done()) break;
        const bool can_read = ring.can_read(), can_write = ring.can_write();
        if (can_read) {
            out.write(buf[ring.slot(ky)][(ox * SW + kx) * CF + rf]);
            if (++rf == CF) {  // advance (ox, ky, kx, rf) in output order
                rf = 0;
                if (++kx == KW) {
                    kx = 0;
                    if (++ky == KH) {
                        ky = 0;
                        if (++ox == OW) {
                            ox = 0;
                            ring.advance_out_row();
                        }
                    }
                }
            }
        }
        if (can_write) {
            buf[ring.wslot][ring.wc * CF + ring.wf] = ring.write_is_pad() ? pad_word : in.read();
            ring.advance_write();
        }
    }
}

/**
 * Parallel-window mode (SIMD = C): one output word per output pixel holding its whole KH x KW x C window,
 * ordered (kh, kw, c) from the lowest bits, so the following MVAU takes SIMD = MW. The same ring and schedule
 * as sliding_window, with the buffer split into rows and KW column banks so that a whole window is read in one
 * cycle; a frame takes max(padded input pixels, fill + output pixels) cycles.
 * Template parameters as sliding_window (no SIMD: a word is one pixel, C elements).
 */
template <unsigned H, unsigned W, unsigned C, unsigned KH, unsigned KW, unsigned SH, unsigned SW, unsigned PT,
          unsigned PL, unsigned PB, unsigned PR, unsigned EW>
void sliding_window_parallel(hls::stream<ap_uint<C * EW> >& in, hls::stream<ap_uint<KH * KW * C * EW> >& out,
                             const ap_uint<C * EW> pad_word) {
    static_assert(H + PT + PB >= KH && W + PL + PR >= KW, "the kernel must fit into the padded map");
    const unsigned OH = (H + PT + PB - KH) / SH + 1;
    const unsigned OW = (W + PL + PR - KW) / SW + 1;
    typedef WindowRing<H, W, 1, KH, SH, PT, PL, PB, PR, OH> Ring;
    const unsigned PW = C * EW;  // bits per pixel

    ap_uint<PW> buf[Ring::B][Ring::WP];
#pragma HLS ARRAY_PARTITION variable=buf complete dim=1
#pragma HLS ARRAY_PARTITION variable=buf cyclic factor=KW dim=2
#pragma HLS DEPENDENCE variable=buf inter false

    Ring ring;
    unsigned ox = 0;  // read side: output pixel column
    for (;;) {
#pragma HLS PIPELINE II=1 style=flp
#pragma HLS LOOP_TRIPCOUNT min=Ring::HP*Ring::WP max=Ring::HP*Ring::WP+OH*OW
        if (ring.in_done() && ring.out_done()) break;
        const bool can_read = ring.can_read(), can_write = ring.can_write();
        if (can_read) {
            ap_uint<KH * KW * PW> window = 0;
            for (unsigned ky = 0; ky < KH; ky++) {
#pragma HLS UNROLL
                for (unsigned kx = 0; kx < KW; kx++) {
#pragma HLS UNROLL
                    window((ky * KW + kx + 1) * PW - 1, (ky * KW + kx) * PW) = buf[ring.slot(ky)][ox * SW + kx];
                }
            }
            out.write(window);
            if (++ox == OW) {
                ox = 0;
                ring.advance_out_row();
            }
        }
        if (can_write) {
            buf[ring.wslot][ring.wc] = ring.write_is_pad() ? pad_word : in.read();
            ring.advance_write();
        }
    }
}

}  // namespace fpgabnn

#endif
