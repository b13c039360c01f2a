"""The live wing: a camera dreamed or styled in real time (``dreamstream live``).

:mod:`.command` (the command), :mod:`.loop` (newest frame in, output out),
:mod:`.budget` (how much work a frame gets), :mod:`.looks` (presets/styles to
cycle through), :mod:`.overlay` (text over the picture), :mod:`.recorder`
(the ``-o`` recording) and :mod:`.preview` (the HTTP MJPEG preview).
"""
