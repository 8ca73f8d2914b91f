"""Training: the Bag-of-Tricks pieces (losses, mixup, parameter groups) and, later, the loop."""
