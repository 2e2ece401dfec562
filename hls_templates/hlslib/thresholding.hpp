/**
 * \file thresholding.hpp
 * \brief Multi-threshold unit: out = out_base + #{i : x >= T[c][i]} per channel c (the input quantiser).
 *
 * Two implementations of the same function:
 *  - thresholding_lut: for inputs of at most 8 bits the generator evaluates the function for every
 *    input value and the kernel only indexes the table (no comparators);
 *  - thresholding: NT comparators per PE against threshold rows, for wider inputs.
 * A row of thresholds (or of the table) is either per channel (ROWS = C / PE rows per PE) or shared
 * by all channels (ROWS = 1).
 */
#ifndef FPGABNN_THRESHOLDING_HPP
#define FPGABNN_THRESHOLDING_HPP

#include "common.hpp"

namespace fpgabnn {

/** Output table of a small-input threshold unit.
 *  entries[p][r][raw] holds the bits of the output element for input bit pattern `raw` in row r of PE
 *  p, as a plain unsigned integer (POD, so that tables of 10^4 entries still compile as static data;
 *  see BinaryWeights).
 *  \tparam PE       processing elements
 *  \tparam ROWS     C / PE when the thresholds are per channel, 1 when shared
 *  \tparam ENTRIES  2^(input bits)
 *  \tparam TE       entry type, the narrowest of uint8_t .. uint32_t holding an output element */
template <unsigned PE, unsigned ROWS, unsigned ENTRIES, typename TE>
struct ThresholdTable {
    TE entries[PE][ROWS][ENTRIES];
};

/** Thresholds of a comparator threshold unit: t[p][r][i] is threshold i of row r of PE p,
 *  ascending in i and clamped by the generator to [min(TI), max(TI) + 1] so that they fit TT.
 *  \tparam PE    processing elements
 *  \tparam ROWS  C / PE when the thresholds are per channel, 1 when shared
 *  \tparam NT    thresholds per channel
 *  \tparam TT    threshold type */
template <unsigned PE, unsigned ROWS, unsigned NT, typename TT>
struct ThresholdRows {
    TT t[PE][ROWS][NT];
};

/**
 * \tparam C         channels (innermost dimension)
 * \tparam PE        channels per stream word; divides C
 * \tparam NUM_VECS  pixels per frame (H * W, or 1 for a vector)
 * \tparam TI        input element type
 * \tparam TO        output element type (ap_uint<1> for bipolar outputs)
 * \tparam Table     ThresholdTable<PE, ROWS, 2^TI::width, ...>
 * \tparam ROWS      rows of the table per PE (C / PE or 1)
 */
template <unsigned C, unsigned PE, unsigned NUM_VECS, typename TI, typename TO, unsigned ROWS, typename Table>
void thresholding_lut(hls::stream<ap_uint<PE * TI::width> >& in, hls::stream<ap_uint<PE * TO::width> >& out,
                      const Table& table) {
    static_assert(C % PE == 0, "PE must divide C");
    static_assert(ROWS == 1 || ROWS == C / PE, "rows are shared (1) or per channel (C / PE)");
    const unsigned CF = C / PE;
    unsigned cf = 0;  // invariant: cf = i % CF, the channel fold of the current word
    for (unsigned i = 0; i < NUM_VECS * CF; i++) {
#pragma HLS PIPELINE II=1 style=flp
        const ap_uint<PE * TI::width> x = in.read();
        ap_uint<PE * TO::width> y = 0;
        const unsigned row = (ROWS == 1) ? 0 : cf;
        for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
            const ap_uint<TI::width> raw = x((p + 1) * TI::width - 1, p * TI::width);
            const ap_uint<TO::width> bits = table.entries[p][row][raw];
            y((p + 1) * TO::width - 1, p * TO::width) = bits;
        }
        out.write(y);
        if (++cf == CF) cf = 0;
    }
}

/**
 * \tparam C         channels (innermost dimension)
 * \tparam PE        channels per stream word; divides C
 * \tparam NUM_VECS  pixels per frame
 * \tparam NT        thresholds per channel
 * \tparam OUT_BASE  output for an input below every threshold
 * \tparam TI        input element type
 * \tparam TO        output element type
 * \tparam ROWS      rows of thresholds per PE (C / PE or 1)
 * \tparam Rows      ThresholdRows<PE, ROWS, NT, TT>
 */
template <unsigned C, unsigned PE, unsigned NUM_VECS, unsigned NT, int OUT_BASE,
          typename TI, typename TO, unsigned ROWS, typename Rows>
void thresholding(hls::stream<ap_uint<PE * TI::width> >& in, hls::stream<ap_uint<PE * TO::width> >& out,
                  const Rows& thresholds) {
    static_assert(C % PE == 0, "PE must divide C");
    static_assert(ROWS == 1 || ROWS == C / PE, "rows are shared (1) or per channel (C / PE)");
    const unsigned CF = C / PE;
    unsigned cf = 0;  // invariant: cf = i % CF
    for (unsigned i = 0; i < NUM_VECS * CF; i++) {
#pragma HLS PIPELINE II=1 style=flp
        const ap_uint<PE * TI::width> x = in.read();
        ap_uint<PE * TO::width> y = 0;
        const unsigned row = (ROWS == 1) ? 0 : cf;
        for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
            const TI v = get_elem<TI>(x, p);
            ap_int<TO::width + 2> count = OUT_BASE;
            for (unsigned t = 0; t < NT; t++) {
#pragma HLS UNROLL
                count += (v >= thresholds.t[p][row][t]) ? 1 : 0;
            }
            set_elem<TO>(y, p, TO(count));
        }
        out.write(y);
        if (++cf == CF) cf = 0;
    }
}

}  // namespace fpgabnn

#endif
