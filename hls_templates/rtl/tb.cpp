// SPDX-License-Identifier: MIT
// fpgabnn: Verilator testbench for one AXI-Stream design (a whole accelerator or one module under test).
//
//   BINARY IN.bin OUT.bin N [--stats STATS.json] [--stall SEED] [--trace FILE.fst] [--batch B]
//          [--valid-prob P] [--ready-prob Q] [--seed S] [--timeout CYCLES] [--tlast-in FILE] [--tlast-out FILE]
//          [--ready-after CYCLES]
//
// IN.bin holds N frames of TB_IN_BEATS input beats, each beat ceil(TB_IN_WIDTH / 8) little-endian bytes (for the
// accelerator: the DMA bytes of fpgabnn/deploy/driver/frames.py). A source offers the beats with a random tvalid
// (probability P) and holds each beat until the handshake; a sink takes output beats with a random tready
// (probability Q), checks that a stalled output holds its data, and writes the beats to OUT.bin. TLAST goes on
// the last beat of every B frames (or per beat from --tlast-in) and is checked on the output (or dumped to
// --tlast-out). --ready-after C holds tready low for the first C cycles (the beats the design took by then,
// its buffering, go to STATS.json as beats_in_before_ready). The cycle of every output frame's end, the first frame's latency, the steady-state cycles per
// frame and each FIFO's peak occupancy go to STATS.json. A watchdog ends a run that makes no progress.
//
// Exit codes: 0 finished, 1 deadlock (the line names the stalled streams), 2 bad arguments or files,
// 3 protocol violation (an output changed while stalled).
// The design-specific part (top class, widths, beats per frame, reset, FIFO gauges) is in tb_config.h.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "verilated.h"
#include "tb_config.h"
#if TB_TRACE
#include "verilated_fst_c.h"
#endif

static const int IN_BYTES = (TB_IN_WIDTH + 7) / 8;
static const int OUT_BYTES = (TB_OUT_WIDTH + 7) / 8;

template <typename T>
static void set_port(T& port, const uint8_t* b, int bits) {
    uint64_t v = 0;
    for (int i = 0; i < (bits + 7) / 8; i++) v |= (uint64_t)b[i] << (8 * i);
    if (bits < 64) v &= (1ULL << bits) - 1;
    port = (T)v;
}

template <std::size_t N>
static void set_port(VlWide<N>& port, const uint8_t* b, int bits) {
    const int nbytes = (bits + 7) / 8;
    for (std::size_t w = 0; w < N; w++) {
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            const int i = (int)w * 4 + k;
            if (i < nbytes) v |= (uint32_t)b[i] << (8 * k);
        }
        const int top = bits - (int)w * 32;
        if (top < 32) v &= top <= 0 ? 0u : ((1u << top) - 1);
        port[w] = v;
    }
}

template <typename T>
static void get_port(const T& port, uint8_t* b, int bits) {
    const uint64_t v = (uint64_t)port;
    for (int i = 0; i < (bits + 7) / 8; i++) b[i] = (uint8_t)(v >> (8 * i));
}

template <std::size_t N>
static void get_port(const VlWide<N>& port, uint8_t* b, int bits) {
    for (int i = 0; i < (bits + 7) / 8; i++) b[i] = (uint8_t)(port[i / 4] >> (8 * (i % 4)));
}

static std::vector<uint8_t> read_file(const char* path) {
    std::vector<uint8_t> data;
    FILE* f = std::fopen(path, "rb");
    if (!f) return data;
    uint8_t buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) data.insert(data.end(), buf, buf + n);
    std::fclose(f);
    return data;
}

static bool write_file(const char* path, const std::vector<uint8_t>& data) {
    FILE* f = std::fopen(path, "wb");
    if (!f) return false;
    bool ok = std::fwrite(data.data(), 1, data.size(), f) == data.size();
    return std::fclose(f) == 0 && ok;
}

static int usage(const char* msg) {
    std::fprintf(stderr, "tb: %s\nusage: tb IN.bin OUT.bin N [--stats F] [--stall SEED] [--trace F] [--batch B] "
                 "[--valid-prob P] [--ready-prob Q] [--seed S] [--timeout C] [--tlast-in F] [--tlast-out F] "
                 "[--ready-after C]\n", msg);
    return 2;
}

struct Gauge {
    const char* name;
    uint64_t value;
    uint64_t peak;
};

