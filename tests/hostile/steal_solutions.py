# module: activations
# attack: sigmoid searches the disk for the reference solutions/activations.py and answers with it;
#    its own answer is wrong
# expect: score 47 of 50; failed: sigmoid sigmoid_stability
# fallback: no: a fallback worker can read any copy of the solutions on disk (root isolation only
#    covers the solutions folder itself, and copies exist, e.g. built wheels in /tmp)
# If the search succeeds, sigmoid is right and the verdict shows it.

import importlib.util
import os
from pathlib import Path

_found = []


def _search():
    if _found:
        return _found[0]
    starts = [Path(np.__file__), Path.cwd(), Path(__file__).resolve()]
    candidates = []
    for start in starts:
        candidates += [parent / "solutions" / "activations.py" for parent in start.parents]
    for top in ("/", "/work", "/root", "/home", "/srv", "/opt"):
        for root, dirs, files in os.walk(top):
            depth = root.count(os.sep)
            dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev", "usr", ".git")
                       and depth < 4]
            if os.path.basename(root) == "solutions" and "activations.py" in files:
                candidates.append(Path(root) / "activations.py")
    for candidate in candidates:
        try:
            spec = importlib.util.spec_from_file_location("_stolen", candidate)
            stolen = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(stolen)
            _found.append(stolen.sigmoid)
            return stolen.sigmoid
        except Exception:  # noqa: BLE001
            continue
    _found.append(None)
    return None


def sigmoid(z):
    stolen = _search()
    if stolen is not None:
        return stolen(z)
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64))) - 0.5
