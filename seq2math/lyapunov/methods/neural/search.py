"""A neural learner–verifier (CEGIS) Lyapunov baseline in the manner of Fossil 2, NLC/ANLC and LyzNet.

Loop (docs/baselines.md): a small network V (``network.SquareNetwork``, positive definite by
construction) is trained on states of the annulus r ≤ ‖x‖ ≤ R to make V̇ = ∇V·f negative;
a verifier searches counterexamples (``counterexamples``), which join the training set; repeat
until the verifier accepts or the budget (rounds, seconds) runs out.

Two results, reported separately and never mixed (the published tools certify a region):

- ``found_region``: True only when the region claim (V > 0, V̇ < 0 on the annulus) is
  *proved exactly* — an exact SOS certificate on the annulus (``region_sos``), z3 on
  the annulus, or an exact SOS certificate of global asymptotic decrease. ``None`` when the
  numerical verifier found no counterexample but nothing exact settled it (non-polynomial
  systems always end here; an undecided polynomial candidate first raises the training
  margin and the loop goes on): "no counterexample", not a proof. False when the budget ran
  out with counterexamples left.
- ``found_global``: True only when ``check_candidate(system, V, "lyapunov")`` proves the
  extracted polynomial V exactly (SOS certificate made exact, or z3); False when refuted or
  when no candidate survived; None when undecided or not applicable (non-polynomial system).

Deterministic per seed on CPU (float64, one seeded generator), as long as the time limit
does not cut a round short.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch

from seq2math.lyapunov.check import as_polynomials, check_candidate
from seq2math.lyapunov.methods.neural.counterexamples import (
    decrease_cosine,
    exact_region_check,
    falsify,
    sample_annulus,
)
from seq2math.lyapunov.methods.neural.network import (
    SquareNetwork,
    Tensor,
    system_function,
)
from seq2math.lyapunov.methods.neural.options import NeuralOptions
from seq2math.lyapunov.methods.neural.region_sos import bounded_region_certificate
from seq2math.sos.prover import Verdict
from seq2math.symbolic.expr import from_poly, to_infix
from seq2math.symbolic.poly import Poly
from seq2math.symbolic.polytools import fmt_point
from seq2math.tokens.prefix import expression_tokens

JITTER_COPIES = 3          # each counterexample joins the training set with this many perturbed copies
MAX_MARGIN = 0.5           # an undecided candidate doubles the training margin up to this cosine


@dataclass
class NeuralResult:
    found_region: bool | None
    found_global: bool | None
    #: "sos-exact (annulus)", "z3", "sos-exact (global asymptotic decrease)", "none (numerical)" or ""
    region_proof: str = ""
    global_proof: str = ""                 # check_candidate's proof label when found_global
    reason: str = ""
    V_poly: Poly | None = None
    iterations: int = 0
    seconds: float = 0.0
    counterexamples: int = 0
    history: list[dict] = field(default_factory=list)
    region_certificate: dict | None = None  # exact S-procedure certificate (region_sos.recheck)
    options: NeuralOptions | None = None

    @property
    def V_expr(self):
        """V as an expression tree (canonical polynomial form), or None."""

        return None if self.V_poly is None else from_poly(self.V_poly)

    def to_json(self) -> dict[str, Any]:

        record = {"found_region": self.found_region, "found_global": self.found_global,
                  "region_proof": self.region_proof, "global_proof": self.global_proof, "reason": self.reason,
                  "iterations": self.iterations, "seconds": round(self.seconds, 6),
                  "counterexamples": self.counterexamples, "history": self.history}
        if self.options is not None:
            record["annulus"] = {"inner_radius": self.options.inner_radius, "radius": self.options.radius}
        if self.V_poly is not None:
            record |= {"V": to_infix(self.V_expr), "V_prefix": " ".join(expression_tokens(self.V_expr)),
                       "degree": int(self.V_poly.total_degree())}
        return record


def _train(network: SquareNetwork, f, X: Tensor, options: NeuralOptions, margin: float, deadline: float) -> float:
    """Adam on mean relu(cos(∇V, f) + margin): scale free, so small and large states count alike."""
    optimiser = torch.optim.Adam(network.parameters(), lr=options.learning_rate)
    loss_value = float("nan")
    with torch.no_grad():                  # states where f overflows (exp far out) would make the gradients NaN
        field = f(X)
        X = X[torch.isfinite(field).all(dim=1) & torch.isfinite(field.norm(dim=1))]
    for step in range(options.steps):
        _, cosine = decrease_cosine(network, f, X)
        finite = torch.isfinite(cosine)
        if not finite.any():
            break
        loss = torch.relu(cosine[finite] + margin).mean()
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value) or loss_value == 0.0 or (step % 25 == 0 and time.perf_counter() > deadline):
            break
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return loss_value


def _with_counterexamples(X: Tensor, found: Tensor, options: NeuralOptions, generator: torch.Generator) -> Tensor:
    """The training states plus each counterexample and jittered copies, kept inside the annulus."""
    copies = found.repeat(JITTER_COPIES, 1)                                  # (K·J, n)
    noise = torch.randn(copies.shape, generator=generator, dtype=torch.float64)
    jittered = copies + 0.03 * copies.norm(dim=1, keepdim=True) * noise
    norms = jittered.norm(dim=1, keepdim=True).clamp_min(1e-300)
    jittered = jittered * (norms.clamp(options.inner_radius, options.radius) / norms)
    return torch.cat([X, found, jittered])


def _resolve_options(options: NeuralOptions | None, **given) -> NeuralOptions:
    options = dataclasses.replace(options or NeuralOptions(), **{k: v for k, v in given.items() if v is not None})
    options.validate()
    return options


def neural_lyapunov(system: list, time_limit: float | None = None, seed: int | None = None,
                    region_radius: float | None = None, options: NeuralOptions | None = None,
                    **overrides) -> NeuralResult:
    """Learn and verify V for ẋ = system (expression trees or flint polynomials); see the module docstring.

    ``time_limit``, ``seed`` and ``region_radius`` override the matching ``options`` fields, as
    do keyword ``overrides`` (``square_width=0``...).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)     # tiny matrices: threads only add contention (60x slower on a busy 2-core machine)
    try:
        return _neural_lyapunov(system, _resolve_options(options, time_limit=time_limit, seed=seed,
                                                         radius=region_radius, **overrides))
    finally:
        torch.set_num_threads(threads)


