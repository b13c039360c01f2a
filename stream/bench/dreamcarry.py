"""The dream's carry on real footage: steady, at equal strength, and not growing (issue 20).

Two questions, each on a real shot played forward and back
(:func:`dreamstream.stream.bench.clips.ping_pong`):

- **Long run**: over >= 300 frames of one shot, with flow, does the dream keep
  its scene and its strength? Fidelity of the last ``WINDOW`` frames over the
  first's (goal >= 0.99) and strength likewise (goal 0.9-1.1); with an even
  number of legs the last frames show the same inputs as the first.
- **Equal strength**: the carry's excess warping error against ``--no-flow``'s
  (goal <= 0.25x) means nothing if the carry dreams harder or softer than a
  fresh dream per frame. So ``--no-flow`` is rendered over the first
  ``MATCH_FRAMES`` frames at the settings' step size and then at step sizes
  chosen (by secant steps on strength) to reach the carried dream's strength
  over the same frames; the comparison counts where the two are within
  ``TOLERANCE`` of each other, and every try is reported.

And each shipped dream preset's long run (:func:`preset_drift`, 239 carphone
frames). Frames are uint8 HxWx3 **RGB**, in memory. Excess is under the clip's referee
(:mod:`.referee`) and, labelled, the renderer's own flow.
"""

from __future__ import annotations

import numpy as np

from dreamstream.core import measures
from dreamstream.stream.bench.clips import carphone_clip, judge, long_clip, render

DREAM: dict = {}  # default settings: the goal is the dream users get
PRESETS = ("subtle", "demo", "classic", "eyes", "animals", "deep")
CARPHONE_LEGS = 4  # 4 * 119 + 1 = 477 frames, ending where it started
PRESET_LEGS = 2  # each preset's long run: 239 carphone frames, ending where it started
SHOT_LEGS = 2  # bikes' traffic shot at 320x136: 2 * 60 + 1 = 121 frames
MATCH_FRAMES, TOLERANCE, TRIES = 40, 0.05, 3
WINDOW = 30
QUICK = {"frames": 20, "match": 8, "window": 5, "tries": 2}
FLOW = "dream (flow)"


def step_size_of(settings: dict) -> float:
    """The step size that ``settings`` (a preset and flags) resolve to."""
    from dreamstream.stream.settings import resolve

    return float(resolve(**settings).step_size)


def next_step(tries: list[tuple[float, float]], target: float) -> float:
    """The step size expected to give strength ``target``, from (step, strength) tries.

    One try: strength taken as proportional to the step. More: the secant
    through the two tries closest to the target (a step of at least 1/20 of
    the last one, so a flat secant cannot send it far).
    """
    if len(tries) == 1:
        step, strength = tries[0]
        return step * target / strength
    (s0, v0), (s1, v1) = sorted(tries, key=lambda t: abs(t[1] - target))[:2]
    if v1 == v0:
        return s0 * target / v0
    step = s0 + (target - v0) * (s1 - s0) / (v1 - v0)
    return max(step, 0.05 * s0)


def matched_no_flow(inputs, target: float, settings: dict, tries: int = TRIES) -> dict:
    """``--no-flow`` renders of ``inputs``, the step size steered towards strength ``target``.

    Returns:
        step size -> outputs; the first is the settings' own step size.
    """
    runs, measured = {}, []
    step = step_size_of(settings)
    for _ in range(tries):
        step = round(step, 3)
        outs = render(inputs, "dream", flow=False, **{**settings, "step_size": step})
        runs[step] = outs
        strength = float(np.mean(measures.strength_per_frame(outs, inputs)))
        measured.append((step, strength))
        if abs(strength / target - 1) <= TOLERANCE:
            break
        step = next_step(measured, target)
    return runs


def no_flow_name(step: float) -> str:
    return f"dream --no-flow, step {step:g}"


def equal_strength(name: str, inputs, flowed, settings: dict, quick: bool) -> dict:
    """The carried dream against ``--no-flow`` at matched strength over the first frames."""
    n = QUICK["match"] if quick else MATCH_FRAMES
    inputs, flowed = inputs[:n], flowed[:n]
    target = float(np.mean(measures.strength_per_frame(flowed, inputs)))
    tries = QUICK["tries"] if quick else TRIES
    plain = matched_no_flow(inputs, target, settings, tries)
    runs = {FLOW: flowed, **{no_flow_name(s): outs for s, outs in plain.items()}}
    window = QUICK["window"] if quick else WINDOW
    result = {"clip": f"{name}, first {n}", "frames": n, **judge(inputs, runs, window)}
    result["checks"] = equal_strength_checks(result["rows"], list(plain))
    return result


