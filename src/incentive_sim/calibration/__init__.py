"""`calibrate`: fit a small, named parameter vector of a scenario to target figures by
simulation.

- targets.py: the targets file (parameters and targets), validated with file and line;
- moments.py: the model's side of each target, measured on a simulated history.
"""
