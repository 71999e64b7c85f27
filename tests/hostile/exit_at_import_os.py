# module: layers
# attack: calls os._exit(0) while layers.py is imported, ending the worker process at once
# expect: score 18 of 50; failed: dense_forward dense_backward activation_forward
#    activation_backward mse_loss softmax_cross_entropy init_params mlp_forward mlp_backward
#    vanishing_sigmoid vanishing_relu
# fallback: yes
# network.py imports layers.py, so its functions are lost too; activations and gradient_check
# still earn their points.

import os

os._exit(0)
