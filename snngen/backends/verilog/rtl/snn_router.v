/*
 * snn_router: one layer's synaptic fan-out (the spike router), docs/semantics.md §3.
 *
 * It turns a stream of input events (the flat index of an input neuron that spiked, or for the
 * first layer a pixel index with its value), ended by an end-of-timestep (EOT) event, into the
 * synaptic updates of an snn_if_array (or snn_accum) whose banks split the output channels:
 * channel o is on lane o % LANES, neuron (o, y, x) at bank address (o / LANES)*OH*OW + y*OW + x
 * (an update is one bank row: lane j adds field j of upd_weight to the neuron of channel
 * upd_addr / (OH*OW) * LANES + j at that address; the field of a lane whose channel is >= COUT
 * is 0), and after the EOT, once every update has been delivered, requests the sweep. Connect
 * upd_* and sweep_* directly to the array's ports of the same names. The Python model is snngen/hwmodel/blocks/router.py.
 *
 * Geometry (every layer is one convolution; a Linear F_in -> F_out is the 1x1 convolution
 * CIN=F_in, H=W=1, COUT=F_out, OH=OW=1, KH=KW=1, W[o,c,0,0] = Wl[o, c])
 *   input (c, h, w), flat index n = (c*H + h)*W + w, reaches target (o, y, x), flat index
 *   (o*OH + y)*OW + x, with weight W[o, c, kh, kw] iff kh = h + PH - y*SH is in [0, KH),
 *   kw = w + PW - x*SW is in [0, KW), 0 <= y < OH, 0 <= x < OW.
 *
 * Enumeration (normative): for an event (c, h, w), for the channel groups g = 0 .. NG-1
 *   (NG = ceil(COUT/LANES)), for the valid rows y from y_hi down to y_lo, for the valid columns
 *   x from x_hi down to x_lo: one slot whose members are the channels o = g*LANES + k < COUT,
 *   member k on lane k, all at bank address (g*OH + y)*OW + x, kh = h + PH - y*SH,
 *   kw = w + PW - x*SW. One slot per cycle, all its members at once: one row update whose
 *   field k is member k's weight (0 for a lane past COUT in the last group, from the ROM). An event costs exactly max(G, 1) issue
 *   slots, G = NG * cnt_y * cnt_x (an event that reaches no neuron still takes one slot and
 *   issues nothing). hwmodel.blocks.router.groups is the reference.
 *
 * Weights: one ROM (inferable `reg` array, registered read), NG*CIN*KH*KW words of
 *   LANES*W_WIDTH bits from WEIGHT_FILE ($readmemh, snngen.backends.verilog.memfile.write_mem
 *   format, written by snngen.hwmodel.blocks.router.rom_words): word
 *   ((g*CIN + c)*KH + kh)*KW + kw holds in field k (bits k*W_WIDTH +: W_WIDTH)
 *   W[g*LANES + k, c, kh, kw], or 0 where g*LANES + k >= COUT: every weight is stored once.
 *
 * Values: VALUE_WIDTH = 0: spike events, upd_weight = the weight (U_WIDTH = W_WIDTH; s_value is
 *   1 bit wide and ignored). VALUE_WIDTH > 0: every event carries an unsigned s_value and every
 *   update is the exact signed product weight * value, U_WIDTH = W_WIDTH + VALUE_WIDTH.
 *
 * Pipeline: I (accept: the event registered as it is) -> DC (c = index / (H*W) and the
 *   remainder index % (H*W)) -> D1 (h, w = remainder / W, remainder % W) -> D2 (valid row and
 *   column ranges) -> N (first ROM address and target, group counts: the prefetched next event)
 *   -> Q (the sequencer: one slot per cycle) -> R (ROM read) -> P (the ROM word registered)
 *   -> O (output registers: upd_valid/addr/weight, or sweep_valid for the EOT slot). I, DC,
 *   D1, D2, N form an elastic queue; Q, R, P and O shift together, one slot per cycle, except
 *   in a stall cycle.
 *
 * Contract (a transfer is a rising edge with valid && ready; "edge a" accepts, "cycle after
 * edge a" is the clock period following it; upd_valid and sweep_valid are registers and never
 * depend on any ready)
 *   - Reset: rst is synchronous, active high; it empties the router (busy = 0, upd_valid = 0,
 *     sweep_valid = 0, nothing in flight) and it accepts events from the cycle after.
 *   - s_ready = (no EOT accepted and still waiting for its sweep handshake) && (one of I, DC,
 *     D1, D2, N is empty, or Q takes N in this cycle). So after an EOT is accepted no event
 *     is accepted until the sweep handshake; from the cycle after that handshake s_ready is
 *     high again.
 *     s_ready depends combinationally on upd_ready and sweep_ready (through the stall), never
 *     on s_valid. s_index must be < CIN*H*W; s_index/s_value are ignored with s_eot = 1.
 *   - Queue: an event (or the EOT) accepted at edge a is in N after edge a + 4 and is loaded
 *     into Q at the first edge >= a + 5 at which Q is empty or issues the last slot of its
 *     event (and no stall): zero bubbles between events when the queue is not empty.
 *   - Issue: Q issues one slot at every edge without a stall: the G groups of its event (or
 *     the one empty slot of a G = 0 event), then the next event's first slot at the very next
 *     edge; the EOT is one slot. A group issued at edge q reads the ROM at q, is offered on
 *     upd_* (upd_valid = 1) from edge q + 2 and transfers at edge q + 3 if ready. The
 *     EOT slot issued at edge q raises sweep_valid at edge q + 2, i.e. at the edge of the last
 *     update transfer or later: a sweep accepted by snn_if_array (update latency 1) sees every
 *     update. sweep_valid stays high until the sweep handshake.
 *   - Latencies: the first event accepted at edge e0 (router idle) issues its first slot at
 *     e0 + 6; its first update transfers at edge e0 + A, A = 9.
 *     Timestep formula: if the first event (or, without events, the EOT) is accepted at edge
 *     e0 and the events and the EOT are offered back to back (each item is offered from the
 *     cycle after the previous one is accepted), then sweep_valid is first high in the cycle
 *     after edge e0 + A' + sum_i max(G_i, 1) + S with A' = 8, S = the stall cycles.
 *     hwmodel.blocks.router.schedule gives the exact edges for any input timing (no stall).
 *   - Backpressure: a stall cycle is a cycle with upd_valid && !upd_ready, or with
 *     sweep_valid && !sweep_ready. Nothing in Q, R, P, O moves, nothing is lost or reordered,
 *     so every stall cycle delays everything after it by exactly one cycle. (snn_if_array
 *     drops upd_ready only outside a router's timestep.) The queue I, DC, D1, D2, N keeps
 *     accepting during stalls.
 *   - busy: something is in flight (an item in I, DC, D1, D2, N, Q or a slot in R, P, O,
 *     including the EOT until its sweep handshake).
 *
 * Written for block RAM inference (the weight ROM: a plain `reg` array loaded by $readmemh,
 * one registered read with enable); checked with `snngen synth` (Yosys + nextpnr on iCE40 and
 * ECP5, docs/benchmarks.md "Hardware: synthesis"): a large weight ROM becomes block RAM, a small
 * one LUT RAM (ECP5) or logic. s_index and s_value go straight into registers (I), so a FIFO's
 * block RAM in front only drives flip-flops. The index decode has no runtime divider: DC and
 * D1 each divide by a constant over only the quotient bits that can be non-zero (c < CIN:
 * clog2(CIN) bits, h < H: clog2(H) bits), one subtraction of the remainder's real width per
 * bit, or a bit slice when the divisor (H*W, W) is a power of two; exact for every index
 * < CIN*H*W. The constant divisions and multiplications of D2 and N are each followed by a
 * register. Q's "last slot of the event" flag (q_last_reg) is a register computed one cycle
 * ahead, so s_ready and Q's take/step are a few gates from registers, upd_ready and
 * sweep_ready.
 *
 * Verilog-2005, `default_nettype none.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module snn_router #
(
    // Input map: CIN channels of H x W (flat index (c*H + h)*W + w)
    parameter CIN = 1,
    parameter H = 4,
    parameter W = 4,
    // Output map: COUT channels of OH x OW; OH = (H + 2*PH - KH)/SH + 1, same for OW
    parameter COUT = 2,
    parameter OH = 2,
    parameter OW = 2,
    // Kernel, stride (>= 1) and zero padding (>= 0)
    parameter KH = 3,
    parameter KW = 3,
    parameter SH = 1,
    parameter SW = 1,
    parameter PH = 0,
    parameter PW = 0,
    // Update lanes of the IF array: a power of two (1, 2, 4, ...)
    parameter LANES = 1,
    // Width of a signed weight in the ROM (1 .. 32)
    parameter W_WIDTH = 8,
    // 0: spike events; > 0 (up to 32): events carry an unsigned VALUE_WIDTH-bit value
    parameter VALUE_WIDTH = 0,
    // Width of a signed update on upd_weight: must be W_WIDTH + VALUE_WIDTH
    parameter U_WIDTH = W_WIDTH + VALUE_WIDTH,
    // Width of s_index: clog2(CIN*H*W) .. 30 (at least 1)
    parameter IN_INDEX_WIDTH = ($clog2(CIN * H * W) > 0) ? $clog2(CIN * H * W) : 1,
    // Width of a bank address (upd_addr): >= clog2(ceil(COUT/LANES)*OH*OW) and >= 1 (the
    // guard only keeps a bad LANES from dividing by zero before the check below)
    parameter ADDR_WIDTH = ($clog2((COUT + LANES - 1) / ((LANES > 0) ? LANES : 1) * OH * OW) > 0)
                           ? $clog2((COUT + LANES - 1) / ((LANES > 0) ? LANES : 1) * OH * OW)
                           : 1,
    // Path of the .mem file with the ceil(COUT/LANES)*CIN*KH*KW packed weight words; required
    parameter WEIGHT_FILE = ""
)
(
    input  wire                                    clk,
    input  wire                                    rst,

    /*
     * Input events (slave): s_eot = 1 ends the timestep (s_index/s_value ignored)
     */
    input  wire                                    s_valid,
    output wire                                    s_ready,
    input  wire [IN_INDEX_WIDTH-1:0]               s_index,
    input  wire [((VALUE_WIDTH > 0) ? VALUE_WIDTH : 1)-1:0] s_value,
    input  wire                                    s_eot,

    /*
     * Row updates: add field j of upd_weight to the neuron at bank address upd_addr of
     * lane j, for every lane j
     */
    output wire                                    upd_valid,
    input  wire                                    upd_ready,
    output wire [ADDR_WIDTH-1:0]                   upd_addr,
    output wire [LANES*U_WIDTH-1:0]                upd_weight,

    /*
     * Sweep request (master): every update of the timestep has been delivered
     */
    output wire                                    sweep_valid,
    input  wire                                    sweep_ready,

    /*
     * Status
     */
    output wire                                    busy
);

