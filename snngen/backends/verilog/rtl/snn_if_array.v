/*
 * snn_if_array: one population (layer) of N integrate-and-fire neurons, docs/semantics.md §3.
 *
 * Storage
 *   - The membranes live in LANES RAM banks that split the channels: the population is
 *     CH = N / PLANE channels of PLANE neurons (neuron n = ch*PLANE + p; PLANE = OH*OW of a
 *     convolution's output, 1 for a dense layer), channel ch is in bank ch % LANES, neuron n at
 *     address (ch / LANES)*PLANE + p (snngen.hwmodel.blocks.banks; the spike router issues the
 *     LANES channels of one position at one address). The banks are the LANES V_WIDTH-bit
 *     fields of one memory of DEPTH = DEPTH_USED = ceil(CH/LANES)*PLANE rows (at least 2):
 *     field j of row r is the membrane at address r of bank j. It is a plain `reg mem` of
 *     LANES*V_WIDTH-bit words with one synchronous write port (whole rows) and one synchronous
 *     read port with enable (read register rd_q), i.e. an inferable simple dual-port RAM that
 *     Yosys packs into as few block RAMs as its LANES*V_WIDTH x DEPTH bits allow (one memory per
 *     lane would take at least one block RAM per lane).
 *   - The constant currents K (bias, or for the first layer bias + the once-per-image analog
 *     current) live in one more simple dual-port RAM of DEPTH_USED rows of LANES K_WIDTH-bit
 *     fields, laid out as the banks (field j of row r: the K of the neuron at address r of
 *     bank j, 0 where there is none), loaded from K_INIT_FILE by $readmemh (format:
 *     snngen.backends.verilog.memfile.write_mem, LANES*K_WIDTH-bit words of two's complement
 *     fields, written by snngen.hwmodel.blocks.banks.k_rows) and overwritten one row at a
 *     time through k_wr_*.
 *
 * Contract (every stream: a transfer is a rising edge with valid && ready; every valid is a
 * register or a function of registers and never depends on any ready)
 *   - Reset: rst is synchronous, active high. It makes the array idle (busy = 0, m_valid = 0,
 *     no update in flight) but does NOT touch the membranes nor K: clear before the first image.
 *     K keeps its k_wr_* writes across rst (it is only loaded from K_INIT_FILE at start).
 *   - Idle (busy = 0): clear_ready = 1; sweep_ready = !clear_valid; upd_ready =
 *     !clear_valid && !sweep_valid (a clear wins over a sweep, both over updates; these readies
 *     depend on the other streams' valids only, never on a ready). Not idle: all readies 0.
 *   - Clear: accepted at edge e, writes V0 to bank address a of every bank at edge e + 1 + a,
 *     a = 0 .. DEPTH_USED - 1 (DEPTH_USED = ceil(CH/LANES)*PLANE); the array is idle again
 *     right after edge e + DEPTH_USED: a clear takes exactly DEPTH_USED cycles. K is not changed.
 *   - Update (a whole row, while idle): accepted at edge e, it reads row upd_addr at e and
 *     writes it back at edge e + 1 with field j of upd_weight (signed W_WIDTH) added to lane
 *     j's membrane, modulo 2^V_WIDTH (exact whenever the true membrane fits V_WIDTH, §7), for
 *     every lane at once (update latency 1: the RAM holds the new row after e + 1). The read
 *     at e misses only the write made at the same edge e, which is forwarded, so updates of
 *     the same row on consecutive cycles (or any spacing) are exact; one row update per cycle.
 *     A lane that has nothing to add gets a 0 field; a lane that holds no neuron in that row
 *     (the last channel group) must get 0 (the router's ROM holds 0 there; its word is never
 *     read out).
 *   - k_wr_en: K row k_wr_row <= k_wr_data (field j: the neuron at that row of bank j) at
 *     the edge, honoured only while idle (ignored while busy). A K write at the edge a sweep is
 *     accepted is seen by that sweep.
 *   - Sweep: accepted at edge e (while idle). It first lets the update pipelines drain (the
 *     last update, accepted at e - 1 at the latest, writes at e), then processes the bank rows
 *     r = 0 .. DEPTH_USED - 1 in ascending order, one row (every lane: LANES neurons) per
 *     advance, in a pipeline of row read (banks + K row), the arithmetic of every lane with
 *     its write-back, and a spike buffer:
 *         v = v + K[n]
 *         if SPIKING && v >= THRESHOLD: spike, v = v - THRESHOLD
 *         if HAS_VMIN: v = max(v, VMIN)
 *     i.e. golden if_update(v, K, THRESHOLD, VMIN or None, SPIKING) after the timestep's
 *     updates. Every spiking neuron emits one event (m_index = n, m_eot = 0), in the order of
 *     its (row, lane) (snngen.hwmodel.blocks.banks.emission_order: for a dense layer, PLANE =
 *     1, ascending n); after the last row one event with m_eot = 1 and m_index = 0 ends the
 *     timestep. The spike buffer takes a row's spikes and hands them to the output register
 *     one per cycle, lowest lane first; the row pipeline advances in the cycles in which the
 *     buffer is empty afterwards (it holds at most one spike, which moves on) and the output
 *     register is free, !(m_valid && !m_ready). In a stall cycle nothing moves, nothing is
 *     lost.
 *   - Sweep timing (exact): with the sweep accepted at edge e, the EOT event transfers at
 *     edge e + sum_r max(1, s_r) + 4 + S, s_r the spikes of row r, S the cycles after e, up
 *     to the EOT transfer, in which m_valid is high and m_ready low: every row takes one
 *     cycle, or one per spike. busy is high from the edge after e up to and including the
 *     cycle of the EOT transfer; the array is idle right after that edge.
 *   - Debug read (tests, while idle): dbg_rd_en with dbg_rd_index at edge e puts the
 *     membrane of that neuron on dbg_rd_data after e (held until the read port is used
 *     again: a debug read, an update or a sweep). It uses the memory's read port: do not
 *     issue it in a cycle where an update is accepted, nor in the cycle right after an update
 *     of the same row was accepted (the write-back lands at that edge). Undefined while busy.
 *
 * Written for block RAM inference (plain `reg mem` arrays, one write port and one registered
 * read port with enable each, no reset, muxed addresses); checked with `snngen synth` (Yosys +
 * nextpnr on iCE40 and ECP5, docs/benchmarks.md "Hardware: synthesis"): large membrane banks
 * and K RAMs become block RAM, small ones LUT RAM (ECP5) or logic.
 *
 * Verilog-2005, `default_nettype none.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module snn_if_array #
(
    // Number of neurons in the population (>= 2)
    parameter N = 16,
    // Number of RAM banks / update lanes: a power of two (1, 2, 4, ...)
    parameter LANES = 1,
    // Neurons per channel (>= 1, divides N): the banks split the N / PLANE channels
    parameter PLANE = 1,
    // Width of a signed synaptic weight on upd_weight (1 .. V_WIDTH)
    parameter W_WIDTH = 8,
    // Width of a signed membrane (2 .. 32)
    parameter V_WIDTH = 16,
    // Width of a signed constant current K (1 .. 32)
    parameter K_WIDTH = 16,
    // Firing threshold (>= 1 and representable in V_WIDTH signed bits)
    parameter THRESHOLD = 100,
    // Membrane value written by a clear (signed, fits V_WIDTH)
    parameter V0 = 0,
    // 1: clamp the membrane to VMIN after the update; 0: no clamp
    parameter HAS_VMIN = 0,
    // The clamp value (signed, fits V_WIDTH; ignored unless HAS_VMIN)
    parameter VMIN = 0,
    // 1: a spiking population; 0: a membrane-readout population that never fires
    parameter SPIKING = 1,
    // Path of the .mem file holding the N signed K_WIDTH-bit constant currents; required
    parameter K_INIT_FILE = "",
    // Width of neuron indices (m_index, dbg_rd_index); >= $clog2(N), <= 32
    parameter INDEX_WIDTH = $clog2(N),
    // Width of a bank address (upd_addr); >= $clog2(ceil(N/PLANE/LANES)*PLANE) and >= 1 (the
    // default; the guards only keep bad values from dividing by zero before the checks below)
    parameter ADDR_WIDTH = ($clog2(((N / ((PLANE > 0) ? PLANE : 1)) + LANES - 1)
                                   / ((LANES > 0) ? LANES : 1) * PLANE) > 0)
                           ? $clog2(((N / ((PLANE > 0) ? PLANE : 1)) + LANES - 1)
                                    / ((LANES > 0) ? LANES : 1) * PLANE) : 1
)
(
    input  wire                           clk,
    input  wire                           rst,

    /*
     * Clear (start of an image): every membrane <- V0
     */
    input  wire                           clear_valid,
    output wire                           clear_ready,

    /*
     * Row updates: add field j of upd_weight to the neuron at address upd_addr of bank j,
     * i.e. neuron ((upd_addr / PLANE)*LANES + j)*PLANE + upd_addr % PLANE, for every lane j
     */
    input  wire                           upd_valid,
    output wire                           upd_ready,
    input  wire [ADDR_WIDTH-1:0]          upd_addr,
    input  wire [LANES*W_WIDTH-1:0]       upd_weight,

    /*
     * Constant current write (while idle)
     */
    input  wire                           k_wr_en,
    input  wire [ADDR_WIDTH-1:0]          k_wr_row,
    input  wire [LANES*K_WIDTH-1:0]       k_wr_data,

    /*
     * End of the timestep's updates: sweep every neuron
     */
    input  wire                           sweep_valid,
    output wire                           sweep_ready,

    /*
     * Output spike events (master)
     */
    output wire                           m_valid,
    input  wire                           m_ready,
    output wire [INDEX_WIDTH-1:0]         m_index,
    output wire                           m_eot,

    /*
     * Status and debug
     */
    output wire                           busy,
    input  wire                           dbg_rd_en,
    input  wire [INDEX_WIDTH-1:0]         dbg_rd_index,
    output wire [V_WIDTH-1:0]             dbg_rd_data
);

