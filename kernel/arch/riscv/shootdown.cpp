// TLB shootdown between harts: mm::hal::shootdown() (mm/hal.h).
//
// Each hart caches translations in its own TLB, and `sfence.vma` flushes
// only the TLB of the hart that executes it. When a hart changes a PTE of an
// address space that another hart may be running (reclaim taking a page from
// a process), the other hart must flush too before the change is relied on.
//
// The hardware: the ACLINT supervisor-level software interrupt device
// (SSWI; QEMU `-machine virt,aclint=on`, device tree "riscv,aclint-sswi")
// has one 32-bit register per hart at base + 4 * hartid. Writing 1 to it
// sets sip.SSIP on that hart, which then takes a supervisor software
// interrupt (scause 1) as soon as its interrupts are on; the hart clears
// SSIP itself. With no SBI firmware (-bios none) this is the only way an
// S-mode hart can interrupt another.
//
// The protocol, for each hart t:
//   requested[t]  flushes asked of t so far (any hart increments it);
//   done[t]       the value of requested[t] that t's latest flush covered
//                 (only t writes it).
// A requester increments requested[t] and notes the new value (`want`),
// raises t's SSIP, and waits until done[t] >= want. The target, in
// shootdown_serve(): clears SSIP, reads requested[t], executes
// `sfence.vma zero, zero` and stores what it read into done[t]. Clearing SSIP
// *before* reading requested[t] loses no request: one the read misses raises
// SSIP again after the clear. One flush answers every request made before
// it, so a hart asked by several harts at once may flush only once.
//
// Ordering: the requester's increment is a release that the target's read
// acquires, so the requester's PTE stores are visible to the target before
// its sfence.vma; done[t] is a release that the waiting requester acquires.
//
// No deadlock: a requester waits with interrupts off (so that it stays on
// its hart), and serves its own requests while it waits (cpu::spin_hint);
// so does a hart spinning on a spinlock (Spinlock::lock calls spin_hint).
// Two harts shooting each other down at once both finish, and so does a
// requester holding a spinlock that its target is spinning on.
#include "arch/riscv/shootdown.h"

#include <atomic>

#include "arch/riscv/csr.h"
#include "arch/riscv/fdt.h"
#include "arch/riscv/platform.h"
#include "kernel/param.h"
#include "lib/cpu.h"
#include "lib/print.h"
#include "mm/frame.h"
#include "mm/hal.h"
#include "mm/page_table.h"

static_assert(NCPU <= 32, "one bit per hart in `online`");

namespace {

struct alignas(64) Requests { // one cache line per hart
  std::atomic<uint64> requested{0};
  std::atomic<uint64> done{0};
};
Requests requests[NCPU];

std::atomic<uint32> online{0}; // bit h: hart h serves requests
uint64 sswi = 0;               // physical address of the SSWI device, 0 if none
int fdt_harts = 0;             // harts the device tree lists

// Full fence, device I/O included (`fence iorw,iorw`).
inline void fence() { __sync_synchronize(); }

} // namespace

void shootdown_init(const void *fdt) {
  sswi = fdt_device_address(fdt, "riscv,aclint-sswi");
  fdt_harts = fdt_cpu_count(fdt);
}

void shootdown_init_hart() {
  int me = cpu::id();
  // Hart 0 alone needs no interrupts; every other hart must be reachable.
  if (sswi == 0 && me != 0)
    panic("shootdown: no ACLINT SSWI device to interrupt hart %d: run QEMU with -machine virt,aclint=on", me);
  csr_set(sie, riscv::SIE_SSIE);
  online.fetch_or(1u << me);
}

void shootdown_serve() {
  Requests &r = requests[cpu::id()];
  csr_clear(sip, riscv::SIP_SSIP);
  fence(); // SSIP is clear before we read the requests
  uint64 asked = r.requested.load(std::memory_order_acquire);
  if (r.done.load(std::memory_order_relaxed) == asked) return; // all served already
  riscv::flush_all();
  r.done.store(asked, std::memory_order_release);
}