// guarded copies: a bad value must reach the checks below, not divide by zero first
localparam LANES_S = (LANES > 0) ? LANES : 1;
localparam H_S = (H > 0) ? H : 1;
localparam W_S = (W > 0) ? W : 1;
localparam SH_S = (SH > 0) ? SH : 1;
localparam SW_S = (SW > 0) ? SW : 1;
localparam OH_S = (OH > 0) ? OH : 1;
localparam OW_S = (OW > 0) ? OW : 1;

// target neurons, ROM words
localparam NOUT = COUT * OH * OW;
// channel groups, bank rows in use, members of the last group
localparam NG = (COUT + LANES_S - 1) / LANES_S;
localparam ROWS = NG * OH * OW;
localparam ROM_DEPTH = NG * CIN * KH * KW;
// bank address width (at least 1)
localparam NW = ($clog2(ROWS) > 0) ? $clog2(ROWS) : 1;
// ROM address width (at least 1) and array size (at least 2)
localparam RAW = ($clog2(ROM_DEPTH) > 0) ? $clog2(ROM_DEPTH) : 1;
localparam MEM_DEPTH = (ROM_DEPTH > 1) ? ROM_DEPTH : 2;
// field widths (at least 1)
localparam CIW = ($clog2(CIN) > 0) ? $clog2(CIN) : 1;
localparam HW_ = ($clog2(H) > 0) ? $clog2(H) : 1;
localparam WW_ = ($clog2(W) > 0) ? $clog2(W) : 1;
localparam YW = ($clog2(OH) > 0) ? $clog2(OH) : 1;
localparam XW = ($clog2(OW) > 0) ? $clog2(OW) : 1;
localparam KHW = ($clog2(KH) > 0) ? $clog2(KH) : 1;
localparam KWW = ($clog2(KW) > 0) ? $clog2(KW) : 1;
localparam GW = ($clog2(NG) > 0) ? $clog2(NG) : 1;
localparam VW1 = (VALUE_WIDTH > 0) ? VALUE_WIDTH : 1;
// the decode: index bits in use (NIW), plane H*W and its remainder width, quotient bits that
// can be non-zero (c < CIN: QC bits, h < H: QH bits; 0 when CIN resp. H is 1)
localparam NIW = ($clog2(CIN * H * W) > 0) ? $clog2(CIN * H * W) : 1;
localparam PLANE_I = H_S * W_S;
localparam PLW = ($clog2(PLANE_I) > 0) ? $clog2(PLANE_I) : 1;
localparam QC = $clog2(CIN);
localparam QH = $clog2(H);
// a power-of-two divisor is a bit slice
localparam PLANE_POW2 = (PLANE_I & (PLANE_I - 1)) == 0;
localparam W_POW2 = (W_S & (W_S - 1)) == 0;
// the update width this configuration produces (checked against U_WIDTH)
localparam UW = W_WIDTH + VALUE_WIDTH;
localparam WORD = LANES * W_WIDTH;

