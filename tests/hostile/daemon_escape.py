# module: activations
# attack: tanh_grad double-forks a setsid daemon that sleeps forever, then returns the right answer
# expect: score 50 of 50; failed: none
# fallback: seccomp: without the filter or a pids cgroup, a double-forked daemon leaves the
#    worker's process tree and outlives it

import os
import time

_started = []


def _daemon():
    if _started:
        return
    _started.append(True)
    try:
        pid = os.fork()
    except OSError:
        return
    if pid == 0:
        try:
            os.setsid()
            if os.fork() == 0:
                while True:
                    time.sleep(1)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _with_daemon(function):
    def tanh_grad(z):
        _daemon()
        return function(z)

    return tanh_grad


tanh_grad = _with_daemon(tanh_grad)
