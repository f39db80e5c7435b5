"""Options of the neural Lyapunov baseline (kept free of torch so ``seq2math --help`` stays fast).

Every field is also a command-line flag of ``seq2math baseline neural`` (``--square-width 4``).
The defaults are CPU sized: a network of a few dozen weights, hundreds of samples, seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def _help(text: str) -> dict:
    return {"help": text}


@dataclass
class NeuralOptions:
    """What the learner–verifier loop (``seq2math.lyapunov.methods.neural.search``) may use."""

    time_limit: float = field(default=30.0, metadata=_help("seconds per system, training and verification together"))
    iterations: int = field(default=20, metadata=_help("largest number of learner-verifier rounds"))
    seed: int = field(default=0, metadata=_help("seeds the samples and the initial weights"))
    radius: float = field(default=10.0, metadata=_help("outer radius R of the annulus inner_radius <= |x| <= R"))
    inner_radius: float = field(default=0.01, metadata=_help("inner radius of the annulus (the neural tools' 0.01)"))
    linear_width: int = field(default=4, metadata=_help("features w.x of the network (quadratic part of V)"))
    square_width: int = field(default=4, metadata=_help("features (w.x)^2 (0: V is a quadratic form)"))
    output_width: int = field(default=6, metadata=_help("rows of the output layer; V is their squared norm"))
    epsilon: float = field(default=0.01, metadata=_help("V = |C phi(x)|^2 + epsilon |x|^2 (positive definite)"))
    samples: int = field(default=512, metadata=_help("initial training states in the annulus"))
    steps: int = field(default=150, metadata=_help("Adam steps per learner round"))
    learning_rate: float = field(default=0.02, metadata=_help("Adam learning rate"))
    margin: float = field(default=0.02, metadata=_help("training asks cos(grad V, f) <= -margin"))
    falsify_samples: int = field(default=4096, metadata=_help("states the numerical verifier tries per round"))
    quantization_bits: int = field(default=10, metadata=_help("weights are rounded to multiples of 2^-bits"))
    z3_timeout: float = field(default=5.0, metadata=_help("seconds for one exact region check by z3"))
    global_check: bool = field(default=True, metadata=_help("also try to prove V globally (check_candidate)"))

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first option that cannot work."""
        positive = {"time_limit": self.time_limit, "radius": self.radius, "inner_radius": self.inner_radius,
                    "epsilon": self.epsilon, "learning_rate": self.learning_rate, "z3_timeout": self.z3_timeout}
        for name, value in positive.items():
            if not value > 0:
                raise ValueError(f"neural baseline: {name} must be positive, got {value}")
        if self.inner_radius >= self.radius:
            raise ValueError(f"neural baseline: inner_radius {self.inner_radius} must be below radius {self.radius}")
        counts = {"iterations": self.iterations, "linear_width": self.linear_width, "output_width": self.output_width,
                  "samples": self.samples, "steps": self.steps, "falsify_samples": self.falsify_samples,
                  "quantization_bits": self.quantization_bits}
        for name, value in counts.items():
            if value < 1:
                raise ValueError(f"neural baseline: {name} must be at least 1, got {value}")
        if self.square_width < 0:
            raise ValueError(f"neural baseline: square_width must be >= 0, got {self.square_width}")
        if not 0 <= self.margin < 1:
            raise ValueError(f"neural baseline: margin is a cosine and must lie in [0, 1), got {self.margin}")
