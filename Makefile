# Aliases for ./dev, which holds the logic (and needs no make).
.PHONY: all demo test bench deps build
all: build
demo test bench deps build:
	./dev $@
