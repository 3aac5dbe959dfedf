/*
 * snn_accum: the once-per-image constant-current accumulator of the first layer, with an
 * optional max-pool readout (docs/semantics.md §2 "analog input", §4 "max-pool of a constant
 * current").
 *
 * With analog input the first layer's current is the same at every timestep. This block sums
 * it once per image (the router delivers the weight * pixel products of the convolution on
 * the update lanes, exactly like to an snn_if_array) and then streams it out, optionally
 * max-pooled and always plus the bias (per channel; a dense first layer is 1x1 channels, so per output
 * neuron), as the K values of the first IF array.
 *
 * Storage
 *   - N = C*H*W signed A_WIDTH-bit accumulators, accumulator n = (c*H + h)*W + w (row-major
 *     over the C x H x W map), in LANES RAM banks that split the channels (as in snn_if_array
 *     with PLANE = H*W; snngen.hwmodel.blocks.banks): channel c is in bank c % LANES,
 *     accumulator (c, h, w) at address (c / LANES)*H*W + h*W + w. The banks are the LANES
 *     A_WIDTH-bit fields of one memory of DEPTH = DEPTH_USED = ceil(C/LANES)*H*W rows (at
 *     least 2): a plain `reg mem` of LANES*A_WIDTH-bit words with one synchronous write port
 *     (whole rows) and one synchronous read port with enable (read register rd_q), an
 *     inferable simple dual-port RAM that Yosys packs into as few block RAMs as its bits allow.
 *     The read data is registered once more (rd_data_reg) before any arithmetic uses it: no
 *     path runs from a RAM read port into an adder or a comparison.
 *   - BIAS: NG = ceil(C/LANES) words of LANES signed K_WIDTH-bit fields (field k of word g:
 *     the bias of channel g*LANES + k, 0 past C), loaded from BIAS_FILE by $readmemh (format:
 *     snngen.backends.verilog.memfile.write_mem, written by snngen.hwmodel.blocks.banks.k_rows
 *     with PLANE = 1), read through one register (bias_q): an inferable ROM.
 *
 * Readout (what it computes): output neuron (c, y, x), c < C, y < OH, x < OW, gets
 *     K[c, y, x] = max { acc[c, y*PSH - PPH + i, x*PSW - PPW + j] : i < PKH, j < PKW,
 *                        position inside the H x W map } + BIAS[c]
 * computed in max(A_WIDTH, K_WIDTH) + 1 bits, of which the low K_WIDTH bits are sent (the
 * caller guarantees that K_WIDTH holds every max + bias). The parameters guarantee that every
 * window holds at least one map position. Without pooling (PKH = PKW = PSH = PSW = 1,
 * PPH = PPW = 0) K[c, h, w] = acc[c, h, w] + BIAS[c]. The LANES channels of one channel group
 * are read out together, one per lane: a beat carries the K of the output neurons
 * (g*LANES + k, y, x), k = 0 .. LANES-1, in field k of m_value (0 for a channel >= C), and
 * m_row = g*OH*OW + y*OW + x, the row of these neurons in the banks of the IF array that
 * takes K (snngen.hwmodel.blocks.banks with PLANE = OH*OW).
 *
 * Contract (every stream: a transfer is a rising edge with valid && ready; every valid is a
 * register or a function of registers and never depends on any ready)
 *   - Reset: rst is synchronous, active high. It makes the block idle (busy = 0, m_valid = 0,
 *     no update in flight) but does NOT touch the accumulators: clear before the first image.
 *   - Idle (busy = 0): clear_ready = 1; sweep_ready = !clear_valid; upd_ready =
 *     !clear_valid && !sweep_valid (a clear wins over a sweep, both over updates; these readies
 *     depend on the other streams' valids only, never on a ready). Not idle: all readies 0.
 *   - Clear: accepted at edge e, writes 0 to bank address a of every bank at edge e + 1 + a,
 *     a = 0 .. DEPTH_USED - 1; the block is idle again right after edge e + DEPTH_USED: a
 *     clear takes exactly DEPTH_USED = ceil(C/LANES)*H*W busy cycles.
 *   - Update (a whole row, while idle): add field j of upd_weight (signed U_WIDTH bits) to
 *     the accumulator at address upd_addr of bank j (channel (upd_addr / (H*W))*LANES + j),
 *     for every lane j at once. Accepted at edge e, it reads the row at e, registers the read
 *     data at e + 1 and writes the row back at edge e + 2 (update latency 2: the RAM holds the
 *     new row after e + 2). The read at e misses the writes made at e and e + 1 (the updates
 *     accepted at e - 2 and e - 1), which are forwarded (the one at e into the read data
 *     register at e + 1, the one at e + 1 into the sum), so updates of the same row on
 *     consecutive cycles (or any spacing) are exact; one row update per cycle. A lane with
 *     nothing to add gets a 0 field; a lane whose channel is >= C must get 0 (the router's ROM
 *     holds 0 there), so that its accumulator stays 0 and its readout field is the bias 0. The
 *     addition is modulo 2^A_WIDTH (exact whenever every partial sum fits A_WIDTH signed
 *     bits, which the width analysis guarantees). A clear accepted at e drops the write of an
 *     update accepted at e - 1 (due at e + 1, when the clear writes): the clear erases it.
 *   - Sweep (readout): accepted at edge e (while idle). Every update accepted before e (at
 *     e - 1 at the latest, written at e + 1 and forwarded into the first slot's read data)
 *     is included. The readout walks the "slots"
 *     s = 0 .. NOUT_ROWS*PKH*PKW - 1 (NOUT_ROWS = NG*OH*OW), i.e. the output rows r =
 *     (g*OH + y)*OW + x in ascending order and, within each, the window positions (i, j) in
 *     row-major order (slot s = r*PKH*PKW + i*PKW + j), one slot per cycle, every lane at
 *     once; a position outside the map still takes its slot (its read is masked). Then one
 *     more slot, the EOT. It is a 3-stage pipeline (P = 3): stage A reads the slot's word of
 *     every bank (into rd_q); stage B registers it (rd_data_reg) and reads the group's bias
 *     word (bias_q); stage C updates every lane's running window maximum and, at the window's
 *     last position, loads the row's beat into the output register: m_row = r, m_value = the
 *     LANES K fields, m_eot = 0, in ascending r; then one beat with m_eot = 1, m_row = 0,
 *     m_value = 0.
 *     The whole readout pipeline advances in exactly the cycles where !(m_valid && !m_ready);
 *     in a cycle with m_valid && !m_ready (a stall) nothing moves, nothing is lost.
 *   - Sweep timing (exact): with the sweep accepted at edge e, slot s is read at edge
 *     e + 1 + s + (stalls so far); the beat of output row r is offered (m_valid rises or
 *     the register reloads) at edge e + 2 + (r + 1)*PKH*PKW + (stalls so far); the EOT beat
 *     is offered at edge e + NOUT_ROWS*PKH*PKW + 3 + (stalls so far) and transfers at edge
 *         e + NOUT_ROWS*PKH*PKW + 4 + S,
 *     where S is the number of cycles after e, up to and including the EOT transfer cycle,
 *     in which m_valid is high and m_ready low. So a readout takes NOUT_ROWS*PKH*PKW + D
 *     cycles with D = 4 (= P + 1), plus one per stall cycle. busy is high from the edge after
 *     e up to and including the cycle of the EOT transfer; the block is idle right after that
 *     edge. The readout does not change the accumulators: it may be repeated, with or without
 *     further updates.
 *
 * Written for block RAM inference (plain `reg mem` arrays, one write port and one registered
 * read port with enable each, no reset, muxed addresses); checked with `snngen synth` (Yosys +
 * nextpnr on iCE40 and ECP5, docs/benchmarks.md "Hardware: synthesis"): large accumulator banks
 * and bias ROMs become block RAM, small ones LUT RAM (ECP5) or logic.
 *
 * Verilog-2005, `default_nettype none.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module snn_accum #
(
    // Channels of the accumulator map (>= 1)
    parameter C = 2,
    // Height of the accumulator map (>= 1)
    parameter H = 4,
    // Width of the accumulator map (>= 1); C*H*W >= 2 accumulators
    parameter W = 4,
    // Number of RAM banks / update lanes: a power of two (1, 2, 4, ...)
    parameter LANES = 1,
    // Width of a signed update (weight * pixel product) on upd_weight (1 .. A_WIDTH)
    parameter U_WIDTH = 12,
    // Width of a signed accumulator (2 .. 32)
    parameter A_WIDTH = 20,
    // Width of a signed output value K and of a bias word (1 .. 32)
    parameter K_WIDTH = 21,
    // Pooling window height and width (>= 1; 1 and 1 with stride 1, padding 0: no pooling)
    parameter PKH = 1,
    parameter PKW = 1,
    // Pooling strides (>= 1)
    parameter PSH = 1,
    parameter PSW = 1,
    // Pooling padding (0 .. PKH-1 and 0 .. PKW-1; padding positions never win)
    parameter PPH = 0,
    parameter PPW = 0,
    // Pooled map height and width; must equal (H + 2*PPH - PKH)/PSH + 1 (resp. W, PPW, ...)
    parameter OH = (H + 2 * PPH - PKH) / ((PSH > 0) ? PSH : 1) + 1,
    parameter OW = (W + 2 * PPW - PKW) / ((PSW > 0) ? PSW : 1) + 1,
    // Width of a bank address (upd_addr); >= $clog2(ceil(C/LANES)*H*W) and >= 1 (the default;
    // the guard only keeps a bad LANES from dividing by zero before the check below)
    parameter ADDR_WIDTH = ($clog2((C + LANES - 1) / ((LANES > 0) ? LANES : 1) * H * W) > 0)
                           ? $clog2((C + LANES - 1) / ((LANES > 0) ? LANES : 1) * H * W) : 1,
    // Width of m_row; >= $clog2(ceil(C/LANES)*OH*OW) and >= 1 (the guard only keeps a bad LANES
    // from dividing by zero before the check below)
    parameter OUT_ROW_WIDTH = ($clog2((C + LANES - 1) / ((LANES > 0) ? LANES : 1) * OH * OW) > 0)
                              ? $clog2((C + LANES - 1) / ((LANES > 0) ? LANES : 1) * OH * OW)
                              : 1,
    // Path of the .mem file holding the ceil(C/LANES) words of LANES signed K_WIDTH-bit bias
    // fields; required
    parameter BIAS_FILE = ""
)
(
    input  wire                           clk,
    input  wire                           rst,

    /*
     * Clear (start of an image): every accumulator <- 0
     */
    input  wire                           clear_valid,
    output wire                           clear_ready,

    /*
     * Row updates: add field j of upd_weight to the accumulator at address upd_addr of bank j,
     * for every lane j
     */
    input  wire                           upd_valid,
    output wire                           upd_ready,
    input  wire [ADDR_WIDTH-1:0]          upd_addr,
    input  wire [LANES*U_WIDTH-1:0]       upd_weight,

    /*
     * All updates of the image are delivered: read out
     */
    input  wire                           sweep_valid,
    output wire                           sweep_ready,

    /*
     * Output constant currents (master): one beat per output row (the K of its LANES
     * neurons, lane k in field k), rows ascending, then one EOT beat
     */
    output wire                           m_valid,
    input  wire                           m_ready,
    output wire [OUT_ROW_WIDTH-1:0]       m_row,
    output wire [LANES*K_WIDTH-1:0]       m_value,
    output wire                           m_eot,

    /*
     * Status
     */
    output wire                           busy
);

