# cowix build. `make qemu` boots to the shell; `make test` runs every test.
# Everything is built under build/. See README.md.

CPUS ?= 2
MEM ?= 128
# MiB of swap disk (0: none)
SWAP ?= 256
EXTRA_PROGS ?=

TOOLPREFIX ?= riscv64-linux-gnu-
CXX := $(TOOLPREFIX)g++
CC := $(TOOLPREFIX)gcc
LD := $(TOOLPREFIX)ld
OBJDUMP := $(TOOLPREFIX)objdump
AR := $(TOOLPREFIX)ar
QEMU := qemu-system-riscv64

B := build

# ---------------------------------------------------------------- toolchain
# Install missing Debian packages (as root), or say what to run.
DEPS_STAMP := $(B)/.deps-ok
$(DEPS_STAMP):
	@tools/install-deps
	@mkdir -p $(B) && touch $@

# ---------------------------------------------------------------- kernel
ARCHFLAGS := -march=rv64gc -mabi=lp64d -mcmodel=medany -mno-relax
KCXXFLAGS := -std=c++20 -O2 -g $(ARCHFLAGS) -ffreestanding -fno-exceptions -fno-rtti \
  -fno-threadsafe-statics -fno-use-cxa-atexit -fno-stack-protector -fno-pie \
  -fno-asynchronous-unwind-tables -fno-unwind-tables -fno-omit-frame-pointer \
  -fno-tree-loop-distribute-patterns -Wall -Wextra -Werror -iquote kernel -iquote include -MMD -MP

KERNEL_SRCS := $(shell find kernel -name '*.cpp' -o -name '*.S' | sort)
KERNEL_OBJS := $(patsubst %,$(B)/%.o,$(KERNEL_SRCS))
# libgcc's path, asked of the compiler the first time a recipe needs it (and
# only then): on a fresh machine the compiler does not exist until
# tools/install-deps has run, and that happens as the first recipe.
LIBGCC = $(eval LIBGCC := $$(shell $$(CXX) $$(ARCHFLAGS) -print-libgcc-file-name))$(LIBGCC)

$(B)/kernel/%.cpp.o: kernel/%.cpp | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CXX  $<"
	@$(CXX) $(KCXXFLAGS) -c $< -o $@

$(B)/kernel/%.S.o: kernel/%.S | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CXX  $<"
	@$(CXX) $(KCXXFLAGS) -c $< -o $@

$(B)/kernel.elf: $(KERNEL_OBJS) kernel/kernel.ld
	@echo "  LD   $@"
	@$(LD) -nostdlib -no-pie -z max-page-size=4096 --no-warn-rwx-segments -T kernel/kernel.ld \
	  -o $@ $(KERNEL_OBJS) $(LIBGCC)
	@$(OBJDUMP) -S $@ > $(B)/kernel.asm

# ---------------------------------------------------------------- user space
# Flags for xv6-style C programs. The -fno-builtin list keeps GCC from
# assuming libc semantics for the user library's own functions.
UCFLAGS := -O2 -g $(ARCHFLAGS) -ffreestanding -nostdlib -fno-pie -fno-stack-protector \
  -fno-omit-frame-pointer -fno-common -fno-asynchronous-unwind-tables \
  -fno-builtin-strncpy -fno-builtin-strncmp -fno-builtin-strlen -fno-builtin-memset \
  -fno-builtin-memmove -fno-builtin-memcmp -fno-builtin-log -fno-builtin-bzero \
  -fno-builtin-strchr -fno-builtin-exit -fno-builtin-malloc -fno-builtin-putc \
  -fno-builtin-free -fno-builtin-memcpy -Wno-main -fno-builtin-printf \
  -fno-builtin-fprintf -fno-builtin-vprintf -fno-builtin-snprintf -Iinclude -MMD -MP
UWARN := -Wall -Wextra -Werror -Wno-unused-parameter
# -S: no debug sections in the image (a file holds at most 268 KiB; gdb loads
# the kernel only).
ULDFLAGS := -nostdlib -static -no-pie -S -z max-page-size=4096 -T user/user.ld