// constants of the sequencer, modulo 2^RAW / 2^NW (every result it uses is in range)
localparam integer STEP_XA_I = SW_S;              // ROM address: next column (x - 1, kw + SW)
localparam integer STEP_YA_I = SH_S * KW;         // next (lower) row: kh + SH
localparam integer STEP_GA_I = CIN * KH * KW;     // next channel group
localparam integer STEP_YB_I = OW;                // bank address: one row up
localparam integer STEP_GB_I = OH * OW;           // next channel group
localparam integer NG_M1_I = NG - 1;
localparam [RAW-1:0] STEP_XA = STEP_XA_I[RAW-1:0];
localparam [RAW-1:0] STEP_YA = STEP_YA_I[RAW-1:0];
localparam [RAW-1:0] STEP_GA = STEP_GA_I[RAW-1:0];
localparam [NW-1:0] STEP_YB = STEP_YB_I[NW-1:0];
localparam [NW-1:0] STEP_GB = STEP_GB_I[NW-1:0];
localparam [GW-1:0] NG_M1 = NG_M1_I[GW-1:0];

// check configuration: an unknown module name makes elaboration fail with this message
generate
    if (LANES < 1 || (LANES & (LANES - 1)) != 0) begin : g_bad_lanes
        snn_router_ERROR_LANES_must_be_a_power_of_two bad_lanes();
    end
    if (CIN < 1 || H < 1 || W < 1 || COUT < 1 || OH < 1 || OW < 1 || KH < 1 || KW < 1
        || SH < 1 || SW < 1) begin : g_bad_size
        snn_router_ERROR_CIN_H_W_COUT_OH_OW_KH_KW_SH_SW_must_be_positive bad_size();
    end
    if (PH < 0 || PW < 0) begin : g_bad_pad
        snn_router_ERROR_PH_PW_must_be_non_negative bad_pad();
    end
    if (KH > H + 2 * PH || KW > W + 2 * PW) begin : g_bad_kernel
        snn_router_ERROR_kernel_must_fit_the_padded_input bad_kernel();
    end
    if (OH != (H + 2 * PH - KH) / SH_S + 1) begin : g_bad_oh
        snn_router_ERROR_OH_must_be_H_plus_2PH_minus_KH_over_SH_plus_1 bad_oh();
    end
    if (OW != (W + 2 * PW - KW) / SW_S + 1) begin : g_bad_ow
        snn_router_ERROR_OW_must_be_W_plus_2PW_minus_KW_over_SW_plus_1 bad_ow();
    end
    if (CIN * H * W >= (1 << 30) || NOUT >= (1 << 30) || ROM_DEPTH >= (1 << 30)
        || H + PH + SH >= (1 << 30) || W + PW + SW >= (1 << 30)) begin : g_bad_big
        snn_router_ERROR_sizes_must_be_below_2_to_the_30 bad_big();
    end
    if (W_WIDTH < 1 || W_WIDTH > 32) begin : g_bad_w_width
        snn_router_ERROR_W_WIDTH_must_be_1_to_32 bad_w_width();
    end
    if (VALUE_WIDTH < 0 || VALUE_WIDTH > 32) begin : g_bad_value_width
        snn_router_ERROR_VALUE_WIDTH_must_be_0_to_32 bad_value_width();
    end
    if (U_WIDTH != UW) begin : g_bad_u_width
        snn_router_ERROR_U_WIDTH_must_be_W_WIDTH_plus_VALUE_WIDTH bad_u_width();
    end
    if (IN_INDEX_WIDTH < $clog2(CIN * H * W) || IN_INDEX_WIDTH < 1 || IN_INDEX_WIDTH > 30)
    begin : g_bad_index_width
        snn_router_ERROR_IN_INDEX_WIDTH_must_be_clog2_CIN_H_W_to_30 bad_index_width();
    end
    if (ADDR_WIDTH < 1 || ADDR_WIDTH > 30
        || ADDR_WIDTH < $clog2(ROWS)) begin : g_bad_addr_width
        snn_router_ERROR_ADDR_WIDTH_too_small_for_the_bank_rows bad_addr_width();
    end
    if (WEIGHT_FILE == "") begin : g_no_file
        snn_router_ERROR_WEIGHT_FILE_must_name_a_mem_file no_file();
    end
