/*
 * snn_layer: one hidden spiking layer = spike router (snn_router) + IF neuron array
 * (snn_if_array), run one timestep per go, docs/architecture.md §3.
 *
 * Contract (rst synchronous, active high; streams valid/ready)
 *   - clear_valid / clear_ready: the array's clear (start of an image), see snn_if_array.
 *   - go (a one-cycle pulse while the layer is idle): the layer consumes the input events
 *     s_* (the indices of the spikes of its input population in this timestep, then one EOT
 *     beat) from the cycle of go on, up to and including the EOT, and never beyond it (the
 *     next timestep's events may already wait behind it). The router fans every event out into
 *     the array; after the EOT it requests the array's sweep, which emits this timestep's
 *     output spikes in bank-row order (ascending for a dense layer) and one EOT on m_*.
 *   - done is high in the cycle in which the output EOT transfers (m_valid && m_ready &&
 *     m_eot), i.e. the layer's timestep ends at that edge.
 *   - Cycles from the go edge (the edge after which go is high) to the done edge, when s_*
 *     already holds the whole timestep and m_ready is always 1: sum over the events of
 *     max(G, 1) + sum over the bank rows of max(1, s_r) + 14, with G the event's update
 *     groups (snn_router) and s_r the spikes of bank row r: the first event is taken at the
 *     go edge + 1, the router requests the sweep 8 + sum max(G, 1) edges later (its
 *     SWEEP_LATENCY), the array takes it at the next edge and transfers its EOT
 *     sum_r max(1, s_r) + 4 edges after that (snngen/hwmodel/timing.py, LAYER_OVERHEAD = 14).
 *   - busy: the router or the array is working.
 *   - dbg_rd_*: the array's debug read port (readout of the output layer, tests).
 *
 * Parameters: R_* are the router's (snn_router: input map R_CIN x R_H x R_W, output map
 * R_COUT x R_OH x R_OW = the array's N neurons, kernel, stride, padding, weight ROM), the
 * others the array's (snn_if_array); the update width is W_WIDTH on both sides.
 *
 * Verilog-2005, `default_nettype none.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module snn_layer #
(
    // router geometry (see snn_router)
    parameter R_CIN = 1,
    parameter R_H = 4,
    parameter R_W = 4,
    parameter R_COUT = 1,
    parameter R_OH = 4,
    parameter R_OW = 4,
    parameter R_KH = 1,
    parameter R_KW = 1,
    parameter R_SH = 1,
    parameter R_SW = 1,
    parameter R_PH = 0,
    parameter R_PW = 0,
    // input event index width
    parameter R_IN_INDEX_WIDTH = 4,
    // weight ROM contents (.mem, LANES * W_WIDTH-bit words, snngen.hwmodel.blocks.router.rom_words)
    parameter R_WEIGHT_FILE = "",
    // neurons (R_COUT * R_OH * R_OW)
    parameter N = 16,
    // update lanes = RAM banks (a power of two)
    parameter LANES = 1,
    // signed weight width
    parameter W_WIDTH = 8,
    // signed membrane width
    parameter V_WIDTH = 16,
    // signed bias (K) width
    parameter K_WIDTH = 8,
    // firing threshold, initial membrane, optional clamp
    parameter THRESHOLD = 100,
    parameter V0 = 0,
    parameter HAS_VMIN = 0,
    parameter VMIN = 0,
    // 1: spiking; 0: membrane-readout output population
    parameter SPIKING = 1,
    // per-neuron bias (.mem, N signed K_WIDTH-bit words)
    parameter K_INIT_FILE = "",
    // output index width (>= clog2(N))
    parameter INDEX_WIDTH = $clog2(N),
    // bank address width (>= clog2(ceil(R_COUT / LANES)*R_OH*R_OW), >= 1)
    parameter ADDR_WIDTH = ($clog2((R_COUT + LANES - 1) / LANES * R_OH * R_OW) > 0)
                           ? $clog2((R_COUT + LANES - 1) / LANES * R_OH * R_OW) : 1
)
(
    input  wire                         clk,
    input  wire                         rst,

    input  wire                         clear_valid,
    output wire                         clear_ready,

    input  wire                         go,
    output wire                         done,
    output wire                         busy,

    /*
     * Input events (slave)
     */
    input  wire                         s_valid,
    output wire                         s_ready,
    input  wire [R_IN_INDEX_WIDTH-1:0]  s_index,
    input  wire                         s_eot,

    /*
     * Output events (master)
     */
    output wire                         m_valid,
    input  wire                         m_ready,
    output wire [INDEX_WIDTH-1:0]       m_index,
    output wire                         m_eot,

    input  wire                         dbg_rd_en,
    input  wire [INDEX_WIDTH-1:0]       dbg_rd_index,
    output wire [V_WIDTH-1:0]           dbg_rd_data
);

