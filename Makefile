# Builds and installs herohealth as a C library.
#
#   make                                   # release build (cargo) + install files
#   make install PREFIX=/opt/hero          # headers, libraries, pkg-config, CMake
#   make install DESTDIR=/tmp/stage        # staged, for packaging
#   make uninstall PREFIX=/opt/hero
#   make dist                              # both release archives (Linux .tar.gz, Windows .zip)
#   make dist-linux                        # target/dist/herohealth-<v>-x86_64-linux-gnu.tar.gz
#   make dist-windows                      # target/dist/herohealth-<v>-x86_64-windows-gnu.zip
#
# GNU conventions: PREFIX (default /usr/local), EXEC_PREFIX, LIBDIR,
# INCLUDEDIR, PKGCONFIGDIR, CMAKEDIR, DESTDIR (the lower-case prefix, libdir
# and includedir work too). Needs a Rust toolchain, a C toolchain's binutils
# (ld, objcopy, ar) and, for the CMake version file, cmake.
#
# Platform-specific names are variables (SHARED_LIB*, STATIC_LIB, LD,
# OBJCOPY, AR) and the shared library has its own install step
# (install-shared), so another target (RUST_TARGET=<triple>) can set its
# own next to the Linux names below.

NAME := herohealth
VERSION := $(shell sed -n 's/^version *= *"\([^"]*\)".*/\1/p' Cargo.toml | head -n 1)
VERSION_MAJOR := $(word 1,$(subst ., ,$(VERSION)))
VERSION_MINOR := $(word 2,$(subst ., ,$(VERSION)))
# While 0.x every minor release may break the C ABI; from 1.0 only a major
# one. build.rs puts the same name in the SONAME.
ABI_VERSION := $(if $(filter 0,$(VERSION_MAJOR)),0.$(VERSION_MINOR),$(VERSION_MAJOR))
CMAKE_COMPATIBILITY := $(if $(filter 0,$(VERSION_MAJOR)),SameMinorVersion,SameMajorVersion)

prefix ?= /usr/local
PREFIX ?= $(prefix)
EXEC_PREFIX ?= $(PREFIX)
libdir ?= $(EXEC_PREFIX)/lib
LIBDIR ?= $(libdir)
includedir ?= $(PREFIX)/include
INCLUDEDIR ?= $(includedir)
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
CMAKEDIR ?= $(LIBDIR)/cmake/$(NAME)
DESTDIR ?=

CARGO ?= cargo
RUSTC ?= rustc
CMAKE ?= cmake
LD ?= ld
OBJCOPY ?= objcopy
AR ?= ar
INSTALL ?= install

# Rust target triple; empty builds for this machine.
RUST_TARGET ?=
TARGET_DIR ?= $(CURDIR)/target
CARGO_FLAGS := --release --lib --target-dir $(TARGET_DIR) $(if $(RUST_TARGET),--target $(RUST_TARGET))
OUT := $(TARGET_DIR)/$(if $(RUST_TARGET),$(RUST_TARGET)/)release
# Files made here from cargo's output, ready to install.
STAGE := $(OUT)/install

# Library names: Linux/ELF.
SHARED_LIB := lib$(NAME).so
SHARED_LIB_SONAME := $(SHARED_LIB).$(ABI_VERSION)
SHARED_LIB_FULL := $(SHARED_LIB).$(VERSION)
STATIC_LIB := lib$(NAME).a
# Archives are named by the target triple without its vendor field
# (x86_64-unknown-linux-gnu: x86_64-linux-gnu; x86_64-pc-windows-gnu: x86_64-windows-gnu).
DIST_NAME = $(NAME)-$(VERSION)-$(subst -unknown-,-,$(subst -pc-,-,$(or $(RUST_TARGET),$(shell $(RUSTC) -vV | sed -n 's/^host: //p'))))

# Run from `cargo test` (tests/), cargo's variables for the running package
# would reach this cargo; ring's build script watches OUT_DIR and
# CARGO_MANIFEST_DIR, so they would make it rebuild everything. A build must
# not depend on who started it.
unexport OUT_DIR CARGO_MANIFEST_DIR CARGO_MANIFEST_PATH CARGO_CRATE_NAME CARGO_PRIMARY_PACKAGE \
	CARGO_TARGET_TMPDIR CARGO_RUSTC_CURRENT_DIR $(filter CARGO_PKG_% CARGO_BIN_%,$(.VARIABLES))

.PHONY: all build install install-shared uninstall dist dist-linux dist-windows

all: build