namespace mm::hal {

void shootdown() {
  cpu::push_off();
  int me = cpu::id();
  uint32 targets = online.load(std::memory_order_acquire) & ~(1u << me);
  uint64 want[NCPU];
  for (int t = 0; t < NCPU; t++)
    if (targets & (1u << t)) want[t] = requests[t].requested.fetch_add(1, std::memory_order_acq_rel) + 1;
  fence(); // the requests are in memory before the interrupts are raised
  for (int t = 0; t < NCPU; t++)
    if (targets & (1u << t)) *platform::mmio<uint32>(sswi + 4 * t) = 1;
  // Wait, serving the requests sent to us meanwhile now and then (a CSR
  // read is slow under QEMU: spin on memory in between, as Spinlock does).
  uint32 spins = 0;
  for (int t = 0; t < NCPU; t++) {
    if (!(targets & (1u << t))) continue;
    while (requests[t].done.load(std::memory_order_acquire) < want[t])
      if (++spins % 256 == 0) cpu::spin_hint();
  }
  cpu::pop_off();
}

} // namespace mm::hal

// ---------------------------------------------------------------- self-test
// Boot argument testshootdown[=N] (tools/run-tests' shootdown checks): every
// hart runs this after its set-up, before it schedules processes.
//
// 1. Stale translations. All harts load one test page table in which the
//    page TEST_VA maps frame A (holding TAG_A) or frame B (TAG_B). Each
//    round, every hart reads TEST_VA (so its TLB caches the translation);
//    then one hart, in turn, points the PTE at the other frame and calls
//    shootdown(); then every hart must read the new tag. Half the rounds
//    the others wait with interrupts on (served by the interrupt), half
//    with them off (served while spinning). One round first changes the PTE
//    without a shootdown, to show that the harts do keep stale entries
//    (QEMU keeps them until sfence.vma): reported, not checked.
// 2. Stress: every hart calls shootdown() N times (default 1000), all at
//    once, interrupts alternately on and off. It must finish, and each
//    hart's requested/done counts must have grown by exactly (harts - 1) * N.
// 3. Latency: hart 0 alone calls shootdown() LATENCY_ROUNDS times while the
//    others wait with interrupts on (they take the interrupt).
// Hart 0 prints "shootdown: selftest ok: ..." or "shootdown: selftest
// FAILED: ...".

uint test_shootdown_rounds = 0;

namespace {

constexpr uint64 TEST_VA = 0x40000000;
constexpr uint64 TAG_A = 0xaaaa0000aaaa0000, TAG_B = 0xbbbb0000bbbb0000;
constexpr int CHECK_ROUNDS = 64;
constexpr int LATENCY_ROUNDS = 100;

std::atomic<int> barrier_count{0};
std::atomic<int> barrier_generation{0};

// Wait until all `n` harts have arrived. Flush requests are served while
// waiting whatever the interrupt state.
void barrier(int n) {
  int gen = barrier_generation.load(std::memory_order_acquire);
  if (barrier_count.fetch_add(1, std::memory_order_acq_rel) + 1 == n) {
    barrier_count.store(0, std::memory_order_relaxed);
    barrier_generation.fetch_add(1, std::memory_order_release);
    return;
  }
  for (uint32 spins = 1; barrier_generation.load(std::memory_order_acquire) == gen; spins++) {
    if (spins % 256) continue;
    cpu::push_off();
    cpu::spin_hint();
    cpu::pop_off();
  }
}

// Shared between the harts (set up by hart 0 between barriers).
mm::PageTable test_table;
mm::Pte *test_pte;
mm::PhysAddr frame_a, frame_b;
std::atomic<int> errors{0};
std::atomic<int> stale_reads{0};
uint64 requested_before[NCPU];

uint64 read_test_page() { return *reinterpret_cast<volatile uint64 *>(TEST_VA); }

void point_test_page_at(mm::PhysAddr frame) {
  using namespace mm::pte;
  *test_pte = mm::Pte::make(frame, Valid | Read | Write | Accessed | Dirty); // no U: kernel only
  mm::hal::flush_page(mm::VirtAddr(TEST_VA));
}

bool set_up_test_table() {
  auto a = mm::frames.alloc(mm::FrameKind::Kernel);
  auto b = mm::frames.alloc(mm::FrameKind::Kernel);
  auto t = mm::PageTable::create();
  if (a.is_error() || b.is_error() || t.is_error()) return false;
  frame_a = a.value();
  frame_b = b.value();
  *mm::phys_to_ptr<uint64>(frame_a) = TAG_A;
  *mm::phys_to_ptr<uint64>(frame_b) = TAG_B;
  test_table = t.value();
  auto pte = test_table.find_or_create(mm::VirtAddr(TEST_VA));
  if (pte.is_error()) return false;
  test_pte = pte.value();
  point_test_page_at(frame_a);
  return true;
}

} // namespace

