/*
 * snn_readout: spike counts and class of the output population, docs/semantics.md §5.
 *
 * Contract (rst synchronous, active high; streams valid/ready)
 *   - clear (a one-cycle pulse, while idle): every count <- 0 at that edge.
 *   - ev_valid / ev_index / ev_eot: the output population's events (always accepted, no ready):
 *     a non-EOT event adds 1 to count[ev_index]. Counts never wrap: the build sizes CNT_WIDTH
 *     for the longest run (max_timesteps < 2^CNT_WIDTH).
 *   - start (a one-cycle pulse, while idle and after the last timestep's sweep): reads the
 *     membranes of neurons 0 .. F-1 through the IF array's debug port (dbg_rd_en at edge
 *     e + 1 + i reads neuron i, its data is on dbg_rd_data after that edge), and keeps the best
 *     neuron in ascending order, replacing it only by a strictly better one:
 *         BY_COUNT = 1: more spikes, or as many spikes and a larger membrane;
 *         BY_COUNT = 0: a larger membrane;
 *     so ties go to the lowest index. The data of each read is first captured in registers
 *     (with its count) and compared one edge later, so no comparison starts at the array's
 *     block-RAM output. With start at edge e, m_valid rises right after edge e + F + 2 and
 *     holds m_class and every count (neuron i in m_counts[i*CNT_WIDTH +: CNT_WIDTH]) until the
 *     transfer (m_valid && m_ready); busy is high from edge e + 1 to that transfer edge. The
 *     readout phase thus takes exactly F + 2 cycles plus the wait for m_ready.
 *
 * Verilog-2005, `default_nettype none.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module snn_readout #
(
    // Neurons in the output population (>= 2)
    parameter F = 10,
    // Width of a spike count (1 .. 32)
    parameter CNT_WIDTH = 8,
    // Width of a signed membrane (2 .. 32), the IF array's V_WIDTH
    parameter V_WIDTH = 16,
    // Width of the IF array's neuron indices (>= clog2(F))
    parameter INDEX_WIDTH = $clog2(F),
    // Width of m_class (>= clog2(F), >= 1)
    parameter CLASS_WIDTH = ($clog2(F) > 0) ? $clog2(F) : 1,
    // 1: class by spike count (ties: membrane, then lowest index); 0: by membrane
    parameter BY_COUNT = 1
)
(
    input  wire                       clk,
    input  wire                       rst,

    input  wire                       clear,

    /*
     * Output population events
     */
    input  wire                       ev_valid,
    input  wire [INDEX_WIDTH-1:0]     ev_index,
    input  wire                       ev_eot,

    /*
     * Readout: membranes through the IF array's debug port
     */
    input  wire                       start,
    output wire                       dbg_rd_en,
    output wire [INDEX_WIDTH-1:0]     dbg_rd_index,
    input  wire [V_WIDTH-1:0]         dbg_rd_data,

    /*
     * Result (master)
     */
    output wire                       m_valid,
    input  wire                       m_ready,
    output wire [CLASS_WIDTH-1:0]     m_class,
    output wire [F*CNT_WIDTH-1:0]     m_counts,

    output wire                       busy
);

localparam integer LAST_I = F - 1;
// bits that address the count array
localparam AW = ($clog2(F) > 0) ? $clog2(F) : 1;
localparam [INDEX_WIDTH-1:0] LAST = LAST_I[INDEX_WIDTH-1:0];

generate
    if (F < 2) begin : g_bad_f
        snn_readout_ERROR_F_must_be_at_least_2 bad_f();
    end
    if (CNT_WIDTH < 1 || CNT_WIDTH > 32) begin : g_bad_cnt
        snn_readout_ERROR_CNT_WIDTH_must_be_1_to_32 bad_cnt();
    end
    if (V_WIDTH < 2 || V_WIDTH > 32) begin : g_bad_v
        snn_readout_ERROR_V_WIDTH_must_be_2_to_32 bad_v();
    end
    if (INDEX_WIDTH < $clog2(F) || INDEX_WIDTH < 1) begin : g_bad_index
        snn_readout_ERROR_INDEX_WIDTH_too_small_for_F bad_index();
    end
    if (CLASS_WIDTH < $clog2(F) || CLASS_WIDTH < 1 || CLASS_WIDTH > 32) begin : g_bad_class
        snn_readout_ERROR_CLASS_WIDTH_too_small_for_F bad_class();
    end
    if (BY_COUNT != 0 && BY_COUNT != 1) begin : g_bad_by
        snn_readout_ERROR_BY_COUNT_must_be_0_or_1 bad_by();
    end
endgenerate

reg [CNT_WIDTH-1:0] cnt [0:F-1];

