/*
 * snn_fifo: synchronous FIFO for spike events (one clock, valid/ready streams).
 *
 * Contract
 *   - Transfers: a word moves on a rising edge of clk where valid && ready on that port.
 *     m_valid never depends on m_ready and s_ready never depends on s_valid: both are
 *     functions of registers only, so there is no combinational path through the FIFO
 *     (s_valid -> m_valid, m_ready -> s_ready, s_data -> m_data all cross a register).
 *   - Capacity: exactly DEPTH words. count is the occupancy, 0..DEPTH, and after reset
 *         m_valid == (count != 0)   and   s_ready == (count != DEPTH)
 *     hold in every cycle, except that s_ready stays low for the first cycle after rst
 *     falls (see Reset).
 *   - Latency: one cycle. A word accepted at edge t is on m (m_valid high, m_data the
 *     word) right after edge t when no older word is left in the FIFO after t; otherwise it
 *     is offered right after the edge that pops the word ahead of it (no bubbles).
 *   - Throughput: while 0 < count < DEPTH, one word in and one word out in the same cycle.
 *     Empty: s may push (m_valid is low). Full: m may pop, but s_ready is low in that
 *     cycle even when m_ready is high - a pop frees the slot for the NEXT cycle (that is
 *     the price of having no m_ready -> s_ready path). A consumer that is always ready
 *     never lets the FIFO fill, so the sustained rate is one word per cycle for every
 *     DEPTH >= 2.
 *   - Reset: rst is synchronous and active high; it empties the FIFO (count = 0,
 *     m_valid = 0, s_ready = 0). s_ready rises one cycle after rst falls. Hold rst for at
 *     least one rising edge before the first use. Data registers and the RAM are not reset:
 *     m_data is undefined while m_valid is low.
 *
 * Implementation: the storage is a plain `reg mem [0:DEPTH-1]` with one synchronous write
 * port and one synchronous read port with enable (read register ram_q), so synthesis can
 * map it to block RAM; read and write never address the same word in the same cycle. A
 * second output register (byp_q) takes a word straight from s when the RAM holds nothing
 * older, which gives the one-cycle latency; m_data selects between the two registers.
 * DEPTH is any number >= 2 (the network's FIFOs hold exactly two timesteps of their producer,
 * docs/architecture.md §3.5, rounded to no power of two): each pointer is a RAM address that
 * wraps from DEPTH - 1 to 0 and a wrap bit that toggles there, so the RAM is empty exactly when
 * both pointers are equal. Checked by hand with Yosys 0.70
 * (DEPTH 512, DATA_WIDTH 16): synth_ice40 -> 2 SB_RAM40_4K, synth_ecp5 -> 1 DP16KD,
 * synth_xilinx -> 1 RAMB18E1.
 *
 * Verilog-2005, `default_nettype none.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module snn_fifo #
(
    // Width of s_data and m_data in bits (>= 1)
    parameter DATA_WIDTH = 16,
    // FIFO capacity in words (>= 2)
    parameter DEPTH = 16
)
(
    input  wire                       clk,
    input  wire                       rst,

    /*
     * Stream input (slave)
     */
    input  wire [DATA_WIDTH-1:0]      s_data,
    input  wire                       s_valid,
    output wire                       s_ready,

    /*
     * Stream output (master)
     */
    output wire [DATA_WIDTH-1:0]      m_data,
    output wire                       m_valid,
    input  wire                       m_ready,

    /*
     * Status
     */
    output wire [$clog2(DEPTH):0]     count
);

// RAM address width
localparam ADDR_WIDTH = $clog2(DEPTH);

// check configuration: an unknown module name makes elaboration fail with this message
generate
    if (DEPTH < 2) begin : g_bad_depth
        snn_fifo_ERROR_DEPTH_must_be_at_least_2 bad_depth();
    end
    if (DATA_WIDTH < 1) begin : g_bad_width
        snn_fifo_ERROR_DATA_WIDTH_must_be_at_least_1 bad_width();
    end
endgenerate

// storage
reg [DATA_WIDTH-1:0] mem [0:DEPTH-1];

