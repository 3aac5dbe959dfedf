/*
 * snn_rom: synchronous-read ROM initialised from a .mem file (weights, thresholds, tables).
 *
 * Contract
 *   - Read: on a rising edge of clk with en high, data <= word at addr. data is valid from
 *     that edge on (one cycle of latency) and holds its value while en is low.
 *   - addr must be < DEPTH; a read beyond the last word gives an undefined value.
 *   - No reset: data is undefined until the first read (an FPGA block RAM output register
 *     powers up as 0, a simulator shows X).
 *   - The contents come from INIT_FILE by $readmemh at elaboration/start of simulation; a
 *     relative path is relative to the simulator's or synthesis tool's working directory, so
 *     pass an absolute path when in doubt.
 *
 * .mem format (written by snngen.backends.verilog.memfile.write_mem, read back by read_mem)
 *   - plain text, one word per line, DEPTH lines, the word for address 0 first, each line
 *     ending in a newline; no comments, no @address records
 *   - each word is hexadecimal, lower case, zero-padded to exactly ceil(DATA_WIDTH/4)
 *     digits; signed data is stored as its DATA_WIDTH-bit two's complement pattern, so
 *     -1 with DATA_WIDTH = 13 is 1fff
 *
 * Written for block RAM inference (Yosys memory_libmap, vendor tools): a plain
 * `reg mem [0:DEPTH-1]` loaded by `initial $readmemh`, never written, read through one
 * register with a clock enable. Checked by hand with Yosys 0.70 (DEPTH 1024, DATA_WIDTH 16):
 * synth_ice40 -> 4 SB_RAM40_4K, synth_ecp5 -> 1 DP16KD, synth_xilinx -> 1 RAMB18E1.
 *
 * Verilog-2005, `default_nettype none.
 */

`resetall
`timescale 1ns / 1ps
`default_nettype none

module snn_rom #
(
    // Width of one word in bits (>= 1)
    parameter DATA_WIDTH = 8,
    // Number of words (>= 2); need not be a power of two
    parameter DEPTH = 256,
    // Width of addr in bits; at least $clog2(DEPTH)
    parameter ADDR_WIDTH = $clog2(DEPTH),
    // Path of the .mem file holding the DEPTH words (see the format above); required
    parameter INIT_FILE = ""
)
(
    input  wire                   clk,
    input  wire [ADDR_WIDTH-1:0]  addr,
    input  wire                   en,
    output reg  [DATA_WIDTH-1:0]  data
);

// check configuration: an unknown module name makes elaboration fail with this message
generate
    if (DATA_WIDTH < 1) begin : g_bad_width
        snn_rom_ERROR_DATA_WIDTH_must_be_at_least_1 bad_width();
    end
    if (DEPTH < 2) begin : g_bad_depth
        snn_rom_ERROR_DEPTH_must_be_at_least_2 bad_depth();
    end
    if (ADDR_WIDTH < $clog2(DEPTH)) begin : g_bad_addr
        snn_rom_ERROR_ADDR_WIDTH_too_small_for_DEPTH bad_addr();
    end
    if (INIT_FILE == "") begin : g_no_file
        snn_rom_ERROR_INIT_FILE_must_name_a_mem_file no_file();
    end
endgenerate

// address bits that select a word; wider addr bits only reach beyond DEPTH (undefined)
localparam MEM_ADDR_WIDTH = $clog2(DEPTH);

reg [DATA_WIDTH-1:0] mem [0:DEPTH-1];

wire [MEM_ADDR_WIDTH-1:0] mem_addr = addr[MEM_ADDR_WIDTH-1:0];

generate
    if (ADDR_WIDTH > MEM_ADDR_WIDTH) begin : g_wide_addr
        // named unused_* so lint knows these bits are ignored on purpose
        wire unused_addr_high = |addr[ADDR_WIDTH-1:MEM_ADDR_WIDTH];
    end
endgenerate

initial begin
    $readmemh(INIT_FILE, mem);
end

always @(posedge clk) begin
    if (en) begin
        data <= mem[mem_addr];
    end
end

endmodule

`resetall
