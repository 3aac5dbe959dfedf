/*
 * snn_maxpool_gate: the spiking max-pool gate, docs/semantics.md §4 (first bullet).
 *
 * It sits between an IF population of C x H x W neurons (flat input index
 * n = (c*H + h)*W + w) and the next layer, and emits the spikes of the pooled map C x OH x OW
 * (flat output index o = (c*OH + y)*OW + x). Every input neuron i keeps its spike count
 * c_i(t) (its spikes in timesteps 1 .. t, this one included); output o spikes at t iff some
 * input neuron i of its window spikes at t and c_i(t) = max over the window of c_j(t). Ties all
 * pass, the output spikes once; padding positions never spike and never count; windows may
 * overlap. Window of o = (c, y, x): positions (y*SH + ky - PH, x*SW + kx - PW), ky < KH,
 * kx < KW (positions outside the map are padding). This is golden maxpool_gate.
 *
 * Storage
 *   - One inferable simple dual-port RAM of C*H*W words (a plain `reg mem` array, one
 *     synchronous write port, one synchronous read port with enable and read register rd_q,
 *     no reset). Word n = {tag, count}, each CNT_WIDTH bits: count = c_n, tag = the number of
 *     the last timestep in which neuron n spiked (0: never). The gate keeps the number ts of
 *     the current timestep (1 after a clear, +1 after every sweep), so "n spiked in this
 *     timestep" is tag == ts and nothing has to be cleared between timesteps.
 *   - Range: at most 2^CNT_WIDTH - 1 timesteps per image (then every count and every tag
 *     fits; ts would wrap after that). The caller sizes CNT_WIDTH for its maximum T.
 *
 * Contract (every stream: a transfer is a rising edge with valid && ready; every valid is a
 * register or a function of registers and never depends on any ready)
 *   - Reset: rst is synchronous, active high. It makes the gate idle (busy = 0, m_valid = 0,
 *     no event in flight) but does NOT touch the RAM nor ts: clear before the first image.
 *   - Idle (busy = 0): clear_ready = 1, s_ready = !clear_valid (a clear wins over an event;
 *     s_ready depends on a valid, never on a ready). Busy: clear_ready = s_ready = 0.
 *   - Clear (start of an image): accepted at edge e, writes {tag 0, count 0} to word a at
 *     edge e + 1 + a, a = 0 .. C*H*W - 1, and sets ts = 1; the gate is idle again right
 *     after edge e + C*H*W: a clear takes exactly C*H*W cycles. A clear accepted in the
 *     middle of a timestep drops that timestep's events.
 *   - Collect (idle): an input event (s_valid, s_eot = 0, s_index = the index of an input
 *     neuron that spiked in this timestep; each index at most once per timestep, any order)
 *     accepted at edge e reads its word at e and writes {ts, count + 1} at edge e + 1. One
 *     event per cycle, no bubbles: with s_valid held high every event is accepted in the
 *     cycle it is offered. The timestep ends with one EOT beat (s_valid, s_eot = 1, s_index
 *     ignored), accepted in the cycle right after the last event (or at once if none).
 *   - Sweep: the EOT beat accepted at edge e starts the sweep (busy from the edge after e).
 *     It visits the P = C*OH*OW*KH*KW window positions in slot order
 *         k = ((o*KH) + ky)*KW + kx,   o = 0 .. C*OH*OW - 1 ascending,
 *     one per cycle (padding positions take their cycle too, without a RAM read), in a
 *     two-stage pipeline: slot k reads its RAM word at edge e + 1 + k (+ stalls so far);
 *     the next edge folds it into the running window result (largest count, and whether a
 *     position with that count has tag == ts). At the end of window o, if o spikes, the event
 *     (m_index = o, m_eot = 0) is loaded into the output register at edge
 *         e + 1 + (o + 1)*KH*KW + (stall cycles so far);
 *     spiking outputs come out in ascending o. After the last window one event with
 *     m_eot = 1 and m_index = 0 ends the timestep; it is loaded at edge e + 2 + P (+ stalls).
 *     The whole sweep pipeline advances in exactly the cycles where !(m_valid && !m_ready);
 *     in a stall cycle (m_valid && !m_ready) nothing moves and nothing is lost or reordered.
 *   - Sweep timing (exact): with the EOT beat accepted at edge e, the output EOT transfers at
 *     edge e + P + 3 + S, P = C*OH*OW*KH*KW, S = the number of cycles after e, up to and
 *     including the EOT transfer cycle, with m_valid = 1 and m_ready = 0. I.e. P + D cycles
 *     plus one per stall cycle, D = 3 (one cycle to start, since the last event's write lands
 *     at e; one of RAM read latency; one of the output register). busy is high in all
 *     P + 3 + S cycles; ts <= ts + 1 and the gate is idle (ready for the next timestep's
 *     events) right after the EOT transfer edge.
 *   - A timestep with E input events therefore costs E + 1 cycles to collect (s_valid held
 *     high) plus P + 3 + S to sweep.
 *
 * Written for block RAM inference (one write port, one registered read port with enable, no
 * reset, muxed addresses); checked with `snngen synth` (Yosys + nextpnr on iCE40 and ECP5,
 * docs/benchmarks.md "Hardware: synthesis"): a large count RAM becomes block RAM, a small one
 * LUT RAM (ECP5) or logic. The sweep addresses are kept incrementally (no multipliers).
 *
 * Verilog-2005, `default_nettype none.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module snn_maxpool_gate #
(
    // Channels of the input (and output) map (>= 1)
    parameter C = 2,
    // Height and width of the input map (>= 1 each)
    parameter H = 6,
    parameter W = 6,
    // Pooling window height and width (>= 1 each)
    parameter KH = 2,
    parameter KW = 2,
    // Strides (>= 1 each)
    parameter SH = KH,
    parameter SW = KW,
    // Zero padding on each side (0 .. KH - 1 and 0 .. KW - 1); padding never wins
    parameter PH = 0,
    parameter PW = 0,
    // Output map height and width: must equal (H + 2*PH - KH)/SH + 1 and
    // (W + 2*PW - KW)/SW + 1 (floor mode), the defaults
    parameter OH = (H + 2 * PH - KH) / ((SH > 0) ? SH : 1) + 1,
    parameter OW = (W + 2 * PW - KW) / ((SW > 0) ? SW : 1) + 1,
    // Width of a spike count and of a timestep number (1 .. 32); an image may have at most
    // 2^CNT_WIDTH - 1 timesteps
    parameter CNT_WIDTH = 8,
    // Width of s_index (>= $clog2(C*H*W) and >= 1, <= 32)
    parameter IN_INDEX_WIDTH = ($clog2(C * H * W) > 0) ? $clog2(C * H * W) : 1,
    // Width of m_index (>= $clog2(C*OH*OW) and >= 1, <= 32)
    parameter OUT_INDEX_WIDTH = ($clog2(C * OH * OW) > 0) ? $clog2(C * OH * OW) : 1
)
(
    input  wire                           clk,
    input  wire                           rst,

    /*
     * Clear (start of an image): every count and tag <- 0, ts <- 1
     */
    input  wire                           clear_valid,
    output wire                           clear_ready,

    /*
     * Input spike events of one timestep, then one EOT beat (slave)
     */
    input  wire                           s_valid,
    output wire                           s_ready,
    input  wire [IN_INDEX_WIDTH-1:0]      s_index,
    input  wire                           s_eot,

    /*
     * Output spike events in ascending order, then one EOT beat (master)
     */
    output wire                           m_valid,
    input  wire                           m_ready,
    output wire [OUT_INDEX_WIDTH-1:0]     m_index,
    output wire                           m_eot,

    /*
     * Status: high from the edge after an accepted clear / EOT until it completes
     */
    output wire                           busy
);

