"""Time and resources around the core: sources, sinks, the pipeline, live mode, CLI.

Importing this package loads no model and opens no window.
"""