def _neural_lyapunov(system: list, options: NeuralOptions) -> NeuralResult:
    start = time.perf_counter()
    deadline = start + options.time_limit
    n = len(system)
    if n == 0:
        raise ValueError("the system has no equations")
    polys = as_polynomials(system, system[0])
    polynomial_system = None if polys is None else polys[0]
    f = system_function(system)
    at_origin = f(torch.zeros(1, n, dtype=torch.float64))
    if not torch.all(at_origin == 0):
        return NeuralResult(False, False, reason=f"f(0) = {at_origin[0].tolist()} is not 0: the origin is not "
                            "an equilibrium", options=options, seconds=time.perf_counter() - start)

    generator = torch.Generator().manual_seed(options.seed)
    network = SquareNetwork(n, options.linear_width, options.square_width, options.output_width, options.epsilon,
                            generator)
    network.quantize_(options.quantization_bits)
    X = sample_annulus(n, options.samples, options.inner_radius, options.radius, generator)
    result = NeuralResult(False, False, reason="budget exhausted with counterexamples left", options=options)
    margin, undecided = options.margin, None
    for round_index in range(1, options.iterations + 1):
        if time.perf_counter() > deadline:
            result.reason = "time limit reached with counterexamples left"
            break
        result.iterations = round_index
        loss = _train(network, f, X, options, margin, deadline)
        if not all(bool(torch.isfinite(p).all()) for p in network.parameters()):
            result.reason = "the learner diverged (non-finite weights) on this system"
            break
        network.quantize_(options.quantization_bits)
        found = falsify(network, f, options.inner_radius, options.radius, options.falsify_samples, generator)
        entry = {"round": round_index, "loss": round(loss, 6), "training_states": len(X)}
        result.history.append(entry)
        if len(found):
            entry |= {"verifier": "numerical", "counterexamples": len(found)}
            result.counterexamples += len(found)
            X = _with_counterexamples(X, found, options, generator)
            continue
        verdict = _settle_candidate(result, network, polynomial_system, entry, options, deadline)
        if verdict == "stop":
            break
        if verdict == "counterexample":
            X = _with_counterexamples(X, entry.pop("_point"), options, generator)
            continue
        # undecided: keep this candidate, then ask for a more robust decrease on fresh states
        undecided = {k: getattr(result, k) for k in ("V_poly", "found_global", "global_proof", "reason")}
        margin = min(MAX_MARGIN, 2 * margin)
        X = torch.cat([X, sample_annulus(n, options.samples, options.inner_radius, options.radius, generator)])
    if result.found_region is False and undecided is not None:     # budget spent: report the undecided candidate
        for key, value in undecided.items():
            setattr(result, key, value)
        result.found_region, result.region_proof = None, "none (numerical)"
    result.seconds = time.perf_counter() - start
    return result


