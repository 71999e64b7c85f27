# module: layers
# blames: softmax_cross_entropy
# why: subtracts the row max, then takes log(probs): a probability that underflows to 0 gives inf
import numpy as np


def softmax_cross_entropy(logits, labels):
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    probs = exp / exp.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = -np.mean(np.log(probs[rows, labels]))
    dlogits = probs.copy()
    dlogits[rows, labels] -= 1.0
    return float(loss), dlogits / n
