#!/usr/bin/env python3
"""Console line editing, tested the way a person types: boot cowix with its
console on our pipes, wait for each prompt, send keys, read what comes back.

  tests/qemu/console_test.py [--kernel build/kernel.elf] [--image build/fs.img]

Prints one "ok NAME" or "FAIL NAME: reason" line per case; exits 0 iff all
passed. The disk image is copied, so the build's image is never changed.
"""
import argparse
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

PROMPT = b"$ "


class Console:
    def __init__(self, kernel, image):
        self.proc = subprocess.Popen(
            ["qemu-system-riscv64", "-machine", "virt,aclint=on", "-bios", "none", "-kernel", kernel,
             "-m", "128M", "-smp", "2", "-nographic", "-global", "virtio-mmio.force-legacy=false",
             "-drive", f"file={image},if=none,format=raw,id=x0",
             "-device", "virtio-blk-device,drive=x0,bus=virtio-mmio-bus.0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.out = b""

    def read_until(self, token, timeout=20.0):
        """Read until `token` appears after the current position; return what came."""
        start = len(self.out)
        deadline = time.time() + timeout
        while token not in self.out[start:]:
            left = deadline - time.time()
            if left <= 0:
                raise TimeoutError(f"no {token!r} within {timeout}s; got {self.out[start:][-200:]!r}")
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    raise EOFError("QEMU exited")
                self.out += chunk
        return self.out[start:]

    def type(self, keys: bytes):
        # One key at a time, as a person would: the UART has a small FIFO.
        for k in keys:
            self.proc.stdin.write(bytes([k]))
            self.proc.stdin.flush()
            time.sleep(0.002)

    def close(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", default="build/kernel.elf")
    ap.add_argument("--image", default="build/fs.img")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="console-test.")
    image = os.path.join(tmp, "fs.img")
    shutil.copy(args.image, image)
    con = Console(args.kernel, image)
    failures = 0

    def case(name, keys, want, until=PROMPT):
        nonlocal failures
        try:
            con.type(keys)
            got = con.read_until(until)
        except (TimeoutError, EOFError) as e:
            print(f"FAIL {name}: {e}")
            failures += 1
            return
        lines = [l.strip() for l in got.replace(b"\r", b"").split(b"\n")]
        if want in lines:
            print(f"ok {name}")
        else:
            print(f"FAIL {name}: no line {want!r} in {got[-200:]!r}")
            failures += 1

    try:
        con.read_until(PROMPT, timeout=60)
        case("backspace", b"echo abX\x7fc\n", b"abc")
        case("ctrl-h", b"echo xyZ\x08z\n", b"xyz")
        case("ctrl-u", b"echo junk\x15echo fine\n", b"fine")
        # ^D ends cat's input: it echoes the line, then exits at end of file.
        case("ctrl-d", b"cat\nhello\n\x04", b"hello")
        # ^P lists processes (init and the shell at least) without a newline.
        con.type(b"\x10")
        got = con.read_until(b"sh")
        print("ok ctrl-p" if b"init" in got else f"FAIL ctrl-p: {got!r}")
        failures += b"init" not in got
        con.type(b"halt\n")
        code = con.proc.wait(20)
        if code == 0:
            print("ok halt")
        else:
            print(f"FAIL halt: QEMU exit status {code}")
            failures += 1
    except (TimeoutError, EOFError, subprocess.TimeoutExpired) as e:
        print(f"FAIL console: {e}")
        failures += 1
    finally:
        con.close()
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
