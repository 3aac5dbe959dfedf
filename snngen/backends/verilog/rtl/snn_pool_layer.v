/*
 * snn_pool_layer: a spiking max-pool stage = snn_maxpool_gate run one timestep per go,
 * docs/semantics.md §4 and docs/architecture.md §3.
 *
 * Contract (rst synchronous, active high; streams valid/ready)
 *   - clear_valid / clear_ready: the gate's clear (counts <- 0, start of an image).
 *   - go (a one-cycle pulse while idle): the gate consumes this timestep's input events s_*
 *     (then one EOT) from the cycle of go on, never beyond the EOT, and emits the pooled
 *     spikes and one EOT on m_*. done is high in the cycle of the output EOT transfer.
 *   - Cycles from the go edge to the done edge with m_ready always 1 and s_* holding the
 *     whole timestep: E + C*OH*OW*KH*KW + 4, E = the number of input events: they are taken
 *     at the go edge + 1 .. + E, the EOT at + E + 1, and the gate's sweep transfers its EOT
 *     C*OH*OW*KH*KW + 3 edges later (snngen/hwmodel/timing.py, POOL_OVERHEAD = 4).
 *
 * Verilog-2005, `default_nettype none.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module snn_pool_layer #
(
    // input map and pooling window (see snn_maxpool_gate)
    parameter C = 1,
    parameter H = 4,
    parameter W = 4,
    parameter KH = 2,
    parameter KW = 2,
    parameter SH = 2,
    parameter SW = 2,
    parameter PH = 0,
    parameter PW = 0,
    parameter OH = 2,
    parameter OW = 2,
    // spike count width (holds max_timesteps)
    parameter CNT_WIDTH = 8,
    parameter IN_INDEX_WIDTH = 4,
    parameter OUT_INDEX_WIDTH = 2
)
(
    input  wire                         clk,
    input  wire                         rst,

    input  wire                         clear_valid,
    output wire                         clear_ready,

    input  wire                         go,
    output wire                         done,
    output wire                         busy,

    input  wire                         s_valid,
    output wire                         s_ready,
    input  wire [IN_INDEX_WIDTH-1:0]    s_index,
    input  wire                         s_eot,

    output wire                         m_valid,
    input  wire                         m_ready,
    output wire [OUT_INDEX_WIDTH-1:0]   m_index,
    output wire                         m_eot
);

reg en_reg;
wire en = go || en_reg;
wire g_s_valid = s_valid && en;
wire g_s_ready;
wire eot_taken = g_s_valid && g_s_ready && s_eot;

always @(posedge clk) begin
    if (rst) begin
        en_reg <= 1'b0;
    end else begin
        en_reg <= en && !eot_taken;
    end
end

assign s_ready = g_s_ready && en;

snn_maxpool_gate #(
    .C(C), .H(H), .W(W), .KH(KH), .KW(KW), .SH(SH), .SW(SW), .PH(PH), .PW(PW),
    .OH(OH), .OW(OW), .CNT_WIDTH(CNT_WIDTH), .IN_INDEX_WIDTH(IN_INDEX_WIDTH),
    .OUT_INDEX_WIDTH(OUT_INDEX_WIDTH)
) gate (
    .clk(clk), .rst(rst),
    .clear_valid(clear_valid), .clear_ready(clear_ready),
    .s_valid(g_s_valid), .s_ready(g_s_ready), .s_index(s_index), .s_eot(s_eot),
    .m_valid(m_valid), .m_ready(m_ready), .m_index(m_index), .m_eot(m_eot),
    .busy(busy)
);

assign done = m_valid && m_ready && m_eot;

endmodule

`resetall
