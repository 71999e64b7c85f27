# module: gradient_check
# attack: numerical_gradient sends SIGSTOP to its own process (a stopped process uses no CPU)
# expect: score 47 of 50; failed: numerical_gradient
# fallback: yes

import os
import signal


def numerical_gradient(f, x, eps=1e-6):
    os.kill(os.getpid(), signal.SIGSTOP)
    return np.zeros_like(x)
