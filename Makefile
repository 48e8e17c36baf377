# A thin wrapper over meson for the README's commands; meson.build is the
# build. Everything here is non-interactive (CI runs `make test`).
#
#   make demo    build, create .demo/node0 once, run its node in the foreground
#   make test    build, run every test, then again under ASan + UBSan
#   make bench   build, run the end-to-end benchmark (JSON on the last line)

BUILD      ?= build
BUILD_ASAN ?= build-asan
MESON      ?= meson
NINJA      ?= ninja
DEMO_HOME  ?= .demo/node0

# Debian packages the build and the tests need.
DEBS := meson ninja-build pkg-config gcc libglib2.0-dev libjansson-dev \
        libssl-dev libsoup-3.0-dev liblmdb-dev curl openssl abigail-tools

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CAIRN := $(BUILD)/core/cairn

ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
            UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
            LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp

.PHONY: all demo test bench deps build build-asan

all: build

# Install only what is missing; apt-get update first, never a prompt.
deps:
	@if ! command -v dpkg-query >/dev/null 2>&1; then \
	  echo "make: no dpkg-query (not Debian?): install these yourself: $(DEBS)"; \
	  exit 0; \
	fi; \
	missing=""; \
	for p in $(DEBS); do \
	  dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null | \
	    grep -q '^install ok installed$$' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "make: installing$$missing"; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y \
	    --no-install-recommends $$missing; \
	fi

build: deps
	@[ -f $(BUILD)/build.ninja ] || $(MESON) setup $(BUILD)
	$(NINJA) -C $(BUILD)

build-asan: deps
	@[ -f $(BUILD_ASAN)/build.ninja ] || \
	  $(MESON) setup $(BUILD_ASAN) -Db_sanitize=address,undefined -Db_lundef=false
	$(NINJA) -C $(BUILD_ASAN)

demo: build
	@[ -d $(DEMO_HOME) ] || $(CAIRN) init --home $(DEMO_HOME) --chain-id demo
	@echo "cairn: starting the node of $(DEMO_HOME); API at http://127.0.0.1:7700/v1/status (Ctrl-C stops it)"
	exec $(CAIRN) node --home $(DEMO_HOME)

test: build
	$(MESON) test -C $(BUILD) --print-errorlogs
	$(MAKE) --no-print-directory build-asan
	$(ASAN_ENV) $(MESON) test -C $(BUILD_ASAN) --print-errorlogs

bench: build
	$(CAIRN) bench --json
