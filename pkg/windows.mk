# The Windows release archive, herohealth-<version>-x86_64-windows-gnu.zip:
# everything a Windows C or C++ project needs, no Rust toolchain required.
#
#   make -f pkg/windows.mk dist-windows       # → target/dist/<name>.zip
#
# Built with MinGW-w64 from Linux: gcc-mingw-w64-x86-64 (and g++ for the
# examples), binutils' dlltool, zip, and the Rust target
# x86_64-pc-windows-gnu. Layout (a prefix, relocatable):
#   bin/       herohealth.dll, hero_send.exe
#   lib/       libherohealth.dll.a (MinGW), herohealth.lib + .def (MSVC),
#              libherohealth.a (static, MinGW), cmake/herohealth/
#   include/   herohealth.h, herohealth.hpp
#   share/doc/herohealth/  README.md, licences
#   README.txt

WIN_NAME := herohealth
WIN_VERSION := $(shell sed -n 's/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)
WIN_TRIPLE := x86_64-pc-windows-gnu
WIN_TOOL_PREFIX ?= x86_64-w64-mingw32-
CARGO ?= cargo
CMAKE ?= cmake
TARGET_DIR ?= $(CURDIR)/target
WIN_OUT := $(TARGET_DIR)/$(WIN_TRIPLE)/release
WIN_DIST_NAME := $(WIN_NAME)-$(WIN_VERSION)-x86_64-windows-gnu
WIN_DIST_DIR := $(TARGET_DIR)/dist
WIN_ROOT := $(WIN_DIST_DIR)/$(WIN_DIST_NAME)
WIN_CARGO_ENV := CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=$(WIN_TOOL_PREFIX)gcc \
	CC_x86_64_pc_windows_gnu=$(WIN_TOOL_PREFIX)gcc AR_x86_64_pc_windows_gnu=$(WIN_TOOL_PREFIX)ar
WIN_LICENCES := $(wildcard LICENSE-MIT LICENSE-APACHE)

.PHONY: dist-windows

dist-windows:
	$(MAKE) --no-print-directory -C examples-c windows TARGET_DIR=$(TARGET_DIR) CARGO=$(CARGO)
	@# The static library's system libraries, as rustc reports them (cached by cargo).
	$(WIN_CARGO_ENV) $(CARGO) rustc --release --lib --target $(WIN_TRIPLE) --target-dir $(TARGET_DIR) \
		--crate-type staticlib -- --print native-static-libs 2>&1 >/dev/null \
		| sed -n 's/^.*note: native-static-libs: *//p' | tail -n 1 > $(WIN_OUT)/native-static-libs
	@test -s $(WIN_OUT)/native-static-libs || { echo "dist-windows: rustc did not report native-static-libs" >&2; exit 1; }
	rm -rf $(WIN_ROOT) $(WIN_DIST_DIR)/$(WIN_DIST_NAME).zip
	mkdir -p $(WIN_ROOT)/bin $(WIN_ROOT)/include $(WIN_ROOT)/lib/cmake/$(WIN_NAME) \
		$(WIN_ROOT)/share/doc/$(WIN_NAME)
	@# Debug information stays behind: the DLL shrinks from about 5.2 MiB to 3.9.
	$(WIN_TOOL_PREFIX)strip -o $(WIN_ROOT)/bin/$(WIN_NAME).dll $(WIN_OUT)/$(WIN_NAME).dll
	$(WIN_TOOL_PREFIX)strip -o $(WIN_ROOT)/bin/hero_send.exe examples-c/build-windows/hero_send.exe
	cp $(WIN_OUT)/lib$(WIN_NAME).dll.a $(WIN_ROOT)/lib/
	cp $(WIN_OUT)/lib$(WIN_NAME).a $(WIN_ROOT)/lib/
	@# MSVC's linker wants an import library of its own kind: made from the
	@# DLL's export table (the hero_* functions) with dlltool.
	{ echo "LIBRARY $(WIN_NAME).dll"; echo "EXPORTS"; \
	  $(WIN_TOOL_PREFIX)objdump -p $(WIN_OUT)/$(WIN_NAME).dll \
	    | sed -n '/^\[Ordinal\/Name Pointer\] Table/,/^$$/p' \
	    | sed -n 's/^[[:space:]]*\[ *[0-9]*\] \(hero_[A-Za-z0-9_]*\)$$/    \1/p'; } > $(WIN_ROOT)/lib/$(WIN_NAME).def
	@test "$$(grep -c '^    hero_' $(WIN_ROOT)/lib/$(WIN_NAME).def)" -gt 40 \
		|| { echo "dist-windows: too few exports in $(WIN_NAME).def" >&2; exit 1; }
	$(WIN_TOOL_PREFIX)dlltool -m i386:x86-64 -d $(WIN_ROOT)/lib/$(WIN_NAME).def -D $(WIN_NAME).dll \
		-l $(WIN_ROOT)/lib/$(WIN_NAME).lib
	cp include/$(WIN_NAME).h $(wildcard include/$(WIN_NAME).hpp) $(WIN_ROOT)/include/
	sed -e "s|@CMAKE_NATIVE_STATIC_LIBS@|$$(sed 's/^ *-l//; s/  *-l/;/g; s/ *$$//' $(WIN_OUT)/native-static-libs)|g" \
		pkg/$(WIN_NAME)Config-windows.cmake.in > $(WIN_ROOT)/lib/cmake/$(WIN_NAME)/$(WIN_NAME)Config.cmake
	$(CMAKE) -DVERSION=$(WIN_VERSION) -DCOMPATIBILITY=$(if $(filter 0.%,$(WIN_VERSION)),SameMinorVersion,SameMajorVersion) \
		-DPOINTER_BYTES=8 -DOUT=$(WIN_ROOT)/lib/cmake/$(WIN_NAME)/$(WIN_NAME)ConfigVersion.cmake -P pkg/version.cmake
	sed -e 's|@VERSION@|$(WIN_VERSION)|g' -e "s|@NATIVE_STATIC_LIBS@|$$(cat $(WIN_OUT)/native-static-libs)|g" \
		pkg/README-windows.txt.in | sed 's/$$/\r/' > $(WIN_ROOT)/README.txt
	cp README.md $(WIN_LICENCES) $(WIN_ROOT)/share/doc/$(WIN_NAME)/
	cd $(WIN_DIST_DIR) && zip -qr -X $(WIN_DIST_NAME).zip $(WIN_DIST_NAME)
	@echo "dist-windows: $(WIN_DIST_DIR)/$(WIN_DIST_NAME).zip"
