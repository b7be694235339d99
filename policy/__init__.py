"""The trainable Planner policy: network, checkpoints, and the named policies a run can use."""