void shootdown_selftest(uint rounds) {
  int me = cpu::id();
  int n = fdt_harts;
  if (n < 1 || n > NCPU) {
    if (me == 0) kprintf("shootdown: selftest FAILED: the device tree lists %d harts\n", n);
    return;
  }
  if (me == 0 && !set_up_test_table()) panic("shootdown selftest: no memory");
  barrier(n);
  uint64 saved_satp = csr_read(satp);
  csr_write(satp, test_table.satp());
  riscv::flush_all();

  // 0. Without a shootdown (a control, not a check).
  if (read_test_page() != TAG_A) errors.fetch_add(1);
  barrier(n);
  if (me == 0) point_test_page_at(frame_b);
  barrier(n);
  if (me != 0 && read_test_page() == TAG_A) stale_reads.fetch_add(1);
  riscv::flush_all();
  barrier(n);

  // 1. With one.
  for (int r = 1; r <= CHECK_ROUNDS; r++) {
    uint64 before = r % 2 ? TAG_B : TAG_A; // round r changes it to the other
    if (read_test_page() != before) errors.fetch_add(1);
    if (r % 4 < 2) riscv::intr_on(); // wait for the change with interrupts on
    barrier(n);
    if (me == r % n) {
      point_test_page_at(before == TAG_A ? frame_b : frame_a);
      mm::hal::shootdown();
    }
    barrier(n);
    riscv::intr_off();
    if (read_test_page() == before) errors.fetch_add(1);
  }
  barrier(n);
  if (me == 0)
    for (int h = 0; h < n; h++) requested_before[h] = requests[h].requested.load();
  barrier(n);

  // 2. All at once.
  uint64 t0 = riscv::read_time();
  for (uint i = 0; i < rounds; i++) {
    if (i % 2) riscv::intr_on();
    mm::hal::shootdown();
    riscv::intr_off();
  }
  barrier(n);
  uint64 us = (riscv::read_time() - t0) / 10; // time runs at 10 MHz
  int bad_counts = 0;
  for (int h = 0; me == 0 && h < n; h++) {
    uint64 asked = requests[h].requested.load() - requested_before[h];
    if (asked != static_cast<uint64>(n - 1) * rounds ||
        requests[h].done.load() != requests[h].requested.load())
      bad_counts++;
  }
  barrier(n);

  // 3. One at a time.
  riscv::intr_on();
  t0 = riscv::read_time();
  if (me == 0)
    for (int i = 0; i < LATENCY_ROUNDS; i++) mm::hal::shootdown();
  barrier(n);
  riscv::intr_off();
  uint64 latency_ns = (riscv::read_time() - t0) * 100 / LATENCY_ROUNDS;

  csr_write(satp, saved_satp);
  riscv::flush_all();
  barrier(n);
  if (me != 0) return;

  *test_pte = mm::Pte{};
  test_table.destroy();
  mm::frames.unref(frame_a);
  mm::frames.unref(frame_b);
  if (errors.load() || bad_counts)
    kprintf("shootdown: selftest FAILED: %d stale or wrong reads, %d harts with wrong request counts\n",
            errors.load(), bad_counts);
  else
    kprintf(
        "shootdown: selftest ok: %d harts; %d rounds of change + shootdown, no stale read (without "
        "one: %d of %d harts read the old page); %d x %u concurrent shootdowns in %lu us; one alone: %lu.%lu "
        "us\n",
        n, CHECK_ROUNDS, stale_reads.load(), n - 1, n, rounds, us, latency_ns / 1000,
        latency_ns % 1000 / 100);
}