// input neurons = RAM words, output neurons
localparam integer N_IN = C * H * W;
localparam integer N_OUT = C * OH * OW;
// the same, guarded so that bad parameters reach the checks below
localparam integer N_IN_SAFE = (N_IN > 1) ? N_IN : 1;
localparam integer SH_SAFE = (SH > 0) ? SH : 1;
localparam integer SW_SAFE = (SW > 0) ? SW : 1;
// RAM address bits (at least 1) and RAM size (at least 2, so a 1-bit address fits it)
localparam MEM_AW = ($clog2(N_IN_SAFE) > 0) ? $clog2(N_IN_SAFE) : 1;
localparam DEPTH = (N_IN_SAFE > 1) ? N_IN_SAFE : 2;
// RAM word: {tag, count}
localparam WW = 2 * CNT_WIDTH;
// sweep counter widths (at least 1)
localparam CW = ($clog2(C) > 0) ? $clog2(C) : 1;
localparam OYW = ($clog2(OH) > 0) ? $clog2(OH) : 1;
localparam OXW = ($clog2(OW) > 0) ? $clog2(OW) : 1;
localparam KYW = ($clog2(KH) > 0) ? $clog2(KH) : 1;
localparam KXW = ($clog2(KW) > 0) ? $clog2(KW) : 1;
// two's complement widths of a window row h in [-PH, H + PH - 1], a column w in
// [-PW, W + PW - 1], and a linear position address in [-(PH*W + PW), C*H*W + PH*W + PW - 1]
localparam HS = $clog2(H + PH + 1) + 1;
localparam WS = $clog2(W + PW + 1) + 1;
localparam integer A_SPAN = N_IN + PH * W + PW;
localparam AS = $clog2(A_SPAN + 1) + 1;

