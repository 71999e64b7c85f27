# module: layers
# attack: softmax_cross_entropy spins and swallows every exception, KeyboardInterrupt and SystemExit
#    included
# expect: score 47 of 50; failed: softmax_cross_entropy
# fallback: yes


def softmax_cross_entropy(logits, labels):
    while True:
        try:
            while True:
                pass
        except BaseException:  # noqa: BLE001
            continue
