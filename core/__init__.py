"""Image algorithms on arrays and tensors: dreams, styles, optical flow.

Nothing in this package opens a file, reads a clock or starts a thread;
``dreamstream.stream`` owns time and resources. Importing it loads no model.
"""
