# module: activations
# attack: sigmoid_grad prints 16 MB and writes 64 MB straight to file descriptors 1 and 2, then
#    returns the right answer
# expect: score 50 of 50; failed: none
# fallback: yes

import os
import sys

_flooded = []


def _flood():
    if _flooded:
        return
    _flooded.append(True)
    line = "x" * 1023
    for _ in range(16 * 1024):
        print(line)
    sys.stderr.write(line * 1024)
    chunk = b"y" * (1 << 20)
    for _ in range(32):
        os.write(1, chunk)
        os.write(2, chunk)


def _with_flood(function):
    def sigmoid_grad(z):
        _flood()
        return function(z)

    return sigmoid_grad


sigmoid_grad = _with_flood(sigmoid_grad)
