/*
 * snn_input_layer: the first spiking layer under analog (constant-current) input,
 * docs/semantics.md §2 and docs/architecture.md §3.
 *
 * Its input current does not change during an image, so it is computed once per image:
 * load takes the image's pixels, the router (snn_router, value-carrying: every update is
 * weight * pixel) accumulates the convolution (or dense) current in snn_accum, whose readout
 * (optionally max-pooled, plus the bias) is written into the IF array's constant currents K.
 * Every go is then one timestep: the array's sweep adds K to every membrane, fires, subtracts,
 * clamps, and emits the spikes.
 *
 * Contract (rst synchronous, active high; streams valid/ready)
 *   - clear_valid / clear_ready: clears the accumulators and the membranes (both are idle
 *     whenever the controller clears; clear_ready is the AND of theirs).
 *   - load (a one-cycle pulse): from the cycle of load on, pixels 0 .. N_IN - 1 (flat order,
 *     unsigned R_VALUE_WIDTH bits) are taken from s_pix_*: a zero pixel is taken in the
 *     cycle it is offered (it adds nothing), a nonzero one when the router accepts it. After
 *     the last pixel the router gets an EOT; it then starts the accumulator readout, which
 *     writes K. load_done is high in the cycle in which the readout's EOT transfers.
 *   - go (a one-cycle pulse while idle, after load_done): one timestep; done is high in the
 *     cycle in which the output EOT transfers. From the go edge to the done edge: N + 4
 *     cycles when m_ready is always 1 (the sweep is requested in the go cycle and accepted at
 *     the next edge: 1 + N + 3).
 *   - dbg_rd_*: the array's debug read port.
 *
 * Parameters: R_* the router's, A_* the accumulator's (map A_C x A_H x A_W = the router's
 * output map; pooling A_PK*, A_PS*, A_PP*; pooled map = the array's N neurons; bias per
 * channel, a dense first layer being R_COUT channels of 1x1), the others the array's. The
 * accumulator reads out one bank row (LANES channels) per beat, which the array takes as one
 * K row.
 *
 * Verilog-2005, `default_nettype none.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module snn_input_layer #
(
    // pixels per image (R_CIN * R_H * R_W)
    parameter N_IN = 64,
    // router geometry (see snn_router)
    parameter R_CIN = 1,
    parameter R_H = 8,
    parameter R_W = 8,
    parameter R_COUT = 1,
    parameter R_OH = 8,
    parameter R_OW = 8,
    parameter R_KH = 1,
    parameter R_KW = 1,
    parameter R_SH = 1,
    parameter R_SW = 1,
    parameter R_PH = 0,
    parameter R_PW = 0,
    // signed weight width and unsigned pixel width; updates are R_W_WIDTH + R_VALUE_WIDTH
    parameter R_W_WIDTH = 8,
    parameter R_VALUE_WIDTH = 8,
    // pixel index width (>= clog2(N_IN))
    parameter R_IN_INDEX_WIDTH = 6,
    // weight ROM contents (.mem, snngen.hwmodel.blocks.router.rom_words)
    parameter R_WEIGHT_FILE = "",
    // accumulator bank address width (>= clog2(ceil(R_COUT / LANES)*R_OH*R_OW), >= 1)
    parameter A_ADDR_WIDTH = 6,
    // accumulator width (signed) and pooling of the accumulated current
    parameter A_WIDTH = 20,
    parameter A_PKH = 1,
    parameter A_PKW = 1,
    parameter A_PSH = 1,
    parameter A_PSW = 1,
    parameter A_PPH = 0,
    parameter A_PPW = 0,
    // per-channel bias (.mem, ceil(R_COUT/LANES) words of LANES signed K_WIDTH-bit fields)
    parameter A_BIAS_FILE = "",
    // neurons of the array (the pooled map)
    parameter N = 64,
    // update lanes (router, accumulator; the array gets no updates)
    parameter LANES = 1,
    // signed membrane width and constant-current width
    parameter V_WIDTH = 16,
    parameter K_WIDTH = 16,
    parameter THRESHOLD = 100,
    parameter V0 = 0,
    parameter HAS_VMIN = 0,
    parameter VMIN = 0,
    parameter SPIKING = 1,
    // initial K contents (overwritten by every load; any N-word .mem)
    parameter K_INIT_FILE = "",
    // output index width (>= clog2(N))
    parameter INDEX_WIDTH = $clog2(N),
    // the array's pooled map (for the accumulator readout): N = R_COUT * OH * OW
    parameter OH = 8,
    parameter OW = 8
)
(
    input  wire                         clk,
    input  wire                         rst,

    input  wire                         clear_valid,
    output wire                         clear_ready,

    input  wire                         load,
    output wire                         load_done,

    /*
     * Pixels (slave)
     */
    input  wire                         s_pix_valid,
    output wire                         s_pix_ready,
    input  wire [R_VALUE_WIDTH-1:0]     s_pix_data,

    input  wire                         go,
    output wire                         done,
    output wire                         busy,

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