// guarded copies, so that a bad value reaches the checks below instead of dividing by zero
localparam LANES_SAFE = (LANES > 0) ? LANES : 1;
localparam PSH_SAFE = (PSH > 0) ? PSH : 1;
localparam PSW_SAFE = (PSW > 0) ? PSW : 1;
// accumulators, channel groups (= bias words), output rows
localparam N = C * H * W;
localparam NG = (C + LANES_SAFE - 1) / LANES_SAFE;
localparam NOUT_ROWS = NG * OH * OW;
// bank rows in use
localparam DEPTH_USED = (C + LANES_SAFE - 1) / LANES_SAFE * H * W;
// bank address bits that select a row (at least 1)
localparam MEM_AW = ($clog2(DEPTH_USED) > 0) ? $clog2(DEPTH_USED) : 1;
// bank array size (at least 2, so a 1-bit row address always fits it)
localparam DEPTH = (DEPTH_USED > 1) ? DEPTH_USED : 2;
localparam LOG_LANES = $clog2(LANES);
// width of the bias/max arithmetic: max + bias never wraps in it
localparam SW = ((A_WIDTH > K_WIDTH) ? A_WIDTH : K_WIDTH) + 1;
// the pooled map size the parameters imply
localparam OH_EXPECT = (H + 2 * PPH - PKH) / PSH_SAFE + 1;
localparam OW_EXPECT = (W + 2 * PPW - PKW) / PSW_SAFE + 1;