# Cargo decides what is stale; the files made from its output are then
# updated by a second make, which sees cargo's new time stamps.
build:
	$(CARGO) build $(CARGO_FLAGS)
	@mkdir -p $(STAGE)
	@# The system libraries a static link needs, exactly as rustc reports them
	@# (a separate, cached unit: the note is replayed when it is fresh).
	$(CARGO) rustc $(CARGO_FLAGS) --crate-type staticlib -- --print native-static-libs \
		> $(STAGE)/native-static-libs.log 2>&1 || { cat $(STAGE)/native-static-libs.log >&2; exit 1; }
	@sed -n 's/^.*note: native-static-libs: *//p' $(STAGE)/native-static-libs.log | tail -n 1 \
		> $(STAGE)/native-static-libs.tmp
	@test -s $(STAGE)/native-static-libs.tmp || { cat $(STAGE)/native-static-libs.log >&2; \
		echo "make: rustc did not report native-static-libs" >&2; exit 1; }
	@cmp -s $(STAGE)/native-static-libs.tmp $(STAGE)/native-static-libs \
		|| mv $(STAGE)/native-static-libs.tmp $(STAGE)/native-static-libs
	@rm -f $(STAGE)/native-static-libs.tmp
	@$(MAKE) --no-print-directory $(STAGE)/$(STATIC_LIB)

# The installed static library: cargo's archive linked into one object whose
# only global symbols are hero_*. A second Rust static library in the same
# program then cannot clash with this one's copy of std (rust_eh_personality
# and friends). Its unwinding table reference gets a name of its own, as the
# linker merges such COMDAT groups by name. Embedded LLVM bitcode is dropped:
# a linker plugin built for another LLVM version would choke on it.
$(STAGE)/$(STATIC_LIB): $(OUT)/$(STATIC_LIB)
	@mkdir -p $(STAGE)
	$(LD) -r --whole-archive $< -o $(STAGE)/$(NAME).o
	$(OBJCOPY) --wildcard --keep-global-symbol='hero_*' \
		--remove-section=.llvmbc --remove-section=.llvmcmd \
		--redefine-sym DW.ref.rust_eh_personality=DW.ref.$(NAME)_rust_eh_personality \
		$(STAGE)/$(NAME).o
	rm -f $@
	$(AR) rcs $@ $(STAGE)/$(NAME).o
	rm -f $(STAGE)/$(NAME).o

# Substitutes the install locations into a template. The CMake package
# finds the library from its own place (@CMAKEDIR_TO_LIBDIR@ and
# @CMAKEDIR_TO_INCLUDEDIR@ are relative), so an installed tree or an
# unpacked release archive works wherever it lies.
fill_template = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	-e 's|@CMAKEDIR_TO_LIBDIR@|$(shell realpath -m --relative-to=$(CMAKEDIR) $(LIBDIR))|g' \
	-e 's|@CMAKEDIR_TO_INCLUDEDIR@|$(shell realpath -m --relative-to=$(CMAKEDIR) $(INCLUDEDIR))|g' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@VERSION@|$(VERSION)|g' \
	-e 's|@SHARED_LIB_FULL@|$(SHARED_LIB_FULL)|g' -e 's|@SHARED_LIB_SONAME@|$(SHARED_LIB_SONAME)|g' \
	-e 's|@STATIC_LIB@|$(STATIC_LIB)|g' \
	-e "s|@NATIVE_STATIC_LIBS@|$$(cat $(STAGE)/native-static-libs)|g" \
	-e "s|@CMAKE_NATIVE_STATIC_LIBS@|$$(sed 's/^ *-l//; s/  *-l/;/g; s/ *$$//' $(STAGE)/native-static-libs)|g"

# The shared library under its full version, plus the SONAME link the
# loader uses and the unversioned link the linker uses.
install-shared: build
	$(INSTALL) -d $(DESTDIR)$(LIBDIR)
	$(INSTALL) -m 755 $(OUT)/$(SHARED_LIB) $(DESTDIR)$(LIBDIR)/$(SHARED_LIB_FULL)
	ln -sf $(SHARED_LIB_FULL) $(DESTDIR)$(LIBDIR)/$(SHARED_LIB_SONAME)
	ln -sf $(SHARED_LIB_SONAME) $(DESTDIR)$(LIBDIR)/$(SHARED_LIB)

