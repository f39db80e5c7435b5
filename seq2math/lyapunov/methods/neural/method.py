"""The registered ``neural`` method: the learner–verifier baseline proposes its polynomial V.

The network is trained and verified once per system (``start``, with the whole time limit,
``seq2math.lyapunov.methods.neural.search``); its V is then proposed under every check. Its
region result (proved on the annulus, numerical only, not found) is kept apart from the global
ones: ``Search.record`` carries ``region`` and ``region_proof`` into the report records, and
never counts as a certified V (docs/baselines.md). torch is imported only when the method runs.
"""

from __future__ import annotations

from typing import Any, Iterator

from seq2math.lyapunov.methods.base import Method, Search, register_method


@register_method
class NeuralMethod(Method):
    """A small network trained on an annulus with counterexamples in a loop (Fossil 2 / ANLC / LyzNet style)."""

    name = "neural"

    def start(self, system: list, time_limit: float | None, prepared: Any = None) -> Search:
        from seq2math.lyapunov.methods.neural.search import neural_lyapunov  # torch

        result = neural_lyapunov(system, time_limit=time_limit, seed=self.options.seed)
        return Search(system, result, reason=result.reason,
                      record={"region": result.found_region, "region_proof": result.region_proof})

    def propose(self, search: Search, check: str, deadline: float | None) -> Iterator[Any]:
        if search.state.V_poly is not None:
            yield search.state.V_poly
