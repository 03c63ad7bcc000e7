# jalad - GNU Make build.
#   make                 build/libjalad.a, build/libjalad.so, build/jalad
#   make test            unit tests, conformance, integration; ends "N passed, N failed"
#   make demo            the edge-cloud demo on this machine
#   make demo-imagenet   the same with a pretrained ImageNet model on real photos
#   make install PREFIX=/usr/local
#   make SANITIZE=address,undefined test
#   make WERROR=1        warnings are errors (CI)

PREFIX ?= /usr/local
VERSION := 0.1.0
CC ?= cc
SANITIZE ?=
ifeq ($(SANITIZE),)
BUILD ?= build
else
BUILD ?= build/san
endif

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wvla
ifeq ($(WERROR),1)
WARN += -Werror
endif
OPT ?= -O2 -g
CFLAGS_ALL := -std=c11 $(OPT) $(WARN) -fPIC -fvisibility=hidden -fopenmp \
	-DJALAD_BUILD -DJALAD_HAVE_DNNL -D_GNU_SOURCE -Iinclude -Isrc -I$(BUILD)/gen $(CFLAGS)
LDFLAGS_ALL := $(LDFLAGS) -fopenmp
ifneq ($(SANITIZE),)
CFLAGS_ALL += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS_ALL += -fsanitize=$(SANITIZE)
endif
LIBS := -lprotobuf-c -ldnnl -lhtscodecs -lzstd -lpng -ljpeg -lz -lcjson -lssl -lcrypto -lnetfilter_queue -lm -lpthread

SRC := $(sort $(wildcard src/*/*.c src/engine/backends/*/*.c))
OBJ := $(SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/onnx.pb-c.o
TOOL_SRC := $(sort $(wildcard tools/*.c))
TOOL_OBJ := $(TOOL_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
DEPS_STAMP := build/.deps-ok

.PHONY: all deps test demo demo-imagenet install clean check-deps
all: $(BUILD)/libjalad.a $(BUILD)/libjalad.so $(BUILD)/jalad $(BUILD)/jalad.pc

$(DEPS_STAMP): scripts/deps.sh
	@mkdir -p build
	@scripts/deps.sh
	@touch $@
deps: $(DEPS_STAMP)
# The stamp only says scripts/deps.sh ran once: a build/ copied from another
# machine, or packages removed since, leave it without the tools. Then run
# the script again (plain `make` included).
ifeq ($(shell command -v protoc-c 2>/dev/null),)
$(DEPS_STAMP): FORCE
else ifeq ($(wildcard /usr/include/onnx/onnx.proto),)
$(DEPS_STAMP): FORCE
endif
.PHONY: FORCE
FORCE:

$(BUILD)/gen/onnx.pb-c.c $(BUILD)/gen/onnx.pb-c.h: | $(DEPS_STAMP)
	@mkdir -p $(BUILD)/gen
	@command -v protoc-c >/dev/null && test -f /usr/include/onnx/onnx.proto || { echo "make: protoc-c or" \
		"/usr/include/onnx/onnx.proto missing: run scripts/deps.sh (Debian: protobuf-c-compiler libonnx-dev)" >&2; exit 1; }
	cp /usr/include/onnx/onnx.proto $(BUILD)/gen/onnx.proto
	cd $(BUILD)/gen && protoc-c --c_out=. onnx.proto

$(BUILD)/obj/gen/onnx.pb-c.o: $(BUILD)/gen/onnx.pb-c.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(OPT) -fPIC -I$(BUILD)/gen -c $< -o $@

$(BUILD)/obj/%.o: %.c $(BUILD)/gen/onnx.pb-c.h | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/libjalad.a: $(OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libjalad.so: $(OBJ)
	$(CC) -shared -Wl,-soname,libjalad.so.0 $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

$(BUILD)/jalad: $(TOOL_OBJ) $(BUILD)/libjalad.a
	$(CC) $(LDFLAGS_ALL) -o $@ $(TOOL_OBJ) $(BUILD)/libjalad.a $(LIBS)

$(BUILD)/jalad.pc: jalad.pc.in
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libjalad.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests $< -o $@ $(LDFLAGS_ALL) $(BUILD)/libjalad.a $(LIBS)

test: all $(TEST_BIN)
	@BUILD=$(BUILD) sh tests/run.sh $(TEST_BIN)

demo: all
	@BUILD=$(BUILD) sh scripts/demo.sh

# The real ImageNet model on real photos: ../shared by default, or
# MODEL=FILE(.tflite|.onnx) DATA=DIR [LIMIT=N] [EDGE_MS=MS].
demo-imagenet: all
	@BUILD=$(BUILD) $(if $(MODEL),MODEL=$(MODEL)) $(if $(DATA),DATA=$(DATA)) $(if $(LIMIT),LIMIT=$(LIMIT)) \
		$(if $(EDGE_MS),EDGE_MS=$(EDGE_MS)) sh scripts/demo_imagenet.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/include/jalad $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/jalad/*.h $(DESTDIR)$(PREFIX)/include/jalad/
	install -m 644 $(BUILD)/libjalad.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libjalad.so $(DESTDIR)$(PREFIX)/lib/libjalad.so.$(VERSION)
	ln -sf libjalad.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libjalad.so.0
	ln -sf libjalad.so.0 $(DESTDIR)$(PREFIX)/lib/libjalad.so
	install -m 644 $(BUILD)/jalad.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	install -m 755 $(BUILD)/jalad $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
