# Quick start: `make demo` (set up, then run the pipeline on the embedded default)
#              `make test` (set up, then run the test suite)
VENV ?= .venv
CORES ?= all

.PHONY: setup demo bench smoke test lint benchmark docs clean
setup:
	bash tools/setup-venv.sh

demo: setup
	$(VENV)/bin/snakemake --cores $(CORES)

bench: setup
	$(VENV)/bin/snakemake --cores $(CORES) --configfile presets/bench.yaml

docs:
	$(VENV)/bin/python tools/docs-results.py results results/bench

smoke: setup
	$(VENV)/bin/snakemake --cores $(CORES) --configfile presets/smoke.yaml

test: setup
	$(VENV)/bin/python -m pytest -q

lint: setup
	$(VENV)/bin/snakemake --lint
	$(VENV)/bin/ruff check dabfusion scripts tests benchmarks tools

benchmark: setup
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(VENV)/bin/python $$b || exit 1; done

clean:
	rm -rf results resources .snakemake
