# stagefork — build, test, install.  See README.md.
#
#   make                 build/stagefork and build/libstagefork.a
#   make test            deps, build, start test services, run every test
#   make SAN=1 test      the same with ASan+UBSan, in build-san/
#   make bench | demo | fuzz | fuzz-short | install PREFIX=... DESTDIR=...

VERSION   := 0.1.0
PREFIX    ?= /usr/local
DESTDIR   ?=
CC        ?= cc
SAN       ?= 0

ifeq ($(SAN),1)
BUILD     ?= build-san
SANFLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT       := -O1 -g
else
BUILD     ?= build
SANFLAGS  :=
OPT       := -O2 -g
endif

PKGS      := libcurl libpq yaml-0.1 libcrypto jansson libarchive libxml-2.0 zlib libzstd
# pkg-config is queried lazily (recursive =) so `make deps` can run before the .pc files exist.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS = $(shell pkg-config --cflags criterion 2>/dev/null)
TEST_LIBS   = $(shell pkg-config --libs criterion 2>/dev/null)

CFLAGS    ?= $(OPT)
ALLCFLAGS  = -std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
             -DSF_VERSION=\"$(VERSION)\" -Iinclude -Icore -Imasking -pthread \
             $(SANFLAGS) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP
LDFLAGS   ?=
ALLLDFLAGS = $(SANFLAGS) -pthread $(LDFLAGS)
LIBS       = $(PKG_LIBS) -lm

LIB_SRC   := $(sort $(wildcard core/*.c core/providers/*.c masking/*.c))
CMD_SRC   := $(sort $(wildcard cmd/*.c))
TEST_SRC  := $(sort $(wildcard tests/unit/*.c))
TOOL_SRC  := $(sort $(wildcard tests/tools/*.c))
SUPPORT_SRC := $(sort $(wildcard tests/support/*.c))

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CMD_OBJ   := $(CMD_SRC:%.c=$(BUILD)/obj/%.o)
TEST_OBJ  := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)
SUPPORT_OBJ := $(SUPPORT_SRC:%.c=$(BUILD)/obj/%.o)
TOOLS     := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
REPLAYS   := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz-replay/%)

LIBA      := $(BUILD)/libstagefork.a
BIN       := $(BUILD)/stagefork
TESTBIN   := $(BUILD)/test-unit
# build/stagefork plus the test-only providers of tests/support/ (never installed)
TESTCLI   := $(BUILD)/stagefork-test
# the distribution stack's service (templates/distribution/service/), used by make demo and tests
DISTAPI   := $(BUILD)/distribution-api

.PHONY: all deps test test-unit test-cli bench demo demo-stop fuzz fuzz-short install clean stress services-start services-stop

all: $(BIN) $(LIBA) $(DISTAPI)

deps:
	@scripts/deps.sh

# Build targets depend on deps through an order-only stamp so a fresh machine
# installs what is missing exactly once per build dir.
$(BUILD)/.deps-ok: scripts/deps.sh
	@scripts/deps.sh
	@mkdir -p $(BUILD) && touch $@

$(BUILD)/obj/%.o: %.c | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(CMD_OBJ) $(LIBA)
	$(CC) $(ALLLDFLAGS) -o $@ $(CMD_OBJ) $(LIBA) $(LIBS)

$(TESTBIN): $(TEST_OBJ) $(SUPPORT_OBJ) $(LIBA)
	$(CC) $(ALLLDFLAGS) -o $@ $(TEST_OBJ) $(SUPPORT_OBJ) $(LIBA) $(TEST_LIBS) $(LIBS)

$(TESTCLI): $(CMD_OBJ) $(SUPPORT_OBJ) $(LIBA)
	$(CC) $(ALLLDFLAGS) -o $@ $(CMD_OBJ) $(SUPPORT_OBJ) $(LIBA) $(LIBS)

$(DISTAPI): templates/distribution/service/distribution_api.c | $(BUILD)/.deps-ok
	$(CC) $(ALLCFLAGS) -o $@ $< $(shell pkg-config --libs libpq 2>/dev/null)

$(BUILD)/obj/tests/unit/%.o: tests/unit/%.c | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) $(TEST_CFLAGS) -Itests/unit -c $< -o $@

$(BUILD)/tools/%: tests/tools/%.c $(LIBA) | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -o $@ $< $(LIBA) $(LIBS)

$(BUILD)/fuzz-replay/%: tests/fuzz/%.c tests/fuzz/replay.c $(LIBA) | $(BUILD)/.deps-ok
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -o $@ $< tests/fuzz/replay.c $(LIBA) $(LIBS)

# make test: everything a fresh clone needs, then every test against real services.
test: $(BIN) $(LIBA) $(DISTAPI) $(TESTBIN) $(TESTCLI) $(TOOLS) $(REPLAYS)
	@BUILD=$(BUILD) SAN=$(SAN) scripts/run-tests.sh

bench: $(BIN) $(LIBA) $(TOOLS)
	@BUILD=$(BUILD) scripts/bench.sh

demo: $(BIN) $(LIBA) $(DISTAPI)
	@BUILD=$(BUILD) scripts/demo.sh

demo-stop:
	@scripts/demo.sh stop

stress: $(BIN) $(LIBA) $(TESTBIN) $(TESTCLI) $(TOOLS) $(REPLAYS)
	@BUILD=$(BUILD) STAGEFORK_STRESS=1 scripts/run-tests.sh

FUZZ_BIN  := $(FUZZ_SRC:tests/fuzz/%.c=build-fuzz/%)
FUZZ_CFLAGS = -std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
              -DSF_VERSION=\"$(VERSION)\" -Iinclude -Icore -Imasking -pthread -g -O1 \
              -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS)
build-fuzz/%: tests/fuzz/%.c $(LIB_SRC) | $(BUILD)/.deps-ok
	@mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRC) $(PKG_LIBS) -lm

fuzz: $(FUZZ_BIN)
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-0} scripts/fuzz.sh $(FUZZ_BIN)

fuzz-short: $(FUZZ_BIN)
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-30} scripts/fuzz.sh $(FUZZ_BIN)

install: $(BIN) $(LIBA)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/stagefork
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/stagefork
	install -m 0644 $(LIBA) $(DESTDIR)$(PREFIX)/lib/libstagefork.a
	install -m 0644 include/stagefork/*.h $(DESTDIR)$(PREFIX)/include/stagefork/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' -e 's|@REQUIRES@|$(PKGS)|g' \
	    stagefork.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/stagefork.pc

clean:
	-@STAGEFORK_SERVICES_STATE=$(CURDIR)/build/test-services scripts/test-services.sh stop 2>/dev/null
	-@STAGEFORK_SERVICES_STATE=$(CURDIR)/build-san/test-services scripts/test-services.sh stop 2>/dev/null
	rm -rf build build-san build-fuzz

-include $(DISTAPI).d $(LIB_OBJ:.o=.d) $(CMD_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(SUPPORT_OBJ:.o=.d)