// LANES, guarded against zero so that a bad value reaches the check below
localparam LANES_SAFE = (LANES > 0) ? LANES : 1;
localparam PLANE_SAFE = (PLANE > 0) ? PLANE : 1;
// channels, bank rows in use
localparam CH = N / PLANE_SAFE;
localparam DEPTH_USED = (CH + LANES_SAFE - 1) / LANES_SAFE * PLANE_SAFE;
// plane position bits (at least 1)
localparam PW = ($clog2(PLANE_SAFE) > 0) ? $clog2(PLANE_SAFE) : 1;
// bank address bits that select a row (at least 1)
localparam MEM_AW = ($clog2(DEPTH_USED) > 0) ? $clog2(DEPTH_USED) : 1;
// bank array size (at least 2, so a 1-bit row address always fits it)
localparam DEPTH = (DEPTH_USED > 1) ? DEPTH_USED : 2;
// lane number bits (at least 1)
localparam LANE_W = ($clog2(LANES) > 0) ? $clog2(LANES) : 1;
localparam LOG_LANES = $clog2(LANES);
// K RAM address bits
localparam KAW = $clog2(N);
// width of the sweep arithmetic: v + K never wraps in it
localparam SW = ((V_WIDTH > K_WIDTH) ? V_WIDTH : K_WIDTH) + 1;

