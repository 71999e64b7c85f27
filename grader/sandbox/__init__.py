"""The judge's side of containment. The containment story is told here, once; other modules
refer to it.

A worker is the only process that runs student code, and it decides nothing. Policy (limits,
neutral paths, what the view shows, the denied system calls, the environment) is data in
``grader.spec.profile``; the judge's mechanism is in this package, the worker's own in
``grader.inside.confine``. Layers, outermost first (each is there because the ones inside it
can fail):

* **bubblewrap** (``view``; Linux, when ``bwrap`` works and ``VG_NO_SANDBOX`` is unset): no
  network; own PID, IPC, UTS, user and cgroup namespaces; uid 65534; a cleared environment; a
  size-capped private ``/tmp``; a read-only view of only the interpreter, the worker's packages
  of the grader (``profile.WORKER_PACKAGES``) and the submission, at neutral paths
  (/opt/vg/python, /opt/vg/venv, /opt/vg/grader, /submission). The solutions, the checks, the
  gradebook and any results path are not there, and no host path shows in ``sys.path``,
  ``__file__``, tracebacks, the environment or bwrap's command line (read from a descriptor).
* **the worker template** (``template``, ``inside/zygote.py``; with bubblewrap and the filter,
  unless ``VG_NO_TEMPLATE``): one sandbox per judge process whose interpreter has numpy loaded
  forks each worker; a forked worker gets its own user and mount namespace (``/submission`` is
  only its submission, ``/tmp`` a fresh capped tmpfs) and no capability. It is PID 1 of its
  sandbox, not dumpable, and never runs student code.
* **fallback** (``launch``; no bubblewrap): a plain subprocess in a private working folder; as
  root, when the kernel allows, also its own network and mount namespace (all read-only but a
  capped tmpfs working folder, the solutions covered) and uid 65534 keeping only
  CAP_DAC_READ_SEARCH. The results say which mode ran and what could not be done.
* **cgroup v1 pids** (``cgroups``, when the judge may create one): caps the worker's tasks and
  finds every one to kill, setsid daemons included.
* **rlimits**, **Landlock** (no file opened for reading outside the view; never /proc) and
  **seccomp** (no new processes or programs, sockets, signals to others, ptrace, limits,
  namespaces or mounts), set by the worker on itself (``inside.confine``) before student code.

The judge keeps wall-clock deadlines per call, per import and per submission (``remote``), and
ends a worker with ``launch.stop_worker``. Every process started here dies with its parent; the
CLI's pool processes too (``runs.tie_to_parent``), and a run's temporaries live in one folder
per run that the next run removes if its owner died (``runs``).
"""