// readout counter widths (each at least 1)
localparam CW = ($clog2(NG) > 0) ? $clog2(NG) : 1;
localparam YW = ($clog2(OH) > 0) ? $clog2(OH) : 1;
localparam XW = ($clog2(OW) > 0) ? $clog2(OW) : 1;
localparam IW = ($clog2(PKH) > 0) ? $clog2(PKH) : 1;
localparam JW = ($clog2(PKW) > 0) ? $clog2(PKW) : 1;
// signed widths of a map row h in [-PPH, H+PPH-1], a column w and a bank row n (n of a
// padding position may be negative or beyond the rows: it is never used to read)
localparam HB = $clog2(H + PPH + 1) + 1;
localparam WB = $clog2(W + PPW + 1) + 1;
localparam NMAX = N + (PPH + 1) * W + PPW + 1;
localparam NB = ($clog2(NMAX) + 1 > LOG_LANES + MEM_AW + 1) ? $clog2(NMAX) + 1
                                                            : LOG_LANES + MEM_AW + 1;

// the walk (stage A): the bank row n steps by 1 within a window row, by STEP_I to the next
// window row; the window origin steps by PSW to the next x, by STEP_Y to the next y, by
// STEP_C to the next channel group (the next H*W rows)
localparam integer STEP_I_I = W - PKW + 1;
localparam integer STEP_X_I = PSW;
localparam integer STEP_Y_I = PSH * W - (OW - 1) * PSW;
localparam integer STEP_C_I = H * W - (OH - 1) * PSH * W - (OW - 1) * PSW;
localparam integer N0_I = -(PPH * W + PPW);
localparam integer H0_I = -PPH;
localparam integer W0_I = -PPW;
localparam integer H_I = H;
localparam integer W_I = W;
localparam integer PSH_I = PSH;
localparam integer PSW_I = PSW;
localparam [NB-1:0] STEP_I = STEP_I_I[NB-1:0];
localparam [NB-1:0] STEP_X = STEP_X_I[NB-1:0];
localparam [NB-1:0] STEP_Y = STEP_Y_I[NB-1:0];
localparam [NB-1:0] STEP_C = STEP_C_I[NB-1:0];
localparam [NB-1:0] N0 = N0_I[NB-1:0];
localparam [HB-1:0] H0 = H0_I[HB-1:0];
localparam [WB-1:0] W0 = W0_I[WB-1:0];
localparam [HB-1:0] H_V = H_I[HB-1:0];
localparam [WB-1:0] W_V = W_I[WB-1:0];
localparam [HB-1:0] PSH_V = PSH_I[HB-1:0];
localparam [WB-1:0] PSW_V = PSW_I[WB-1:0];

