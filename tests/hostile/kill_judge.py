# module: activations
# attack: sigmoid sends SIGTERM to its parent and to its parent's process group; answers wrongly if
#    that worked
# expect: score 50 of 50; failed: none
# fallback: seccomp: without the filter, a non-root fallback worker runs as the judge's user and
#    may signal it

import os
import signal

_result = []


def _strike():
    if _result:
        return _result[0]
    hit = False
    parent = os.getppid()
    for attempt in (lambda: os.kill(parent, signal.SIGTERM),
                    lambda: os.killpg(os.getpgid(parent), signal.SIGTERM)):
        try:
            attempt()
            hit = True
        except OSError:
            pass
    _result.append(hit)
    return hit


def _with_strike(function):
    def sigmoid(z):
        out = function(z)
        return out + 1.0 if _strike() else out

    return sigmoid


sigmoid = _with_strike(sigmoid)
