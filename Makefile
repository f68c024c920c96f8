# leaktrace: set-up, build, tests, demo and benchmarks.
#   make demo            build for one Python and run the bundled leaky example
#   make test            C unit tests, then pytest on every supported Python
#   make test PY=3.11    the same on one Python (the inner loop)
#   make sanitize        C and Python tests under AddressSanitizer + UBSan
#   make bench           side-by-side benchmarks (bench/), not part of the tests
# Each Python gets a virtual environment in .venv/<version> with the package
# built into $(BUILD_ROOT)/cp<version>; everything is created on first use.

PYTHONS ?= 3.9 3.10 3.11 3.12 3.13
PY ?=
DEMO_PY ?= 3.11
VERSIONS := $(if $(PY),$(PY),$(PYTHONS))
PYENV_ROOT ?= $(HOME)/.pyenv
# Where venvs and build trees go; override to keep parallel work apart.
VENV_ROOT ?= .venv
BUILD_ROOT ?= build

# The interpreter of version $(1): pyenv's newest patch release of it.
pybin = $(lastword $(sort $(wildcard $(PYENV_ROOT)/versions/$(1).*/bin/python$(1))))
venv = $(VENV_ROOT)/$(1)
vpy = $(VENV_ROOT)/$(1)/bin/python

BUILD_DEPS := 'meson-python>=0.15' 'meson>=1.1' ninja
# pytest-asyncio, pytest-xdist, ipython: the pytest plugin's and the notebook magics' tests.
TEST_DEPS := 'pytest>=8' 'pytest-asyncio>=0.23' 'pytest-xdist>=3' ipython prometheus_client

.PHONY: all demo test ctest pytest-% install-% venv-% sanitize bench clean
.PHONY: fuzz
.PHONY: native-deps

# libunwind's headers, for the native stacks of the preload library
# (src/preload): installed from Debian when missing. Without them the build
# falls back to glibc's backtrace(), about 3x slower per stack.
UNWIND_H = $(wildcard /usr/include/libunwind.h /usr/include/*/libunwind.h)
native-deps:
	@test -n "$(UNWIND_H)" || { echo "installing libunwind-dev (Debian package) for native stacks"; \
		$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq && \
		$(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libunwind-dev; } || \
		echo "warning: no libunwind-dev: native stacks use glibc's backtrace()" >&2

all: $(foreach v,$(VERSIONS),install-$(v))

# A venv with the build and test tools, re-made when the interpreter is gone.
$(foreach v,$(PYTHONS),$(VENV_ROOT)/$(v)/.ready): $(VENV_ROOT)/%/.ready:
	@test -n "$(call pybin,$*)" || { echo "error: no CPython $* under $(PYENV_ROOT)/versions" >&2; exit 2; }
	$(call pybin,$*) -m venv --clear $(call venv,$*)
	$(call vpy,$*) -m pip install -q --upgrade pip
	$(call vpy,$*) -m pip install -q $(BUILD_DEPS) $(TEST_DEPS)
	touch $@

venv-%: $(VENV_ROOT)/%/.ready
	@:

# Builds and installs the package into the venv (incremental through the
# persistent build directory).
install-%: $(VENV_ROOT)/%/.ready | native-deps
	@test "$$(cat $(VENV_ROOT)/$*/.test-deps 2>/dev/null)" = "$(TEST_DEPS)" || { \
		$(call vpy,$*) -m pip install -q $(TEST_DEPS) && echo "$(TEST_DEPS)" > $(VENV_ROOT)/$*/.test-deps; }
	$(call vpy,$*) -m pip install -q --no-build-isolation --no-deps \
		-Cbuild-dir=$(BUILD_ROOT)/cp$* -Csetup-args=-Dctests=false .

ctest: $(VENV_ROOT)/$(firstword $(VERSIONS))/.ready
	@test -f $(BUILD_ROOT)/ctest/build.ninja || PATH=$(abspath $(call venv,$(firstword $(VERSIONS))))/bin:$$PATH \
		meson setup $(BUILD_ROOT)/ctest --python.install-env=auto -Dbuildtype=debug >/dev/null
	PATH=$(abspath $(call venv,$(firstword $(VERSIONS))))/bin:$$PATH meson test -C $(BUILD_ROOT)/ctest --suite core --print-errorlogs

pytest-%: install-%
	cd tests && $(abspath $(call vpy,$*)) -m pytest -q -p no:cacheprovider python

test: ctest $(foreach v,$(VERSIONS),pytest-$(v))

demo: install-$(DEMO_PY)
	$(call vpy,$(DEMO_PY)) -m leaktrace demo

