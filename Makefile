# Touchpoint: the README's commands. `make demo` and `make test` build everything from nothing.
#
# One profile (release) and one target dir serve cargo and maturin, and both see the same PyO3
# environment, so polars is compiled once (a changed PYO3_* variable would rebuild it).

VENV        ?= .venv
PY          := $(CURDIR)/$(VENV)/bin/python
PYTHON      ?= python3
STAMP       := $(VENV)/.deps-installed
# pyspark (the `spark` extra, a 456 MB download) is installed once, for the tests of touchpoint.spark.
SPARK_STAMP := $(VENV)/.spark-installed
SPARK_DEPS  := "pyspark>=4.0,<5"
PY_DEPS     := "maturin>=1.9,<2" "polars>=2.1,<3" pandas pyarrow pytest matplotlib ruff mypy nbclient ipykernel nbformat \
               "selenium>=4.20,<5"

export PYO3_PYTHON                 = $(PY)
export PYTHON_SYS_EXECUTABLE       = $(PY)
export PYO3_ENVIRONMENT_SIGNATURE  = cpython-$(shell $(PY) -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")' 2>/dev/null)-64bit
export PYO3_BUILD_EXTENSION_MODULE = 1
export VIRTUAL_ENV                 = $(CURDIR)/$(VENV)
unexport CONDA_PREFIX

CARGO_TEST := cargo test --release --workspace

.PHONY: demo test test-rust test-python develop lint fuzz bench benchmark-doc docs fmt clean cli browser notebook

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(PY_DEPS)
	touch $@

$(SPARK_STAMP): $(STAMP)
	$(PY) -m pip install -q $(SPARK_DEPS)
	touch $@

## Build the Rust core and the Python extension into .venv.
develop: $(STAMP)
	$(VENV)/bin/maturin develop --release --quiet

## Run the main job on the bundled sample: what each channel added to each goal, then
## out/report.html (the report for the people who decide) and CSV files.
demo: develop
	$(PY) examples/demo.py --out out

## Everything the project tests, Rust and Python (what CI runs).
test: develop test-rust test-python

## cargo test builds the examples; each is then run (they assert what they print).
test-rust:
	$(CARGO_TEST)
	@for e in examples/*.rs; do \
		name=$$(basename $$e .rs); echo "example $$name"; \
		target/release/examples/$$name > /dev/null || exit 1; \
	done

## The `touchpoint` binary at target/release/touchpoint (built the way the tests build it, so
## polars is not compiled a second time with other features).
cli: $(STAMP)
	$(CARGO_TEST) --no-run

## Debian's chromium and chromium-driver, for the report's test in a real browser: installed when
## missing (apt-get, as root or through sudo).
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get install -y -q chromium chromium-driver || \
		{ $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium chromium-driver; }; \
	fi

## The report's browser test fails (instead of skipping) without a browser here; its screenshots
## of each goal's section go to target/report-screenshots.
test-python: develop $(SPARK_STAMP) browser
	PYSPARK_PYTHON=$(PY) TOUCHPOINT_REQUIRE_BROWSER=1 TOUCHPOINT_SCREENSHOTS=$(CURDIR)/target/report-screenshots \
		$(PY) -m pytest -q

## Run the tutorial notebook and store its outputs in it (the test checks that they are current).
notebook: develop
	$(PY) examples/notebooks/run_tutorial.py

lint: $(STAMP)
	cargo fmt --all -- --check
	cargo clippy --release --workspace --all-targets -- -D warnings
	$(VENV)/bin/ruff check python examples benches
	$(VENV)/bin/ruff format --check python examples benches
	$(PY) -m mypy.stubtest touchpoint._touchpoint --allowlist python/stubtest-allowlist.txt

## Fuzzing, not in `make test`: the proptest harnesses (`fuzz_*`, ignored by `cargo test`) and the
## hypothesis tests in python/fuzz, FUZZ_CASES cases each. Crashes found become tests in `make test`.
FUZZ_CASES ?= 2000
fuzz: develop
	$(PY) -m pip install -q hypothesis
	FUZZ_CASES=$(FUZZ_CASES) $(CARGO_TEST) -- --ignored fuzz_
	FUZZ_CASES=$(FUZZ_CASES) $(PY) -m pytest -q -p no:cacheprovider python/fuzz

## Criterion benches and the peer comparisons (peers when importable: `pip install channelattribution`,
## pymc-marketing, `csdid diff-diff`; rollout_peer.py also takes --peer-python PATH).
bench: develop cli
	cargo bench -p touchpoint-benches
	$(PY) benches/python_overhead.py
	$(PY) benches/peer_markov.py
	$(PY) benches/events_ingest.py
	$(PY) benches/hazard_fit.py
	$(PY) benches/hazard_memory.py
	$(PY) benches/mmm_peer.py
	$(PY) benches/rollout_peer.py
	$(PY) -c "import sys; sys.path.insert(0, 'benches'); import peer_markov; peer_markov.generate(1_000_000).write_csv('target/paths1m.csv')"
	cargo run --release -p touchpoint-benches --bin bootstrap_speed -- target/paths1m.csv

## Regenerate docs/benchmark.md (every model against the simulator's truth, every scenario).
benchmark-doc: develop
	$(PY) benches/benchmark_doc.py --people 100000 --seed 7

## Regenerate docs/python.md from the docstrings.
docs: develop
	$(PY) docs/gen_python_api.py

fmt:
	cargo fmt --all
	$(VENV)/bin/ruff format python examples benches

clean:
	rm -rf target $(VENV) out