localparam integer LAST_LANE_I = LANES - 1;
localparam integer LAST_ROW_I = DEPTH_USED - 1;
localparam [MEM_AW-1:0] LAST_ROW = LAST_ROW_I[MEM_AW-1:0];
localparam integer LAST_P_I = PLANE_SAFE - 1;
localparam [PW-1:0] LAST_P = LAST_P_I[PW-1:0];
// the first row of the last channel group, its lanes that hold a neuron, and the index step
// from the last row of a group to the first of the next (lane 0's channel moves on by LANES)
localparam integer LAST_G_ROW0_I = (CH - 1) / LANES_SAFE * PLANE_SAFE;
localparam [MEM_AW-1:0] LAST_G_ROW0 = LAST_G_ROW0_I[MEM_AW-1:0];
localparam integer M_LAST_I = CH - (CH - 1) / LANES_SAFE * LANES_SAFE;
localparam [LANES_SAFE-1:0] LAST_LANES = {LANES_SAFE{1'b1}} >> (LANES_SAFE - M_LAST_I);
localparam integer STEP_G_IDX_I = LANES_SAFE * PLANE_SAFE - PLANE_SAFE + 1;
localparam [INDEX_WIDTH-1:0] STEP_G_IDX = STEP_G_IDX_I[INDEX_WIDTH-1:0];
localparam [V_WIDTH-1:0] V0_V = V0[V_WIDTH-1:0];
localparam [V_WIDTH-1:0] VMIN_V = VMIN[V_WIDTH-1:0];
localparam [V_WIDTH-1:0] THR_V = THRESHOLD[V_WIDTH-1:0];
localparam signed [SW-1:0] VMIN_S = {{(SW-V_WIDTH){VMIN_V[V_WIDTH-1]}}, VMIN_V};
// one more bit for v + K - THRESHOLD and v + K - VMIN (never wrap in DW bits), and the
// negated constants in DW bits
localparam DW = SW + 1;
localparam [DW-1:0] THR_D = {{(DW-V_WIDTH){1'b0}}, THR_V};
localparam [DW-1:0] VMIN_D = {{(DW-V_WIDTH){VMIN_V[V_WIDTH-1]}}, VMIN_V};
localparam [DW-1:0] NEG_THR_D = ~THR_D + 1'b1;
localparam [DW-1:0] NEG_VMIN_D = ~VMIN_D + 1'b1;

// a + b + c modulo 2^DW through one carry-save layer (a LUT per bit) and one adder
function [DW-1:0] csa_sum;
    input [DW-1:0] a;
    input [DW-1:0] b;
    input [DW-1:0] c;
    reg [DW-2:0] carry;  // the top bit's carry leaves the DW bits
    begin
        carry = (a[DW-2:0] & b[DW-2:0]) | (a[DW-2:0] & c[DW-2:0]) | (b[DW-2:0] & c[DW-2:0]);
        csa_sum = (a ^ b ^ c) + {carry, 1'b0};
    end
endfunction

// check configuration: an unknown module name makes elaboration fail with this message
generate
    if (N < 2) begin : g_bad_n
        snn_if_array_ERROR_N_must_be_at_least_2 bad_n();
    end
    if (LANES < 1 || (LANES & (LANES - 1)) != 0) begin : g_bad_lanes
        snn_if_array_ERROR_LANES_must_be_a_power_of_two bad_lanes();
    end
    if (PLANE < 1 || N % PLANE_SAFE != 0) begin : g_bad_plane
        snn_if_array_ERROR_PLANE_must_be_positive_and_divide_N bad_plane();
    end
    if (V_WIDTH < 2 || V_WIDTH > 32) begin : g_bad_v_width
        snn_if_array_ERROR_V_WIDTH_must_be_2_to_32 bad_v_width();
    end
    if (W_WIDTH < 1 || W_WIDTH > V_WIDTH) begin : g_bad_w_width
        snn_if_array_ERROR_W_WIDTH_must_be_1_to_V_WIDTH bad_w_width();
    end
    if (K_WIDTH < 1 || K_WIDTH > 32) begin : g_bad_k_width
        snn_if_array_ERROR_K_WIDTH_must_be_1_to_32 bad_k_width();
    end
    if (THRESHOLD < 1 || (THRESHOLD >>> (V_WIDTH - 1)) != 0) begin : g_bad_threshold
        snn_if_array_ERROR_THRESHOLD_must_be_positive_and_fit_V_WIDTH bad_threshold();
    end
    if ((V0 >>> (V_WIDTH - 1)) != 0 && (V0 >>> (V_WIDTH - 1)) != -1) begin : g_bad_v0
        snn_if_array_ERROR_V0_must_fit_V_WIDTH bad_v0();
    end
    if ((VMIN >>> (V_WIDTH - 1)) != 0 && (VMIN >>> (V_WIDTH - 1)) != -1) begin : g_bad_vmin
        snn_if_array_ERROR_VMIN_must_fit_V_WIDTH bad_vmin();
    end
    if (HAS_VMIN != 0 && HAS_VMIN != 1) begin : g_bad_has_vmin
        snn_if_array_ERROR_HAS_VMIN_must_be_0_or_1 bad_has_vmin();
    end
    if (SPIKING != 0 && SPIKING != 1) begin : g_bad_spiking
        snn_if_array_ERROR_SPIKING_must_be_0_or_1 bad_spiking();
    end
    if (INDEX_WIDTH < KAW || INDEX_WIDTH > 32) begin : g_bad_index_width
        snn_if_array_ERROR_INDEX_WIDTH_must_be_clog2_N_to_32 bad_index_width();
    end
    if (ADDR_WIDTH < MEM_AW) begin : g_bad_addr_width
        snn_if_array_ERROR_ADDR_WIDTH_too_small_for_the_bank_rows bad_addr_width();
    end
    if (K_INIT_FILE == "") begin : g_no_file
        snn_if_array_ERROR_K_INIT_FILE_must_name_a_mem_file no_file();
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
wire sweep_fire = sweep_valid && idle && !clear_valid;
wire upd_open = idle && !clear_valid && !sweep_valid;

// clear: row being written
reg [MEM_AW-1:0] clr_row_reg;

// output stage (event register)
reg m_valid_reg;
reg m_eot_reg;
reg [INDEX_WIDTH-1:0] m_index_reg;

// the output register is free (empty, or its event leaves now)
wire o_free = !m_valid_reg || m_ready;
wire m_fire = m_valid_reg && m_ready;

// the spike buffer: the spikes of the last row (a lane mask, lowest lane first) and, after the
// last row, the EOT; o_idx_reg is the neuron index of the row's lane 0
reg [LANES-1:0] o_mask_reg;
reg o_eot_reg;
reg [INDEX_WIDTH-1:0] o_idx_reg;
// the buffer holds at most one item (a spike or the EOT), which leaves when o_free
wire o_single = (o_mask_reg & (o_mask_reg - 1'b1)) == {LANES{1'b0}};
// the row pipeline (A -> B -> buffer) advances when the buffer is empty after this cycle; in a
// stall cycle (m_valid && !m_ready) nothing moves
wire adv = o_free && o_single;

// sweep stage A: the next row to issue (all banks, one address), then the EOT slot
reg a_run_reg;
reg a_eot_reg;
reg [MEM_AW-1:0] a_row_reg;
// the position in the channel, the index of the row's lane-0 neuron, the last channel group
// (counters: no division of the index)
reg [PW-1:0] a_p_reg;
reg [INDEX_WIDTH-1:0] a_idx_reg;
reg a_last_g_reg;

// sweep stage B: the row whose bank words and K row were read at the last advance
reg b_valid_reg;
reg b_eot_reg;
reg [INDEX_WIDTH-1:0] b_idx_reg;
reg b_last_g_reg;
reg [MEM_AW-1:0] b_row_reg;

wire a_issue = sweeping && a_run_reg && adv;
wire a_issue_row = a_issue && !a_eot_reg;
wire b_go = sweeping && b_valid_reg && adv;
wire b_row_go = b_go && !b_eot_reg;

// the lanes that hold a neuron in B's row: every lane, or the last channel group's
wire [LANES-1:0] b_lanes = b_last_g_reg ? LAST_LANES : {LANES{1'b1}};

// read registers of all banks, lane j in field j
wire [LANES*V_WIDTH-1:0] bank_q;

/*
 * constant currents K: one row of LANES fields per bank row (field j: the neuron of lane j),
 * a simple dual-port RAM written one field at a time
 */
reg [LANES*K_WIDTH-1:0] kmem [0:DEPTH-1];
reg [LANES*K_WIDTH-1:0] k_q;

initial begin
    $readmemh(K_INIT_FILE, kmem);
end

always @(posedge clk) begin
    if (k_wr_en && idle && !rst) begin
        kmem[k_wr_row[MEM_AW-1:0]] <= k_wr_data;
    end
end

always @(posedge clk) begin
    if (a_issue_row) begin
        k_q <= kmem[a_row_reg];
    end
end

generate
    if (ADDR_WIDTH > MEM_AW) begin : g_wide_k_row
        // rows beyond DEPTH_USED do not exist; these bits are 0 for every K write
        wire unused_k_row_high = |k_wr_row[ADDR_WIDTH-1:MEM_AW];
    end
endgenerate

// stage B's spikes, lane j in bit j (from the per-lane arithmetic below), and each lane's
// index offset j*PLANE (its channel is j on from lane 0's)
wire [LANES-1:0] b_spikes;
wire [LANES*INDEX_WIDTH-1:0] lane_off;

/*
 * the spike buffer's next spike: the lowest lane k of the mask, neuron o_idx + k*PLANE
 */
reg [INDEX_WIDTH-1:0] o_next_off;
reg [LANES-1:0] o_next_bit;
integer kk;
always @* begin
    o_next_off = {INDEX_WIDTH{1'b0}};
    o_next_bit = {LANES{1'b0}};
    for (kk = LANES - 1; kk >= 0; kk = kk - 1) begin
        if (o_mask_reg[kk]) begin
            o_next_off = lane_off[kk*INDEX_WIDTH +: INDEX_WIDTH];
            o_next_bit = {LANES{1'b0}};
            o_next_bit[kk] = 1'b1;
        end
    end
end

/*
 * debug read: lane and row of dbg_rd_index (channel ch = index / PLANE at position
 * p = index % PLANE: lane ch % LANES, row (ch / LANES)*PLANE + p; a constant division, only on
 * this debug path)
 */
wire [31:0] dbg_idx32 = {{(32-INDEX_WIDTH){1'b0}}, dbg_rd_index};
wire [31:0] dbg_ch = dbg_idx32 / PLANE_SAFE;
wire [31:0] dbg_row_full = (dbg_ch >> LOG_LANES) * PLANE_SAFE + dbg_idx32 % PLANE_SAFE;
wire [MEM_AW-1:0] dbg_row = dbg_row_full[MEM_AW-1:0];
wire [31:0] dbg_lane_full = dbg_ch & LAST_LANE_I;
wire [LANE_W-1:0] dbg_lane = dbg_lane_full[LANE_W-1:0];
wire dbg_go = dbg_rd_en && idle;
reg [LANE_W-1:0] dbg_lane_reg;
// the rest is 0 for every index < N
wire unused_dbg_high = |{dbg_row_full[31:MEM_AW], dbg_lane_full[31:LANE_W]};

always @(posedge clk) begin
    if (dbg_go) begin
        dbg_lane_reg <= dbg_lane;
    end
end

assign dbg_rd_data = bank_q[dbg_lane_reg*V_WIDTH +: V_WIDTH];

/*
 * the banks: one memory of LANES-field rows, and the row update pipeline
 */
reg [LANES*V_WIDTH-1:0] mem [0:DEPTH-1];
reg [LANES*V_WIDTH-1:0] rd_q;

// update stage 1: accepted at the last edge, read issued at that edge
reg s1_valid_reg;
reg [MEM_AW-1:0] s1_row_reg;
reg [LANES*V_WIDTH-1:0] s1_w_reg;
// the update write made at the last edge (forwarding source), and whether the update in stage
// 1 reads the row it wrote: decided when both are accepted (a register, so the adders' input
// multiplexer does not wait for a row comparison)
reg fwd_reg;
reg [LANES*V_WIDTH-1:0] wb_data_reg;

wire upd_fire = upd_valid && upd_open;
wire [MEM_AW-1:0] u_row = upd_addr[MEM_AW-1:0];

generate
    if (ADDR_WIDTH > MEM_AW) begin : g_wide_addr
        // rows beyond DEPTH_USED do not exist; these bits are 0 for valid updates
        wire unused_addr_high = |upd_addr[ADDR_WIDTH-1:MEM_AW];
    end
endgenerate

// per lane: the sweep result and the update sum, field j of these rows
wire [LANES*V_WIDTH-1:0] sweep_row;
wire [LANES*V_WIDTH-1:0] s1_sum;
wire [LANES*V_WIDTH-1:0] u_w_ext;
// forward the write made at the edge that also issued this update's read
wire [LANES*V_WIDTH-1:0] s1_old = fwd_reg ? wb_data_reg : rd_q;

/*
 * the arithmetic of each lane
 */
genvar j;
generate
    for (j = 0; j < LANES; j = j + 1) begin : g_lane
        wire [V_WIDTH-1:0] v = rd_q[j*V_WIDTH +: V_WIDTH];

        // sweep arithmetic (stage B) of this lane: v + K, compare, subtract, clamp, in SW bits
        wire [K_WIDTH-1:0] b_k = k_q[j*K_WIDTH +: K_WIDTH];
        // (v + K - THRESHOLD is formed beside v + K, from a carry-save layer and one adder,
        // and the comparison is its sign: compare, subtract and clamp are not in series)
        wire signed [SW-1:0] b_sum = $signed({{(SW-V_WIDTH){v[V_WIDTH-1]}}, v})
                                   + $signed({{(SW-K_WIDTH){b_k[K_WIDTH-1]}}, b_k});
        wire [DW-1:0] b_x = {{(DW-V_WIDTH){v[V_WIDTH-1]}}, v};
        wire [DW-1:0] b_y = {{(DW-K_WIDTH){b_k[K_WIDTH-1]}}, b_k};
        wire [DW-1:0] b_diff = csa_sum(b_x, b_y, NEG_THR_D);
        wire b_spike = (SPIKING != 0) && !b_diff[DW-1];
        wire signed [SW-1:0] b_sub = b_spike ? b_diff[SW-1:0] : b_sum;
        wire signed [SW-1:0] b_new;
        if (HAS_VMIN != 0 && VMIN <= 0) begin : g_clamp_low
            // a spike leaves v - THRESHOLD >= 0 >= VMIN: only v + K can fall below VMIN, and
            // whether it does is the sign of v + K - VMIN, formed beside the others
            wire [DW-1:0] b_low = csa_sum(b_x, b_y, NEG_VMIN_D);
            assign b_new = (!b_spike && b_low[DW-1]) ? VMIN_S : b_sub;
            wire unused_low = ^b_low[DW-2:0];
        end else if (HAS_VMIN != 0) begin : g_clamp_high
            assign b_new = (b_sub < VMIN_S) ? VMIN_S : b_sub;
        end else begin : g_no_clamp
            assign b_new = b_sub;
        end
        assign sweep_row[j*V_WIDTH +: V_WIDTH] = b_new[V_WIDTH-1:0];
        // the result fits V_WIDTH (semantics.md §7): the high bits are sign copies
        wire unused_sweep_high = ^b_new[SW-1:V_WIDTH];
        // a lane without a neuron in this row (the last channel group) never spikes
        assign b_spikes[j] = b_spike && b_lanes[j];
        localparam integer OFF_I = j * PLANE_SAFE;
        assign lane_off[j*INDEX_WIDTH +: INDEX_WIDTH] = OFF_I[INDEX_WIDTH-1:0];

        // the update: this lane's weight, sign-extended, added to its field of the row
        wire [W_WIDTH-1:0] u_w = upd_weight[j*W_WIDTH +: W_WIDTH];
        if (V_WIDTH > W_WIDTH) begin : g_sext
            assign u_w_ext[j*V_WIDTH +: V_WIDTH] = {{(V_WIDTH-W_WIDTH){u_w[W_WIDTH-1]}}, u_w};
        end else begin : g_same
            assign u_w_ext[j*V_WIDTH +: V_WIDTH] = u_w;
        end
        assign s1_sum[j*V_WIDTH +: V_WIDTH] = s1_old[j*V_WIDTH +: V_WIDTH]
                                            + s1_w_reg[j*V_WIDTH +: V_WIDTH];
    end
endgenerate

// write port: clear, else sweep write-back, else update write-back (never two at once); a
// whole row each (a lane without a neuron in the swept row takes a value nobody reads)
reg we;
reg [MEM_AW-1:0] wa;
reg [LANES*V_WIDTH-1:0] wd;
always @* begin
    we = 1'b0;
    wa = s1_row_reg;
    wd = s1_sum;
    if (clearing) begin
        we = 1'b1;
        wa = clr_row_reg;
        wd = {LANES{V0_V}};
    end else if (b_row_go) begin
        we = 1'b1;
        wa = b_row_reg;
        wd = sweep_row;
    end else if (s1_valid_reg) begin
        we = 1'b1;
    end
end

always @(posedge clk) begin
    if (we) begin
        mem[wa] <= wd;
    end
end

// read port: sweep issue, else update, else debug
wire re = a_issue_row || upd_fire || dbg_go;
wire [MEM_AW-1:0] ra = sweeping ? a_row_reg : (upd_fire ? u_row : dbg_row);

always @(posedge clk) begin
    if (re) begin
        rd_q <= mem[ra];
    end
end

always @(posedge clk) begin
    s1_row_reg <= u_row;
    s1_w_reg <= u_w_ext;
    wb_data_reg <= s1_sum;
    if (rst) begin
        s1_valid_reg <= 1'b0;
        fwd_reg <= 1'b0;
    end else begin
        s1_valid_reg <= upd_fire;
        // the write of this edge (stage 1's update) lands on the row read now
        fwd_reg <= s1_valid_reg && s1_row_reg == u_row;
    end
end

assign bank_q = rd_q;
assign upd_ready = upd_open;

/*
 * state machine, sweep pipeline, spike buffer and output stage
 */
always @(posedge clk) begin
    if (rst) begin
        state_reg <= S_IDLE;
        clr_row_reg <= {MEM_AW{1'b0}};
        a_run_reg <= 1'b0;
        a_eot_reg <= 1'b0;
        b_valid_reg <= 1'b0;
        o_mask_reg <= {LANES{1'b0}};
        o_eot_reg <= 1'b0;
        m_valid_reg <= 1'b0;
        m_eot_reg <= 1'b0;
    end else begin
        case (state_reg)
            S_IDLE: begin
                if (clear_fire) begin
                    state_reg <= S_CLEAR;
                    clr_row_reg <= {MEM_AW{1'b0}};
                end else if (sweep_fire) begin
                    state_reg <= S_SWEEP;
                    a_run_reg <= 1'b1;
                    a_eot_reg <= 1'b0;
                    b_valid_reg <= 1'b0;
                end
            end
            S_CLEAR: begin
                clr_row_reg <= clr_row_reg + 1'b1;
                if (clr_row_reg == LAST_ROW) begin
                    state_reg <= S_IDLE;
                end
            end
            default: begin
                // the output register takes the buffer's next item (a spike, else the EOT)
                if (o_free) begin
                    m_valid_reg <= (o_mask_reg != {LANES{1'b0}}) || o_eot_reg;
                    m_eot_reg <= (o_mask_reg == {LANES{1'b0}}) && o_eot_reg;
                    if (o_mask_reg != {LANES{1'b0}}) begin
                        o_mask_reg <= o_mask_reg & ~o_next_bit;
                    end else begin
                        o_eot_reg <= 1'b0;
                    end
                end
                if (adv) begin
                    // stage A -> stage B
                    b_valid_reg <= a_run_reg;
                    if (a_run_reg) begin
                        if (a_eot_reg) begin
                            a_run_reg <= 1'b0;
                        end else if (a_row_reg == LAST_ROW) begin
                            a_eot_reg <= 1'b1;
                        end
                    end
                    // stage B -> the buffer (empty after this cycle)
                    o_mask_reg <= (b_valid_reg && !b_eot_reg) ? b_spikes : {LANES{1'b0}};
                    o_eot_reg <= b_valid_reg && b_eot_reg;
                end
                if (m_fire && m_eot_reg) begin
                    state_reg <= S_IDLE;
                end
            end
        endcase
    end
end

// datapath registers of the sweep (no reset needed)
always @(posedge clk) begin
    if (sweep_fire) begin
        a_row_reg <= {MEM_AW{1'b0}};
        a_p_reg <= {PW{1'b0}};
        a_idx_reg <= {INDEX_WIDTH{1'b0}};
        a_last_g_reg <= LAST_G_ROW0 == {MEM_AW{1'b0}};
    end else if (a_issue_row) begin
        a_row_reg <= a_row_reg + 1'b1;
        if (a_p_reg != LAST_P) begin
            // next position of the channel group
            a_p_reg <= a_p_reg + 1'b1;
            a_idx_reg <= a_idx_reg + 1'b1;
        end else begin
            // first position of the next channel group: its lane-0 channel is LANES on
            a_p_reg <= {PW{1'b0}};
            a_idx_reg <= a_idx_reg + STEP_G_IDX;
            a_last_g_reg <= a_row_reg + 1'b1 == LAST_G_ROW0;
        end
    end
    if (a_issue) begin
        b_eot_reg <= a_eot_reg;
        b_idx_reg <= a_idx_reg;
        b_last_g_reg <= a_last_g_reg;
        b_row_reg <= a_row_reg;
    end
    if (adv && b_valid_reg) begin
        o_idx_reg <= b_idx_reg;
    end
    if (o_free) begin
        m_index_reg <= (o_mask_reg != {LANES{1'b0}}) ? o_idx_reg + o_next_off
                                                     : {INDEX_WIDTH{1'b0}};
    end
end

assign clear_ready = idle;
assign sweep_ready = idle && !clear_valid;
assign busy = !idle;
assign m_valid = m_valid_reg;
assign m_eot = m_eot_reg;
assign m_index = m_index_reg;

endmodule

`resetall
