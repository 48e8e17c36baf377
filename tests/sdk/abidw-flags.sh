# shellcheck shell=sh disable=SC2034
# Sourced by test-abi.sh and update-abi-baseline.sh: the baseline and the
# fresh dump must be made with exactly the same abidw options. No paths,
# locations or architecture in the output, so the baseline is the same on
# every LP64 build machine; hash type ids keep its diffs small.
ABIDW_FLAGS="--no-corpus-path --no-comp-dir-path --no-show-locs \
--no-architecture --no-elf-needed --type-id-style hash"
