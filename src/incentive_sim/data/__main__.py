"""`python -m incentive_sim.data`: the exit rates fitted to the shipped monthly rates."""

from .dynamics import main

main()
