# module: gradient_check
# attack: relative_error never returns (a busy loop)
# expect: score 49 of 50; failed: relative_error
# fallback: yes


def relative_error(a, b):
    while True:
        pass
