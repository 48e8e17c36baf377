# Aliases for ./dev, which holds the logic (and needs no make).
.PHONY: all demo test bench deps build fuzz
all: build
demo test bench deps build:
	./dev $@

# Long fuzzing runs (tests/fuzz/README.md): FUZZ_SECONDS per target
# (default 600), FUZZ_TARGETS (default all), in FUZZ_BUILD (default
# build-fuzz; clang, -Dfuzz=true; Debian: clang libclang-rt-14-dev). Only
# the fuzz targets are built. The CI short run is
# `meson test -C build-fuzz --suite fuzz`.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?=
FUZZ_BUILD ?= build-fuzz
fuzz:
	[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true
	ninja -C $(FUZZ_BUILD) $$(cd tests/fuzz && ls fuzz-*.c | sed 's,^\(.*\)\.c$$,tests/fuzz/\1,')
	CAIRN_FUZZ_BUILD=$(FUZZ_BUILD) tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)
