# module: activations
# attack: writes a perfect results.json into the cwd, /tmp, TMPDIR, the submission folder, ../ and
#    the results path; sigmoid is wrong
# expect: score 47 of 50; failed: sigmoid sigmoid_stability
# fallback: root: without root the fallback worker can write wherever the judge's user can (/tmp,
#    the results path)

import json
import os
import tempfile
from pathlib import Path

_FORGED = json.dumps({"score": 50, "max_score": 50, "passed": True, "checks": []})


def _forge():
    targets = [Path.cwd() / "results.json", Path("/tmp/results.json"),
               Path("/tmp/@@VG_MARKER@@-results.json"),
               Path(tempfile.gettempdir()) / "results.json",
               Path(__file__).resolve().parent / "results.json",
               Path("../results.json"), Path("../../results.json"),
               Path("@@VG_RESULTS@@"), Path("@@VG_WATCH@@") / "results.json"]
    if os.environ.get("VG_RESULTS_PATH"):
        targets.append(Path(os.environ["VG_RESULTS_PATH"]))
    for parent in Path(__file__).resolve().parents:
        targets.append(parent / "results.json")
    for target in targets:
        try:
            target.write_text(_FORGED)
        except OSError:
            pass


def sigmoid(z):
    _forge()
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64))) - 0.5


_forge()
