# depthindex: the top-level entry points. Meson and Ninja do the building.
#   make demo    install what is missing, build, run the demo job end to end
#   make test    install what is missing, build, run the tests (release and
#                AddressSanitizer+UndefinedBehaviorSanitizer builds)
#   make bench   benchmarks, figures into bench/RESULTS.md
#   make fuzz    build and briefly run the fuzz targets (clang, libFuzzer)
#   make build   just build build/depthindex

BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz

.PHONY: all build deps test-deps demo test test-release test-asan bench fuzz clean

all: build

deps:
	@bash scripts/install-deps.sh

test-deps:
	@bash scripts/install-deps.sh --test

build: deps
	@test -f $(BUILD)/build.ninja || meson setup $(BUILD) --buildtype=release
	@ninja -C $(BUILD)

demo: build
	@bash scripts/demo.sh $(BUILD)

test: test-deps
	@bash scripts/run-tests.sh $(BUILD) $(ASAN_BUILD)

bench: build
	@bash scripts/bench.sh $(BUILD)

fuzz: test-deps
	@bash scripts/fuzz.sh $(FUZZ_BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
