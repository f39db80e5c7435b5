"""Data generators for the Lyapunov task.

``backward``: draw V, build a system it stabilises (polynomial, python-flint; DOMAIN.md §3.2).
``nonpoly``: the same construction with non-polynomial V and f (expression trees).
``forward``: draw a system, search V by SOS programming (DOMAIN.md §3.3).
``forward_sos``: the SOS search of the paper-faithful forward presets (docs/presets.md).
"""
