// 16550a UART (QEMU's serial port): the console's hardware.
#pragma once

void uart_init();
void uart_putc_sync(char c); // spin until the transmitter takes c
void uart_intr();            // receive interrupt: feed bytes to the console
