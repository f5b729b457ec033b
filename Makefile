# Front door. `make` builds into build/ (programs in build/bin/); `make demo`, `make check`, `make bench`.
BUILD  ?= build
JOBS   ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps configure demo check bench format clean

all: configure
	@cmake --build $(BUILD) -j $(JOBS)

deps:
	@scripts/install-deps

configure: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null

# A whole domain on loopback: mcx-idms, mcx-kms and mcx-gms, three clients, group media.
demo: all
	@scripts/demo $(BUILD)

# Every test: strict build + ctest (unit, vectors, interop, valgrind, constant-time, lint),
# then the unit tests under ASan+UBSan, then each fuzz target briefly. See scripts/check.
check: deps
	@scripts/check

# The services first: the IdMS under load (a real mcx-idms and wrk on loopback), the KMS (a
# 100,000-user rollover, mcx-kms /keyprov under wrk, client provisioning timed in-process), then
# the GMS (a 10,000-member group rekeyed in process on SQLite), group media (SRTP late entry
# and overhead against bare libsrtp2), then
# the operations; one table and one build/bench.json with every figure.
bench: all
	@scripts/bench-idms $(BUILD) $(BUILD)/bench-idms.json
	@scripts/bench-kms $(BUILD) $(BUILD)/bench-kms.json
	@$(BUILD)/bin/gms_bench $(BUILD)/bench-gms.json
	@$(BUILD)/bin/media_bench --json $(BUILD)/bench-media.json
	@$(BUILD)/bin/mcx-bench --json $(BUILD)/bench.json --service $(BUILD)/bench-idms.json \
		--service $(BUILD)/bench-kms.json --service $(BUILD)/bench-gms.json \
		--service $(BUILD)/bench-media.json

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	@rm -rf $(BUILD)