// sized constants (integers sliced to their widths)
localparam integer LAST_C_I = C - 1;
localparam integer LAST_OY_I = OH - 1;
localparam integer LAST_OX_I = OW - 1;
localparam integer LAST_KY_I = KH - 1;
localparam integer LAST_KX_I = KW - 1;
localparam integer LAST_ADDR_I = N_IN - 1;
localparam integer H_I = H;
localparam integer W_I = W;
localparam integer SH_I = SH;
localparam integer SW_I = SW;
localparam integer MPH_I = -PH;
localparam integer MPW_I = -PW;
localparam integer A_W_I = W;
localparam integer A_SW_I = SW;
localparam integer A_SHW_I = SH * W;
localparam integer A_HW_I = H * W;
localparam integer A_INIT_I = -(PH * W + PW);
localparam [CW-1:0] LAST_C = LAST_C_I[CW-1:0];
localparam [OYW-1:0] LAST_OY = LAST_OY_I[OYW-1:0];
localparam [OXW-1:0] LAST_OX = LAST_OX_I[OXW-1:0];
localparam [KYW-1:0] LAST_KY = LAST_KY_I[KYW-1:0];
localparam [KXW-1:0] LAST_KX = LAST_KX_I[KXW-1:0];
localparam [MEM_AW-1:0] LAST_ADDR = LAST_ADDR_I[MEM_AW-1:0];
localparam [HS-1:0] H_U = H_I[HS-1:0];
localparam [WS-1:0] W_U = W_I[WS-1:0];
localparam [HS-1:0] SH_U = SH_I[HS-1:0];
localparam [WS-1:0] SW_U = SW_I[WS-1:0];
localparam [HS-1:0] H_INIT = MPH_I[HS-1:0];
localparam [WS-1:0] W_INIT = MPW_I[WS-1:0];
localparam [AS-1:0] A_W = A_W_I[AS-1:0];
localparam [AS-1:0] A_SW = A_SW_I[AS-1:0];
localparam [AS-1:0] A_SHW = A_SHW_I[AS-1:0];
localparam [AS-1:0] A_HW = A_HW_I[AS-1:0];
localparam [AS-1:0] A_INIT = A_INIT_I[AS-1:0];

// check configuration: an unknown module name makes elaboration fail with this message
generate
    if (C < 1) begin : g_bad_c
        snn_maxpool_gate_ERROR_C_must_be_at_least_1 bad_c();
    end
    if (H < 1 || W < 1) begin : g_bad_hw
        snn_maxpool_gate_ERROR_H_and_W_must_be_at_least_1 bad_hw();
    end
    if (KH < 1 || KW < 1) begin : g_bad_k
        snn_maxpool_gate_ERROR_KH_and_KW_must_be_at_least_1 bad_k();
    end
    if (SH < 1 || SW < 1) begin : g_bad_s
        snn_maxpool_gate_ERROR_SH_and_SW_must_be_at_least_1 bad_s();
    end
    if (PH < 0 || PH >= KH) begin : g_bad_ph
        snn_maxpool_gate_ERROR_PH_must_be_0_to_KH_minus_1 bad_ph();
    end
    if (PW < 0 || PW >= KW) begin : g_bad_pw
        snn_maxpool_gate_ERROR_PW_must_be_0_to_KW_minus_1 bad_pw();
    end
    if (KH > H + 2 * PH) begin : g_bad_kh
        snn_maxpool_gate_ERROR_KH_must_be_at_most_H_plus_2_PH bad_kh();
    end
    if (KW > W + 2 * PW) begin : g_bad_kw
        snn_maxpool_gate_ERROR_KW_must_be_at_most_W_plus_2_PW bad_kw();
    end
    if (OH != (H + 2 * PH - KH) / SH_SAFE + 1) begin : g_bad_oh
        snn_maxpool_gate_ERROR_OH_must_be_H_plus_2_PH_minus_KH_over_SH_plus_1 bad_oh();
    end
    if (OW != (W + 2 * PW - KW) / SW_SAFE + 1) begin : g_bad_ow
        snn_maxpool_gate_ERROR_OW_must_be_W_plus_2_PW_minus_KW_over_SW_plus_1 bad_ow();
    end
    if (CNT_WIDTH < 1 || CNT_WIDTH > 32) begin : g_bad_cnt_width
        snn_maxpool_gate_ERROR_CNT_WIDTH_must_be_1_to_32 bad_cnt_width();
    end
    if (IN_INDEX_WIDTH < MEM_AW || IN_INDEX_WIDTH > 32) begin : g_bad_in_index_width
        snn_maxpool_gate_ERROR_IN_INDEX_WIDTH_must_be_clog2_CHW_to_32 bad_in_index_width();
    end
    if (OUT_INDEX_WIDTH < 1 || OUT_INDEX_WIDTH > 32
        || (N_OUT > 1 && OUT_INDEX_WIDTH < $clog2(N_OUT))) begin : g_bad_out_index_width
        snn_maxpool_gate_ERROR_OUT_INDEX_WIDTH_must_be_clog2_C_OH_OW_to_32 bad_out_index_width();
    end
    if (A_SPAN >= (1 << 30)) begin : g_bad_size
        snn_maxpool_gate_ERROR_C_H_W_map_too_large bad_size();
    end