install: build install-shared
	@command -v $(CMAKE) >/dev/null || { echo "make install: $(CMAKE) is needed to write the CMake package's version file" >&2; exit 1; }
	$(INSTALL) -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(CMAKEDIR)
	$(INSTALL) -m 644 include/$(NAME).h include/$(NAME).hpp $(DESTDIR)$(INCLUDEDIR)/
	$(INSTALL) -m 644 $(STAGE)/$(STATIC_LIB) $(DESTDIR)$(LIBDIR)/$(STATIC_LIB)
	$(fill_template) cmake/$(NAME).pc.in > $(STAGE)/$(NAME).pc
	$(INSTALL) -m 644 $(STAGE)/$(NAME).pc $(DESTDIR)$(PKGCONFIGDIR)/$(NAME).pc
	$(fill_template) cmake/$(NAME)Config.cmake.in > $(STAGE)/$(NAME)Config.cmake
	$(CMAKE) -DVERSION=$(VERSION) -DCOMPATIBILITY=$(CMAKE_COMPATIBILITY) \
		-DPOINTER_BYTES=$$(( $$($(RUSTC) $(if $(RUST_TARGET),--target $(RUST_TARGET)) --print cfg \
			| sed -n 's/^target_pointer_width="\(.*\)"/\1/p') / 8 )) \
		-DOUT=$(STAGE)/$(NAME)ConfigVersion.cmake -P cmake/version.cmake
	$(INSTALL) -m 644 $(STAGE)/$(NAME)Config.cmake $(STAGE)/$(NAME)ConfigVersion.cmake $(DESTDIR)$(CMAKEDIR)/

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/$(NAME).h $(DESTDIR)$(INCLUDEDIR)/$(NAME).hpp
	rm -f $(DESTDIR)$(LIBDIR)/$(SHARED_LIB) $(DESTDIR)$(LIBDIR)/$(SHARED_LIB_SONAME) \
		$(DESTDIR)$(LIBDIR)/$(SHARED_LIB_FULL) $(DESTDIR)$(LIBDIR)/$(STATIC_LIB)
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/$(NAME).pc
	rm -f $(DESTDIR)$(CMAKEDIR)/$(NAME)Config.cmake $(DESTDIR)$(CMAKEDIR)/$(NAME)ConfigVersion.cmake
	-rmdir $(DESTDIR)$(CMAKEDIR) 2>/dev/null

# Release archives, so an integrator needs no Rust toolchain. They are
# reproducible: the same commit gives byte-identical archives in any folder
# (tests/dist/reproduce.sh builds twice and compares). So they are built in
# a target folder of their own with build paths remapped (the checkout, the
# cargo registry, the toolchain: panic locations would otherwise carry
# them, and the user's home with them), file times set from the commit
# (SOURCE_DATE_EPOCH), names in a fixed order and no owner names, and
# SHA256SUMS written beside them. Each carries a CycloneDX bill of materials
# of the crates compiled into it (share/doc/herohealth/herohealth.cdx.json,
# tests/dist/sbom.sh).
DIST_DIR := $(TARGET_DIR)/dist
DIST_TARGET_DIR := $(TARGET_DIR)/dist-build
SOURCE_DATE_EPOCH ?= $(shell git -C $(CURDIR) log -1 --format=%ct 2>/dev/null)
export SOURCE_DATE_EPOCH
DIST_RUSTFLAGS = --remap-path-prefix=$(CURDIR)=/build/$(NAME) \
	--remap-path-prefix=$(or $(CARGO_HOME),$(HOME)/.cargo)=/cargo \
	--remap-path-prefix=$(shell $(RUSTC) --print sysroot)=/rust
# The archive names of this version, and the checksums of those present.
DIST_ARCHIVES = $(DIST_NAME).tar.gz $(WIN_DIST_NAME).zip
dist_sums = cd $(DIST_DIR) && sha256sum $$(for a in $(DIST_ARCHIVES); do [ -f $$a ] && echo $$a; done) > SHA256SUMS
dist_epoch = @test -n "$(SOURCE_DATE_EPOCH)" || { echo "make: set SOURCE_DATE_EPOCH (the archives' file time): not a git checkout" >&2; exit 1; }

dist: dist-linux dist-windows