endgenerate

/*
 * pipeline control
 */

// the sweep request in flight: set when an EOT is accepted, cleared at the sweep handshake
reg eot_block_reg;

reg i_valid_reg;
reg dc_valid_reg;
reg d1_valid_reg;
reg d2_valid_reg;
reg n_valid_reg;
reg q_valid_reg;

// O stage: an update to transfer, EOT slot (sweep request)
reg o_pend_reg;
reg o_eot_reg;

// stall: the update is not taken, or the sweep request waits
wire upd_stall = o_pend_reg && !upd_ready;
wire adv = !upd_stall && !(o_eot_reg && !sweep_ready);
wire sweep_fire = o_eot_reg && sweep_ready;

// Q: its item is done after this slot (a register, computed when Q loads or steps)
reg q_last_reg;
wire q_take = adv && (!q_valid_reg || q_last_reg);  // Q takes N's item (if any) at this edge
wire q_step = adv && q_valid_reg && !q_last_reg;    // Q moves to the next group of its event

// the elastic queue I -> DC -> D1 -> D2 -> N: a stage takes new content when empty or handing
// on now, i.e. when it or a stage after it is empty or Q takes N. "Stage k and every stage
// after it hold an item" is kept in a register per stage (*_full_reg, always equal to the AND
// of those valid registers), so that q_take is one gate from every ready: written as a
// function of the valid registers, synthesis rebuilds the chain through the stages.
reg n_full_reg;
reg d2_full_reg;
reg d1_full_reg;
reg dc_full_reg;
reg i_full_reg;
wire n_full = n_full_reg;
wire d2_full = d2_full_reg;
wire d1_full = d1_full_reg;
wire dc_full = dc_full_reg;
wire i_full = i_full_reg;
wire n_ready = !n_full || q_take;
wire d2_ready = !d2_full || q_take;
wire d1_ready = !d1_full || q_take;
wire dc_ready = !dc_full || q_take;
wire i_ready = !i_full || q_take;

assign s_ready = i_ready && !eot_block_reg;
wire s_fire = s_valid && s_ready;

// the valid registers after this edge
wire i_valid_next = i_ready ? s_fire : i_valid_reg;
wire dc_valid_next = dc_ready ? i_valid_reg : dc_valid_reg;
wire d1_valid_next = d1_ready ? dc_valid_reg : d1_valid_reg;
wire d2_valid_next = d2_ready ? d1_valid_reg : d2_valid_reg;
wire n_valid_next = n_ready ? d2_valid_reg : n_valid_reg;

