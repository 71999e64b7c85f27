# module: layers
# attack: mse_loss ignores SIGTERM, SIGINT, SIGHUP, SIGALRM and SIGXCPU, then sleeps forever
# expect: score 48 of 50; failed: mse_loss
# fallback: yes

import signal
import time


def mse_loss(pred, target):
    for name in ("SIGTERM", "SIGINT", "SIGHUP", "SIGALRM", "SIGXCPU"):
        signal.signal(getattr(signal, name), signal.SIG_IGN)
    while True:
        time.sleep(0.05)