# Linux: the tree `make install` writes under PREFIX, plus the README and
# licences, in one folder named like the archive. Unpack it into PREFIX
# (tar -xzf … -C /usr/local --strip-components=1), or anywhere: the CMake
# package is relocatable, and `pkg-config --define-prefix` relocates the
# .pc file. The oldest glibc it runs on is checked by
# tests/dist/check-archive.sh (README, "Release archives").
dist-linux:
	$(dist_epoch)
	rm -rf $(DIST_DIR)/stage-$(DIST_NAME) $(DIST_DIR)/$(DIST_NAME) $(DIST_DIR)/$(DIST_NAME).tar.gz
	RUSTFLAGS="$(DIST_RUSTFLAGS)" $(MAKE) --no-print-directory install TARGET_DIR=$(DIST_TARGET_DIR) \
		DESTDIR=$(DIST_DIR)/stage-$(DIST_NAME)
	$(INSTALL) -d $(DIST_DIR)/stage-$(DIST_NAME)$(PREFIX)/share/doc/$(NAME)
	$(INSTALL) -m 644 README.md LICENSE-MIT LICENSE-APACHE $(DIST_DIR)/stage-$(DIST_NAME)$(PREFIX)/share/doc/$(NAME)/
	bash tests/dist/sbom.sh write $(or $(RUST_TARGET),$(shell $(RUSTC) -vV | sed -n 's/^host: //p')) \
		$(DIST_DIR)/stage-$(DIST_NAME)$(PREFIX)/share/doc/$(NAME)/$(NAME).cdx.json
	mv $(DIST_DIR)/stage-$(DIST_NAME)$(PREFIX) $(DIST_DIR)/$(DIST_NAME)
	rm -rf $(DIST_DIR)/stage-$(DIST_NAME)
	chmod -R u+rwX,go+rX,go-w $(DIST_DIR)/$(DIST_NAME)
	tar -C $(DIST_DIR) --format=gnu --sort=name --mtime=@$(SOURCE_DATE_EPOCH) --owner=0 --group=0 \
		--numeric-owner -cf $(DIST_DIR)/$(DIST_NAME).tar $(DIST_NAME)
	gzip -9nf $(DIST_DIR)/$(DIST_NAME).tar
	$(dist_sums)
	@echo "dist: $(DIST_DIR)/$(DIST_NAME).tar.gz"

# --- Windows (x86_64-pc-windows-gnu, cross-built with MinGW-w64) -----------
#
# herohealth-<version>-x86_64-windows-gnu.zip: one folder holding
#   bin/       herohealth.dll, hero_send.exe
#   lib/       libherohealth.dll.a (MinGW import library), herohealth.lib and
#              herohealth.def (for MSVC), libherohealth.a (static, MinGW),
#              cmake/herohealth/ (relocatable CMake package)
#   include/   herohealth.h, herohealth.hpp
#   share/doc/herohealth/  README.md, licences
#   README.txt
# Needs the Rust target x86_64-pc-windows-gnu, MinGW-w64 (gcc, g++,
# binutils with dlltool), cmake and zip. The DLL alone:
# `make -C examples-c windows-lib`.
WIN_TRIPLE := x86_64-pc-windows-gnu
WIN_TOOL_PREFIX ?= x86_64-w64-mingw32-
WIN_OUT := $(DIST_TARGET_DIR)/$(WIN_TRIPLE)/release
WIN_DIST_BUILD := $(DIST_TARGET_DIR)/hero_send-windows
# PE files carry a link time unless told not to; rustc's dlltool runs
# through build-aux/ so its import libraries name no build folder.
WIN_DIST_ENV = RUSTFLAGS="$(DIST_RUSTFLAGS) -C link-arg=-Wl,--no-insert-timestamp" \
	PATH="$(CURDIR)/build-aux:$$PATH"
WIN_DIST_NAME = $(NAME)-$(VERSION)-x86_64-windows-gnu
WIN_ROOT = $(DIST_DIR)/$(WIN_DIST_NAME)
WIN_CARGO_ENV := CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=$(WIN_TOOL_PREFIX)gcc \
	CC_x86_64_pc_windows_gnu=$(WIN_TOOL_PREFIX)gcc AR_x86_64_pc_windows_gnu=$(WIN_TOOL_PREFIX)ar