# Sanitizers: the extension is built with ASan+UBSan and loaded into a plain
# interpreter with the ASan runtime preloaded (ASan insists on being first in
# the library list; a plain python does not link it, hence LD_PRELOAD, which
# child processes inherit too). The runtime is the one of the compiler meson
# builds with ($(CC)), not whatever `gcc` is. PYTHONMALLOC=malloc sends every
# object through malloc, where ASan sees a use after free that pymalloc's
# arenas would hide. Leak detection is off (the interpreter itself keeps
# memory at exit); every other error aborts. The normal build is put back
# whatever pytest says, so a failed run never leaves the sanitized extension
# in the venv (it cannot be imported without the preload).
SAN_PY ?= 3.11
sanitize: $(VENV_ROOT)/$(SAN_PY)/.ready
	@test -f $(BUILD_ROOT)/san-c/build.ninja || PATH=$(abspath $(call venv,$(SAN_PY)))/bin:$$PATH \
		meson setup $(BUILD_ROOT)/san-c -Dbuildtype=debug -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
	PATH=$(abspath $(call venv,$(SAN_PY)))/bin:$$PATH UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(BUILD_ROOT)/san-c --suite core --print-errorlogs
	@asan=$$($(CC) -print-file-name=libasan.so); ubsan=$$($(CC) -print-file-name=libubsan.so); \
		test -f "$$asan" -a -f "$$ubsan" || { echo "error: $(CC) has no shared ASan/UBSan runtime (libasan.so, libubsan.so)" >&2; exit 2; }
	$(call vpy,$(SAN_PY)) -m pip install -q --no-build-isolation --no-deps --force-reinstall \
		-Cbuild-dir=$(BUILD_ROOT)/san-py -Csetup-args=-Dctests=false -Csetup-args=-Db_sanitize=address,undefined \
		-Csetup-args=-Db_lundef=false -Csetup-args=-Dbuildtype=debug .
	status=0; \
	( cd tests && LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
		PYTHONMALLOC=malloc LEAKTRACE_SANITIZED=1 ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		$(abspath $(call vpy,$(SAN_PY))) -m pytest -q -p no:cacheprovider -x python ) || status=$$?; \
	$(call vpy,$(SAN_PY)) -m pip install -q --no-build-isolation --no-deps --force-reinstall \
		-Cbuild-dir=$(BUILD_ROOT)/cp$(SAN_PY) -Csetup-args=-Dctests=false . || exit $$?; \
	exit $$status

# Fuzzing: the capture reader under libFuzzer with ASan and UBSan for
# FUZZ_SECONDS, built straight from src/core (clang comes from Debian and is
# installed when missing). New inputs accumulate in $(FUZZ_DIR)/corpus; the
# seeds are valid captures written by tests/fuzz/gen_corpus.c, and inputs
# of fixed findings go in tests/fuzz/regressions/. A crash leaves its input
# as $(FUZZ_DIR)/crash-*, prints the end of $(FUZZ_DIR)/fuzz.log and fails.
FUZZ_SECONDS ?= 60
FUZZ_DIR ?= $(BUILD_ROOT)/fuzz
FUZZ_CORE := src/core/capture.c src/core/alloc.c src/core/strbuf.c
FUZZ_SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
FUZZ_CFLAGS := -std=c11 -g -O1 -D_GNU_SOURCE -fno-strict-aliasing -Wall -Wextra -Werror -Isrc/core
fuzz:
	@command -v clang >/dev/null || { echo "installing clang (Debian package) for libFuzzer"; \
		$(FUZZ_SUDO) apt-get update -qq && \
		$(FUZZ_SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang; }
	mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/seeds
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		tests/fuzz/fuzz_capture.c $(FUZZ_CORE) -o $(FUZZ_DIR)/fuzz_capture
	clang $(FUZZ_CFLAGS) tests/fuzz/gen_corpus.c $(FUZZ_CORE) -o $(FUZZ_DIR)/gen_corpus
	$(FUZZ_DIR)/gen_corpus $(FUZZ_DIR)/seeds
	cd $(FUZZ_DIR) && { ./fuzz_capture -max_total_time=$(FUZZ_SECONDS) -max_len=16384 -timeout=10 \
		-print_final_stats=1 corpus seeds $(wildcard $(abspath tests/fuzz/regressions)) >fuzz.log 2>&1; \
		status=$$?; tail -n $$( [ $$status = 0 ] && echo 6 || echo 100 ) fuzz.log; exit $$status; }

bench:
	$(MAKE) -C bench

clean:
	rm -rf $(BUILD_ROOT) $(VENV_ROOT)