localparam U_WIDTH = R_W_WIDTH + R_VALUE_WIDTH;
localparam integer LAST_PIX_I = N_IN - 1;
localparam [R_IN_INDEX_WIDTH-1:0] LAST_PIX = LAST_PIX_I[R_IN_INDEX_WIDTH-1:0];
// bank address width of the (empty) update ports of the array
localparam V_ADDR_WIDTH = ($clog2((R_COUT + LANES - 1) / LANES * OH * OW) > 0)
                          ? $clog2((R_COUT + LANES - 1) / LANES * OH * OW) : 1;

generate
    if (N_IN != R_CIN * R_H * R_W) begin : g_bad_n_in
        snn_input_layer_ERROR_N_IN_must_be_R_CIN_R_H_R_W bad_n_in();
    end
    if (N != R_COUT * OH * OW) begin : g_bad_n
        snn_input_layer_ERROR_N_must_be_R_COUT_OH_OW bad_n();
    end
endgenerate

/*
 * pixel front end: index counter, zero pixels skipped, EOT after the last pixel
 */
reg ld_reg;                      // taking pixels
reg eot_reg;                     // the EOT is due
reg [R_IN_INDEX_WIDTH-1:0] pix_idx_reg;

wire r_s_valid = (ld_reg && s_pix_valid && s_pix_data != {R_VALUE_WIDTH{1'b0}}) || eot_reg;
wire r_s_ready;
wire pix_take = ld_reg && s_pix_valid && (s_pix_data == {R_VALUE_WIDTH{1'b0}} || r_s_ready);

always @(posedge clk) begin
    if (rst) begin
        ld_reg <= 1'b0;
        eot_reg <= 1'b0;
    end else begin
        if (load) begin
            ld_reg <= 1'b1;
        end else if (pix_take && pix_idx_reg == LAST_PIX) begin
            ld_reg <= 1'b0;
            eot_reg <= 1'b1;
        end
        if (eot_reg && r_s_ready) begin
            eot_reg <= 1'b0;
        end
    end
end

always @(posedge clk) begin
    if (load) begin
        pix_idx_reg <= {R_IN_INDEX_WIDTH{1'b0}};
    end else if (pix_take) begin
        pix_idx_reg <= pix_idx_reg + 1'b1;
    end
end

assign s_pix_ready = pix_take;

/*
 * router -> accumulator
 */
wire upd_valid;
wire upd_ready;
wire [A_ADDR_WIDTH-1:0] upd_addr;
wire [LANES*U_WIDTH-1:0] upd_weight;
wire acc_sweep_valid;
wire acc_sweep_ready;
wire r_busy;

snn_router #(
    .CIN(R_CIN), .H(R_H), .W(R_W), .COUT(R_COUT), .OH(R_OH), .OW(R_OW),
    .KH(R_KH), .KW(R_KW), .SH(R_SH), .SW(R_SW), .PH(R_PH), .PW(R_PW),
    .LANES(LANES), .W_WIDTH(R_W_WIDTH), .VALUE_WIDTH(R_VALUE_WIDTH), .U_WIDTH(U_WIDTH),
    .IN_INDEX_WIDTH(R_IN_INDEX_WIDTH), .ADDR_WIDTH(A_ADDR_WIDTH), .WEIGHT_FILE(R_WEIGHT_FILE)
) router (
    .clk(clk), .rst(rst),
    .s_valid(r_s_valid), .s_ready(r_s_ready), .s_index(pix_idx_reg), .s_value(s_pix_data),
    .s_eot(eot_reg),
    .upd_valid(upd_valid), .upd_ready(upd_ready), .upd_addr(upd_addr),
    .upd_weight(upd_weight),
    .sweep_valid(acc_sweep_valid), .sweep_ready(acc_sweep_ready),
    .busy(r_busy)
);

wire acc_clear_ready;
wire acc_m_valid;
wire [V_ADDR_WIDTH-1:0] acc_m_row;
wire [LANES*K_WIDTH-1:0] acc_m_value;
wire acc_m_eot;
wire acc_busy;

snn_accum #(
    .C(R_COUT), .H(R_OH), .W(R_OW), .LANES(LANES), .U_WIDTH(U_WIDTH), .A_WIDTH(A_WIDTH),
    .K_WIDTH(K_WIDTH), .PKH(A_PKH), .PKW(A_PKW), .PSH(A_PSH), .PSW(A_PSW), .PPH(A_PPH),
    .PPW(A_PPW), .OH(OH), .OW(OW), .ADDR_WIDTH(A_ADDR_WIDTH), .OUT_ROW_WIDTH(V_ADDR_WIDTH),
    .BIAS_FILE(A_BIAS_FILE)
) accum (
    .clk(clk), .rst(rst),
    .clear_valid(clear_valid), .clear_ready(acc_clear_ready),
    .upd_valid(upd_valid), .upd_ready(upd_ready), .upd_addr(upd_addr),
    .upd_weight(upd_weight),
    .sweep_valid(acc_sweep_valid), .sweep_ready(acc_sweep_ready),
    .m_valid(acc_m_valid), .m_ready(1'b1), .m_row(acc_m_row), .m_value(acc_m_value),
    .m_eot(acc_m_eot),
    .busy(acc_busy)
);

assign load_done = acc_m_valid && acc_m_eot;

/*
 * the IF array: K <- the accumulator readout; one sweep per go
 */
reg sweep_reg;
wire sweep_valid = go || sweep_reg;
wire sweep_ready;
wire arr_clear_ready;
wire arr_busy;
wire unused_arr_upd_ready;

always @(posedge clk) begin
    if (rst) begin
        sweep_reg <= 1'b0;
    end else begin
        sweep_reg <= sweep_valid && !sweep_ready;
    end
end

snn_if_array #(
    .N(N), .LANES(LANES), .PLANE(OH * OW), .W_WIDTH(1), .V_WIDTH(V_WIDTH), .K_WIDTH(K_WIDTH),
    .THRESHOLD(THRESHOLD), .V0(V0), .HAS_VMIN(HAS_VMIN), .VMIN(VMIN), .SPIKING(SPIKING),
    .K_INIT_FILE(K_INIT_FILE), .INDEX_WIDTH(INDEX_WIDTH), .ADDR_WIDTH(V_ADDR_WIDTH)
) array (
    .clk(clk), .rst(rst),
    .clear_valid(clear_valid), .clear_ready(arr_clear_ready),
    // no synaptic events: the whole current is K
    .upd_valid(1'b0), .upd_ready(unused_arr_upd_ready),
    .upd_addr({V_ADDR_WIDTH{1'b0}}), .upd_weight({LANES{1'b0}}),
    // the accumulator's beats are the array's K rows
    .k_wr_en(acc_m_valid && !acc_m_eot), .k_wr_row(acc_m_row), .k_wr_data(acc_m_value),
    .sweep_valid(sweep_valid), .sweep_ready(sweep_ready),
    .m_valid(m_valid), .m_ready(m_ready), .m_index(m_index), .m_eot(m_eot),
    .busy(arr_busy),
    .dbg_rd_en(dbg_rd_en), .dbg_rd_index(dbg_rd_index), .dbg_rd_data(dbg_rd_data)
);

assign clear_ready = acc_clear_ready && arr_clear_ready;
assign done = m_valid && m_ready && m_eot;
assign busy = ld_reg || eot_reg || r_busy || acc_busy || arr_busy;

endmodule

`resetall
