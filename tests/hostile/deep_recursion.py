# module: layers
# attack: mse_loss lifts the recursion limit and recurses through C calls until the C stack
#    overflows
# expect: score 48 of 50; failed: mse_loss
# fallback: yes

import sys


def _dive(value):
    return sorted([value], key=_dive)


def mse_loss(pred, target):
    sys.setrecursionlimit(10**8)
    return _dive(0)
