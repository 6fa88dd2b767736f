# uipc - Unix IPC in user space.  See README.md.
CC       ?= cc
PREFIX   ?= /usr/local
LIBDIR   ?= $(PREFIX)/lib
INCDIR   ?= $(PREFIX)/include
BINDIR   ?= $(PREFIX)/bin
PKGDIR   ?= $(LIBDIR)/pkgconfig
B        ?= build
VERSION  := 1.0.0
SOMAJOR  := 1

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CFLAGS   ?= -O2 -g
XCFLAGS  := $(WARN) -std=gnu11 -D_GNU_SOURCE -Iinclude -Isrc -pthread $(CFLAGS)
LIBFLAGS := -fPIC -fvisibility=hidden -ftls-model=initial-exec
LDLIBS   := -pthread

LIB_SRCS := $(filter-out src/preload.c,$(wildcard src/*.c))
LIB_OBJS := $(LIB_SRCS:src/%.c=$(B)/obj/%.o)
# tests/fault_*.c and bench/fault_*.c need the fault-injection build (below).
TEST_SRCS := $(filter-out tests/fault_%,$(wildcard tests/*.c))
TESTS    := $(TEST_SRCS:tests/%.c=$(B)/tests/%)
FAULT_TESTS := $(patsubst tests/%.c,$(B)/fault/tests/%,$(wildcard tests/fault_*.c))
FAULT_BENCHES := $(patsubst bench/%.c,$(B)/fault/bench/%,$(wildcard bench/fault_*.c))
# Shell tests run from the source tree; they find the build in $B.
SCRIPT_TESTS := $(filter-out tests/run.sh,$(wildcard tests/*.sh))
BENCHES  := $(patsubst bench/%.c,$(B)/bench/%,$(filter-out bench/fault_%,$(wildcard bench/*.c)))
EXAMPLES := $(patsubst examples/%.c,$(B)/examples/%,$(wildcard examples/*.c))

SO       := $(B)/libuipc.so.$(VERSION)
ALL      := $(SO) $(B)/libuipc.so $(B)/libuipc.a $(B)/libuipc-preload.so $(B)/uipc

.PHONY: all check sanitize bench demo install clean tests fault torture
all: $(ALL)

$(B)/obj/%.o: src/%.c $(wildcard src/*.h) include/uipc.h
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(LIBFLAGS) -c -o $@ $<

$(SO): $(LIB_OBJS) src/uipc.map
	$(CC) $(XCFLAGS) -shared -Wl,-soname,libuipc.so.$(SOMAJOR) -Wl,--version-script=src/uipc.map \
		-Wl,-z,defs -o $@ $(LIB_OBJS) $(LDLIBS)
$(B)/libuipc.so: $(SO)
	ln -sf libuipc.so.$(VERSION) $(B)/libuipc.so.$(SOMAJOR)
	ln -sf libuipc.so.$(VERSION) $@
$(B)/libuipc.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^
$(B)/libuipc-preload.so: $(B)/obj/preload.o $(LIB_OBJS) src/preload.map
	$(CC) $(XCFLAGS) -shared -Wl,--version-script=src/preload.map -Wl,-z,defs -o $@ \
		$(B)/obj/preload.o $(LIB_OBJS) $(LDLIBS) -ldl
$(B)/uipc: tools/uipc.c $(B)/libuipc.a include/uipc.h
	$(CC) $(XCFLAGS) -o $@ tools/uipc.c $(B)/libuipc.a $(LDLIBS)

# Tests link the shared library from the build tree, as users do.
$(B)/tests/%: tests/%.c $(wildcard tests/*.h) $(B)/libuipc.so
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) -o $@ $< -L$(B) -Wl,-rpath,$(abspath $(B)) -luipc $(LDLIBS)
$(B)/bench/%: bench/%.c $(wildcard bench/*.h) tests/proc_state.h $(B)/libuipc.so
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) -o $@ $< -L$(B) -Wl,-rpath,$(abspath $(B)) -luipc $(LDLIBS)
$(B)/examples/%: examples/%.c $(wildcard examples/*.h)
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) -o $@ $< $(LDLIBS)

# The library built with -DUIPC_FAULT (fault.c): a test may have a process
# killed before any step that changes shared state.  Tests and benches that
# use it link this copy; the normal library has no trace of it.
$(B)/fault/obj/%.o: src/%.c $(wildcard src/*.h) include/uipc.h
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) -DUIPC_FAULT $(LIBFLAGS) -c -o $@ $<
$(B)/fault/libuipc.so: $(LIB_SRCS:src/%.c=$(B)/fault/obj/%.o) src/uipc.map
	$(CC) $(XCFLAGS) -shared -Wl,-soname,libuipc.so.$(SOMAJOR) -Wl,--version-script=src/uipc.map \
		-Wl,-z,defs -o $@.$(SOMAJOR) $(LIB_SRCS:src/%.c=$(B)/fault/obj/%.o) $(LDLIBS)
	ln -sf libuipc.so.$(SOMAJOR) $@
$(B)/fault/tests/%: tests/%.c $(wildcard tests/*.h) $(B)/fault/libuipc.so
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) -DUIPC_FAULT -o $@ $< -L$(B)/fault -Wl,-rpath,$(abspath $(B))/fault -luipc $(LDLIBS)
$(B)/fault/bench/%: bench/%.c $(wildcard bench/*.h) tests/proc_state.h $(B)/fault/libuipc.so
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) -DUIPC_FAULT -o $@ $< -L$(B)/fault -Wl,-rpath,$(abspath $(B))/fault -luipc $(LDLIBS)
fault: $(FAULT_TESTS) $(FAULT_BENCHES)

tests: $(ALL) $(TESTS) $(EXAMPLES) $(FAULT_TESTS) $(FAULT_BENCHES)

check: tests
	@B=$(abspath $(B)) sh tests/run.sh $(TESTS) $(FAULT_TESTS) $(SCRIPT_TESTS)

# The crash torture test, long (its short run is part of make check).
torture: tests
	@root=$$(mktemp -d /dev/shm/uipc-torture.XXXXXX) && chmod 1777 $$root && \
	UIPC_ROOT=$$root UIPC_TORTURE_KILLS=$${UIPC_TORTURE_KILLS:-5000} $(B)/tests/torture; \
	rc=$$?; rm -rf $$root; exit $$rc

# The same tests under AddressSanitizer + UndefinedBehaviorSanitizer.
sanitize:
	UIPC_SANITIZE=1 $(MAKE) B=build-asan CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" check

bench: $(ALL) $(BENCHES) $(FAULT_BENCHES)
	@for b in $(BENCHES) $(FAULT_BENCHES); do $$b || exit 1; done

demo: $(ALL) $(EXAMPLES)
	@B=$(B) sh examples/demo.sh

install: $(ALL)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(PKGDIR)
	install -m 755 $(SO) $(B)/libuipc-preload.so $(DESTDIR)$(LIBDIR)/
	ln -sf libuipc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libuipc.so.$(SOMAJOR)
	ln -sf libuipc.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libuipc.so
	install -m 644 $(B)/libuipc.a $(DESTDIR)$(LIBDIR)/
	install -m 644 include/uipc.h $(DESTDIR)$(INCDIR)/
	install -m 755 $(B)/uipc $(DESTDIR)$(BINDIR)/
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@INCDIR@|$(INCDIR)|; s|@VERSION@|$(VERSION)|' \
		uipc.pc.in > $(DESTDIR)$(PKGDIR)/uipc.pc

clean:
	rm -rf build build-asan
