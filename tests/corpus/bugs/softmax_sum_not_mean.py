# module: layers
# blames: softmax_cross_entropy
# why: sums the loss (and its gradient) over the batch instead of averaging
import numpy as np


def softmax_cross_entropy(logits, labels):
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(n)
    loss = -log_probs[rows, labels].sum()
    dlogits = np.exp(log_probs)
    dlogits[rows, labels] -= 1.0
    return float(loss), dlogits
