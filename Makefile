# SPDX-License-Identifier: BSD-3-Clause
#
# Thin wrapper: the real work is in scripts/ and meson.
#   make deps     install missing Debian packages (root)
#   make build    configure build/ (if needed) and compile
#   make test     the full test command (three configurations)
#   make demo     the main job (release build + bulkperf runs)
#   make install  meson install -C build
#   make clean    remove every build directory

BUILD ?= build

.PHONY: all deps build test demo install clean

all: build

deps:
	bash scripts/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: $(BUILD)/build.ninja
	meson compile -C $(BUILD)

test:
	bash scripts/test.sh

demo:
	bash scripts/demo.sh

install: build
	meson install -C $(BUILD)

clean:
	rm -rf build build-asan build-tsan build-release