endgenerate

/*
 * control
 */
localparam [1:0] S_IDLE = 2'd0;
localparam [1:0] S_CLEAR = 2'd1;
localparam [1:0] S_SWEEP = 2'd2;

reg [1:0] state_reg;

wire idle = state_reg == S_IDLE;
wire clearing = state_reg == S_CLEAR;
wire sweeping = state_reg == S_SWEEP;

wire clear_fire = clear_valid && idle;
wire s_fire = s_valid && idle && !clear_valid;
wire ev_fire = s_fire && !s_eot;
wire eot_fire = s_fire && s_eot;

// the number of the current timestep (tag of a spike in it)
reg [CNT_WIDTH-1:0] ts_reg;

// clear: word being written
reg [MEM_AW-1:0] clr_addr_reg;

// collect: the event accepted at the last edge (its word is in rd_q), written back now
reg ev_valid_reg;
reg [MEM_AW-1:0] ev_addr_reg;

// output stage (event register)
reg m_valid_reg;
reg m_eot_reg;
reg [OUT_INDEX_WIDTH-1:0] m_index_reg;

// the sweep pipeline advances when the output stage is free (empty, or its event leaves now)
wire adv = !m_valid_reg || m_ready;
wire m_fire = m_valid_reg && m_ready;

// sweep stage A: the next slot to issue (a window position, then the EOT slot)
reg a_run_reg;
reg a_eot_reg;
reg [CW-1:0] oc_reg;
reg [OYW-1:0] oy_reg;
reg [OXW-1:0] ox_reg;
reg [KYW-1:0] ky_reg;
reg [KXW-1:0] kx_reg;
// window origin row/column of the current output, and the current position's row/column
reg [HS-1:0] h0_reg;
reg [WS-1:0] w0_reg;
reg [HS-1:0] h_reg;
reg [WS-1:0] w_reg;
// linear addresses (two's complement, may be negative or beyond the map in padding):
// channel origin, output-row origin, window origin, window-row origin, position
reg [AS-1:0] cbase_reg;
reg [AS-1:0] lbase_reg;
reg [AS-1:0] base_reg;
reg [AS-1:0] row_reg;
reg [AS-1:0] addr_reg;

// sweep stage B: the slot whose word was read at the last advance
reg b_valid_reg;
reg b_eot_reg;
reg b_pad_reg;
reg b_last_reg;
// running window result: largest count so far, and whether a position with it spiked now
reg [CNT_WIDTH-1:0] best_reg;
reg hit_reg;
// index of the output whose window stage B is folding
reg [OUT_INDEX_WIDTH-1:0] oidx_reg;

wire kx_last = kx_reg == LAST_KX;
wire ky_last = ky_reg == LAST_KY;
wire ox_last = ox_reg == LAST_OX;
wire oy_last = oy_reg == LAST_OY;
wire oc_last = oc_reg == LAST_C;
wire win_last = kx_last && ky_last;
// the position is inside the map (two's complement h, w: sign bit clear and below H, W)
wire pos_in = !h_reg[HS-1] && h_reg < H_U && !w_reg[WS-1] && w_reg < W_U;

