# The two commands of the README: `make run` and `make test`. Both create
# .venv if missing and install the pinned versions of requirements.lock first.

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.emotrace-installed
CORES ?= 2
# Seconds after which the SLURM tests are killed (make test, make test-slurm).
SLURM_TIMEOUT ?= 1800
SNAKEMAKE := $(VENV)/bin/snakemake
# Without an NVIDIA GPU the one `gpu` slot of profiles/local would queue every
# training job behind the others for nothing: CPU-only machines let them run side
# by side, one thread each (torch uses a second thread poorly on small batches).
GPUS ?= $(shell nvidia-smi -L 2>/dev/null | grep -c '^GPU')
ifeq ($(GPUS),0)
CPU_ONLY := --set-resources train_network:gpu=0 extract_ssl:gpu=0 --set-threads train_network=1 extract_ssl=1
endif

.PHONY: setup run test test-slurm figures report lint clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade 'pip==26.3'
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

FIGURE_RULES := figure_traces figure_cells figure_lime figure_curves figure_bars

run: setup
	$(SNAKEMAKE) --profile profiles/local --cores $(CORES) $(CPU_ONLY)
	$(SNAKEMAKE) --profile profiles/local --cores $(CORES) --report results/report.html
	$(PY) -m emotrace.cli show results

# Rebuild every figure, and nothing else, from the cached results of `make run`.
figures: setup
	$(SNAKEMAKE) --profile profiles/local --cores $(CORES) figures \
		--forcerun $(FIGURE_RULES) --allowed-rules figures $(FIGURE_RULES)

report: setup
	$(SNAKEMAKE) --profile profiles/local --cores $(CORES) --report results/report.html

# Unit and integration tests, then the tiny pipeline through profiles/slurm on a
# one-node SLURM cluster started on this machine (tests/slurm/cluster.sh installs
# slurm-wlm and munge as root; without root or apt it skips and says why).
test: setup
	bash .ci/install-browser.sh
	$(PY) -m pytest -q -ra --durations=15 -m "not slurm"
	$(MAKE) --no-print-directory test-slurm

test-slurm: setup
	timeout -s KILL $(SLURM_TIMEOUT) $(PY) -m pytest -q -ra -m slurm tests/test_slurm.py

lint: setup
	$(SNAKEMAKE) --lint

clean:
	rm -rf results logs benchmarks .snakemake
