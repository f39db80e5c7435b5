"""Data generators for the Lyapunov task.

``backward``: draw V, build a system it stabilises (polynomial, python-flint; docs/generation.md).
``nonpoly``: the same construction with non-polynomial V and f (expression trees).
``forward``: draw a system, search V by SOS programming (docs/generation.md).
``forward_sos``: the SOS search of the paper-faithful forward presets (docs/presets.md).
"""
