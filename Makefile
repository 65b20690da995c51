# genorisk - build, test, run and benchmark.
# `make run` and `make test` are all a fresh Debian 12 machine needs (as root):
# both install what they use from Debian's archive first (`make deps`).
#
#   make check        build, unit and integration suites, fuzz replay: no apt,
#                     no root, the edit-test loop (needs `make deps` once)
#   make test         deps, then everything that needs no network: check, the
#                     allocation-failure sweep, schemas, the README's commands,
#                     generated files, plink2 parity, the failover test
#   make lint         the OpenAPI lint and the Kubernetes manifest check (npm),
#                     the clang-format check
#   make fresh-test   make test on a bare Debian 12 (debootstrap minbase, only
#                     make added), run with no network but loopback
#   make test-peers   genorisk against real data and the reference tools' own
#                     outputs (pgsc_calc, plink2, pgscatalog-match); needs the
#                     ../shared/peers folder, not in the repository (PEERS=DIR)

CC      ?= cc
PREFIX  ?= /usr/local
PYTHON  := /usr/bin/python3
SANITIZE ?=
WERROR  ?=

# The project's own flags are kept whatever CFLAGS says (make CFLAGS=-O0):
# CFLAGS is the user's optimisation and debug choice, ALL_CFLAGS what builds.
WARN    := -Wall -Wextra -Wformat=2 -Wstrict-prototypes -Wshadow -Wno-unused-parameter
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -ffp-contract=off -I.
CFLAGS  ?= -O2 -g
LDLIBS  := -lhts -ldeflate -ljansson -lm -lpthread
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)

ifeq ($(SANITIZE),thread)
BUILD   ?= build/tsan
SAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
SAN_LDFLAGS := -fsanitize=thread
else ifneq ($(SANITIZE),)
BUILD   ?= build/sanitize
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_LDFLAGS := -fsanitize=$(SANITIZE)
else
BUILD   ?= build
endif
# Leaks inside third-party test machinery (tools/lsan.supp) are not ours.
export LSAN_OPTIONS ?= suppressions=$(CURDIR)/tools/lsan.supp:print_suppressions=0
ALL_CFLAGS = $(BASE_CFLAGS) $(WARN) $(if $(WERROR),-Werror) $(SAN_FLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SAN_LDFLAGS) $(LDFLAGS)

