# module: gradient_check
# attack: sleeps 30 s while gradient_check.py is imported
# expect: score 46 of 50; failed: numerical_gradient relative_error
# fallback: yes

import time

time.sleep(30)
