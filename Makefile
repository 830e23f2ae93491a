# Bannin - the two commands (see README.md). Everything else is CMake presets.
.PHONY: all run test deps build-release build-asan clean fuzz bench

all: build-release

deps:
	@bash scripts/install-deps.sh

build-release: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j2

build-asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j2

# make run: the main job on embedded defaults (see scripts/run-demo.sh).
run: build-release
	@bash scripts/run-demo.sh build/release

# make test: install what is missing, build with ASan+UBSan, run every test.
test: build-asan
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --preset asan

fuzz: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build --preset fuzz -j2

bench: build-release
	@bash bench/run.sh build/release

clean:
	rm -rf build
