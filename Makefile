# genorisk - build, test, run and benchmark.
# `make run` and `make test` are all a fresh Debian 12 machine needs (as root).

CC      ?= cc
PREFIX  ?= /usr/local
PYTHON  := /usr/bin/python3
SANITIZE ?=
WERROR  ?=

WARN    := -Wall -Wextra -Wformat=2 -Wstrict-prototypes -Wshadow -Wno-unused-parameter
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -ffp-contract=off $(WARN) $(if $(WERROR),-Werror) -I.
LDLIBS  := -lhts -ldeflate -ljansson -lm -lpthread

ifeq ($(SANITIZE),thread)
BUILD   ?= build/tsan
CFLAGS  += -fsanitize=thread -fno-omit-frame-pointer
LDFLAGS += -fsanitize=thread
else ifneq ($(SANITIZE),)
BUILD   ?= build/sanitize
CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
else
BUILD   ?= build
endif

CORE_SRC := $(wildcard core/*.c)
API_SRC  := $(wildcard api/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
API_OBJ  := $(API_SRC:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libgenorisk.a
APILIB   := $(BUILD)/libgenorisk_api.a
CLI      := $(BUILD)/genorisk
DAEMON   := $(BUILD)/genoriskd
SRVLIB   := $(BUILD)/libgenorisk_server.a
SRVLIB_OBJ := $(addprefix $(BUILD)/server/,auth.o config.o log.o metrics.o pool.o tls.o)

TEST_SRC := $(wildcard tests/unit/test_*.c)
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
ITEST_SRC := $(wildcard tests/integration/test_*.c)
ITEST_BIN := $(ITEST_SRC:tests/integration/%.c=$(BUILD)/itests/%)

DEPS_APT := libmicrohttpd-dev libjansson-dev libhts-dev libdeflate-dev libgnutls28-dev uuid-dev libcriterion-dev pkg-config \
            libcurl4-gnutls-dev wrk curl python3-fastapi python3-uvicorn \
            plink2 tabix bcftools htslib-test python-pyvcf-examples time openssl \
            python3-xgboost python3-sklearn python3-numpy python3-yaml python3-jsonschema

.PHONY: all deps test tsan-test run bench bench-http bench-vcf clean fixtures demo-models

all: $(LIB) $(APILIB) $(CLI) $(DAEMON)

# Installs only what is missing, so it is quick and quiet on a ready machine.
deps:
	@missing=""; for p in $(DEPS_APT); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root (apt-get install$$missing)"; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@# npm (for the OpenAPI linter): Debian's, unless the machine already has one
	@command -v npm >/dev/null || { echo "make deps: installing nodejs npm"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm; }

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(APILIB): $(API_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(CLI): $(BUILD)/server/genorisk.o $(APILIB) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(SRVLIB): $(SRVLIB_OBJ)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(DAEMON): $(BUILD)/server/genoriskd.o $(BUILD)/gen/openapi_yaml.o $(SRVLIB) $(APILIB) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lmicrohttpd -luuid -lgnutls

# The contract is compiled in, so /openapi.yaml always matches the binary.
$(BUILD)/gen/openapi_yaml.c: openapi.yaml
	@mkdir -p $(dir $@)
	@{ echo '/* generated from openapi.yaml by the Makefile */'; \
	   echo 'const char gr_openapi_yaml[] = {'; \
	   od -An -v -tx1 $< | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; \
	   echo '0x00};'; \
	   echo 'const unsigned long gr_openapi_yaml_len = sizeof gr_openapi_yaml - 1;'; } > $@

$(BUILD)/gen/openapi_yaml.o: $(BUILD)/gen/openapi_yaml.c
	$(CC) $(CFLAGS) -Wno-missing-variable-declarations -c $< -o $@

HEADERS  := $(wildcard core/*.h api/*.h server/*.h) tests/unit/helpers.h

$(BUILD)/tests/%: tests/unit/%.c $(HEADERS) $(BUILD)/tests/helpers.o $(SRVLIB) $(APILIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/tests/helpers.o $(SRVLIB) $(APILIB) $(LIB) $(LDFLAGS) \
	  $(LDLIBS) -lmicrohttpd -luuid -lgnutls -lcriterion

$(BUILD)/itests/%: tests/integration/%.c tests/integration/daemon.c tests/integration/daemon.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< tests/integration/daemon.c $(LDFLAGS) -lcriterion -lcurl -ljansson -lpthread

$(BUILD)/tests/helpers.o: tests/unit/helpers.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# Each test binary runs from the repository root so fixture paths resolve;
# GENORISK_CLI tells the CLI tests which binary to run.
test: deps
	@$(MAKE) --no-print-directory all $(TEST_BIN) $(ITEST_BIN)
	@fail=0; for t in $(TEST_BIN); do \
	  GENORISK_CLI=$(CLI) $$t --jobs 2 || fail=1; \
	done; \
	for t in $(ITEST_BIN); do \
	  GENORISKD=$(DAEMON) GENORISK_CLI=$(CLI) $$t --jobs 2 || fail=1; \
	done; \
	$(MAKE) --no-print-directory alloc-fail-test || fail=1; \
	$(MAKE) --no-print-directory fuzz-replay || fail=1; \
	tools/check_k8s.sh || fail=1; \
	tools/failover_test.sh $(BUILD) || fail=1; \
	$(PYTHON) tools/check_schemas.py $(CLI) || fail=1; \
	tools/lint_openapi.sh || fail=1; \
	tools/check_generated.sh || fail=1; \
	tmp=$$(mktemp -d) && $(PYTHON) tools/make_vcf_data.py parity --out $$tmp >/dev/null && \
	  tools/plink2_parity.sh $$tmp $(CLI) | tail -1; rc=$$?; rm -rf $$tmp; [ $$rc = 0 ] || fail=1; \
	if [ $$fail != 0 ]; then echo "make test: FAILED ($(BUILD))"; exit 1; fi; \
	echo "make test: all suites passed ($(BUILD))"

# ThreadSanitizer: the daemon and CLI built with it, the integration suites
# run against them (tools/tsan_test.sh).
tsan-test: deps
	@$(MAKE) --no-print-directory all $(ITEST_BIN)
	@$(MAKE) --no-print-directory SANITIZE=thread build/tsan/genoriskd build/tsan/genorisk
	@tools/tsan_test.sh

LISTEN ?= 127.0.0.1:8080
run: deps all
	@echo "Serving the demo models (synthetic, not for clinical use) on http://$(LISTEN); Ctrl-C stops."
	@echo "Try:  curl -s http://$(LISTEN)/v1/models"
	@echo "      curl -s -H 'Content-Type: application/json' --data @models/cad-xgb-demo/example.json \\"
	@echo "           http://$(LISTEN)/v1/models/cad-xgb-demo/predict"
	$(DAEMON) --models models --listen $(LISTEN) --log-format text

BENCH_DIR := build/bench
bench: deps all $(BUILD)/bench_core
	@test -f $(BENCH_DIR)/xgb500/model.json || $(PYTHON) tools/make_bench_model.py --out $(BENCH_DIR)/xgb500
	@tools/run_bench.sh $(BUILD)/bench_core $(BENCH_DIR)/xgb500

bench-vcf: deps all
	@tools/bench_vcf.sh $(BUILD)

bench-http: deps all
	@test -f $(BENCH_DIR)/xgb500/model.json || $(PYTHON) tools/make_bench_model.py --out $(BENCH_DIR)/xgb500
	@tools/bench_http.sh $(BUILD) $(BENCH_DIR)/xgb500

$(BUILD)/bench_core: tests/bench/bench_core.c $(HEADERS) $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)

fixtures:
	$(PYTHON) tools/make_fixtures.py

demo-models:
	$(PYTHON) tools/make_demo_models.py

clean:
	rm -rf build

# Hardening and shipping targets (fuzz, soak, docker-test, ...), one file each.
-include $(sort $(wildcard mk/*.mk))

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
