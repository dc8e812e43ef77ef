# iouringd — GNU make. `make` builds, `make run` starts the daemon, `make test` runs
# every suite; both set up missing dependencies first (scripts/install-deps.sh).

VERSION   := 0.2.0
BUILD     ?= build
SOCKET    ?= /tmp/iouringd.sock
RUN_ARGS  ?=

CC        ?= cc
WARNINGS  := -Wall -Wextra -Wpedantic -Werror -Wshadow -Wconversion \
             -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wformat=2
CPPFLAGS  += -D_GNU_SOURCE -DIOURINGD_VERSION='"$(VERSION)"' -Iinclude -Isrc
CFLAGS    ?= -O2 -g
CFLAGS    += -std=c11 $(WARNINGS) -fno-strict-aliasing
# Debian's liburing 2.3 shared library lacks io_uring_register_restrictions and
# io_uring_enable_rings, so the daemon links the static archive.
URING_LIBS    := -Wl,-Bstatic -luring -Wl,-Bdynamic
SECCOMP_LIBS  := -lseccomp
CRITERION_LIBS := -lcriterion

DAEMON_SRCS := $(filter-out src/main.c,$(wildcard src/*.c))
GEN_POLICY  := $(BUILD)/gen/policy_text.c
DAEMON_OBJS := $(DAEMON_SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/policy_text.o
LIB_SRCS    := $(wildcard src/lib/*.c)
LIB_OBJS    := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CTL_SRCS    := $(wildcard src/ctl/*.c)
CTL_OBJS    := $(CTL_SRCS:%.c=$(BUILD)/obj/%.o)
EXAMPLES    := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
TEST_COMMON := $(wildcard tests/common/*.c)
UNIT_SRCS   := $(wildcard tests/unit/*.c) $(TEST_COMMON)
UNIT_OBJS   := $(UNIT_SRCS:%.c=$(BUILD)/obj/%.o)
INTEG_SRCS  := $(wildcard tests/integration/*.c) $(wildcard tests/helpers/*.c) $(TEST_COMMON)
INTEG_OBJS  := $(INTEG_SRCS:%.c=$(BUILD)/obj/%.o)

DAEMON      := $(BUILD)/bin/iouringd
CTL         := $(if $(CTL_SRCS),$(BUILD)/bin/iouringctl)
CLIENT_LIB  := $(BUILD)/lib/libiouringd-client.a
UNIT_BIN    := $(BUILD)/tests/unit
INTEG_BIN   := $(BUILD)/tests/integration
SECCOMP_RUN := $(BUILD)/tests/seccomp-run

BENCH_BIN   := $(BUILD)/bench/bench
BENCH_SECONDS ?= 2

FUZZ_SECONDS ?= 30

.PHONY: all deps run test bench fuzz clean
all: $(DAEMON) $(CLIENT_LIB) $(CTL) $(EXAMPLES)

deps:
	@sh scripts/install-deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	./$(DAEMON) $(RUN_ARGS) $(SOCKET)

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN) $(INTEG_BIN) $(SECCOMP_RUN)
	@sh scripts/run-tests.sh $(BUILD)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

# The policy text is compiled in: what a reviewer reads in policy/ is what runs.
$(GEN_POLICY): policy/worker.seccomp policy/worker.uring scripts/embed-policy.sh
	@mkdir -p $(dir $@)
	sh scripts/embed-policy.sh policy/worker.seccomp policy/worker.uring > $@

$(BUILD)/obj/gen/policy_text.o: $(GEN_POLICY)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(DAEMON): $(BUILD)/obj/src/main.o $(DAEMON_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(URING_LIBS) $(SECCOMP_LIBS)

$(BUILD)/bin/iouringctl: $(CTL_OBJS) $(CLIENT_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^

$(BUILD)/examples/%: examples/%.c $(CLIENT_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $^

$(CLIENT_LIB): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(UNIT_BIN): $(UNIT_OBJS) $(DAEMON_OBJS) $(CLIENT_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(CRITERION_LIBS) $(URING_LIBS) $(SECCOMP_LIBS)

$(INTEG_BIN): $(INTEG_OBJS) $(CLIENT_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(CRITERION_LIBS) $(SECCOMP_LIBS)

$(SECCOMP_RUN): tests/tools/seccomp-run.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(SECCOMP_LIBS)

# Speed and memory figures: printed, never asserted.
bench: deps
	@$(MAKE) --no-print-directory $(DAEMON) $(BENCH_BIN)
	./$(BENCH_BIN) ./$(DAEMON) $(BENCH_SECONDS)

$(BENCH_BIN): bench/bench.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(URING_LIBS)

# Coverage-guided fuzzing of the wire layer (clang + libFuzzer, installed on
# demand); not part of `make test`.
fuzz:
	@sh scripts/install-deps.sh --fuzz
	@mkdir -p $(BUILD)/fuzz/corpus
	clang $(CPPFLAGS) -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined \
	    -o $(BUILD)/fuzz/fuzz_wire tests/fuzz/fuzz_wire.c src/wire.c
	./$(BUILD)/fuzz/fuzz_wire -max_total_time=$(FUZZ_SECONDS) $(BUILD)/fuzz/corpus

clean:
	rm -rf $(BUILD)

-include $(DAEMON_OBJS:.o=.d) $(LIB_OBJS:.o=.d) $(CTL_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(INTEG_OBJS:.o=.d) $(BUILD)/obj/src/main.d
