"""Segment-parallel rendering on Ray: one render cut into frame segments.

A render's frame range is cut into contiguous segments (more than workers, so
slow segments balance). Each segment runs as a Ray task that first renders a
few warm-up frames before its range and discards them, so its temporal carry
has settled when its own frames begin; its first frames then cross-fade from
the previous segment's carry (see :mod:`.seams`). Video segments are encoded
to their own files and joined without re-encoding; frame folders are written
directly.

- :mod:`.plan`: segments, the settings key and the manifest of finished segments;
- :mod:`.frames`: which frames of an input a render covers (no decoding);
- :mod:`.task`: what a Ray worker runs for one segment (no Ray import);
- :mod:`.seams`: the cross-fades where segments meet;
- :mod:`.cluster`: everything that imports Ray: connecting, checks, scheduling;
- :mod:`.join`: joining segment videos by stream copy, the source's audio muxed once;
- :mod:`.reuse`: whether a finished segment's files are whole, before ``--resume`` reuses it;
- :mod:`.job`: one segmented render from an input spec to an output spec.

Ray is an optional extra (``pip install 'dreamstream[ray]'``); importing this
package does not import it.
"""
