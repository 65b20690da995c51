# fuzz.mk - libFuzzer harnesses of tests/fuzz/ (issue 5).
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_JOBS=1] [FUZZ_ONLY="vcf multipart"]
#       builds core/ and api/ with clang, coverage instrumentation and
#       ASan+UBSan in build/fuzz, links each harness with libFuzzer and runs
#       it FUZZ_SECONDS on a copy of its seed corpus (tests/fuzz/run.sh);
#       fails when any harness finds a crash, leak, timeout or OOM, and prints
#       executions per second and coverage per harness.
#   make fuzz-replay [SANITIZE=address,undefined]
#       builds the same harnesses with $(CC) and $(ALL_CFLAGS) in $(BUILD), no
#       libFuzzer, and runs every corpus and regression input through each
#       once: the crashes fuzzing found stay fixed. FUZZ_REPLAY_WRAP runs
#       each under a tool, e.g. FUZZ_REPLAY_WRAP="valgrind -q --error-exitcode=1"
#       (uninitialised reads, which ASan does not see).
#   make fuzz-build      just the libFuzzer binaries.

FUZZ_DEPS := clang-14 libclang-rt-14-dev

FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 1
FUZZ_BUILD   := build/fuzz
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_ONLY    ?= $(FUZZ_NAMES)
FUZZ_ROOT    := -DGR_FUZZ_ROOT='"$(CURDIR)"'
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS  := -O1 -g -fno-omit-frame-pointer $(BASE_CFLAGS) \
                $(WARN) $(if $(WERROR),-Werror) $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_LIBS    := $(FUZZ_BUILD)/libgenorisk_api.a $(FUZZ_BUILD)/libgenorisk.a
FUZZ_BIN     := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_HDR     := tests/fuzz/common.h $(wildcard core/*.h api/*.h)
FUZZ_REPLAY_WRAP ?=

.PHONY: fuzz fuzz-build fuzz-replay

$(FUZZ_BUILD)/core/%.o: core/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/api/%.o: api/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/tests/fuzz/%.o: tests/fuzz/%.c $(FUZZ_HDR)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_ROOT) -c $< -o $@

$(FUZZ_BUILD)/libgenorisk.a: $(CORE_SRC:%.c=$(FUZZ_BUILD)/%.o)
	rm -f $@ && $(AR) rcs $@ $^

$(FUZZ_BUILD)/libgenorisk_api.a: $(API_SRC:%.c=$(FUZZ_BUILD)/%.o)
	rm -f $@ && $(AR) rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_BUILD)/tests/fuzz/common.o \
                      $(FUZZ_LIBS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS) -lmicrohttpd -luuid

# kept, so a second `make fuzz-build` relinks nothing
.SECONDARY: $(FUZZ_NAMES:%=$(FUZZ_BUILD)/tests/fuzz/fuzz_%.o) $(FUZZ_BUILD)/tests/fuzz/common.o

fuzz-build: $(FUZZ_BIN)

fuzz: deps
	@tools/apt_install.sh fuzz $(FUZZ_DEPS)
	@$(MAKE) --no-print-directory fuzz-build
	@tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_BUILD)/run $(FUZZ_JOBS) $(FUZZ_ONLY)

# The replay binaries: the regular toolchain and flags, so SANITIZE applies.
FUZZ_REPLAY := $(FUZZ_NAMES:%=$(BUILD)/fuzz-replay/fuzz_%)

$(BUILD)/fuzz-replay/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/common.c tests/fuzz/replay_main.c \
                             $(FUZZ_HDR) $(APILIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(FUZZ_ROOT) -o $@ $< tests/fuzz/common.c tests/fuzz/replay_main.c \
	  $(APILIB) $(LIB) $(ALL_LDFLAGS) $(LDLIBS) -lmicrohttpd -luuid

fuzz-replay:
	@$(MAKE) --no-print-directory $(FUZZ_REPLAY)
	@fail=0; for h in $(FUZZ_NAMES); do \
	  dirs=tests/fuzz/corpus/$$h; \
	  [ -d tests/fuzz/regressions/$$h ] && dirs="$$dirs tests/fuzz/regressions/$$h"; \
	  $(FUZZ_REPLAY_WRAP) $(BUILD)/fuzz-replay/fuzz_$$h $$dirs || \
	    { echo "fuzz-replay: $$h FAILED"; fail=1; }; \
	done; \
	if [ $$fail != 0 ]; then echo "make fuzz-replay: FAILED ($(BUILD))"; exit 1; fi; \
	echo "make fuzz-replay: every corpus and regression input passed ($(BUILD))"

-include $(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