localparam integer LAST_C_I = NG - 1;
localparam integer LAST_Y_I = OH - 1;
localparam integer LAST_X_I = OW - 1;
localparam integer LAST_I_I = PKH - 1;
localparam integer LAST_J_I = PKW - 1;
localparam integer LAST_ROW_I = DEPTH_USED - 1;
localparam [CW-1:0] LAST_C = LAST_C_I[CW-1:0];
localparam [YW-1:0] LAST_Y = LAST_Y_I[YW-1:0];
localparam [XW-1:0] LAST_X = LAST_X_I[XW-1:0];
localparam [IW-1:0] LAST_I = LAST_I_I[IW-1:0];
localparam [JW-1:0] LAST_J = LAST_J_I[JW-1:0];
localparam [MEM_AW-1:0] LAST_ROW = LAST_ROW_I[MEM_AW-1:0];

// check configuration: an unknown module name makes elaboration fail with this message
generate
    if (C < 1 || H < 1 || W < 1 || C * H * W < 2) begin : g_bad_map
        snn_accum_ERROR_C_H_W_must_be_positive_with_at_least_2_accumulators bad_map();
    end
    if (LANES < 1 || (LANES & (LANES - 1)) != 0) begin : g_bad_lanes
        snn_accum_ERROR_LANES_must_be_a_power_of_two bad_lanes();
    end
    if (A_WIDTH < 2 || A_WIDTH > 32) begin : g_bad_a_width
        snn_accum_ERROR_A_WIDTH_must_be_2_to_32 bad_a_width();
    end
    if (U_WIDTH < 1 || U_WIDTH > A_WIDTH) begin : g_bad_u_width
        snn_accum_ERROR_U_WIDTH_must_be_1_to_A_WIDTH bad_u_width();
    end
    if (K_WIDTH < 1 || K_WIDTH > 32) begin : g_bad_k_width
        snn_accum_ERROR_K_WIDTH_must_be_1_to_32 bad_k_width();
    end
    if (PKH < 1 || PKW < 1) begin : g_bad_kernel
        snn_accum_ERROR_PKH_PKW_must_be_at_least_1 bad_kernel();
    end
    if (PSH < 1 || PSW < 1) begin : g_bad_stride
        snn_accum_ERROR_PSH_PSW_must_be_at_least_1 bad_stride();
    end
    if (PPH < 0 || PPW < 0 || PPH >= PKH || PPW >= PKW) begin : g_bad_padding
        snn_accum_ERROR_PPH_PPW_must_be_0_to_kernel_minus_1 bad_padding();
    end
    if (H + 2 * PPH < PKH || W + 2 * PPW < PKW || OH != OH_EXPECT || OW != OW_EXPECT)
    begin : g_bad_out
        snn_accum_ERROR_OH_OW_must_be_H_plus_2PPH_minus_PKH_over_PSH_plus_1 bad_out();
    end
    if (ADDR_WIDTH < MEM_AW) begin : g_bad_addr_width
        snn_accum_ERROR_ADDR_WIDTH_too_small_for_the_bank_rows bad_addr_width();
    end
    if (OUT_ROW_WIDTH < 1 || OUT_ROW_WIDTH > 32
        || OUT_ROW_WIDTH < $clog2(NOUT_ROWS))
    begin : g_bad_row_width
        snn_accum_ERROR_OUT_ROW_WIDTH_too_small_for_the_output_bank_rows bad_row_width();
    end
    if (NB > 32) begin : g_bad_size
        snn_accum_ERROR_map_too_large bad_size();
    end
    if (BIAS_FILE == "") begin : g_no_file
        snn_accum_ERROR_BIAS_FILE_must_name_a_mem_file no_file();
    end
