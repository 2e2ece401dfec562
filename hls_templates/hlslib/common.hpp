/**
 * \file common.hpp
 * \brief Helpers shared by fpgabnn's streaming kernels: packed-word element access, popcount, the
 *        matrix-vector products, activations and the weight memory type.
 *
 * Stream words pack elements little-endian: element i of a word sits at bits [i*EW, (i+1)*EW),
 * signed elements in two's complement. A bipolar value v in {-1, +1} is one bit, bit = (v + 1) / 2.
 * Every kernel processes exactly one frame per call; the top level calls them once per frame.
 */
#ifndef FPGABNN_COMMON_HPP
#define FPGABNN_COMMON_HPP

#include <ap_int.h>
#include <hls_stream.h>
#include <stdint.h>

#if defined(__SYNTHESIS__) && !defined(FPGABNN_EXACT_ROM)
#define FPGABNN_EXACT_ROM 1
#endif
/** Stored type of a weight word of W <= 64 bits: exactly W bits in synthesis (FPGABNN_EXACT_ROM), the POD
 *  integer type POD in plain C simulation (see RomWeights). */
#ifdef FPGABNN_EXACT_ROM
#define FPGABNN_ROM_WORD(W, POD) ap_uint<W>
#else
#define FPGABNN_ROM_WORD(W, POD) POD
#endif

namespace fpgabnn {

/** Element \p i of a packed word, reinterpreted as the element type \p TE (same bits, TE's signedness).
 *  \tparam TE  element type (ap_int<EW> / ap_uint<EW>)
 *  \tparam W   word width */
template <typename TE, int W>
inline TE get_elem(const ap_uint<W>& word, unsigned i) {
#pragma HLS INLINE
    const int EW = TE::width;
    ap_uint<TE::width> raw = word((i + 1) * EW - 1, i * EW);
    TE e = raw;  // same width: the bits are kept, only the interpretation changes
    return e;
}

/** Write element \p e (its two's-complement bits) into position \p i of a packed word.
 *  \tparam TE  element type
 *  \tparam W   word width */
template <typename TE, int W>
inline void set_elem(ap_uint<W>& word, unsigned i, const TE& e) {
#pragma HLS INLINE
    const int EW = TE::width;
    ap_uint<TE::width> raw = e;
    word((i + 1) * EW - 1, i * EW) = raw;
}

/** Element-wise maximum of two packed words.
 *  For one-bit unsigned elements (bipolar activations) this is the OR of the bits.
 *  \tparam N   elements per word
 *  \tparam TE  element type (its signedness decides the comparison)
 *  \tparam W   word width, N * TE::width */
template <unsigned N, typename TE, int W>
inline ap_uint<W> max_word(const ap_uint<W>& a, const ap_uint<W>& b) {
#pragma HLS INLINE
    ap_uint<W> r = 0;
    for (unsigned i = 0; i < N; i++) {
#pragma HLS UNROLL
        TE ea = get_elem<TE>(a, i), eb = get_elem<TE>(b, i);
        set_elem<TE>(r, i, ea > eb ? ea : eb);
    }
    return r;
}

/** Bits needed to hold the values 0..N (a compile-time clog2(N + 1)). */
template <unsigned N>
struct BitsFor {
    static const int value = 1 + BitsFor<N / 2>::value;
};
template <>
struct BitsFor<0> {
    static const int value = 0;
};

/** Number of set bits of \p v.
 *
 * Synthesis sees the sum of the bits (an adder/compressor tree). C simulation adds the same bits 64 at
 * a time with the compiler's popcount instead, because bit-by-bit ap_uint access dominates the run
 * time of wide XNOR layers; define FPGABNN_BITWISE_POPCOUNT to simulate the synthesis form (the tests
 * run both).
 * \tparam N  bits */
template <int N>
inline ap_uint<BitsFor<N>::value> popcount(const ap_uint<N>& v) {
#pragma HLS INLINE
#if defined(__SYNTHESIS__) || defined(FPGABNN_BITWISE_POPCOUNT)
    ap_uint<BitsFor<N>::value> count = 0;
    for (unsigned i = 0; i < N; i++) {
#pragma HLS UNROLL
        count += v[i];
    }
    return count;
#else
    unsigned count = 0;
    for (int lo = 0; lo < N; lo += 64) {
        const int hi = (lo + 63 < N) ? lo + 63 : N - 1;
        count += __builtin_popcountll(v(hi, lo).to_uint64());
    }
    return count;
#endif
}

// ---------------------------------------------------------------------------------------------
// Products of the matrix-vector unit. An input word is unpacked once into an Operand (shared by all
// PEs), then `dot<TA>(w, operand)` is the contribution of one SIMD-wide tile: `w` holds SIMD weight
// bits (1 = +1).
// ---------------------------------------------------------------------------------------------

/** XNOR product of bipolar bits: counts the lanes where weight and input agree. Summed over a row
 *  this is the popcount P, and the dot product is 2P - MW (METHODS.md section 6).
 *  Template arguments of the members: TI input element type (ap_uint<1>), SIMD lanes, TA accumulator. */
struct XnorMul {
    template <typename TI, int SIMD>
    struct Operand {
        ap_uint<SIMD> bits;
    };

    template <typename TI, int SIMD>
    static void unpack(const ap_uint<SIMD * TI::width>& x, Operand<TI, SIMD>& op) {
#pragma HLS INLINE
        op.bits = x;
    }

