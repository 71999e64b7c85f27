# module: layers
# why: MSE through a per-row mean, softmax cross-entropy through an explicit log-sum-exp and one-hot
import numpy as np


def mse_loss(pred, target):
    diff = pred - target
    loss = 0.5 * np.mean(np.sum(diff**2, axis=1))
    return float(loss), diff / len(pred)


def softmax_cross_entropy(logits, labels):
    n, c = logits.shape
    row_max = np.max(logits, axis=1)
    lse = row_max + np.log(np.sum(np.exp(logits - row_max[:, None]), axis=1))
    correct = logits[np.arange(n), labels]
    loss = np.mean(lse - correct)
    probs = np.exp(logits - lse[:, None])
    one_hot = np.eye(c)[labels]
    return float(loss), (probs - one_hot) / n