endgenerate

/*
 * control
 */
localparam [1:0] S_IDLE = 2'd0;
localparam [1:0] S_CLEAR = 2'd1;
localparam [1:0] S_READ = 2'd2;

reg [1:0] state_reg;

wire idle = state_reg == S_IDLE;
wire clearing = state_reg == S_CLEAR;
wire reading = state_reg == S_READ;

wire clear_fire = clear_valid && idle;
wire sweep_fire = sweep_valid && idle && !clear_valid;
wire upd_open = idle && !clear_valid && !sweep_valid;

// clear: row being written
reg [MEM_AW-1:0] clr_row_reg;

// output stage (beat register)
reg m_valid_reg;
reg m_eot_reg;
reg [OUT_ROW_WIDTH-1:0] m_row_reg;
reg [LANES*K_WIDTH-1:0] m_value_reg;

// the readout pipeline advances when the output stage is free (empty, or its beat leaves now)
wire adv = !m_valid_reg || m_ready;
wire m_fire = m_valid_reg && m_ready;

// stage A: the next slot to issue: output row (channel group c, y, x), window position (i, j),
// map position (h, w) at bank row n, the window origin (win_h, win_w) at bank row win_n,
// output row m; then the EOT slot
reg a_run_reg;
reg a_eot_reg;
reg [CW-1:0] a_c_reg;
reg [YW-1:0] a_y_reg;
reg [XW-1:0] a_x_reg;
reg [IW-1:0] a_i_reg;
reg [JW-1:0] a_j_reg;
reg [HB-1:0] a_h_reg;
reg [WB-1:0] a_w_reg;
reg [NB-1:0] a_n_reg;
reg [HB-1:0] win_h_reg;
reg [WB-1:0] win_w_reg;
reg [NB-1:0] win_n_reg;
reg [OUT_ROW_WIDTH-1:0] a_m_reg;

wire a_last_j = a_j_reg == LAST_J;
wire a_last_i = a_i_reg == LAST_I;
wire a_first = a_i_reg == {IW{1'b0}} && a_j_reg == {JW{1'b0}};
wire a_last_pos = a_last_i && a_last_j;
wire a_last_x = a_x_reg == LAST_X;
wire a_last_y = a_y_reg == LAST_Y;
wire a_last_c = a_c_reg == LAST_C;
// the position is inside the map (h and w are two's complement)
wire a_in = !a_h_reg[HB-1] && a_h_reg < H_V && !a_w_reg[WB-1] && a_w_reg < W_V;

// the bank row of the position (the same in every bank)
wire [MEM_AW-1:0] a_row = a_n_reg[MEM_AW-1:0];
// the rest of n is 0 for every position inside the map
wire unused_a_high = |a_n_reg[NB-1:MEM_AW];