CORE_SRC := $(wildcard core/*.c)
API_SRC  := $(wildcard api/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
API_OBJ  := $(API_SRC:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libgenorisk.a
APILIB   := $(BUILD)/libgenorisk_api.a
CLI      := $(BUILD)/genorisk
DAEMON   := $(BUILD)/genoriskd
SRVLIB   := $(BUILD)/libgenorisk_server.a
SRVLIB_OBJ := $(addprefix $(BUILD)/server/,auth.o config.o log.o metrics.o pool.o process.o tls.o)

TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
ITEST_SRC := $(wildcard tests/integration/test_*.c)
ITEST_BIN := $(ITEST_SRC:tests/integration/%.c=$(BUILD)/itests/%)

# What `make run` and `make test` use, the C toolchain included. Targets
# that need more install it themselves (lint: npm; fuzz: clang; docker-test:
# podman), so a bare machine with only a Debian mirror can pass make test.
DEPS_APT := gcc libc6-dev make binutils libblas3 liblapack3 \
            libmicrohttpd-dev libjansson-dev libhts-dev libdeflate-dev libgnutls28-dev uuid-dev \
            libcriterion-dev pkg-config libcurl4-gnutls-dev wrk curl procps iproute2 \
            python3 python3-fastapi python3-uvicorn \
            plink2 tabix bcftools htslib-test python-pyvcf-examples time openssl \
            python3-xgboost python3-sklearn python3-numpy python3-scipy python3-yaml \
            python3-jsonschema chromium

.PHONY: all deps check test tsan-test run bench bench-curve bench-http bench-vcf bench-index bench-panel \
        clean fixtures demo-models lint lint-deps format-check fresh-test test-peers

all: $(LIB) $(APILIB) $(CLI) $(DAEMON)

# Installs only what is missing, so it is quick and quiet on a ready machine.
deps:
	@tools/apt_install.sh deps $(DEPS_APT)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(APILIB): $(API_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(CLI): $(BUILD)/server/genorisk.o $(BUILD)/server/process.o $(APILIB) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS)

$(SRVLIB): $(SRVLIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && $(AR) rcs $@ $^

$(DAEMON): $(BUILD)/server/genoriskd.o $(BUILD)/gen/openapi_yaml.o $(SRVLIB) $(APILIB) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS) -lmicrohttpd -luuid -lgnutls

# The contract is compiled in, so /openapi.yaml always matches the binary.
$(BUILD)/gen/openapi_yaml.c: openapi.yaml
	@mkdir -p $(dir $@)
	@{ echo '/* generated from openapi.yaml by the Makefile */'; \
	   echo 'const char gr_openapi_yaml[] = {'; \
	   od -An -v -tx1 $< | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	   echo '0x00};'; \
	   echo 'const unsigned long gr_openapi_yaml_len = sizeof gr_openapi_yaml - 1;'; } > $@

$(BUILD)/gen/openapi_yaml.o: $(BUILD)/gen/openapi_yaml.c
	$(CC) $(ALL_CFLAGS) -Wno-missing-variable-declarations -c $< -o $@

HEADERS  := $(wildcard core/*.h api/*.h server/*.h) tests/unit/helpers.h

$(BUILD)/tests/%: tests/unit/%.c $(HEADERS) $(BUILD)/tests/helpers.o $(SRVLIB) $(APILIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(BUILD)/tests/helpers.o $(SRVLIB) $(APILIB) $(LIB) $(ALL_LDFLAGS) \
	  $(LDLIBS) -lmicrohttpd -luuid -lgnutls -lcriterion

$(BUILD)/itests/%: tests/integration/%.c tests/integration/daemon.c tests/integration/daemon.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< tests/integration/daemon.c $(ALL_LDFLAGS) -lcriterion -lcurl -ljansson -lpthread

$(BUILD)/tests/helpers.o: tests/unit/helpers.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

# Each test binary runs from the repository root so fixture paths resolve;
# GENORISK_CLI tells the CLI tests which binary to run. RUN_SUITES sets
# fail=1 when a suite fails.
RUN_SUITES = for t in $(TEST_BIN); do \
	  GENORISK_CLI=$(CLI) $$t --jobs 2 || { fail=1; failed="$$failed $${t\#\#*/}"; }; \
	done; \
	for t in $(ITEST_BIN); do \
	  GENORISKD=$(DAEMON) GENORISK_CLI=$(CLI) $$t --jobs 2 || { fail=1; failed="$$failed $${t\#\#*/}"; }; \
	done; \
	$(MAKE) --no-print-directory fuzz-replay || { fail=1; failed="$$failed fuzz-replay"; }

# The edit-test loop: what the code does, without apt or root.
check:
	@$(MAKE) --no-print-directory -j$(JOBS) all $(TEST_BIN) $(ITEST_BIN)
	@fail=0; failed=; $(RUN_SUITES); \
	if [ $$fail != 0 ]; then echo "make check: FAILED ($(BUILD)):$$failed"; exit 1; fi; \
	echo "make check: all suites passed ($(BUILD))"

test: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all $(TEST_BIN) $(ITEST_BIN)
	@fail=0; failed=; $(RUN_SUITES); \
	$(MAKE) --no-print-directory alloc-fail-test || { fail=1; failed="$$failed alloc-fail"; }; \
	tools/failover_test.sh $(BUILD) || { fail=1; failed="$$failed failover"; }; \
	$(PYTHON) tools/check_schemas.py $(CLI) || { fail=1; failed="$$failed schemas"; }; \
	$(PYTHON) tools/check_readme.py $(BUILD) || { fail=1; failed="$$failed readme"; }; \
	tools/check_generated.sh || { fail=1; failed="$$failed generated"; }; \
	tools/check_report_demo.sh $(BUILD) >$(BUILD)/report-check.log 2>&1 || \
	  { cat $(BUILD)/report-check.log; fail=1; failed="$$failed report"; }; tail -1 $(BUILD)/report-check.log; \
	tmp=$$(mktemp -d) && $(PYTHON) tools/make_vcf_data.py parity --out $$tmp >/dev/null && \
	  tools/plink2_parity.sh $$tmp $(CLI) | tail -1; rc=$$?; rm -rf $$tmp; \
	  [ $$rc = 0 ] || { fail=1; failed="$$failed plink2-parity"; }; \
	if [ $$fail != 0 ]; then echo "make test: FAILED ($(BUILD)):$$failed"; exit 1; fi; \
	echo "make test: all suites passed ($(BUILD))"

# ThreadSanitizer: the daemon and CLI built with it, the integration suites
# run against them (tools/tsan_test.sh).
tsan-test: deps
	@$(MAKE) --no-print-directory all $(ITEST_BIN)
	@$(MAKE) --no-print-directory SANITIZE=thread build/tsan/genoriskd build/tsan/genorisk
	@tools/tsan_test.sh

LISTEN ?= 127.0.0.1:8080
run: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@echo "Serving the demo models (synthetic, not for clinical use) on http://$(LISTEN); Ctrl-C stops."
	@echo "Try:  curl -s http://$(LISTEN)/v1/models"
	@echo "      curl -s -H 'Content-Type: application/json' --data @models/cad-xgb-demo/example.json \\"
	@echo "           http://$(LISTEN)/v1/models/cad-xgb-demo/predict"
	$(DAEMON) --models models --listen $(LISTEN) --log-format text

# The bench bundle (a 500-tree depth-6 XGBoost classifier over 1,000 SNPs)
# and its predict bodies (1 to 10,000 samples, JSON and VCF) are made once
# into build/bench. `make bench`: TreeSHAP against XGBoost's pred_contribs,
# the CLI end to end against the Python peer (tools/peer_e2e.py), then the
# cost curve (docs/performance.md). About 5 minutes on 2 idle cores;
# BENCH_CURVE_RUNS=1 shortens the curve (3 runs a row by default).
BENCH_DIR := build/bench
BENCH_BODIES := $(BENCH_DIR)/bodies
BENCH_CURVE_RUNS ?= 3
bench: deps all $(BUILD)/bench_core
	@test -f $(BENCH_DIR)/xgb500/model.json || $(PYTHON) tools/make_bench_model.py --out $(BENCH_DIR)/xgb500
	@test -f $(BENCH_BODIES)/bodies.json || $(PYTHON) tools/make_bench_bodies.py \
	    --bundle $(BENCH_DIR)/xgb500 --out $(BENCH_BODIES) --check $(CLI)
	@tools/run_bench.sh $(BUILD)/bench_core $(BENCH_DIR)/xgb500
	@tools/bench_e2e.sh $(BUILD) $(BENCH_DIR)/xgb500 $(BENCH_BODIES)
	@$(MAKE) --no-print-directory bench-curve

bench-curve: deps all
	@test -f $(BENCH_DIR)/xgb500/model.json || $(PYTHON) tools/make_bench_model.py --out $(BENCH_DIR)/xgb500
	@test -f $(BENCH_BODIES)/bodies.json || $(PYTHON) tools/make_bench_bodies.py \
	    --bundle $(BENCH_DIR)/xgb500 --out $(BENCH_BODIES) --check $(CLI)
	@$(PYTHON) tools/bench_curve.py --build $(BUILD) --bundle $(BENCH_DIR)/xgb500 \
	    --bodies $(BENCH_BODIES) --runs $(BENCH_CURVE_RUNS) --markdown

bench-vcf: deps all
	@tools/bench_vcf.sh $(BUILD)

# Parity with the peers' real data (tools/test_peers.py): PGS000586 x 1000
# Genomes against pgsc_calc, PGS001229 x CINECA against plink2's .sscore,
# pgscatalog-match's fixtures, pgsc_calc's ancestry adjustment (HGDP x 1000G)
# against genorisk adjust, and held-out 1000G samples placed by genorisk
# predict --reference (tools/make_reference.py builds both references:
# numpy, scipy, scikit-learn, bcftools). Needs the ../shared/peers folder,
# which stays outside the repository (PEERS=DIR for another place); without it
# the target fails, it does not skip. Temporary bundles go to a mktemp
# directory.
PEERS ?= ../shared/peers
test-peers: all
	@tools/apt_install.sh test-peers plink2 zstd bcftools python3-numpy python3-scipy \
	    python3-sklearn
	@$(PYTHON) tools/test_peers.py --cli $(CLI) --peers $(PEERS)

# A 100-variant score on an indexed 5,000,000-record VCF (760 MB, generated
# once into build/bench/index): indexed against streamed and bcftools view -R.
bench-index: deps all
	@tools/bench_index.sh $(BUILD)

# Panels: ten scores from one read against one score, on bench-index's
# whole-genome-like VCF and bench-vcf's 1,000-sample cohort (plink2 beside).
bench-panel: deps all
	@tools/bench_panel.sh $(BUILD)

bench-http: deps all
	@test -f $(BENCH_DIR)/xgb500/model.json || $(PYTHON) tools/make_bench_model.py --out $(BENCH_DIR)/xgb500
	@tools/bench_http.sh $(BUILD) $(BENCH_DIR)/xgb500

# Renders a report document (api/report.h) for tools/check_report.py.
$(BUILD)/render_report: tools/render_report.c $(HEADERS) $(APILIB) $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(APILIB) $(LIB) $(ALL_LDFLAGS) $(LDLIBS)

$(BUILD)/bench_core: tests/bench/bench_core.c $(HEADERS) $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(ALL_LDFLAGS) $(LDLIBS)

fixtures:
	$(PYTHON) tools/make_fixtures.py
	$(PYTHON) tools/make_oadp_fixture.py

demo-models:
	$(PYTHON) tools/make_demo_models.py

clean:
	rm -rf build

# The OpenAPI lint and the Kubernetes manifest check need the npm registry
# (their pinned tools), the format check clang-format: none is part of make
# test, which must pass where only a Debian mirror can be reached.
lint: lint-deps format-check
	@fail=0; tools/lint_openapi.sh || fail=1; tools/check_k8s.sh || fail=1; \
	if [ $$fail != 0 ]; then echo "make lint: FAILED"; exit 1; fi; echo "make lint: passed"

lint-deps:
	@command -v npm >/dev/null || tools/apt_install.sh lint nodejs npm
	@tools/apt_install.sh lint clang-format

FORMAT_SRC = $(filter-out $(FORMAT_EXEMPT),$(wildcard core/*.[ch] api/*.[ch] server/*.[ch]))
format-check:
	@tools/format_check.sh $(FORMAT_SRC)

# make test on a bare Debian 12 (tools/fresh_test.sh).
fresh-test:
	@tools/apt_install.sh fresh-test debootstrap iproute2
	@tools/fresh_test.sh

# Hardening and shipping targets (fuzz, soak, docker-test, ...), one file each.
-include $(sort $(wildcard mk/*.mk))

-include $(shell find $(BUILD) -path build/fresh -prune -o -name '*.d' -type f -print 2>/dev/null)
