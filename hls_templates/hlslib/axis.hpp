/**
 * \file axis.hpp
 * \brief The accelerator's external AXI-Stream ports at the board's DMA width, with TLAST per batch.
 *
 * Frames travel as fpgabnn/deploy/driver/frames.py packs them: a frame's elements densely little-endian,
 * zero-padded to whole beats of PORT_W bits, every frame starting on a new beat. The input port turns beats
 * into the first layer's words and the output port the last layer's words into beats, each a gearbox that
 * moves one beat and/or one word per cycle (a frame takes max(beats, words) cycles).
 *
 * TLAST (CONTRACTS.md B): the host raises TLAST on the last beat of a batch. The output raises TLAST on the last
 * beat of every output frame whose input frame's last beat carried it, so one DMA receive returns one batch;
 * the flag travels from axis_in to axis_out in a one-bit stream per frame. An input TLAST on a beat before a
 * frame's last ends that frame early: its missing elements are zero and the next beat starts the next frame,
 * so a short transfer never desynchronises the pipeline. C simulation counts these in tlast_errors().
 *
 * Vitis HLS maps ap_axiu<W, 0, 0, 0> (ap_axi_sdata.h) onto TDATA/TKEEP/TSTRB/TLAST. Where that header
 * is missing (C simulation with the ap_types headers alone) a struct with the same fields stands in;
 * the kernels below touch only data, keep, strb and last, so both behave the same.
 */
#ifndef FPGABNN_AXIS_HPP
#define FPGABNN_AXIS_HPP

#include "common.hpp"

#if defined(__has_include)
#if __has_include(<ap_axi_sdata.h>)
#define FPGABNN_HAVE_AP_AXI_SDATA 1
#endif
#endif

#ifdef FPGABNN_HAVE_AP_AXI_SDATA
#include <ap_axi_sdata.h>
namespace fpgabnn {
template <int W>
using AxisWord = ap_axiu<W, 0, 0, 0>;
}
#else
namespace fpgabnn {
template <int W>
struct AxisWord {
    ap_uint<W> data;
    ap_uint<(W + 7) / 8> keep;
    ap_uint<(W + 7) / 8> strb;
    ap_uint<1> last;
};
}  // namespace fpgabnn
#endif

namespace fpgabnn {

#ifndef __SYNTHESIS__
/** Early TLASTs seen by axis_in since the program started (C simulation only; the testbench reports it). */
inline unsigned long& tlast_errors() {
    static unsigned long count = 0;
    return count;
}
#endif

/**
 * Input port: beats of PORT_W bits -> WORDS words of W bits (one frame), dropping the frame's pad bits.
 * \tparam PORT_W  port width in bits (a multiple of 8)
 * \tparam W       first layer's input word width
 * \tparam BEATS   beats per frame, ceil(WORDS * W / PORT_W)
 * \tparam WORDS   words per frame
 * \param frame_last  receives one bit per frame: whether the frame's last beat carried TLAST
 */
template <unsigned PORT_W, unsigned W, unsigned BEATS, unsigned WORDS>
void axis_in(hls::stream<AxisWord<PORT_W> >& in, hls::stream<ap_uint<W> >& out, hls::stream<ap_uint<1> >& frame_last) {
    static_assert(BEATS * PORT_W >= WORDS * W && (BEATS - 1) * PORT_W < WORDS * W, "BEATS = ceil(WORDS * W / PORT_W)");
    ap_uint<PORT_W + W> buf = 0;  // bits received and not yet sent, the oldest lowest
    unsigned have = 0;            // invariant: have < W + PORT_W valid bits in buf
    unsigned beats = 0, words = 0;
    bool cut = false;             // an early TLAST ended this frame: the rest of it is zeros
    ap_uint<1> last = 0;
    for (;;) {
#pragma HLS PIPELINE II=1 style=flp
#pragma HLS LOOP_TRIPCOUNT min=BEATS max=BEATS+WORDS
        if (words == WORDS) break;
        if (have < W) {  // a beat is read only when the next word needs it, so exactly BEATS are read
            ap_uint<PORT_W> data = 0;
            if (!cut) {
                const AxisWord<PORT_W> beat = in.read();
                data = beat.data;
                last = beat.last;
                beats++;
                if (beat.last && beats < BEATS) {
                    cut = true;
#ifndef __SYNTHESIS__
                    tlast_errors()++;
#endif
                }
            }
            buf |= ap_uint<PORT_W + W>(data) << have;
            have += PORT_W;
        }
        if (have >= W) {
            out.write(ap_uint<W>(buf));
            buf >>= W;
            have -= W;
            words++;
        }
    }
    frame_last.write(last);
}

/**
 * Output port: WORDS words of W bits (one frame) -> BEATS beats of PORT_W bits, the last zero-padded, TLAST
 * on the last beat when the frame's input ended with TLAST.
 * \tparam W       last layer's output word width
 * \tparam PORT_W  port width in bits (a multiple of 8)
 * \tparam WORDS   words per frame
 * \tparam BEATS   beats per frame, ceil(WORDS * W / PORT_W)
 */
template <unsigned W, unsigned PORT_W, unsigned WORDS, unsigned BEATS>
void axis_out(hls::stream<ap_uint<W> >& in, hls::stream<AxisWord<PORT_W> >& out, hls::stream<ap_uint<1> >& frame_last) {
    static_assert(BEATS * PORT_W >= WORDS * W && (BEATS - 1) * PORT_W < WORDS * W, "BEATS = ceil(WORDS * W / PORT_W)");
    ap_uint<PORT_W + W> buf = 0;  // bits received and not yet sent, the oldest lowest
    unsigned have = 0;            // invariant: have < PORT_W + W
    unsigned words = 0, beats = 0;
    for (;;) {
#pragma HLS PIPELINE II=1 style=flp
#pragma HLS LOOP_TRIPCOUNT min=BEATS max=BEATS+WORDS
        if (beats == BEATS) break;
        if (have < PORT_W && words < WORDS) {
            buf |= ap_uint<PORT_W + W>(in.read()) << have;
            have += W;
            words++;
        }
        if (have >= PORT_W || words == WORDS) {  // a full beat, or the frame's zero-padded last one
            AxisWord<PORT_W> beat;
            beat.data = ap_uint<PORT_W>(buf);
            beat.keep = -1;
            beat.strb = -1;
            beat.last = (beats == BEATS - 1) ? frame_last.read() : ap_uint<1>(0);
            out.write(beat);
            buf >>= PORT_W;
            have = (have > PORT_W) ? have - PORT_W : 0;
            beats++;
        }
    }
}

}  // namespace fpgabnn

#endif
