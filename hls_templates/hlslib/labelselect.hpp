/**
 * \file labelselect.hpp
 * \brief Top-K label selection: the indices of the K largest of C integer scores, largest first,
 *        ties broken toward the lower index (like a stable sort of the negated scores, or argmax).
 *
 * A sorted list of K (value, index) entries is kept in registers. Every incoming score is inserted
 * by one pass of compare-and-swap down the list; an entry goes in front of another when its value
 * is larger, or equal with a lower index, so displaced entries keep the same order.
 */
#ifndef FPGABNN_LABELSELECT_HPP
#define FPGABNN_LABELSELECT_HPP

#include "common.hpp"

namespace fpgabnn {

/**
 * \tparam C   number of scores (classes)
 * \tparam PE  scores per input word; divides C
 * \tparam K   labels to output, K <= C
 * \tparam TI  score type
 * \tparam TO  index type (unsigned, at least clog2(C) bits)
 *
 * \param in   C / PE words of scores per frame
 * \param out  K words per frame, one index each
 */
template <unsigned C, unsigned PE, unsigned K, typename TI, typename TO>
void label_select(hls::stream<ap_uint<PE * TI::width> >& in, hls::stream<ap_uint<TO::width> >& out) {
    static_assert(C % PE == 0, "PE must divide C");
    static_assert(K >= 1 && K <= C, "1 <= K <= C");
    TI best_val[K];
    TO best_idx[K];
    bool valid[K];
#pragma HLS ARRAY_PARTITION variable=best_val complete
#pragma HLS ARRAY_PARTITION variable=best_idx complete
#pragma HLS ARRAY_PARTITION variable=valid complete
    for (unsigned k = 0; k < K; k++) {
#pragma HLS UNROLL
        valid[k] = false;
    }

    for (unsigned i = 0; i < C / PE; i++) {
#pragma HLS PIPELINE II=1 style=flp
        const ap_uint<PE * TI::width> x = in.read();
        for (unsigned p = 0; p < PE; p++) {
#pragma HLS UNROLL
            TI cand_val = get_elem<TI>(x, p);
            TO cand_idx = i * PE + p;
            bool cand_valid = true;
            for (unsigned k = 0; k < K; k++) {
#pragma HLS UNROLL
                const bool before = cand_valid &&
                    (!valid[k] || cand_val > best_val[k] || (cand_val == best_val[k] && cand_idx < best_idx[k]));
                if (before) {  // the candidate takes slot k, the old entry moves on down the list
                    const TI v = best_val[k];
                    const TO j = best_idx[k];
                    const bool ok = valid[k];
                    best_val[k] = cand_val;
                    best_idx[k] = cand_idx;
                    valid[k] = true;
                    cand_val = v;
                    cand_idx = j;
                    cand_valid = ok;
                }
            }
        }
    }

    for (unsigned k = 0; k < K; k++) {
#pragma HLS PIPELINE II=1
        out.write(ap_uint<TO::width>(best_idx[k]));
    }
}

}  // namespace fpgabnn

#endif