def equal_strength_checks(rows: dict, steps: list[float]) -> dict:
    """Excess of the carried dream over each ``--no-flow`` try's; the try closest in strength."""
    ours = rows[FLOW]
    per_try = []
    for step in steps:
        plain = rows[no_flow_name(step)]
        per_try.append(
            {
                "step_size": step,
                "strength_ratio": ours["strength"] / plain["strength"],
                "excess_ratio": ours["excess"] / plain["excess"],
                "excess_ratio_own_flow": ours["excess_own_flow"] / plain["excess_own_flow"],
                "static_flicker_ratio": ours["static_flicker"] / plain["static_flicker"],
            }
        )
    best = min(per_try, key=lambda t: abs(t["strength_ratio"] - 1))
    equal = abs(best["strength_ratio"] - 1) <= TOLERANCE
    return {
        "default_step": per_try[0],
        "matched": best,
        "equal_strength": equal,
        "met": bool(equal and best["excess_ratio"] <= 0.25),
    }


def long_run(name: str, inputs, settings: dict, quick: bool) -> tuple[dict, list]:
    """The carried dream over a long clip: its measures and last/first windows."""
    window = QUICK["window"] if quick else WINDOW
    outs = render(inputs, "dream", **settings)
    result = {"clip": name, "frames": len(inputs), **judge(inputs, {FLOW: outs}, window)}
    row = result["rows"][FLOW]
    checks = {
        "fidelity_last_over_first": row["fidelity_last"] / row["fidelity_first"],
        "strength_last_over_first": row["strength_last"] / row["strength_first"],
    }
    checks["met"] = bool(
        checks["fidelity_last_over_first"] >= 0.99
        and 0.9 <= checks["strength_last_over_first"] <= 1.1
    )
    result["checks"] = checks
    return result, outs


def clip_goal(name: str, inputs, settings: dict, quick: bool) -> dict:
    """The long run and the equal-strength comparison on one clip."""
    long, outs = long_run(f"{name}, {len(inputs)} frames", inputs, settings, quick)
    return {"long": long, "equal": equal_strength(name, inputs, outs, settings, quick)}


def dream_goal(quick: bool, settings: dict | None = None) -> list[dict]:
    """Both questions on carphone (477 frames) and bikes' traffic shot (121 frames)."""
    settings = DREAM if settings is None else settings
    if quick:
        return [clip_goal("carphone", carphone_clip(1)[: QUICK["frames"]], settings, quick)]
    return [
        clip_goal("carphone", carphone_clip(CARPHONE_LEGS), settings, quick),
        clip_goal("bikes traffic shot", long_clip(SHOT_LEGS), settings, quick),
    ]


def preset_drift(quick: bool, names=PRESETS) -> list[dict]:
    """Each shipped dream preset's long run on carphone (:func:`long_run`): does it keep still?

    The default settings' long run is the goal's; this says how each preset
    does over ``PRESET_LEGS`` legs (strength last/first within 0.9-1.1,
    fidelity last/first >= 0.99).
    """
    inputs = carphone_clip(1)[: QUICK["frames"]] if quick else carphone_clip(PRESET_LEGS)
    names = names[:1] if quick else names
    results = []
    for name in names:
        result, _ = long_run(f"carphone, {len(inputs)} frames", inputs, {"preset": name}, quick)
        results.append({"preset": name, **result})
    return results


def preset_lines(results: list[dict]) -> list[str]:
    """One line per preset: its long run's last/first windows, met or not."""
    lines = []
    for r in results:
        c, row = r["checks"], r["rows"][FLOW]
        lines.append(
            f"- Preset {r['preset']} ({r['clip']}): strength last/first "
            f"{c['strength_last_over_first']:.3f} (0.9-1.1), fidelity last/first "
            f"{c['fidelity_last_over_first']:.3f} (>= 0.99), strength {row['strength']:.3f}: "
            f"{'met' if c['met'] else 'not met'}."
        )
    return lines


def goal_lines(goals: list[dict]) -> list[str]:
    """One line per clip: the long run's windows and the equal-strength excess ratio."""
    lines = []
    for g in goals:
        lc, ec = g["long"]["checks"], g["equal"]["checks"]
        m, d = ec["matched"], ec["default_step"]
        within = "within" if ec["equal_strength"] else "NOT within"
        lines.append(
            f"- Goal 2 (dream, {g['long']['clip']}): fidelity last/first "
            f"{lc['fidelity_last_over_first']:.3f} (>= 0.99), strength last/first "
            f"{lc['strength_last_over_first']:.3f} (0.9-1.1): {'met' if lc['met'] else 'not met'}. "
            f"{g['equal']['clip']}: excess {m['excess_ratio']:.3f}x --no-flow's at step "
            f"{m['step_size']:g} (<= 0.25; renderer's own flow "
            f"{m['excess_ratio_own_flow']:.3f}x), strength {m['strength_ratio']:.3f}x it "
            f"({within} 5 %): {'met' if ec['met'] else 'not met'}; at the default step "
            f"{d['step_size']:g}: {d['excess_ratio']:.3f}x at {d['strength_ratio']:.2f}x "
            "its strength."
        )
    return lines