wire a_issue = reading && a_run_reg && adv;
wire a_issue_pos = a_issue && !a_eot_reg;

// stage B: the slot whose bank words were read at the last advance (in the banks' read
// registers rd_q)
reg b_valid_reg;
reg b_eot_reg;
reg b_in_reg;
reg b_first_reg;
reg b_last_reg;
reg [CW-1:0] b_c_reg;
reg [OUT_ROW_WIDTH-1:0] b_m_reg;

wire b_go = reading && b_valid_reg && adv;
wire b_pos = b_go && !b_eot_reg;

// stage C: the slot whose bank words moved on into the lanes' rd_data_reg and whose group's
// bias word was read (bias_q) at the last advance
reg c_valid_reg;
reg c_eot_reg;
reg c_in_reg;
reg c_first_reg;
reg c_last_reg;
reg [OUT_ROW_WIDTH-1:0] c_m_reg;

wire c_go = reading && c_valid_reg && adv;
wire c_pos = c_go && !c_eot_reg;

// running window maximum of every lane (lane k in field k): valid when have_reg (some map
// position seen; the same positions in every lane)
reg [LANES*A_WIDTH-1:0] max_reg;
reg have_reg;
// a maximum from earlier positions of this window exists
wire c_have = have_reg && !c_first_reg;
// stage C's new maxima and K fields (from the per-lane arithmetic below)
wire [LANES*A_WIDTH-1:0] c_max;
wire [LANES*K_WIDTH-1:0] c_k;


/*
 * biases: one word of LANES fields per channel group
 */
reg [LANES*K_WIDTH-1:0] bias_mem [0:NG-1];
reg [LANES*K_WIDTH-1:0] bias_q;

initial begin
    $readmemh(BIAS_FILE, bias_mem);
end

// read as the slot moves from stage B to stage C
generate
    if (NG > 1) begin : g_bias_many
        always @(posedge clk) begin
            if (b_pos) begin
                bias_q <= bias_mem[b_c_reg];
            end
        end
    end else begin : g_bias_one
        always @(posedge clk) begin
            if (b_pos) begin
                bias_q <= bias_mem[0];
            end
        end
        wire unused_c = |b_c_reg;
    end
endgenerate

always @(posedge clk) begin
    if (c_pos) begin
        max_reg <= c_max;
        have_reg <= c_have || c_in_reg;
    end
end

/*
 * the banks: one memory of LANES-field rows, and the row update pipeline
 */
reg [LANES*A_WIDTH-1:0] mem [0:DEPTH-1];
reg [LANES*A_WIDTH-1:0] rd_q;
reg [LANES*A_WIDTH-1:0] rd_data_reg;

reg s1_valid_reg;
reg [MEM_AW-1:0] s1_row_reg;
reg [LANES*A_WIDTH-1:0] s1_w_reg;
reg s2_valid_reg;
reg [MEM_AW-1:0] s2_row_reg;
reg [LANES*A_WIDTH-1:0] s2_w_reg;
reg s2_fwd_reg;
reg wb_valid_reg;
reg [MEM_AW-1:0] wb_row_reg;
reg [LANES*A_WIDTH-1:0] wb_data_reg;

wire upd_fire = upd_valid && upd_open;
wire [MEM_AW-1:0] u_row = upd_addr[MEM_AW-1:0];

generate
    if (ADDR_WIDTH > MEM_AW) begin : g_wide_addr
        wire unused_addr_high = |upd_addr[ADDR_WIDTH-1:MEM_AW];
    end
endgenerate

wire [LANES*A_WIDTH-1:0] u_w_ext;
wire [LANES*A_WIDTH-1:0] s2_old = s2_fwd_reg ? wb_data_reg : rd_data_reg;
wire [LANES*A_WIDTH-1:0] s2_sum;

/*
 * the arithmetic of each lane: the readout's running maximum plus bias, and the update sum
 */
