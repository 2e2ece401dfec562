/**
 * \file axis.hpp
 * \brief The accelerator's external AXI-Stream ports: words with TLAST, so that an AXI DMA (S2MM) knows
 *        where a frame's output ends.
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

/**
 * Input port: takes the data of every word (TLAST and TKEEP are not needed, the frame length is fixed)
 * and truncates it from the byte-aligned port width to the first layer's word width.
 * \tparam PORT_W  port width in bits (a multiple of 8)
 * \tparam W       first layer's input word width, W <= PORT_W
 * \tparam WORDS   words per frame
 */
template <unsigned PORT_W, unsigned W, unsigned WORDS>
void axis_in(hls::stream<AxisWord<PORT_W> >& in, hls::stream<ap_uint<W> >& out) {
    static_assert(W <= PORT_W, "the port must be at least as wide as the stream");
    for (unsigned i = 0; i < WORDS; i++) {
#pragma HLS PIPELINE II=1 style=flp
        const AxisWord<PORT_W> word = in.read();
        out.write(ap_uint<W>(word.data));
    }
}

/**
 * Output port: zero-extends the last layer's words to the byte-aligned port width, marks every byte
 * valid, and raises TLAST on the frame's final word.
 * \tparam W       last layer's output word width
 * \tparam PORT_W  port width in bits (a multiple of 8), PORT_W >= W
 * \tparam WORDS   words per frame
 */
template <unsigned W, unsigned PORT_W, unsigned WORDS>
void axis_out(hls::stream<ap_uint<W> >& in, hls::stream<AxisWord<PORT_W> >& out) {
    static_assert(W <= PORT_W, "the port must be at least as wide as the stream");
    for (unsigned i = 0; i < WORDS; i++) {
#pragma HLS PIPELINE II=1 style=flp
        AxisWord<PORT_W> word;
        word.data = ap_uint<PORT_W>(in.read());
        word.keep = -1;
        word.strb = -1;
        word.last = (i == WORDS - 1) ? 1 : 0;
        out.write(word);
    }
}

}  // namespace fpgabnn

#endif
