# module: gradient_check
# attack: numerical_gradient reads address 0 through ctypes (SIGSEGV)
# expect: score 47 of 50; failed: numerical_gradient
# fallback: yes

import ctypes


def numerical_gradient(f, x, eps=1e-6):
    ctypes.string_at(0)
    return np.zeros_like(x)
