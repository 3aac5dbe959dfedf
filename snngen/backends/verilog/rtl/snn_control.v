/*
 * snn_control: the inference schedule of a generated network (docs/architecture.md §3).
 *
 * The network is a chain of STAGES stages (IF layers and max-pool gates), each with a
 * go / done handshake. One image runs as
 *     clear -> load (first layer's constant current) -> steps s = 1 .. T + STAGES - 1
 *     -> readout
 * and in step s every stage k (0-based) with 1 <= s - k <= T processes timestep t = s - k:
 * stage k works on timestep t while stage k + 1 works on t - 1 (layer pipelining). A step
 * ends when every active stage has reported done; the next one starts at once.
 *
 * Contract (rst synchronous, active high)
 *   - start is honoured while idle (busy = 0); timesteps is sampled with it and limited to
 *     1 .. T_MAX (the network's proven max_timesteps: its membranes are proven not to
 *     overflow for runs up to that length): 0 runs 1 timestep, more than T_MAX runs T_MAX.
 *   - start at edge e0: clear is high in the cycle after e0 (every block is idle then and
 *     accepts it at edge e0 + 1). From edge e0 + 2 on, the controller waits for a cycle with
 *     first_busy = 0 (the first stage's blocks, which the load uses); at the edge ending that
 *     cycle, load goes high for one cycle. The other stages' blocks (rest_busy) go on clearing
 *     during the load: nothing reaches them before step 2.
 *   - load_done (a one-cycle pulse) at edge e: step 1 begins at the first edge e' >= e that
 *     ends a cycle with rest_busy = 0 (e' = e when the other clears are over by then): go[k]
 *     is high in the cycle after e' for the stages active in step 1. So the first step's go
 *     edge is max(e, the edge ending the first cycle after the other clears).
 *     stage_done[k] (a one-cycle pulse, sampled at an edge) retires
 *     stage k from the step; at the edge where the last active stage of step s retires, go is
 *     raised (for one cycle) for the stages active in step s + 1, or, after the last step,
 *     rd_start. So step s lasts exactly max over its active stages of (done edge - go edge),
 *     with no cycle between steps.
 *   - rd_done (a one-cycle pulse, the result transfer) ends the image: done is high in the
 *     cycle after it, busy falls at the same edge.
 *   - dbg_step is the current step s (0 outside the steps).
 *   - out_blocked[k]: stage k offers an output event that is not taken (m_valid && !m_ready);
 *     deadlock[k] (sticky: only rst clears it) rises at the edge after a cycle of a step in
 *     which out_blocked[k] is high while stage k + 1 is not pending (it has retired from the
 *     step, or is not active in it; for the last stage: always). Then stage k + 1 reads nothing
 *     until the next step, which cannot begin before stage k retires, which needs its blocked
 *     event taken: the image can never finish. It happens only with a FIFO shallower than two
 *     timesteps of stage k's events (docs/architecture.md §3.5), so a deadlock is never silent.
 *     The flag changes nothing else in the schedule.
 *
 * Verilog-2005, `default_nettype none.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module snn_control #
(
    // Number of pipeline stages (>= 1)
    parameter STAGES = 3,
    // Width of the timesteps input (1 .. 24)
    parameter T_WIDTH = 8,
    // The longest run (the network's proven max_timesteps, 1 .. 2^T_WIDTH - 1)
    parameter T_MAX = 128,
    // Width of dbg_step: holds T_MAX + STAGES - 1
    parameter STEP_WIDTH = T_WIDTH + 1
)
(
    input  wire                       clk,
    input  wire                       rst,

    input  wire                       start,
    input  wire [T_WIDTH-1:0]         timesteps,
    output wire                       busy,
    output wire                       done,

    output wire                       clear,
    // the first stage's blocks are busy (clearing): the load waits for them
    input  wire                       first_busy,
    // the other stages' blocks are busy (clearing): step 1 waits for them
    input  wire                       rest_busy,

    output wire                       load,
    input  wire                       load_done,

    output wire [STAGES-1:0]          go,
    input  wire [STAGES-1:0]          stage_done,

    output wire                       rd_start,
    input  wire                       rd_done,

    output wire [STEP_WIDTH-1:0]      dbg_step,

    input  wire [STAGES-1:0]          out_blocked,
    output wire [STAGES-1:0]          deadlock
);

generate
    if (STAGES < 1) begin : g_bad_stages
        snn_control_ERROR_STAGES_must_be_at_least_1 bad_stages();
    end
    if (T_WIDTH < 1 || T_WIDTH > 24) begin : g_bad_t_width
        snn_control_ERROR_T_WIDTH_must_be_1_to_24 bad_t_width();
    end
    if (T_MAX < 1 || T_MAX > (1 << T_WIDTH) - 1) begin : g_bad_t_max
        snn_control_ERROR_T_MAX_must_be_1_to_2_pow_T_WIDTH_minus_1 bad_t_max();
    end
    if (STEP_WIDTH < T_WIDTH || STEP_WIDTH > 30
        || ((1 << STEP_WIDTH) - 1) < T_MAX + STAGES - 1) begin : g_bad_step
        snn_control_ERROR_STEP_WIDTH_too_small_for_T_plus_STAGES bad_step();
    end
endgenerate

localparam [2:0] S_IDLE = 3'd0;
localparam [2:0] S_CLEAR = 3'd1;
localparam [2:0] S_WAIT = 3'd2;
localparam [2:0] S_LOAD = 3'd3;
localparam [2:0] S_STEP = 3'd4;
localparam [2:0] S_READ = 3'd5;
localparam [2:0] S_SETTLE = 3'd6;

localparam [T_WIDTH-1:0] T_MAX_V = T_MAX[T_WIDTH-1:0];

// timesteps limited to 1 .. T_MAX
wire [T_WIDTH-1:0] t_low = (timesteps == {T_WIDTH{1'b0}}) ? {{(T_WIDTH-1){1'b0}}, 1'b1}
                                                           : timesteps;
wire [T_WIDTH-1:0] t_limited;
generate
    if (T_MAX < (1 << T_WIDTH) - 1) begin : g_t_clamp
        assign t_limited = (t_low > T_MAX_V) ? T_MAX_V : t_low;
    end else begin : g_t_full
        // every input value is a legal length
        assign t_limited = t_low;
    end
endgenerate

reg [2:0] state_reg;
reg [T_WIDTH-1:0] t_reg;
reg [STEP_WIDTH-1:0] step_reg;
reg [STAGES-1:0] pending_reg;
reg [STAGES-1:0] go_reg;
reg clear_reg;
reg load_reg;
reg rd_start_reg;
reg done_reg;
reg [STAGES-1:0] deadlock_reg;

// the stages active in the current step (active(step_reg) below), kept incrementally so that
// the end of a step needs no adder or comparator of the step number: stage k is active in step
// s + 1 iff stage k - 1 is active in step s, and stage 0 iff s < T
reg [STAGES-1:0] act_reg;

wire [STEP_WIDTH-1:0] t_ext = {{(STEP_WIDTH-T_WIDTH){1'b0}}, t_reg};
wire [STEP_WIDTH-1:0] next_step = step_reg + 1'b1;
wire [STAGES-1:0] pending_left = pending_reg & ~stage_done;
wire first_next = step_reg < t_ext;
wire [STAGES-1:0] next_act;
generate
    if (STAGES > 1) begin : g_shift
        assign next_act = {act_reg[STAGES-2:0], first_next};
        // the last stage's bit shifts out: it is kept only so act_reg mirrors go
        wire unused_act_last = act_reg[STAGES-1];
    end else begin : g_one
        // one stage: it is active while s < T; act_reg is only written
        assign next_act = first_next;
        wire unused_act = act_reg[0];
    end
endgenerate
// no stage is active in step s + 1 exactly when s is the last step, T + STAGES - 1
wire last_step = next_act == {STAGES{1'b0}};

// stage k's reader is still in the step: stage k + 1 pending (none after the last stage)
wire [STAGES-1:0] reader_pending;
generate
    if (STAGES > 1) begin : g_reader
        assign reader_pending = {1'b0, pending_reg[STAGES-1:1]};
    end else begin : g_no_reader
        assign reader_pending = 1'b0;
    end
endgenerate
// a blocked stage whose reader has left the step can never deliver its event
wire [STAGES-1:0] stuck = out_blocked & ~reader_pending;

// stages active in step s: 1 <= s - k <= T
function [STAGES-1:0] active;
    input [STEP_WIDTH-1:0] s;
    input [STEP_WIDTH-1:0] t;
    integer k;
    begin
        for (k = 0; k < STAGES; k = k + 1) begin
            active[k] = (s > k[STEP_WIDTH-1:0]) && (s - k[STEP_WIDTH-1:0] <= t);
        end
    end
endfunction

always @(posedge clk) begin
    go_reg <= {STAGES{1'b0}};
    clear_reg <= 1'b0;
    load_reg <= 1'b0;
    rd_start_reg <= 1'b0;
    done_reg <= 1'b0;
    if (rst) begin
        state_reg <= S_IDLE;
        step_reg <= {STEP_WIDTH{1'b0}};
        pending_reg <= {STAGES{1'b0}};
        act_reg <= {STAGES{1'b0}};
        deadlock_reg <= {STAGES{1'b0}};
    end else begin
        case (state_reg)
            S_IDLE: begin
                if (start) begin
                    t_reg <= t_limited;
                    clear_reg <= 1'b1;
                    state_reg <= S_CLEAR;
                end
            end
            S_CLEAR: begin
                // the blocks accept the clear at this edge; their busy shows from the next
                state_reg <= S_WAIT;
            end
            S_WAIT: begin
                if (!first_busy) begin
                    load_reg <= 1'b1;
                    state_reg <= S_LOAD;
                end
            end
            S_LOAD, S_SETTLE: begin
                // the load is over (load_done now, or before: S_SETTLE) and the other
                // stages' clears are too
                if ((load_done || state_reg == S_SETTLE) && !rest_busy) begin
                    step_reg <= {{(STEP_WIDTH-1){1'b0}}, 1'b1};
                    go_reg <= active({{(STEP_WIDTH-1){1'b0}}, 1'b1}, t_ext);
                    pending_reg <= active({{(STEP_WIDTH-1){1'b0}}, 1'b1}, t_ext);
                    act_reg <= active({{(STEP_WIDTH-1){1'b0}}, 1'b1}, t_ext);
                    state_reg <= S_STEP;
                end else if (load_done) begin
                    state_reg <= S_SETTLE;
                end
            end
            S_STEP: begin
                deadlock_reg <= deadlock_reg | stuck;
                pending_reg <= pending_left;
                if (pending_left == {STAGES{1'b0}}) begin
                    if (last_step) begin
                        step_reg <= {STEP_WIDTH{1'b0}};
                        rd_start_reg <= 1'b1;
                        state_reg <= S_READ;
                    end else begin
                        step_reg <= next_step;
                        go_reg <= next_act;
                        pending_reg <= next_act;
                        act_reg <= next_act;
                    end
                end
            end
            default: begin
                if (rd_done) begin
                    done_reg <= 1'b1;
                    state_reg <= S_IDLE;
                end
            end
        endcase
    end
end

assign busy = state_reg != S_IDLE;
assign done = done_reg;
assign clear = clear_reg;
assign load = load_reg;
assign go = go_reg;
assign rd_start = rd_start_reg;
assign dbg_step = step_reg;
assign deadlock = deadlock_reg;

endmodule

`resetall