// RAM pointers: an address 0 .. DEPTH - 1 and a wrap bit (toggled when the address wraps), so
// the RAM is empty exactly when they are equal
reg [ADDR_WIDTH-1:0] wr_addr_reg;
reg wr_wrap_reg;
reg [ADDR_WIDTH-1:0] rd_addr_reg;
reg rd_wrap_reg;
// occupancy: RAM words + the word in the output stage
reg [ADDR_WIDTH:0] count_reg;

reg s_ready_reg;
reg m_valid_reg;
// output stage source: 1 = RAM read register, 0 = bypass register
reg out_sel_reg;

reg [DATA_WIDTH-1:0] ram_q;
reg [DATA_WIDTH-1:0] byp_q;

wire ram_empty = wr_addr_reg == rd_addr_reg && wr_wrap_reg == rd_wrap_reg;

localparam integer LAST_I = DEPTH - 1;
localparam [ADDR_WIDTH-1:0] LAST_ADDR = LAST_I[ADDR_WIDTH-1:0];
wire wr_last = wr_addr_reg == LAST_ADDR;
wire rd_last = rd_addr_reg == LAST_ADDR;

wire s_fire = s_valid && s_ready_reg;
wire m_fire = m_valid_reg && m_ready;

// the output stage is free at this edge: empty, or its word leaves now
wire out_free = !m_valid_reg || m_ready;
// refill the output stage from the RAM (older words first)
wire rd_en = out_free && !ram_empty;
// nothing older anywhere: the new word goes straight to the output stage
wire byp_en = out_free && ram_empty && s_fire;
wire wr_en = s_fire && !byp_en;

reg [ADDR_WIDTH:0] count_next;

// count_next == DEPTH from comparisons of count_reg alone, so that m_ready (which comes late,
// through the consumer's ready chain) only drives one LUT into s_ready_reg instead of the
// count adder and a comparator: count_next = count + s_fire - m_fire
localparam [ADDR_WIDTH:0] DEPTH_V = DEPTH[ADDR_WIDTH:0];
wire at_full = count_reg == DEPTH_V;
wire below_full = count_reg == DEPTH_V - 1'b1;
wire above_full = count_reg == DEPTH_V + 1'b1;
wire full_next = (at_full && s_fire == m_fire) || (below_full && s_fire && !m_fire)
                 || (above_full && m_fire && !s_fire);

always @* begin
    count_next = count_reg;
    if (s_fire && !m_fire) begin
        count_next = count_reg + 1'b1;
    end else if (m_fire && !s_fire) begin
        count_next = count_reg - 1'b1;
    end
end

// RAM write port
always @(posedge clk) begin
    if (wr_en) begin
        mem[wr_addr_reg] <= s_data;
    end
end

// RAM read port (registered, with enable)
always @(posedge clk) begin
    if (rd_en) begin
        ram_q <= mem[rd_addr_reg];
    end
end

// bypass register
always @(posedge clk) begin
    if (byp_en) begin
        byp_q <= s_data;
    end
end

// control
always @(posedge clk) begin
    if (rst) begin
        wr_addr_reg <= {ADDR_WIDTH{1'b0}};
        wr_wrap_reg <= 1'b0;
        rd_addr_reg <= {ADDR_WIDTH{1'b0}};
        rd_wrap_reg <= 1'b0;
        count_reg <= {ADDR_WIDTH+1{1'b0}};
        s_ready_reg <= 1'b0;
        m_valid_reg <= 1'b0;
        out_sel_reg <= 1'b0;
    end else begin
        if (wr_en) begin
            wr_addr_reg <= wr_last ? {ADDR_WIDTH{1'b0}} : wr_addr_reg + 1'b1;
            wr_wrap_reg <= wr_wrap_reg ^ wr_last;
        end
        if (rd_en) begin
            rd_addr_reg <= rd_last ? {ADDR_WIDTH{1'b0}} : rd_addr_reg + 1'b1;
            rd_wrap_reg <= rd_wrap_reg ^ rd_last;
            out_sel_reg <= 1'b1;
        end else if (byp_en) begin
            out_sel_reg <= 1'b0;
        end
        m_valid_reg <= rd_en || byp_en || (m_valid_reg && !m_ready);
        count_reg <= count_next;
        s_ready_reg <= !full_next;
    end
end

assign s_ready = s_ready_reg;
assign m_valid = m_valid_reg;
assign m_data = out_sel_reg ? ram_q : byp_q;
assign count = count_reg;

endmodule

`resetall
