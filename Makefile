# The two commands of the README: `make run` and `make test`. Both create
# .venv if missing and install the pinned versions of requirements.lock first.
#
#   make run CONFIG="configs/trigeorgis2016_recola.yaml my_recola.yaml" CORES=16
#
# CONFIG: experiment config files, merged in order (default: config.yaml, the
# synthetic corpus); CORES: cores to use (default: all of this machine's).

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.emotrace-installed
CORES ?= $(shell nproc)
CONFIG ?=
CONFIG_ARGS := $(if $(strip $(CONFIG)),--configfile $(CONFIG))
# The corpus the configs name (results/<corpus>/): the report is written per corpus.
CORPUS = $(shell $(PY) -m emotrace.cli config corpus.name $(CONFIG_ARGS))
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
RUN := $(SNAKEMAKE) --profile profiles/local --cores $(CORES) $(CONFIG_ARGS)

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
	$(RUN) $(CPU_ONLY)
	$(RUN) --report results/$(CORPUS)/report.html
	$(PY) -m emotrace.cli show results/$(CORPUS)

# Rebuild every figure, and nothing else, from the cached results of `make run`.
figures: setup
	$(RUN) figures \
		--forcerun $(FIGURE_RULES) --allowed-rules figures $(FIGURE_RULES)

report: setup
	$(RUN) --report results/$(CORPUS)/report.html

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

# Deletes every corpus's results (real corpora's trained models too): it lists them and
# asks first, unless FORCE=1.
clean:
	@set -e; found="$$(ls -d results logs benchmarks .snakemake 2>/dev/null || true)"; \
	if [ -z "$$found" ]; then echo "make clean: nothing to delete"; exit 0; fi; \
	echo "make clean deletes:"; \
	for p in $$found; do echo "  $$p/ ($$(du -sh $$p | cut -f1))"; done; \
	for c in $$(ls -d results/*/ 2>/dev/null); do echo "    $$c"; done; \
	if [ "$(FORCE)" != 1 ]; then \
		if [ ! -t 0 ]; then echo "make clean: not a terminal; run 'make clean FORCE=1' to delete without asking" >&2; exit 1; fi; \
		printf "Delete all of this? [y/N] "; read answer; \
		case "$$answer" in y|Y|yes) ;; *) echo "make clean: nothing deleted"; exit 1;; esac; \
	fi; \
	rm -rf $$found; echo "make clean: deleted $$(echo $$found)"
