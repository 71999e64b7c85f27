# module: activations
# attack: leaky_relu_grad looks for the instructor's secret in its environment and every readable
#    /proc/*/environ; answers wrongly if found
# expect: score 50 of 50; failed: none
# fallback: root: without root the worker can read the judge's /proc/PID/environ (same user)

import os

_found = []


def _look():
    if _found:
        return _found[0]
    seen = "VG_INSTRUCTOR_SECRET" in os.environ
    paths = ["/proc/self/environ", f"/proc/{os.getppid()}/environ"]
    try:
        paths += [f"/proc/{pid}/environ" for pid in os.listdir("/proc") if pid.isdigit()]
    except OSError:
        pass
    for path in paths:
        try:
            with open(path, "rb") as environ:
                seen = seen or b"VG_INSTRUCTOR_SECRET" in environ.read()
        except OSError:
            pass
    _found.append(seen)
    return seen


def _with_look(function):
    def leaky_relu_grad(z, alpha=0.01):
        out = function(z, alpha)
        return out + 1.0 if _look() else out

    return leaky_relu_grad


leaky_relu_grad = _with_look(leaky_relu_grad)