dist-windows:
	$(dist_epoch)
	$(WIN_DIST_ENV) $(MAKE) --no-print-directory -C examples-c $(WIN_DIST_BUILD)/hero_send.exe \
		TARGET_DIR=$(DIST_TARGET_DIR) WIN_BUILD=$(WIN_DIST_BUILD) CARGO=$(CARGO) \
		WIN_LDFLAGS="-static -Wl,--no-insert-timestamp"
	@# The static library's system libraries, as rustc reports them (cached by cargo).
	$(WIN_DIST_ENV) $(WIN_CARGO_ENV) $(CARGO) rustc --release --lib --target $(WIN_TRIPLE) --target-dir $(DIST_TARGET_DIR) \
		--crate-type staticlib -- --print native-static-libs > $(WIN_OUT)/native-static-libs.log 2>&1 \
		|| { cat $(WIN_OUT)/native-static-libs.log >&2; exit 1; }
	@sed -n 's/^.*note: native-static-libs: *//p' $(WIN_OUT)/native-static-libs.log | tail -n 1 \
		> $(WIN_OUT)/native-static-libs
	@test -s $(WIN_OUT)/native-static-libs || { echo "make: rustc did not report native-static-libs" >&2; exit 1; }
	rm -rf $(WIN_ROOT) $(DIST_DIR)/$(WIN_DIST_NAME).zip
	$(INSTALL) -d $(WIN_ROOT)/bin $(WIN_ROOT)/include $(WIN_ROOT)/lib/cmake/$(NAME) $(WIN_ROOT)/share/doc/$(NAME)
	@# Without debug information the DLL shrinks from about 5.2 MiB to 3.9.
	$(WIN_TOOL_PREFIX)strip -o $(WIN_ROOT)/bin/$(NAME).dll $(WIN_OUT)/$(NAME).dll
	$(WIN_TOOL_PREFIX)strip -o $(WIN_ROOT)/bin/hero_send.exe $(WIN_DIST_BUILD)/hero_send.exe
	$(INSTALL) -m 644 $(WIN_OUT)/lib$(NAME).dll.a $(WIN_OUT)/lib$(NAME).a $(WIN_ROOT)/lib/
	@# MSVC's linker wants an import library of its own kind: made with
	@# dlltool from the DLL's export table (the hero_* functions).
	{ echo "LIBRARY $(NAME).dll"; echo "EXPORTS"; \
	  $(WIN_TOOL_PREFIX)objdump -p $(WIN_OUT)/$(NAME).dll \
	    | sed -n '/^\[Ordinal\/Name Pointer\] Table/,/^$$/p' \
	    | sed -n 's/^[[:space:]]*\[ *[0-9]*\] \(hero_[A-Za-z0-9_]*\)$$/    \1/p'; } > $(WIN_ROOT)/lib/$(NAME).def
	@test "$$(grep -c '^    hero_' $(WIN_ROOT)/lib/$(NAME).def)" -gt 40 \
		|| { echo "make: too few exports in $(NAME).def" >&2; exit 1; }
	@# Run in its folder with bare names: the output's path names a symbol,
	@# and the temporary-file prefix (default: the process id) the members.
	cd $(WIN_ROOT)/lib && $(WIN_TOOL_PREFIX)dlltool -m i386:x86-64 -d $(NAME).def \
		-D $(NAME).dll --temp-prefix $(NAME) -l $(NAME).lib
	$(INSTALL) -m 644 include/$(NAME).h include/$(NAME).hpp $(WIN_ROOT)/include/
	sed -e "s|@CMAKE_NATIVE_STATIC_LIBS@|$$(sed 's/^ *-l//; s/  *-l/;/g; s/ *$$//' $(WIN_OUT)/native-static-libs)|g" \
		cmake/$(NAME)Config-windows.cmake.in > $(WIN_ROOT)/lib/cmake/$(NAME)/$(NAME)Config.cmake
	$(CMAKE) -DVERSION=$(VERSION) -DCOMPATIBILITY=$(CMAKE_COMPATIBILITY) -DPOINTER_BYTES=8 \
		-DOUT=$(WIN_ROOT)/lib/cmake/$(NAME)/$(NAME)ConfigVersion.cmake -P cmake/version.cmake
	@# Notepad and friends want CRLF line ends.
	sed -e 's|@VERSION@|$(VERSION)|g' -e "s|@NATIVE_STATIC_LIBS@|$$(cat $(WIN_OUT)/native-static-libs)|g" \
		-e 's/$$/\r/' cmake/README-windows.txt.in > $(WIN_ROOT)/README.txt
	$(INSTALL) -m 644 README.md LICENSE-MIT LICENSE-APACHE $(WIN_ROOT)/share/doc/$(NAME)/
	bash tests/dist/sbom.sh write $(WIN_TRIPLE) $(WIN_ROOT)/share/doc/$(NAME)/$(NAME).cdx.json
	@# Fixed modes and times, names sorted, no extra (owner, time) fields.
	chmod -R u+rwX,go+rX,go-w $(WIN_ROOT)
	find $(WIN_ROOT) -exec touch -h -d @$(SOURCE_DATE_EPOCH) {} +
	cd $(DIST_DIR) && find $(WIN_DIST_NAME) | LC_ALL=C sort | TZ=UTC zip -q -X -@ $(WIN_DIST_NAME).zip
	$(dist_sums)
	@echo "dist: $(DIST_DIR)/$(WIN_DIST_NAME).zip"