def _settle_candidate(result: NeuralResult, network: SquareNetwork, system: list[Poly] | None, entry: dict,
                      options: NeuralOptions, deadline: float) -> str:
    """Exact checks of a candidate the numerical verifier accepted: "stop", "counterexample" or "undecided".

    On an exact counterexample it stores the point under ``entry["_point"]``.
    """
    V = network.to_poly()
    result.V_poly = V
    if system is None:
        entry["verifier"] = "numerical (non-polynomial system)"
        result.found_region, result.region_proof, result.found_global = None, "none (numerical)", None
        result.reason = "no counterexample found numerically on the region (not a proof); on a non-polynomial " \
                        "system `solve` and `report` send V to the prover chain (docs/provers.md)"
        return "stop"
    region_proved = _global_check(result, system, V, options, deadline)
    if region_proved:
        entry["verifier"] = "sos-exact"
        result.found_region, result.region_proof = True, "sos-exact (global asymptotic decrease)"
        result.reason = "region proved by the global certificate"
        return "stop"
    certificate, detail = bounded_region_certificate(V, system, options.inner_radius, options.radius,
                                                     max(1.0, deadline - time.perf_counter()))
    if certificate is not None:
        entry["verifier"] = detail
        result.found_region, result.region_proof, result.region_certificate = True, "sos-exact (annulus)", certificate
        result.reason = "region proved by an exact SOS certificate on the annulus"
        return "stop"
    remaining = max(0.5, min(options.z3_timeout, deadline - time.perf_counter()))
    answer = exact_region_check(V, system, options.inner_radius, options.radius, remaining)
    entry["verifier"] = f"{detail}; {answer.detail}"
    if answer.verdict is Verdict.PROVED:
        result.found_region, result.region_proof, result.reason = True, "z3", "region proved exactly by z3"
        return "stop"
    if answer.verdict is Verdict.COUNTEREXAMPLE:
        entry["counterexamples"] = 1
        result.counterexamples += 1
        entry["_point"] = torch.tensor([[float(v) for v in answer.point]], dtype=torch.float64)
        entry["z3_point"] = fmt_point(answer.point)
        result.V_poly, result.found_global, result.global_proof = None, False, ""
        return "counterexample"
    result.reason = f"no counterexample found numerically (not a proof); exact region check undecided ({answer.detail})"
    result.V_poly = V
    return "undecided"


def _global_check(result: NeuralResult, system: list[Poly], V: Poly, options: NeuralOptions, deadline: float
                  ) -> bool:
    """Set ``found_global`` from check_candidate; True when it also proved V̇ ≤ −δ Σ xᵢ^(2k) exactly."""
    if not options.global_check:
        result.found_global, result.global_proof = None, "not attempted"
        return False
    remaining = max(1.0, deadline - time.perf_counter())
    verdict = check_candidate(system, V, "lyapunov", timeout=remaining, asymptotic=True, seed=options.seed)
    exact = verdict.valid is True and "numerical" not in verdict.proof
    result.found_global = True if exact else (False if verdict.valid is False else None)
    result.global_proof = verdict.proof if exact else f"not proved: {verdict.reason[:200]}"
    return exact and verdict.asymptotic is True