ULIB_SRCS := $(sort $(wildcard user/lib/*.c user/lib/*.S))
ULIB_OBJS := $(patsubst %,$(B)/%.o,$(ULIB_SRCS))
ULIB := $(B)/user/ulib.a

$(B)/user/%.c.o: user/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC   $<"
	@$(CC) $(UCFLAGS) $(UWARN) -c $< -o $@

$(B)/user/%.S.o: user/%.S | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  AS   $<"
	@$(CC) $(UCFLAGS) -c $< -o $@

$(ULIB): $(ULIB_OBJS)
	@echo "  AR   $@"
	@rm -f $@ && $(AR) rcs $@ $^

# Programs: every user/bin/X.c, user/tests/X.c and bench/X.c is /X in the image.
UPROG_SRCS := $(sort $(wildcard user/bin/*.c user/tests/*.c bench/*.c))
UPROGS := $(foreach s,$(UPROG_SRCS),$(B)/prog/$(basename $(notdir $(s))))

define uprog_rule
$(B)/prog/$(basename $(notdir $(1))): $(B)/$(1).o $(ULIB) user/user.ld
	@mkdir -p $(B)/prog
	@echo "  LD   $$@"
	@$(LD) $(ULDFLAGS) -o $$@ $(B)/$(1).o $(ULIB) $$(LIBGCC)
endef
$(foreach s,$(UPROG_SRCS),$(eval $(call uprog_rule,$(s))))

$(B)/bench/%.c.o: bench/%.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC   $<"
	@$(CC) $(UCFLAGS) $(UWARN) -c $< -o $@

# Extra programs from anywhere (xv6 compatibility): compiled without -Werror.
# build/extra/NAME comes from whichever NAME.c was named last, so
# build/extra/NAME.src records that source's path: when it changes, the old
# dependency file (which names the old source, perhaps deleted since) goes and
# the program is rebuilt even if the new source is older than the binary.
# The dependency file also gets an empty rule for the source itself, so a
# source that disappears makes a rebuild, never "No rule to make target".
EXTRA_BINS := $(foreach s,$(EXTRA_PROGS),$(B)/extra/$(basename $(notdir $(s))))
extra_src_stamp = $(shell mkdir -p $(B)/extra && f=$(B)/extra/$(basename $(notdir $(1))) && \
  if [ "$$(cat $$f.src 2>/dev/null)" != '$(1)' ]; then rm -f $$f.d && echo '$(1)' > $$f.src; fi)
$(foreach s,$(EXTRA_PROGS),$(call extra_src_stamp,$(s)))
define extra_rule
$(B)/extra/$(basename $(notdir $(1))): $(1) $(B)/extra/$(basename $(notdir $(1))).src $(ULIB) user/user.ld
	@mkdir -p $(B)/extra
	$(CC) $(UCFLAGS) -MT $$@ -MF $$@.d -w -I. -c $(1) -o $$@.o
	@echo '$(1):' >> $$@.d
	$(LD) $(ULDFLAGS) -o $$@ $$@.o $(ULIB) $$(LIBGCC)
endef
$(foreach s,$(EXTRA_PROGS),$(eval $(call extra_rule,$(s))))

# ---------------------------------------------------------------- host tools
HOST := $(B)/host
MKFS := $(HOST)/tools/mkfs/mkfs

$(HOST)/Makefile: CMakeLists.txt $(shell find tools tests -name CMakeLists.txt) | $(DEPS_STAMP)
	cmake -S . -B $(HOST) -DCMAKE_BUILD_TYPE=Debug -DCMAKE_EXPORT_COMPILE_COMMANDS=ON > /dev/null

# All host tools and unit tests (make test builds them).
host: $(HOST)/Makefile
	@cmake --build $(HOST) -j2
.PHONY: host

# The disk image needs only mkfs.
# cmake relinks a tool only when its own sources changed: touch it, so that
# make does not run cmake again on every build. (The unit tests' sources are
# not the tools' prerequisites.)
$(MKFS): $(HOST)/Makefile $(filter-out %_test.cpp,$(wildcard tools/mkfs/*.cpp tools/mkfs/*.h))
	@cmake --build $(HOST) --target mkfs -j2 > /dev/null
	@touch $@

# fsck checks an image (tools/qemu-run --fsck, after QEMU has used it).
FSCK := $(HOST)/tools/fsck/fsck
$(FSCK): $(HOST)/Makefile $(MKFS) $(filter-out %_test.cpp,$(wildcard tools/fsck/*.cpp tools/fsck/*.h))
	@cmake --build $(HOST) --target fsck -j2 > /dev/null
	@touch $@

# ---------------------------------------------------------------- disk image
FS_IMG := $(B)/fs.img
$(FS_IMG): $(MKFS) $(UPROGS) $(EXTRA_BINS) README.md
	@echo "  MKFS $@"
	@$(MKFS) $@ README=README.md $(UPROGS) $(EXTRA_BINS) > /dev/null

all: $(B)/kernel.elf $(FS_IMG) $(FSCK) compile_commands.json
.PHONY: all

# For clangd: every kernel, user and host source with its real flags.
compile_commands.json: Makefile tools/compile-commands $(KERNEL_SRCS) $(ULIB_SRCS) $(UPROG_SRCS) | $(MKFS)
	@tools/compile-commands "$(CXX) $(KCXXFLAGS)" "$(CC) $(UCFLAGS) $(UWARN)" \
	  $(filter %.cpp %.S,$(KERNEL_SRCS)) -- $(ULIB_SRCS) $(UPROG_SRCS) > $@
.DEFAULT_GOAL := all

# ---------------------------------------------------------------- running
# aclint=on: the ACLINT's supervisor software interrupts, which TLB
# shootdowns between harts use (kernel/arch/riscv/shootdown.cpp).
# The swap disk: a fresh sparse image of $(SWAP) MiB for every boot, in
# virtio-mmio slot 1 (the file system's disk is in slot 0).
SWAP_IMG := $(B)/swap.img
QEMUOPTS = -machine virt,aclint=on -bios none -kernel $(B)/kernel.elf -m $(MEM)M -smp $(CPUS) -nographic \
  -global virtio-mmio.force-legacy=false \
  -drive file=$(FS_IMG),if=none,format=raw,id=x0 -device virtio-blk-device,drive=x0,bus=virtio-mmio-bus.0
ifneq ($(strip $(SWAP)),0)
QEMUOPTS += -drive file=$(SWAP_IMG),if=none,format=raw,id=swap \
  -device virtio-blk-device,drive=swap,bus=virtio-mmio-bus.1
endif

fresh-swap:
	@rm -f $(SWAP_IMG)
	@if [ "$(strip $(SWAP))" != 0 ]; then truncate -s $(strip $(SWAP))M $(SWAP_IMG); fi

qemu: all fresh-swap
	$(QEMU) $(QEMUOPTS)

qemu-gdb: all fresh-swap
	@echo "*** Now run 'gdb-multiarch -x tools/gdbinit' in another window (port 26000)." 1>&2
	$(QEMU) $(QEMUOPTS) -S -gdb tcp::26000

# ---------------------------------------------------------------- tests
test: all
	@EXTRA_PROGS="$(EXTRA_PROGS)" tools/run-tests

# The benchmarks' charts need matplotlib: installed here, not for make test.
bench: all
	@tools/install-deps --bench
	@bench/run --icount

bench-wall: all
	@tools/install-deps --bench
	@bench/run --wall

clean:
	rm -rf $(B)

format:
	clang-format -i $$(find kernel tools tests -name '*.cpp' -o -name '*.h')

.PHONY: qemu qemu-gdb fresh-swap test bench bench-wall clean format

# Header dependencies (-MMD) of everything compiled for the guest.
-include $(KERNEL_OBJS:.o=.d) $(ULIB_OBJS:.o=.d) $(patsubst %,$(B)/%.d,$(UPROG_SRCS)) $(EXTRA_BINS:=.d)