// readout scan: rd_* issues debug reads, cmp_* compares the data of the previous read
reg run_reg;             // reads being issued
reg [INDEX_WIDTH-1:0] rd_idx_reg;
reg cmp_reg;             // dbg_rd_data holds neuron cmp_idx_reg
reg [INDEX_WIDTH-1:0] cmp_idx_reg;
reg cmp_last_reg;
// capture stage: the data of neuron cap_idx_reg in registers, so that the comparison below
// starts at registers and not at the IF array's block-RAM output and lane multiplexer
reg cap_reg;
reg [INDEX_WIDTH-1:0] cap_idx_reg;
reg cap_last_reg;
reg [CNT_WIDTH-1:0] cap_cnt_reg;
reg signed [V_WIDTH-1:0] cap_v_reg;
reg have_reg;            // best_* hold a neuron
reg [INDEX_WIDTH-1:0] best_idx_reg;
reg [CNT_WIDTH-1:0] best_cnt_reg;
reg signed [V_WIDTH-1:0] best_v_reg;
reg m_valid_reg;

wire signed [V_WIDTH-1:0] v_now = cap_v_reg;
wire [CNT_WIDTH-1:0] c_now = cap_cnt_reg;
wire better = !have_reg
              || ((BY_COUNT != 0) ? (c_now > best_cnt_reg
                                     || (c_now == best_cnt_reg && v_now > best_v_reg))
                                  : (v_now > best_v_reg));

integer i;
always @(posedge clk) begin
    if (clear && !busy) begin
        for (i = 0; i < F; i = i + 1) begin
            cnt[i] <= {CNT_WIDTH{1'b0}};
        end
    end else if (ev_valid && !ev_eot) begin
        cnt[ev_index[AW-1:0]] <= cnt[ev_index[AW-1:0]] + 1'b1;
    end
end

always @(posedge clk) begin
    if (rst) begin
        run_reg <= 1'b0;
        cmp_reg <= 1'b0;
        cap_reg <= 1'b0;
        have_reg <= 1'b0;
        m_valid_reg <= 1'b0;
    end else begin
        if (start && !busy) begin
            run_reg <= 1'b1;
            have_reg <= 1'b0;
        end else if (run_reg && rd_idx_reg == LAST) begin
            run_reg <= 1'b0;
        end
        cmp_reg <= run_reg;
        cap_reg <= cmp_reg;
        if (cap_reg) begin
            if (better) begin
                have_reg <= 1'b1;
            end
            if (cap_last_reg) begin
                m_valid_reg <= 1'b1;
            end
        end
        if (m_valid_reg && m_ready) begin
            m_valid_reg <= 1'b0;
        end
    end
end

always @(posedge clk) begin
    if (start && !busy) begin
        rd_idx_reg <= {INDEX_WIDTH{1'b0}};
    end else if (run_reg) begin
        rd_idx_reg <= rd_idx_reg + 1'b1;
    end
    cmp_idx_reg <= rd_idx_reg;
    cmp_last_reg <= rd_idx_reg == LAST;
    cap_last_reg <= cmp_last_reg;
    if (cmp_reg) begin
        // only real neurons' indices (< F) are captured
        cap_idx_reg <= cmp_idx_reg;
        cap_cnt_reg <= cnt[cmp_idx_reg[AW-1:0]];
        cap_v_reg <= dbg_rd_data;
    end
    if (cap_reg && better) begin
        best_idx_reg <= cap_idx_reg;
        best_cnt_reg <= c_now;
        best_v_reg <= v_now;
    end
end

assign dbg_rd_en = run_reg;
assign dbg_rd_index = rd_idx_reg;
assign busy = run_reg || cmp_reg || cap_reg || m_valid_reg;
assign m_valid = m_valid_reg;

generate
    if (CLASS_WIDTH > INDEX_WIDTH) begin : g_class_wide
        assign m_class = {{(CLASS_WIDTH-INDEX_WIDTH){1'b0}}, best_idx_reg};
    end else begin : g_class_narrow
        assign m_class = best_idx_reg[CLASS_WIDTH-1:0];
        if (INDEX_WIDTH > CLASS_WIDTH) begin : g_unused
            // indices of real neurons are < F <= 2^CLASS_WIDTH: the high bits are 0
            wire unused_best_high = |best_idx_reg[INDEX_WIDTH-1:CLASS_WIDTH];
        end
    end
endgenerate

generate
    if (INDEX_WIDTH > AW) begin : g_index_high
        // indices of real neurons are < F: these bits are 0
        wire unused_index_high = |{ev_index[INDEX_WIDTH-1:AW], cmp_idx_reg[INDEX_WIDTH-1:AW]};
    end
endgenerate

genvar g;
generate
    for (g = 0; g < F; g = g + 1) begin : g_counts
        assign m_counts[g*CNT_WIDTH +: CNT_WIDTH] = cnt[g];
    end
endgenerate

endmodule

`resetall