wire a_issue = sweeping && a_run_reg && adv;
wire a_read = a_issue && !a_eot_reg && pos_in;
wire b_go = sweeping && b_valid_reg && adv;

/*
 * RAM: one write port (clear, else event write-back), one read port (event, else sweep)
 */
reg [WW-1:0] mem [0:DEPTH-1];
reg [WW-1:0] rd_q;

wire [CNT_WIDTH-1:0] q_count = rd_q[CNT_WIDTH-1:0];
wire [CNT_WIDTH-1:0] q_tag = rd_q[WW-1:CNT_WIDTH];

wire [MEM_AW-1:0] s_addr = s_index[MEM_AW-1:0];
wire [MEM_AW-1:0] sweep_addr = addr_reg[MEM_AW-1:0];
// addresses of map positions are < C*H*W: the high bits are 0 whenever a read is issued
wire unused_addr_high = |addr_reg[AS-1:MEM_AW];

generate
    if (IN_INDEX_WIDTH > MEM_AW) begin : g_wide_index
        // named unused_* so lint knows these bits are ignored on purpose (they are 0 for
        // every index < C*H*W)
        wire unused_index_high = |s_index[IN_INDEX_WIDTH-1:MEM_AW];
    end
endgenerate

wire we = (clearing || ev_valid_reg) && !rst;
wire [MEM_AW-1:0] wa = clearing ? clr_addr_reg : ev_addr_reg;
wire [WW-1:0] wd = clearing ? {WW{1'b0}} : {ts_reg, q_count + 1'b1};

always @(posedge clk) begin
    if (we) begin
        mem[wa] <= wd;
    end
end

wire re = ev_fire || a_read;
wire [MEM_AW-1:0] ra = sweeping ? sweep_addr : s_addr;

always @(posedge clk) begin
    if (re) begin
        rd_q <= mem[ra];
    end
end

/*
 * stage B: fold the word read for this position into the window result
 */
wire q_spiked = q_tag == ts_reg;
reg [CNT_WIDTH-1:0] fold_best;
reg fold_hit;

always @* begin
    fold_best = best_reg;
    fold_hit = hit_reg;
    if (!b_pad_reg) begin
        if (q_count > best_reg) begin
            fold_best = q_count;
            fold_hit = q_spiked;
        end else if (q_count == best_reg) begin
            fold_hit = hit_reg || q_spiked;
        end
    end
end

/*
 * state machine, sweep pipeline and output stage
 */
always @(posedge clk) begin
    if (rst) begin
        state_reg <= S_IDLE;
        ev_valid_reg <= 1'b0;
        a_run_reg <= 1'b0;
        a_eot_reg <= 1'b0;
        b_valid_reg <= 1'b0;
        m_valid_reg <= 1'b0;
        m_eot_reg <= 1'b0;
    end else begin
        ev_valid_reg <= ev_fire;
        case (state_reg)
            S_IDLE: begin
                if (clear_fire) begin
                    state_reg <= S_CLEAR;
                end else if (eot_fire) begin
                    state_reg <= S_SWEEP;
                    a_run_reg <= 1'b1;
                    a_eot_reg <= 1'b0;
                    b_valid_reg <= 1'b0;
                end
            end
            S_CLEAR: begin
                if (clr_addr_reg == LAST_ADDR) begin
                    state_reg <= S_IDLE;
                end
            end
            default: begin
                if (adv) begin
                    // stage A -> stage B
                    b_valid_reg <= a_run_reg;
                    if (a_run_reg) begin
                        if (a_eot_reg) begin
                            a_run_reg <= 1'b0;
                        end else if (win_last && ox_last && oy_last && oc_last) begin
                            a_eot_reg <= 1'b1;
                        end
                    end
                    // stage B -> output stage
                    m_valid_reg <= b_valid_reg && (b_eot_reg || (b_last_reg && fold_hit));
                    m_eot_reg <= b_eot_reg;
                end
                if (m_fire && m_eot_reg) begin
                    state_reg <= S_IDLE;
                end
            end
        endcase
    end
end

// datapath registers (no reset needed: a clear or a sweep start initialises them)
always @(posedge clk) begin
    ev_addr_reg <= s_addr;

    // timestep number; it holds in reset (the contract: reset does not touch ts), since an
    // output EOT still in m_valid_reg in the first reset cycle may meet m_ready there
    if (rst) begin
        ts_reg <= ts_reg;
    end else if (clear_fire) begin
        ts_reg <= {{(CNT_WIDTH-1){1'b0}}, 1'b1};
    end else if (sweeping && m_fire && m_eot_reg) begin
        ts_reg <= ts_reg + 1'b1;
    end

    // clear address
    if (clear_fire) begin
        clr_addr_reg <= {MEM_AW{1'b0}};
    end else if (clearing) begin
        clr_addr_reg <= clr_addr_reg + 1'b1;
    end

    // stage A: first position of the first window, then step through the slots
    if (eot_fire) begin
        oc_reg <= {CW{1'b0}};
        oy_reg <= {OYW{1'b0}};
        ox_reg <= {OXW{1'b0}};
        ky_reg <= {KYW{1'b0}};
        kx_reg <= {KXW{1'b0}};
        h0_reg <= H_INIT;
        h_reg <= H_INIT;
        w0_reg <= W_INIT;
        w_reg <= W_INIT;
        cbase_reg <= A_INIT;
        lbase_reg <= A_INIT;
        base_reg <= A_INIT;
        row_reg <= A_INIT;
        addr_reg <= A_INIT;
    end else if (a_issue && !a_eot_reg) begin
        if (!kx_last) begin
            // next column of the window
            kx_reg <= kx_reg + 1'b1;
            w_reg <= w_reg + 1'b1;
            addr_reg <= addr_reg + 1'b1;
        end else if (!ky_last) begin
            // next row of the window
            kx_reg <= {KXW{1'b0}};
            ky_reg <= ky_reg + 1'b1;
            w_reg <= w0_reg;
            h_reg <= h_reg + 1'b1;
            row_reg <= row_reg + A_W;
            addr_reg <= row_reg + A_W;
        end else begin
            kx_reg <= {KXW{1'b0}};
            ky_reg <= {KYW{1'b0}};
            if (!ox_last) begin
                // next output in the row: the window moves SW columns right
                ox_reg <= ox_reg + 1'b1;
                w0_reg <= w0_reg + SW_U;
                w_reg <= w0_reg + SW_U;
                h_reg <= h0_reg;
                base_reg <= base_reg + A_SW;
                row_reg <= base_reg + A_SW;
                addr_reg <= base_reg + A_SW;
            end else begin
                ox_reg <= {OXW{1'b0}};
                w0_reg <= W_INIT;
                w_reg <= W_INIT;
                if (!oy_last) begin
                    // next output row: the window moves SH rows down
                    oy_reg <= oy_reg + 1'b1;
                    h0_reg <= h0_reg + SH_U;
                    h_reg <= h0_reg + SH_U;
                    lbase_reg <= lbase_reg + A_SHW;
                    base_reg <= lbase_reg + A_SHW;
                    row_reg <= lbase_reg + A_SHW;
                    addr_reg <= lbase_reg + A_SHW;
                end else begin
                    // next channel (after the last one, stage A issues the EOT slot)
                    oy_reg <= {OYW{1'b0}};
                    oc_reg <= oc_reg + 1'b1;
                    h0_reg <= H_INIT;
                    h_reg <= H_INIT;
                    cbase_reg <= cbase_reg + A_HW;
                    lbase_reg <= cbase_reg + A_HW;
                    base_reg <= cbase_reg + A_HW;
                    row_reg <= cbase_reg + A_HW;
                    addr_reg <= cbase_reg + A_HW;
                end
            end
        end
    end

    // stage A -> stage B
    if (a_issue) begin
        b_eot_reg <= a_eot_reg;
        b_pad_reg <= !pos_in;
        b_last_reg <= win_last;
    end

    // stage B: fold, and at the end of a window emit the result and start the next one
    if (eot_fire) begin
        best_reg <= {CNT_WIDTH{1'b0}};
        hit_reg <= 1'b0;
        oidx_reg <= {OUT_INDEX_WIDTH{1'b0}};
    end else if (b_go && !b_eot_reg) begin
        if (b_last_reg) begin
            best_reg <= {CNT_WIDTH{1'b0}};
            hit_reg <= 1'b0;
            oidx_reg <= oidx_reg + 1'b1;
        end else begin
            best_reg <= fold_best;
            hit_reg <= fold_hit;
        end
    end
    if (b_go) begin
        m_index_reg <= b_eot_reg ? {OUT_INDEX_WIDTH{1'b0}} : oidx_reg;
    end
end

assign clear_ready = idle;
assign s_ready = idle && !clear_valid;
assign busy = !idle;
assign m_valid = m_valid_reg;
assign m_eot = m_eot_reg;
assign m_index = m_index_reg;

endmodule

`resetall