always @(posedge clk) begin
    if (rst) begin
        eot_block_reg <= 1'b0;
        i_valid_reg <= 1'b0;
        dc_valid_reg <= 1'b0;
        d1_valid_reg <= 1'b0;
        d2_valid_reg <= 1'b0;
        n_valid_reg <= 1'b0;
        q_valid_reg <= 1'b0;
        n_full_reg <= 1'b0;
        d2_full_reg <= 1'b0;
        d1_full_reg <= 1'b0;
        dc_full_reg <= 1'b0;
        i_full_reg <= 1'b0;
    end else begin
        n_full_reg <= n_valid_next;
        d2_full_reg <= d2_valid_next && n_valid_next;
        d1_full_reg <= d1_valid_next && d2_valid_next && n_valid_next;
        dc_full_reg <= dc_valid_next && d1_valid_next && d2_valid_next && n_valid_next;
        i_full_reg <= i_valid_next && dc_valid_next && d1_valid_next && d2_valid_next
                      && n_valid_next;
        if (s_fire && s_eot) begin
            eot_block_reg <= 1'b1;
        end else if (sweep_fire) begin
            eot_block_reg <= 1'b0;
        end
        if (i_ready) begin
            i_valid_reg <= s_fire;
        end
        if (dc_ready) begin
            dc_valid_reg <= i_valid_reg;
        end
        if (d1_ready) begin
            d1_valid_reg <= dc_valid_reg;
        end
        if (d2_ready) begin
            d2_valid_reg <= d1_valid_reg;
        end
        if (n_ready) begin
            n_valid_reg <= d2_valid_reg;
        end
        if (q_take) begin
            q_valid_reg <= n_valid_reg;
        end
    end
end

/*
 * The index decoding's division by a constant (DC: by H*W, D1: by W), where the divisor is not a
 * power of two: {n % d, n / d} (remainder in bits NIW and up, quotient in the low bits) by a
 * restoring division over the qbits quotient bits that can be non-zero (exact for n < d * 2^qbits),
 * one NIW+1-bit subtraction per bit: step i finds bit k = qbits-1-i with r (the remainder so
 * far, < d*2^(k+1)): bit k = (r >= d*2^k), then r - d*2^k if set. No runtime divider.
 */
