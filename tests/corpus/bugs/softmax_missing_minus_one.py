# module: layers
# blames: softmax_cross_entropy
# why: uses the softmax probabilities as the gradient and forgets to subtract 1 at the true label
import numpy as np


def softmax_cross_entropy(logits, labels):
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(n), labels].mean()
    return float(loss), np.exp(log_probs) / n
