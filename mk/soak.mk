# soak.mk - soak, load and faults (issue 5), docs/soak.md.
#
#   make soak [SOAK_SECONDS=300]
#       tools/soak.sh: build/genoriskd on 127.0.0.1 (a free port) under
#       SOAK_SECONDS of mixed JSON and VCF predicts at saturation (wrk and
#       tools/soak_mixed.lua), with SIGHUP every second, clients vanishing
#       mid-upload and, at the end, SIGTERM under load; checks status codes,
#       every 200 body, RSS growth, descriptors, truncation and the exit code.
#       Takes about SOAK_SECONDS + 30 s; work files in $(BUILD)/soak/.
#
# The short version runs in `make test`: tests/integration/test_http_faults.c.

SOAK_SECONDS ?= 300

.PHONY: soak

soak: deps all
	@SOAK_SECONDS=$(SOAK_SECONDS) tools/soak.sh $(BUILD)
