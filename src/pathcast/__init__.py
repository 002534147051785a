"""Pathcast (推演): sales management that deduces the path, not only the number."""

import os

# LightGBM's OpenMP threads busy-wait by default: on a shared or busy machine a 2-thread fit
# then runs ten times slower than on one thread. Passive waiting costs nothing when idle.
# Set before anything loads LightGBM or scikit-learn; an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
