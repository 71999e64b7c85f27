# module: activations
# attack: ships sitecustomize.py, usercustomize.py and a .pth file that would patch numpy at
#    interpreter start; relu_grad is wrong
# expect: score 48 of 50; failed: relu_grad
# fallback: yes


def relu_grad(z):
    return np.ones_like(np.asarray(z, dtype=np.float64))

# === file: sitecustomize.py ===
import pathlib

pathlib.Path("@@VG_WATCH@@", "sitecustomize-ran").write_text("sitecustomize ran")
import numpy

numpy.allclose = lambda *a, **k: True
# === file: usercustomize.py ===
import pathlib

pathlib.Path("@@VG_WATCH@@", "usercustomize-ran").write_text("usercustomize ran")
# === file: zz_hostile.pth ===
import pathlib; pathlib.Path("@@VG_WATCH@@", "pth-ran").write_text("the .pth ran")