genvar j;
generate
    for (j = 0; j < LANES; j = j + 1) begin : g_lane
        wire [A_WIDTH-1:0] l_rd = rd_data_reg[j*A_WIDTH +: A_WIDTH];
        wire [A_WIDTH-1:0] l_max = max_reg[j*A_WIDTH +: A_WIDTH];
        wire [K_WIDTH-1:0] l_bias = bias_q[j*K_WIDTH +: K_WIDTH];
        wire signed [SW-1:0] l_bias_x = $signed({{(SW-K_WIDTH){l_bias[K_WIDTH-1]}}, l_bias});
        wire l_take = c_in_reg && (!c_have || $signed(l_rd) > $signed(l_max));
        wire signed [SW-1:0] l_sum_rd =
            $signed({{(SW-A_WIDTH){l_rd[A_WIDTH-1]}}, l_rd}) + l_bias_x;
        wire signed [SW-1:0] l_sum_max =
            $signed({{(SW-A_WIDTH){l_max[A_WIDTH-1]}}, l_max}) + l_bias_x;
        wire signed [SW-1:0] l_sum = l_take ? l_sum_rd : l_sum_max;
        wire unused_sum_high = ^l_sum[SW-1:K_WIDTH];
        assign c_max[j*A_WIDTH +: A_WIDTH] = l_take ? l_rd : l_max;
        assign c_k[j*K_WIDTH +: K_WIDTH] = l_sum[K_WIDTH-1:0];

        wire [U_WIDTH-1:0] u_w = upd_weight[j*U_WIDTH +: U_WIDTH];
        if (A_WIDTH > U_WIDTH) begin : g_sext
            assign u_w_ext[j*A_WIDTH +: A_WIDTH] = {{(A_WIDTH-U_WIDTH){u_w[U_WIDTH-1]}}, u_w};
        end else begin : g_same
            assign u_w_ext[j*A_WIDTH +: A_WIDTH] = u_w;
        end
        assign s2_sum[j*A_WIDTH +: A_WIDTH] = s2_old[j*A_WIDTH +: A_WIDTH]
                                            + s2_w_reg[j*A_WIDTH +: A_WIDTH];
    end
endgenerate

wire re = (a_issue_pos && a_in) || upd_fire;
wire [MEM_AW-1:0] ra = reading ? a_row : u_row;

wire fwd_rd = wb_valid_reg && wb_row_reg == s1_row_reg;