function [2*NIW-1:0] divmod;
    input [NIW-1:0] n;
    input [NIW:0] d;
    input integer qbits;
    reg [NIW-1:0] r;
    reg [NIW-1:0] q;
    reg [NIW:0] t;
    reg [NIW:0] diff;
    integer k;
    begin
        r = n;
        q = {NIW{1'b0}};
        for (k = NIW - 1; k >= 0; k = k - 1) begin
            if (k < qbits) begin
                // d*2^k <= d*2^(qbits-1) < the dividend bound (CIN*H*W or H*W) <= 2^NIW
                t = d << k;
                diff = {1'b0, r} - t;
                q[k] = !diff[NIW];
                if (!diff[NIW]) begin
                    r = diff[NIW-1:0];
                end
            end
        end
        divmod = {r, q};
    end
endfunction

/*
 * I: the accepted event, registered before any decoding (the index bits in use)
 */
reg i_eot_reg;
reg [VW1-1:0] i_val_reg;
reg [NIW-1:0] i_idx_reg;

always @(posedge clk) begin
    if (i_ready) begin
        i_eot_reg <= s_eot;
        i_val_reg <= s_value;
        i_idx_reg <= s_index[NIW-1:0];
    end
end

generate
    if (IN_INDEX_WIDTH > NIW) begin : g_index_wide
        // the bits above NIW are 0 for every index < CIN*H*W
        wire unused_index_high = |s_index[IN_INDEX_WIDTH-1:NIW];
    end
endgenerate

/*
 * DC: the channel c = index / (H*W) (QC quotient bits) and the remainder index % (H*W): a bit
 * slice when H*W is a power of two, else a restoring division over the QC quotient bits only,
 * one NIW+1-bit subtraction per bit (exact for every index < CIN*H*W < 2^QC * H*W)
 */
wire [CIW-1:0] dc_c;
wire [PLW-1:0] dc_rem;

generate
    if (PLANE_POW2) begin : g_c_slice
        localparam LOGP = $clog2(PLANE_I);
        // NIW = QC + LOGP when CIN*H*W >= 2
        if (QC > 0) begin : g_c
            assign dc_c = i_idx_reg[NIW-1:LOGP];
        end else begin : g_c0
            assign dc_c = {CIW{1'b0}};
        end
        if (LOGP > 0) begin : g_rem
            assign dc_rem = i_idx_reg[LOGP-1:0];
        end else if (QC == 0) begin : g_rem_idx
            // CIN*H*W = 1: the only index, 0, is the remainder (NIW = PLW = 1)
            assign dc_rem = i_idx_reg;
        end else begin : g_rem0
            assign dc_rem = {PLW{1'b0}};
        end
    end else begin : g_c_div
        // QC quotient bits in the low bits, the remainder (< H*W <= 2^PLW) above them
        localparam [NIW:0] D = PLANE_I[NIW:0];  // H*W < 2^NIW (not a power of two)
        wire [2*NIW-1:0] qr = divmod(i_idx_reg, D, QC);
        assign dc_c = qr[CIW-1:0];  // CIW = QC (or 1, with a 0, when QC = 0)
        assign dc_rem = qr[NIW +: PLW];
        // the bits above the quotient and the remainder are 0
        wire unused_qr = ^qr;
    end
endgenerate

reg dc_eot_reg;
reg [VW1-1:0] dc_val_reg;
reg [CIW-1:0] dc_c_reg;
reg [PLW-1:0] dc_rem_reg;

always @(posedge clk) begin
    if (dc_ready) begin
        dc_eot_reg <= i_eot_reg;
        dc_val_reg <= i_val_reg;
        dc_c_reg <= dc_c;
        dc_rem_reg <= dc_rem;
    end
end

/*
 * D1: the row h = rem / W (QH quotient bits) and column w = rem % W of the remainder, the same
 * way (a slice when W is a power of two, else a restoring division over the QH bits)
 */
wire [HW_-1:0] d1_h;
wire [WW_-1:0] d1_w;

generate
    if (W_POW2) begin : g_h_slice
        localparam LOGW = $clog2(W_S);
        // PLW = QH + LOGW when H*W >= 2
        if (QH > 0) begin : g_h
            assign d1_h = dc_rem_reg[PLW-1:LOGW];
        end else begin : g_h0
            assign d1_h = {HW_{1'b0}};
        end
        if (LOGW > 0) begin : g_w
            assign d1_w = dc_rem_reg[LOGW-1:0];
        end else if (QH == 0) begin : g_w_rem
            // H*W = 1: the remainder, 0, is the column (PLW = WW_ = 1)
            assign d1_w = dc_rem_reg;
        end else begin : g_w0
            assign d1_w = {WW_{1'b0}};
        end
    end else begin : g_h_div
        // the remainder widened to the divider's NIW bits (PLW <= NIW)
        wire [NIW-1:0] rem_n;
        if (NIW > PLW) begin : g_widen
            assign rem_n = {{(NIW-PLW){1'b0}}, dc_rem_reg};
        end else begin : g_same
            assign rem_n = dc_rem_reg;
        end
        // QH quotient bits in the low bits, the remainder (< W <= 2^WW_) above them
        localparam [NIW:0] D = W_S[NIW:0];  // W < 2^NIW (not a power of two)
        wire [2*NIW-1:0] qr = divmod(rem_n, D, QH);
        assign d1_h = qr[HW_-1:0];  // HW_ = QH (or 1, with a 0, when QH = 0)
        assign d1_w = qr[NIW +: WW_];
        // the bits above the quotient and the remainder are 0
        wire unused_qr = ^qr;
    end
endgenerate

reg d1_eot_reg;
reg [VW1-1:0] d1_val_reg;
reg [CIW-1:0] d1_c_reg;
reg [HW_-1:0] d1_h_reg;
reg [WW_-1:0] d1_w_reg;

always @(posedge clk) begin
    if (d1_ready) begin
        d1_eot_reg <= dc_eot_reg;
        d1_val_reg <= dc_val_reg;
        d1_c_reg <= dc_c_reg;
        d1_h_reg <= d1_h;
        d1_w_reg <= d1_w;
    end
end

/*
 * D2: the valid output rows y_lo .. y_hi and columns x_lo .. x_hi of the event, and the
 * kernel position (kh0, kw0) of the first target (y_hi, x_hi)
 */
wire [31:0] hp = {{(32-HW_){1'b0}}, d1_h_reg} + PH;
wire [31:0] wp = {{(32-WW_){1'b0}}, d1_w_reg} + PW;
wire [31:0] yh_raw = hp / SH_S;
wire [31:0] xh_raw = wp / SW_S;
wire [31:0] y_hi = (yh_raw > OH_S - 1) ? OH_S - 1 : yh_raw;
wire [31:0] x_hi = (xh_raw > OW_S - 1) ? OW_S - 1 : xh_raw;
// lowest target: ceil((hp - KH + 1) / SH), or 0
wire [31:0] y_lo = (hp + 1 >= KH) ? (hp + SH_S - KH) / SH_S : 32'd0;
wire [31:0] x_lo = (wp + 1 >= KW) ? (wp + SW_S - KW) / SW_S : 32'd0;
wire [31:0] cnty_m1 = y_hi - y_lo;
wire [31:0] cntx_m1 = x_hi - x_lo;
wire [31:0] kh0 = hp - y_hi * SH_S;
wire [31:0] kw0 = wp - x_hi * SW_S;
// the channel's first ROM word (group 0), so that N only adds the kernel position
wire [31:0] cbase = {{(32-CIW){1'b0}}, d1_c_reg} * (KH * KW);

reg d2_eot_reg;
reg d2_empty_reg;
reg [VW1-1:0] d2_val_reg;
reg [RAW-1:0] d2_cbase_reg;
reg [YW-1:0] d2_yhi_reg;
reg [YW-1:0] d2_cnty_m1_reg;
reg [XW-1:0] d2_xhi_reg;
reg [XW-1:0] d2_cntx_m1_reg;
reg [KHW-1:0] d2_kh0_reg;
reg [KWW-1:0] d2_kw0_reg;

always @(posedge clk) begin
    if (d2_ready) begin
        d2_eot_reg <= d1_eot_reg;
        d2_empty_reg <= (y_lo > y_hi) || (x_lo > x_hi);
        d2_val_reg <= d1_val_reg;
        d2_cbase_reg <= cbase[RAW-1:0];
        d2_yhi_reg <= y_hi[YW-1:0];
        d2_cnty_m1_reg <= cnty_m1[YW-1:0];
        d2_xhi_reg <= x_hi[XW-1:0];
        d2_cntx_m1_reg <= cntx_m1[XW-1:0];
        d2_kh0_reg <= kh0[KHW-1:0];
        d2_kw0_reg <= kw0[KWW-1:0];
    end
end

/*
 * N: the prefetched next event: its first ROM word (g = 0, c, kh0, kw0), first bank address
 * (g = 0, y_hi, x_hi), row and column counts
 */
wire [31:0] addr0 = {{(32-RAW){1'b0}}, d2_cbase_reg} + {{(32-KHW){1'b0}}, d2_kh0_reg} * KW
                    + {{(32-KWW){1'b0}}, d2_kw0_reg};
wire [31:0] base0 = {{(32-YW){1'b0}}, d2_yhi_reg} * OW + {{(32-XW){1'b0}}, d2_xhi_reg};

reg n_eot_reg;
reg n_empty_reg;
reg [VW1-1:0] n_val_reg;
reg [RAW-1:0] n_addr_reg;
reg [NW-1:0] n_base_reg;
reg [XW-1:0] n_cntx_m1_reg;
reg [YW-1:0] n_cnty_m1_reg;

always @(posedge clk) begin
    if (n_ready) begin
        n_eot_reg <= d2_eot_reg;
        n_empty_reg <= d2_empty_reg;
        n_val_reg <= d2_val_reg;
        n_addr_reg <= addr0[RAW-1:0];
        n_base_reg <= base0[NW-1:0];
        n_cntx_m1_reg <= d2_cntx_m1_reg;
        n_cnty_m1_reg <= d2_cnty_m1_reg;
    end
end

// the high bits of the 32-bit decode arithmetic are 0 for every event that reaches a neuron
// (the counts of an event that reaches none are never used)
wire unused_decode_high = |{cbase[31:RAW], y_hi[31:YW], x_hi[31:XW],
                            cnty_m1[31:YW], cntx_m1[31:XW], kh0[31:KHW], kw0[31:KWW],
                            addr0[31:RAW], base0[31:NW]};

/*
 * Q: the sequencer. For its event it walks the channel groups, y (down), x (down); the *_row
 * and *_g registers hold the first slot of the current row and channel group.
 */
reg q_eot_reg;
reg q_empty_reg;
reg [XW-1:0] q_xleft_reg;
reg [YW-1:0] q_yleft_reg;
reg [GW-1:0] q_gleft_reg;
reg [VW1-1:0] q_val_reg;
reg [RAW-1:0] q_addr_reg;
reg [RAW-1:0] q_addr_row_reg;
reg [RAW-1:0] q_addr_g_reg;
reg [NW-1:0] q_base_reg;
reg [NW-1:0] q_base_row_reg;
reg [NW-1:0] q_base_g_reg;
reg [XW-1:0] q_cntx_m1_reg;
reg [YW-1:0] q_cnty_m1_reg;

// the current slot is an update (not the empty slot of an event without targets, nor the EOT)
wire q_upd = !q_eot_reg && !q_empty_reg;

wire [RAW-1:0] next_addr_g = q_addr_g_reg + STEP_GA;
wire [RAW-1:0] next_addr_row = q_addr_row_reg + STEP_YA;
wire [NW-1:0] next_base_g = q_base_g_reg + STEP_GB;
wire [NW-1:0] next_base_row = q_base_row_reg - STEP_YB;

// q_last_reg one cycle ahead: N's item is done after its first slot, or the slot after this
// one is the event's last (xleft, yleft, gleft all 0 after the step)
localparam integer ONE_I = 1;
localparam [GW-1:0] G_ONE = ONE_I[GW-1:0];
localparam [XW-1:0] X_ONE = ONE_I[XW-1:0];
localparam [YW-1:0] Y_ONE = ONE_I[YW-1:0];
wire n_last = n_eot_reg || n_empty_reg
              || (n_cntx_m1_reg == {XW{1'b0}} && n_cnty_m1_reg == {YW{1'b0}}
                  && NG_M1 == {GW{1'b0}});
wire q_last_x = q_xleft_reg == X_ONE && q_yleft_reg == {YW{1'b0}}
                && q_gleft_reg == {GW{1'b0}};
wire q_last_y = q_cntx_m1_reg == {XW{1'b0}} && q_yleft_reg == Y_ONE
                && q_gleft_reg == {GW{1'b0}};
wire q_last_g = q_cntx_m1_reg == {XW{1'b0}} && q_cnty_m1_reg == {YW{1'b0}}
                && q_gleft_reg == G_ONE;

always @(posedge clk) begin
    if (q_take) begin
        q_eot_reg <= n_eot_reg;
        q_empty_reg <= n_empty_reg;
        q_val_reg <= n_val_reg;
        q_addr_reg <= n_addr_reg;
        q_addr_row_reg <= n_addr_reg;
        q_addr_g_reg <= n_addr_reg;
        q_base_reg <= n_base_reg;
        q_base_row_reg <= n_base_reg;
        q_base_g_reg <= n_base_reg;
        q_cntx_m1_reg <= n_cntx_m1_reg;
        q_cnty_m1_reg <= n_cnty_m1_reg;
        q_xleft_reg <= n_cntx_m1_reg;
        q_yleft_reg <= n_cnty_m1_reg;
        q_gleft_reg <= NG_M1;
        q_last_reg <= n_last;
    end else if (q_step) begin
        if (q_xleft_reg != {XW{1'b0}}) begin
            // next column of the row (x - 1, kw + SW)
            q_last_reg <= q_last_x;
            q_xleft_reg <= q_xleft_reg - 1'b1;
            q_addr_reg <= q_addr_reg + STEP_XA;
            q_base_reg <= q_base_reg - 1'b1;
        end else if (q_yleft_reg != {YW{1'b0}}) begin
            // next row (y - 1, kh + SH)
            q_last_reg <= q_last_y;
            q_xleft_reg <= q_cntx_m1_reg;
            q_yleft_reg <= q_yleft_reg - 1'b1;
            q_addr_reg <= next_addr_row;
            q_addr_row_reg <= next_addr_row;
            q_base_reg <= next_base_row;
            q_base_row_reg <= next_base_row;
        end else begin
            // next channel group
            q_last_reg <= q_last_g;
            q_xleft_reg <= q_cntx_m1_reg;
            q_yleft_reg <= q_cnty_m1_reg;
            q_gleft_reg <= q_gleft_reg - 1'b1;
            q_addr_reg <= next_addr_g;
            q_addr_row_reg <= next_addr_g;
            q_addr_g_reg <= next_addr_g;
            q_base_reg <= next_base_g;
            q_base_row_reg <= next_base_g;
            q_base_g_reg <= next_base_g;
        end
    end
end

/*
 * R: the weight ROM read, and the slot's target and member count
 */
reg [WORD-1:0] wmem [0:MEM_DEPTH-1];
reg [WORD-1:0] rom_q;

initial begin
    $readmemh(WEIGHT_FILE, wmem, 0, ROM_DEPTH - 1);
end

always @(posedge clk) begin
    if (adv && q_valid_reg) begin
        rom_q <= wmem[q_addr_reg];
    end
end

reg r_upd_reg;
reg r_eot_reg;
reg [NW-1:0] r_base_reg;
reg [VW1-1:0] r_val_reg;

always @(posedge clk) begin
    if (rst) begin
        r_upd_reg <= 1'b0;
        r_eot_reg <= 1'b0;
    end else if (adv) begin
        r_upd_reg <= q_valid_reg && q_upd;
        r_eot_reg <= q_valid_reg && q_eot_reg;
    end
end

always @(posedge clk) begin
    if (adv) begin
        r_base_reg <= q_base_reg;
        r_val_reg <= q_val_reg;
    end
end

/*
 * P: the ROM word registered once more, so that the block-RAM output (with the multiplexer
 * over the RAMs of a large ROM) and the product with the value are in different cycles
 */
reg [WORD-1:0] p_rom_q;
reg p_upd_reg;
reg p_eot_reg;
reg [NW-1:0] p_base_reg;
reg [VW1-1:0] p_val_reg;

always @(posedge clk) begin
    if (rst) begin
        p_upd_reg <= 1'b0;
        p_eot_reg <= 1'b0;
    end else if (adv) begin
        p_upd_reg <= r_upd_reg;
        p_eot_reg <= r_eot_reg;
    end
end

always @(posedge clk) begin
    if (adv) begin
        p_rom_q <= rom_q;
        p_base_reg <= r_base_reg;
        p_val_reg <= r_val_reg;
    end
end

/*
 * O: the slot's row update: its bank address and, per lane j, field j of the ROM word (times the
 * value; 0 for a lane past COUT, whose ROM field is 0)
 */
wire [ADDR_WIDTH-1:0] r_addr;

generate
    if (ADDR_WIDTH > NW) begin : g_addr_wide
        assign r_addr = {{(ADDR_WIDTH-NW){1'b0}}, p_base_reg};
    end else begin : g_addr_same
        // ADDR_WIDTH >= clog2(ROWS) (checked), so ADDR_WIDTH == NW here
        assign r_addr = p_base_reg;
    end
endgenerate

reg [ADDR_WIDTH-1:0] o_addr_reg;
reg [LANES*U_WIDTH-1:0] o_w_reg;

genvar j;
generate
    for (j = 0; j < LANES; j = j + 1) begin : g_lane
        wire [W_WIDTH-1:0] wf = p_rom_q[j*W_WIDTH +: W_WIDTH];  // this lane's weight
        wire [UW-1:0] u;                                      // its update

        if (VALUE_WIDTH > 0) begin : g_value
            // exact signed product in UW + 1 bits; its top bit is a sign copy
            wire signed [UW:0] wx = {{(VALUE_WIDTH+1){wf[W_WIDTH-1]}}, wf};
            wire signed [UW:0] vx = {{(W_WIDTH+1){1'b0}}, p_val_reg};
            wire signed [UW:0] prod = wx * vx;
            assign u = prod[UW-1:0];
            wire unused_prod_top = prod[UW];
        end else begin : g_spike
            assign u = wf;
        end

        always @(posedge clk) begin
            if (adv) begin
                o_w_reg[j*U_WIDTH +: U_WIDTH] <= u;
            end
        end
    end

    if (VALUE_WIDTH == 0) begin : g_no_value
        // spike events: the 1-bit value port and its pipeline copies are ignored
        wire unused_value = p_val_reg[0];
    end
endgenerate

always @(posedge clk) begin
    if (adv) begin
        o_addr_reg <= r_addr;
    end
end

always @(posedge clk) begin
    if (rst) begin
        o_pend_reg <= 1'b0;
        o_eot_reg <= 1'b0;
    end else if (adv) begin
        o_pend_reg <= p_upd_reg;
        o_eot_reg <= p_eot_reg;
    end
end

assign upd_valid = o_pend_reg;
assign upd_addr = o_addr_reg;
assign upd_weight = o_w_reg;
assign sweep_valid = o_eot_reg;
assign busy = eot_block_reg || i_valid_reg || dc_valid_reg || d1_valid_reg || d2_valid_reg
              || n_valid_reg || q_valid_reg || r_eot_reg || r_upd_reg || p_eot_reg
              || p_upd_reg || o_eot_reg || o_pend_reg;

endmodule

`resetall
