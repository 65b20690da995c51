# alloc_fail.mk - allocation failure injection over the core (issue 5):
# tests/unit/alloc_fail_test.c replaces malloc for the whole process, which
# ASan's allocator forbids, so it is built here without sanitizers and
# whatever SANITIZE says, with plain gcc -O1 -g, into build/alloc_fail/.
#
#   make alloc-fail-test      build and run it (about 80 s on 2 cores)
#
# The core and the API files it drives are compiled again here, into
# libgenorisk_af.a: build/sanitize/libgenorisk.a would bring ASan along.

AF_BUILD  := build/alloc_fail
AF_CC     ?= gcc
AF_CFLAGS := $(BASE_CFLAGS) $(WARN) $(if $(WERROR),-Werror) -O1 -g
AF_OBJ    := $(CORE_SRC:%.c=$(AF_BUILD)/%.o) $(AF_BUILD)/api/predict_json.o \
             $(AF_BUILD)/api/predict_run.o $(AF_BUILD)/api/predict_input.o \
             $(AF_BUILD)/api/problem.o $(AF_BUILD)/api/buffer.o \
             $(AF_BUILD)/api/predict_vcf.o $(AF_BUILD)/api/json_scan.o $(AF_BUILD)/api/json_sample.o \
             $(AF_BUILD)/api/predict_panel.o $(AF_BUILD)/api/predict_place.o \
             $(AF_BUILD)/api/report.o $(AF_BUILD)/api/adjust.o \
             $(AF_BUILD)/api/json_out.o $(AF_BUILD)/api/predict_threads.o
AF_LIB    := $(AF_BUILD)/libgenorisk_af.a
AF_BIN    := $(AF_BUILD)/alloc_fail_test

.PHONY: alloc-fail-test

alloc-fail-test: $(AF_BIN)
	$(AF_BIN) --jobs 2

$(AF_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(AF_CC) $(AF_CFLAGS) -MMD -MP -c $< -o $@

$(AF_LIB): $(AF_OBJ)
	rm -f $@ && $(AR) rcs $@ $^

# -fno-builtin-*: the replacement allocator must not be rewritten in terms of itself
$(AF_BIN): tests/unit/alloc_fail_test.c $(AF_LIB) $(HEADERS)
	$(AF_CC) $(AF_CFLAGS) -fno-builtin-malloc -fno-builtin-calloc -fno-builtin-realloc \
	  -fno-builtin-free -o $@ $< $(AF_LIB) -lhts -ldeflate -ljansson -lm -lpthread -ldl -lcriterion

-include $(wildcard $(AF_BUILD)/*/*.d)