// write port: clear, else the update write-back (whole rows)
wire we = clearing || s2_valid_reg;
wire [MEM_AW-1:0] wa = clearing ? clr_row_reg : s2_row_reg;
wire [LANES*A_WIDTH-1:0] wd = clearing ? {(LANES*A_WIDTH){1'b0}} : s2_sum;

always @(posedge clk) begin
    if (we) begin
        mem[wa] <= wd;
    end
end

always @(posedge clk) begin
    if (re) begin
        rd_q <= mem[ra];
    end
end

always @(posedge clk) begin
    if (!reading || adv) begin
        rd_data_reg <= fwd_rd ? wb_data_reg : rd_q;
    end
end

always @(posedge clk) begin
    s1_row_reg <= ra;
    s1_w_reg <= u_w_ext;
    s2_row_reg <= s1_row_reg;
    s2_w_reg <= s1_w_reg;
    s2_fwd_reg <= s2_valid_reg && s2_row_reg == s1_row_reg;
    wb_row_reg <= s2_row_reg;
    wb_data_reg <= s2_sum;
    if (rst) begin
        s1_valid_reg <= 1'b0;
        s2_valid_reg <= 1'b0;
        wb_valid_reg <= 1'b0;
    end else begin
        s1_valid_reg <= upd_fire;
        s2_valid_reg <= s1_valid_reg;
        wb_valid_reg <= s2_valid_reg;
    end
end

assign upd_ready = upd_open;

/*
 * state machine, readout pipeline control and output stage
 */
always @(posedge clk) begin
    if (rst) begin
        state_reg <= S_IDLE;
        clr_row_reg <= {MEM_AW{1'b0}};
        a_run_reg <= 1'b0;
        a_eot_reg <= 1'b0;
        b_valid_reg <= 1'b0;
        c_valid_reg <= 1'b0;
        m_valid_reg <= 1'b0;
        m_eot_reg <= 1'b0;
    end else begin
        case (state_reg)
            S_IDLE: begin
                if (clear_fire) begin
                    state_reg <= S_CLEAR;
                    clr_row_reg <= {MEM_AW{1'b0}};
                end else if (sweep_fire) begin
                    state_reg <= S_READ;
                    a_run_reg <= 1'b1;
                    a_eot_reg <= 1'b0;
                    b_valid_reg <= 1'b0;
                    c_valid_reg <= 1'b0;
                end
            end
            S_CLEAR: begin
                clr_row_reg <= clr_row_reg + 1'b1;
                if (clr_row_reg == LAST_ROW) begin
                    state_reg <= S_IDLE;
                end
            end
            default: begin
                if (adv) begin
                    // stage A -> stage B -> stage C
                    b_valid_reg <= a_run_reg;
                    c_valid_reg <= b_valid_reg;
                    if (a_run_reg) begin
                        if (a_eot_reg) begin
                            a_run_reg <= 1'b0;
                        end else if (a_last_pos && a_last_x && a_last_y && a_last_c) begin
                            a_eot_reg <= 1'b1;
                        end
                    end
                    // stage C -> output stage: a beat at the last window position and the EOT
                    m_valid_reg <= c_valid_reg && (c_eot_reg || c_last_reg);
                    m_eot_reg <= c_eot_reg;
                end
                if (m_fire && m_eot_reg) begin
                    state_reg <= S_IDLE;
                end
            end
        endcase
    end
end

// datapath registers of the readout (no reset needed)
always @(posedge clk) begin
    if (sweep_fire) begin
        a_c_reg <= {CW{1'b0}};
        a_y_reg <= {YW{1'b0}};
        a_x_reg <= {XW{1'b0}};
        a_i_reg <= {IW{1'b0}};
        a_j_reg <= {JW{1'b0}};
        a_h_reg <= H0;
        a_w_reg <= W0;
        a_n_reg <= N0;
        win_h_reg <= H0;
        win_w_reg <= W0;
        win_n_reg <= N0;
        a_m_reg <= {OUT_ROW_WIDTH{1'b0}};
    end else if (a_issue_pos) begin
        if (!a_last_j) begin
            // next position in this window row
            a_j_reg <= a_j_reg + 1'b1;
            a_w_reg <= a_w_reg + 1'b1;
            a_n_reg <= a_n_reg + 1'b1;
        end else if (!a_last_i) begin
            // next window row
            a_j_reg <= {JW{1'b0}};
            a_i_reg <= a_i_reg + 1'b1;
            a_h_reg <= a_h_reg + 1'b1;
            a_w_reg <= win_w_reg;
            a_n_reg <= a_n_reg + STEP_I;
        end else begin
            // next output neuron
            a_j_reg <= {JW{1'b0}};
            a_i_reg <= {IW{1'b0}};
            a_m_reg <= a_m_reg + 1'b1;
            if (!a_last_x) begin
                a_x_reg <= a_x_reg + 1'b1;
                win_w_reg <= win_w_reg + PSW_V;
                win_n_reg <= win_n_reg + STEP_X;
                a_h_reg <= win_h_reg;
                a_w_reg <= win_w_reg + PSW_V;
                a_n_reg <= win_n_reg + STEP_X;
            end else begin
                a_x_reg <= {XW{1'b0}};
                win_w_reg <= W0;
                a_w_reg <= W0;
                if (!a_last_y) begin
                    a_y_reg <= a_y_reg + 1'b1;
                    win_h_reg <= win_h_reg + PSH_V;
                    win_n_reg <= win_n_reg + STEP_Y;
                    a_h_reg <= win_h_reg + PSH_V;
                    a_n_reg <= win_n_reg + STEP_Y;
                end else begin
                    // next channel (after the last one: don't care, the EOT slot follows)
                    a_y_reg <= {YW{1'b0}};
                    a_c_reg <= a_c_reg + 1'b1;
                    win_h_reg <= H0;
                    win_n_reg <= win_n_reg + STEP_C;
                    a_h_reg <= H0;
                    a_n_reg <= win_n_reg + STEP_C;
                end
            end
        end
    end
    if (a_issue) begin
        b_eot_reg <= a_eot_reg;
        b_in_reg <= a_in;
        b_first_reg <= a_first;
        b_last_reg <= a_last_pos;
        b_c_reg <= a_c_reg;
        b_m_reg <= a_m_reg;
    end
    if (b_go) begin
        c_eot_reg <= b_eot_reg;
        c_in_reg <= b_in_reg;
        c_first_reg <= b_first_reg;
        c_last_reg <= b_last_reg;
        c_m_reg <= b_m_reg;
    end
    if (c_go && (c_eot_reg || c_last_reg)) begin
        m_row_reg <= c_eot_reg ? {OUT_ROW_WIDTH{1'b0}} : c_m_reg;
        m_value_reg <= c_eot_reg ? {(LANES*K_WIDTH){1'b0}} : c_k;
    end
end

assign clear_ready = idle;
assign sweep_ready = idle && !clear_valid;
assign busy = !idle;
assign m_valid = m_valid_reg;
assign m_eot = m_eot_reg;
assign m_row = m_row_reg;
assign m_value = m_value_reg;

endmodule

`resetall
