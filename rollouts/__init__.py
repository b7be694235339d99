"""Batch rollouts: play many simulated episodes into a run directory, resumably."""