// consuming this timestep's input events (besides the go cycle itself)
reg en_reg;
wire en = go || en_reg;

wire r_s_valid = s_valid && en;
wire r_s_ready;
wire eot_taken = r_s_valid && r_s_ready && s_eot;

always @(posedge clk) begin
    if (rst) begin
        en_reg <= 1'b0;
    end else begin
        en_reg <= en && !eot_taken;
    end
end

assign s_ready = r_s_ready && en;

wire upd_valid;
wire upd_ready;
wire [ADDR_WIDTH-1:0] upd_addr;
wire [LANES*W_WIDTH-1:0] upd_weight;
wire sweep_valid;
wire sweep_ready;
wire r_busy;
wire a_busy;

snn_router #(
    .CIN(R_CIN), .H(R_H), .W(R_W), .COUT(R_COUT), .OH(R_OH), .OW(R_OW),
    .KH(R_KH), .KW(R_KW), .SH(R_SH), .SW(R_SW), .PH(R_PH), .PW(R_PW),
    .LANES(LANES), .W_WIDTH(W_WIDTH), .VALUE_WIDTH(0), .U_WIDTH(W_WIDTH),
    .IN_INDEX_WIDTH(R_IN_INDEX_WIDTH), .ADDR_WIDTH(ADDR_WIDTH), .WEIGHT_FILE(R_WEIGHT_FILE)
) router (
    .clk(clk), .rst(rst),
    .s_valid(r_s_valid), .s_ready(r_s_ready), .s_index(s_index), .s_value(1'b0),
    .s_eot(s_eot),
    .upd_valid(upd_valid), .upd_ready(upd_ready), .upd_addr(upd_addr),
    .upd_weight(upd_weight),
    .sweep_valid(sweep_valid), .sweep_ready(sweep_ready),
    .busy(r_busy)
);

snn_if_array #(
    .N(N), .LANES(LANES), .PLANE(R_OH * R_OW), .W_WIDTH(W_WIDTH), .V_WIDTH(V_WIDTH),
    .K_WIDTH(K_WIDTH),
    .THRESHOLD(THRESHOLD), .V0(V0), .HAS_VMIN(HAS_VMIN), .VMIN(VMIN), .SPIKING(SPIKING),
    .K_INIT_FILE(K_INIT_FILE), .INDEX_WIDTH(INDEX_WIDTH), .ADDR_WIDTH(ADDR_WIDTH)
) array (
    .clk(clk), .rst(rst),
    .clear_valid(clear_valid), .clear_ready(clear_ready),
    .upd_valid(upd_valid), .upd_ready(upd_ready), .upd_addr(upd_addr),
    .upd_weight(upd_weight),
    // the bias never changes: K stays as loaded from K_INIT_FILE
    .k_wr_en(1'b0), .k_wr_row({ADDR_WIDTH{1'b0}}), .k_wr_data({(LANES*K_WIDTH){1'b0}}),
    .sweep_valid(sweep_valid), .sweep_ready(sweep_ready),
    .m_valid(m_valid), .m_ready(m_ready), .m_index(m_index), .m_eot(m_eot),
    .busy(a_busy),
    .dbg_rd_en(dbg_rd_en), .dbg_rd_index(dbg_rd_index), .dbg_rd_data(dbg_rd_data)
);

assign done = m_valid && m_ready && m_eot;
assign busy = r_busy || a_busy;

endmodule

`resetall
