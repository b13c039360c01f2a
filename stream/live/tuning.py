"""The sliders of live mode: settings a running look takes at its next frame.

Most sliders change a value the processor reads on every call (the dream's
``blend`` and steps, the style's temporal weight, strength and style mix), so
they apply at once without building anything: the look's settings are
replaced by a copy with that field changed (checked by
:class:`~dreamstream.stream.settings.Settings` like any other) and the
processor's typed setup is made again from them. Processors never change
their own setup; the live loop does, here, between frames.
A dream's layers need a new network: that look is built in the background by
:meth:`~.looks.Looks.variant` while the current one keeps running.
"""

from __future__ import annotations

import functools

from dreamstream.core.errors import InputError
from dreamstream.core.params import NUM_STYLES


@functools.lru_cache(maxsize=1)
def layer_presets() -> dict[str, str]:
    """Shipped dream presets that name their layers: name -> ``layers`` text."""
    from dreamstream.stream import settings as settings_mod

    found = {}
    for name in settings_mod.dream_presets():
        layers = settings_mod.load_preset(name).get("layers")
        if layers:
            found[name] = layers
    return found


def _stylizers(processor) -> list:
    """Every stylizer a style processor runs (its own and its look-ahead lanes')."""
    found = [getattr(processor, "stylizer", None)]
    ahead = getattr(processor, "ahead", None)
    if ahead is not None:
        found += [ahead.stylizer, ahead.lane_stylizer]
    unique = {id(s): s for s in found if s is not None}
    return list(unique.values())


def _retune(loop, mode: str, **changes) -> None:
    """Replace the current look's settings by a changed copy, and its processor's setup.

    The processor's typed setup is made again from the changed settings (as
    ``live/command`` made it), so the two never disagree; the processor reads
    the changed values at its next call.
    """
    looks = loop.looks
    label, settings = looks.looks[looks.index]
    changed = settings.replace(**changes)
    looks.looks[looks.index] = (label, changed)
    processor = looks.processor
    if hasattr(processor, "setup"):
        processor.setup = changed.setup(mode)


def tune(loop, name: str, value) -> None:
    """Apply a checked slider change to the running look (see :mod:`.control`).

    Raises:
        InputError: the slider does not apply to this mode or look.
    """
    mode = loop.control.mode if getattr(loop, "control", None) else None
    if mode == "style" and name in ("blend", "steps", "layers"):
        raise InputError(f"{name} applies to dreams; this is style mode")
    if mode == "dream" and name in ("style", "strength", "temporal"):
        raise InputError(f"{name} applies to styles; this is dream mode")
    if name == "blend":
        _retune(loop, "dream", blend=value)
    elif name == "steps":
        _retune(loop, "dream", steps_next=value)
    elif name == "temporal":
        _retune(loop, "style", temporal=value)
    elif name == "layers":
        _layers(loop, value)
    elif name in ("style", "strength"):
        _style(loop, name, value)
    else:
        raise InputError(f"unknown slider {name!r}")


def _layers(loop, preset: str) -> None:
    presets = layer_presets()
    if preset not in presets:
        raise InputError(f"layers must be one of {', '.join(presets)}, got {preset!r}")
    looks = loop.looks
    label, settings = looks.looks[looks.index]
    base = label.split(" @ ")[0]
    looks.variant(f"{base} @ {preset} layers", settings.replace(layers=presets[preset]))


def saliency(loop, on: bool) -> None:
    """Dream only where a classifier looks (``on``), or everywhere again.

    The classifier's mask is part of a dream's processor, so the look with or
    without it is built in the background (as a layers change is) while the
    current one keeps running. Nothing to do when the look already agrees.

    Raises:
        InputError: ``on`` in style mode; a look is being built already.
    """
    looks = loop.looks
    label, settings = looks.looks[looks.index]
    if on == (settings.mask == "saliency"):
        return
    mode = loop.control.mode if getattr(loop, "control", None) else None
    if on and mode != "dream":
        raise InputError("the saliency mask applies to dreams; this is style mode")
    if on:
        from dreamstream.core.params import CLASSIFIER_LAYERS

        if settings.model not in CLASSIFIER_LAYERS:  # the dream's own classifier looks
            raise InputError(
                f"the saliency mask needs a dream model with an ImageNet classifier "
                f"({', '.join(CLASSIFIER_LAYERS)}), not {settings.model}"
            )
    base = label.split(" @ ")[0]
    looks.variant(
        f"{base} @ saliency" if on else f"{base} @ unmasked",
        settings.replace(mask="saliency" if on else None),
    )


def _style(loop, name: str, value) -> None:
    """Style mix and strength: values the stylizer reads on every frame."""
    from dreamstream.core.style import check_strength, parse_style

    stylizers = _stylizers(loop.looks.processor)
    if not stylizers:
        raise InputError(f"{name} cannot change live with this style method")
    if name == "strength":
        strength = check_strength(value)
        if any(s.net.kind != "multistyle26" and strength < 1 for s in stylizers):
            raise InputError("a style picture's strength cannot change live")
        for s in stylizers:
            s.strength = strength
        _retune(loop, "style", strength=strength)
        return
    if any(s.net.kind != "multistyle26" for s in stylizers):
        raise InputError("the style cannot change live with a style picture")
    weights = parse_style(value)
    for s in stylizers:
        s.style = weights
    _retune(loop, "style", style=value)
    looks = loop.looks
    looks.looks[looks.index] = (f"style {value}", looks.looks[looks.index][1])


def sliders(loop, mode: str) -> dict:
    """The current look's slider values (and their choices) for the page."""
    settings = loop.looks.looks[loop.looks.index][1]
    if mode == "style":
        return {
            "style": settings.style,
            "styles": NUM_STYLES,
            "strength": settings.strength,
            "temporal": settings.temporal,
            "picture": bool(settings.style_image),
        }
    presets = layer_presets()
    current = next((n for n, text in presets.items() if text == settings.layers), None)
    return {
        "blend": settings.blend,
        "steps": settings.steps_next,
        "layers": current,
        "layers_text": settings.layers,
        "layer_presets": list(presets),
    }
