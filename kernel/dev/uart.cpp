// 16550a UART driver. Registers are one byte apart at platform::UART0.
// Output is synchronous (poll the line status register until the transmit
// holding register is empty): QEMU drains it at once, and it keeps the
// driver short. Input arrives by interrupt.
#include "dev/uart.h"

#include "arch/riscv/platform.h"
#include "dev/console.h"
#include "lib/cpu.h"
#include "lib/print.h"

namespace {

enum Reg : uint64 {
  RHR = 0, // receive holding register (read)
  THR = 0, // transmit holding register (write)
  IER = 1, // interrupt enable
  FCR = 2, // FIFO control
  LCR = 3, // line control
  LSR = 5, // line status
};
constexpr uint8 IER_RX_ENABLE = 1 << 0;
constexpr uint8 FCR_FIFO_ENABLE = 1 << 0;
constexpr uint8 FCR_FIFO_CLEAR = 3 << 1;
constexpr uint8 LCR_EIGHT_BITS = 3;
constexpr uint8 LCR_BAUD_LATCH = 1 << 7;
constexpr uint8 LSR_RX_READY = 1 << 0;
constexpr uint8 LSR_TX_IDLE = 1 << 5;

volatile uint8 *reg(Reg r) { return platform::mmio<uint8>(platform::UART0 + r); }

} // namespace

void uart_init() {
  *reg(IER) = 0;
  *reg(LCR) = LCR_BAUD_LATCH; // set the divisor for 38.4K baud
  *reg(static_cast<Reg>(0)) = 0x03;
  *reg(static_cast<Reg>(1)) = 0x00;
  *reg(LCR) = LCR_EIGHT_BITS; // 8 data bits, no parity, divisor latch off
  *reg(FCR) = FCR_FIFO_ENABLE | FCR_FIFO_CLEAR;
  *reg(IER) = IER_RX_ENABLE;
}

void uart_putc_sync(char c) {
  if (panicked) stop_if_not_panicking(); // only the panic's report goes out
  cpu::push_off();
  while ((*reg(LSR) & LSR_TX_IDLE) == 0) {
  }
  *reg(THR) = static_cast<uint8>(c);
  cpu::pop_off();
}

void uart_intr() {
  while (*reg(LSR) & LSR_RX_READY) console_intr(static_cast<char>(*reg(RHR)));
}
