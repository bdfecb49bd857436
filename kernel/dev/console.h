// The console: line-buffered input with editing, output to the UART.
#pragma once

void console_init();
void console_intr(char c); // one input byte, from the UART interrupt