    template <typename TA, typename TI, int SIMD>
    static TA dot(const ap_uint<SIMD>& w, const Operand<TI, SIMD>& op) {
#pragma HLS INLINE
        return TA(popcount<SIMD>(~(w ^ op.bits)));
    }
};

/** Bipolar weights times integer inputs: per lane an add or a subtract, no multiplier.
 *  Template arguments of the members: TI input element type, SIMD lanes, TA accumulator (signed). */
struct SignMul {
    template <typename TI, int SIMD>
    struct Operand {
        TI lane[SIMD];
    };

    template <typename TI, int SIMD>
    static void unpack(const ap_uint<SIMD * TI::width>& x, Operand<TI, SIMD>& op) {
#pragma HLS INLINE
        for (unsigned s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
            op.lane[s] = get_elem<TI>(x, s);
        }
    }

    template <typename TA, typename TI, int SIMD>
    static TA dot(const ap_uint<SIMD>& w, const Operand<TI, SIMD>& op) {
#pragma HLS INLINE
        TA sum = 0;
        for (unsigned s = 0; s < SIMD; s++) {
#pragma HLS UNROLL
            const TA v = op.lane[s];
            sum += w[s] ? v : TA(-v);
        }
        return sum;
    }
};

// ---------------------------------------------------------------------------------------------
// Activations: turn the accumulator of output channel (nf * PE + pe) into an output element.
// ---------------------------------------------------------------------------------------------

/** Output the accumulator unchanged (integer-input layer without thresholds). */
template <typename TO>
struct IdentityAct {
    template <typename TA>
    TO activate(unsigned nf, unsigned pe, const TA& acc) const {
#pragma HLS INLINE
        return TO(acc);
    }
};

/** Output the dot product 2P - MW of an XNOR layer without thresholds (the popcount P is
 *  what the lanes accumulate). */
template <unsigned MW, typename TO>
struct PopcountToDotAct {
    template <typename TA>
    TO activate(unsigned nf, unsigned pe, const TA& acc) const {
#pragma HLS INLINE
        ap_int<TA::width + 2> p = acc;
        return TO(2 * p - ap_int<TA::width + 2>(MW));
    }
};

/** One threshold per output channel: output bit 1 (+1) when acc >= T, else 0 (-1).
 *  T[pe][nf] belongs to channel nf * PE + pe; thresholds are in the accumulator's domain
 *  (popcount domain for XNOR layers), clamped by the generator so that they fit TT.
 *  \tparam NF  neuron fold MH / PE
 *  \tparam PE  processing elements
 *  \tparam TT  threshold type */
template <unsigned NF, unsigned PE, typename TT>
struct ThresholdAct {
    TT thresholds[PE][NF];

    template <typename TA>
    ap_uint<1> activate(unsigned nf, unsigned pe, const TA& acc) const {
#pragma HLS INLINE
        return acc >= thresholds[pe][nf] ? 1 : 0;
    }
};

// ---------------------------------------------------------------------------------------------
// Weight memory.
// ---------------------------------------------------------------------------------------------

/** Bipolar weights of a matrix-vector unit: one word of exactly SIMD bits per PE and tile.
 *
 * Word `tile = nf * SF + sf` of PE p holds bit s = weight W[sf*SIMD + s][nf*PE + p] (1 = +1).
 * Synthesis (and C simulation with FPGABNN_EXACT_ROM) stores ap_uint<SIMD> words, so the ROM Vitis HLS
 * builds is PE memories of TILES x SIMD bits, the shape the estimate counts. Plain C simulation stores the
 * same literals as the narrowest POD integer (FPGABNN_ROM_WORD): a large initialiser of ap_uint objects
 * makes g++ spend minutes on the generated constructor calls (40k words: 50 s instead of 2 s).
 *
 * \tparam SIMD   bits per word (synapses processed in parallel)
 * \tparam PE     processing elements (one memory each)
 * \tparam TILES  words per PE: (MH / PE) * (MW / SIMD)
 * \tparam TW     stored word type: ap_uint<SIMD>, or a POD integer of at least SIMD bits in C simulation
 */
template <unsigned SIMD, unsigned PE, unsigned TILES, typename TW>
struct RomWeights {
    TW words[PE][TILES];

    ap_uint<SIMD> word(unsigned pe, unsigned tile) const {
#pragma HLS INLINE
        return ap_uint<SIMD>(words[pe][tile]);
    }
};

/** C-simulation storage of words wider than 64 bits: LIMBS 64-bit limbs per word, lowest first (synthesis
 *  uses RomWeights<SIMD, PE, TILES, ap_uint<SIMD> >, see FPGABNN_EXACT_ROM). */
template <unsigned SIMD, unsigned PE, unsigned TILES, unsigned LIMBS>
struct LimbWeights {
    uint64_t limbs[PE][TILES][LIMBS];

    ap_uint<SIMD> word(unsigned pe, unsigned tile) const {
#pragma HLS INLINE
        ap_uint<LIMBS * 64> w = 0;
        for (unsigned l = 0; l < LIMBS; l++) {
#pragma HLS UNROLL
            w((l + 1) * 64 - 1, l * 64) = limbs[pe][tile][l];
        }
        return ap_uint<SIMD>(w);  // truncation keeps the low SIMD bits
    }
};

}  // namespace fpgabnn

#endif