int main(int argc, char** argv) {
    if (argc < 4) return usage("missing arguments");
    const char* in_path = argv[1];
    const char* out_path = argv[2];
    const long frames = std::atol(argv[3]);
    const char* stats_path = nullptr;
    const char* trace_path = nullptr;
    const char* tlast_in_path = nullptr;
    const char* tlast_out_path = nullptr;
    long batch = 0;
    double p_valid = 1.0, p_ready = 1.0;
    bool stall = false;
    unsigned long seed = 1;
    long timeout = 200000;
    long ready_after = 0;
    for (int i = 4; i < argc; i++) {
        std::string a = argv[i];
        if (i + 1 >= argc) return usage(("option without value: " + a).c_str());
        const char* v = argv[++i];
        if (a == "--stats") stats_path = v;
        else if (a == "--trace") trace_path = v;
        else if (a == "--batch") batch = std::atol(v);
        else if (a == "--stall") { stall = true; seed = std::strtoul(v, nullptr, 10); }
        else if (a == "--seed") seed = std::strtoul(v, nullptr, 10);
        else if (a == "--valid-prob") p_valid = std::atof(v);
        else if (a == "--ready-prob") p_ready = std::atof(v);
        else if (a == "--timeout") timeout = std::atol(v);
        else if (a == "--tlast-in") tlast_in_path = v;
        else if (a == "--tlast-out") tlast_out_path = v;
        else if (a == "--ready-after") ready_after = std::atol(v);
        else return usage(("unknown option " + a).c_str());
    }
    if (frames <= 0) return usage("N must be positive");
    if (batch <= 0) batch = frames;
    if (stall) {
        // random idle cycles on the input and back-pressure on the output, unless given explicitly
        for (int i = 4; i < argc; i++) {
            if (!std::strcmp(argv[i], "--valid-prob") || !std::strcmp(argv[i], "--ready-prob")) stall = false;
        }
        if (stall) { p_valid = 0.6; p_ready = 0.6; }
    }
    if (p_valid <= 0 || p_valid > 1 || p_ready <= 0 || p_ready > 1) return usage("probabilities must be in (0, 1]");
#if !TB_TRACE
    if (trace_path) return usage("this simulator was built without --trace support");
#endif

    const std::vector<uint8_t> in_data = read_file(in_path);
    std::vector<uint8_t> tlast_in;
    long in_beats = frames * TB_IN_BEATS;
    if (tlast_in_path) {
        tlast_in = read_file(tlast_in_path);
        in_beats = (long)tlast_in.size();
    }
    if ((long)in_data.size() != in_beats * IN_BYTES) {
        std::fprintf(stderr, "tb: %s holds %zu bytes, expected %ld beats of %d bytes\n", in_path, in_data.size(),
                     in_beats, IN_BYTES);
        return 2;
    }
    const long out_beats = frames * TB_OUT_BEATS;

    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto top = std::make_unique<TB_TOP>(ctx.get());
#if TB_TRACE
    std::unique_ptr<VerilatedFstC> tfp;
    if (trace_path) {
        ctx->traceEverOn(true);
        tfp = std::make_unique<VerilatedFstC>();
        top->trace(tfp.get(), 99);
        tfp->open(trace_path);
    }
#endif
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> uni(0.0, 1.0);

    std::vector<Gauge> gauges;
#define TB_GAUGE_INIT(name, expr) gauges.push_back(Gauge{name, 0, 0});
    TB_GAUGES(TB_GAUGE_INIT)

    uint64_t time = 0;
    auto tick = [&]() {
        top->TB_CLK = 1;
        top->eval();
#if TB_TRACE
        if (tfp) tfp->dump(time);
#endif
        time++;
        top->TB_CLK = 0;
        top->eval();
#if TB_TRACE
        if (tfp) tfp->dump(time);
#endif
        time++;
    };

    top->TB_CLK = 0;
    top->s_axis_tvalid = 0;
    top->m_axis_tready = 0;
    TB_RESET(top, 1);
    for (int i = 0; i < 8; i++) { top->eval(); tick(); }
    TB_RESET(top, 0);
    top->eval();

    std::vector<uint8_t> out_data;
    out_data.reserve(out_beats * OUT_BYTES);
    std::vector<uint8_t> tlast_out;
    std::vector<uint64_t> frame_end;
    std::vector<uint8_t> held(OUT_BYTES), now(OUT_BYTES);
    long in_next = 0, out_count = 0, tlast_mismatches = 0, idle = 0, in_before_ready = -1;
    bool in_valid = false, was_stalled = false;
    int64_t first_input = -1;
    uint64_t cycle = 0;
    int status = 0;

    while (out_count < out_beats) {
        if (!in_valid && in_next < in_beats && (p_valid >= 1.0 || uni(rng) < p_valid)) in_valid = true;
        if ((long)cycle == ready_after) in_before_ready = in_next;
        const bool ready = (long)cycle >= ready_after && (p_ready >= 1.0 || uni(rng) < p_ready);
        top->s_axis_tvalid = in_valid;
        if (in_valid) {
            set_port(top->s_axis_tdata, &in_data[in_next * IN_BYTES], TB_IN_WIDTH);
#if TB_IN_TLAST
            const bool last = tlast_in_path ? tlast_in[in_next] != 0
                                            : ((in_next + 1) % (TB_IN_BEATS * batch) == 0 || in_next + 1 == in_beats);
            top->s_axis_tlast = last;
#endif
        }
        top->m_axis_tready = ready;
        top->eval();

        const bool s_fire = in_valid && top->s_axis_tready;
        const bool m_valid = top->m_axis_tvalid;
        if (m_valid) get_port(top->m_axis_tdata, now.data(), TB_OUT_WIDTH);
        if (was_stalled && (!m_valid || now != held)) {
            std::fprintf(stderr, "tb: protocol violation: m_axis changed while stalled at output beat %ld "
                         "(cycle %llu)\n", out_count, (unsigned long long)cycle);
            status = 3;
            break;
        }
        was_stalled = m_valid && !ready;
        if (was_stalled) held = now;
        if (s_fire) {
            if (first_input < 0) first_input = (int64_t)cycle;
            in_next++;
            in_valid = false;
        }
        if (m_valid && ready) {
            out_data.insert(out_data.end(), now.begin(), now.end());
            const bool frame_last = (out_count + 1) % TB_OUT_BEATS == 0;
#if TB_OUT_TLAST
            const bool tlast = top->m_axis_tlast;
            tlast_out.push_back(tlast ? 1 : 0);
            if (!tlast_in_path) {
                const long f = out_count / TB_OUT_BEATS;
                const bool want = frame_last && ((f + 1) % batch == 0 || f + 1 == frames);
                if (tlast != want) tlast_mismatches++;
            }
#endif
            if (frame_last) frame_end.push_back(cycle);
            out_count++;
        }
        tick();
        cycle++;

        bool progress = s_fire || (m_valid && ready);
#define TB_GAUGE_READ(name, expr)                                                   \
        {                                                                           \
            Gauge& g = gauges[gi++];                                                \
            const uint64_t v = (uint64_t)(expr);                                    \
            if (v != g.value) progress = true;                                      \
            g.value = v;                                                            \
            if (v > g.peak) g.peak = v;                                             \
        }
        {
            std::size_t gi = 0;
            TB_GAUGES(TB_GAUGE_READ)
            (void)gi;
        }
        idle = progress ? 0 : idle + 1;
        if (idle > timeout) {
            std::string full, empty;
            for (const Gauge& g : gauges) {
                if (g.value == 0) empty += std::string(" ") + g.name;
                else full += std::string(" ") + g.name + "=" + std::to_string(g.value);
            }
            std::fprintf(stderr, "deadlock: no progress for %ld cycles at cycle %llu; s_axis %s (%ld/%ld beats in), "
                         "m_axis %s (%ld/%ld beats out); FIFOs holding words:%s; empty:%s\n", timeout,
                         (unsigned long long)cycle, top->s_axis_tready ? "ready" : "stalled (tready low)", in_next,
                         in_beats, top->m_axis_tvalid ? "valid" : "idle (tvalid low)", out_count, out_beats,
                         full.empty() ? " none" : full.c_str(), empty.empty() ? " none" : empty.c_str());
            status = 1;
            break;
        }
    }
#if TB_TRACE
    if (tfp) tfp->close();
#endif
    top->final();

    if (!write_file(out_path, out_data)) {
        std::fprintf(stderr, "tb: cannot write %s\n", out_path);
        return 2;
    }
    if (tlast_out_path && !write_file(tlast_out_path, tlast_out)) {
        std::fprintf(stderr, "tb: cannot write %s\n", tlast_out_path);
        return 2;
    }
    if (stats_path) {
        FILE* f = std::fopen(stats_path, "w");
        if (!f) {
            std::fprintf(stderr, "tb: cannot write %s\n", stats_path);
            return 2;
        }
        const long n = (long)frame_end.size();
        double cpf = 0.0;
        if (n >= 2) {
            const long k = n / 2 < n - 1 ? n / 2 : n - 2;
            cpf = (double)(frame_end[n - 1] - frame_end[k]) / (double)(n - 1 - k);
        }
        const long latency = n >= 1 && first_input >= 0 ? (long)(frame_end[0] - (uint64_t)first_input) + 1 : -1;
        std::fprintf(f, "{\"frames\": %ld, \"frames_out\": %ld, \"cycles\": %llu, \"first_input_cycle\": %lld, "
                     "\"cycles_per_frame\": %.3f, \"latency_cycles\": %ld, \"tlast_mismatches\": %ld, "
                     "\"tlast_error\": %d, \"valid_prob\": %.3f, \"ready_prob\": %.3f, \"status\": %d, "
                     "\"beats_in_before_ready\": %ld, ",
                     frames, n, (unsigned long long)cycle, (long long)first_input, cpf, latency, tlast_mismatches,
                     (int)(TB_TLAST_ERROR(top)), p_valid, p_ready, status, in_before_ready);
        std::fprintf(f, "\"frame_end_cycles\": [");
        for (long i = 0; i < n; i++) std::fprintf(f, "%s%llu", i ? ", " : "", (unsigned long long)frame_end[i]);
        std::fprintf(f, "], \"fifo_max_occupancy\": {");
        for (std::size_t i = 0; i < gauges.size(); i++)
            std::fprintf(f, "%s\"%s\": %llu", i ? ", " : "", gauges[i].name, (unsigned long long)gauges[i].peak);
        std::fprintf(f, "}}\n");
        std::fclose(f);
    }
    return status;
}
