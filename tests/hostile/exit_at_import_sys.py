# module: gradient_check
# attack: calls sys.exit(0) at the end of gradient_check.py, while it is being imported
# expect: score 46 of 50; failed: numerical_gradient relative_error
# fallback: yes

import sys

sys.exit(0)
