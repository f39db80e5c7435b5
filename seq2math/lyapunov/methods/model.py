"""The ``model`` method: a trained transformer proposes Lyapunov functions by beam search.

The model only proposes; the solve loop (``seq2math.lyapunov.methods.solve``) proves each
proposal with the exact verifier, so a wrong guess costs time, never soundness. This is
the paper's pipeline (Alfarano, Charton & Hayat 2024): decode K hypotheses with beam search
and keep one that verifies.

The system is written the way the training data were: polynomial equations in the canonical
term order of ``poly_tokens`` (what the backward generator writes), so a system typed by a
user in any order reaches the model in the form it learnt. Hypotheses come best-first (beam
score); unreadable ones, repeats, constants and ones of absurd degree are skipped before verification.
Those whose coefficients fit the gradient form f = −G∇V exactly (``exact_fits``: one least-squares solve
each, the form of every backward-generated system with its V) are proposed before the others: a wrong
hypothesis that the falsifier cannot refute costs the solve loop up to ``CANDIDATE_SECONDS`` of SOS, an
exact fit is usually proved in milliseconds by the check's gradient-form stage (docs/results.md, session 28).
The exact fits of a few other views of a polynomial system come after the other hypotheses, or right after the
exact fits when the system's own beams hold none (``views``, ``ModelMethod.view_fits``); a non-polynomial system's
views (its variables reordered) propose all their hypotheses, in blocks after its own (``ModelMethod.with_views``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

from seq2math.jobs.progress import Progress
from seq2math.lyapunov.methods.base import Method, MethodOptions, Search, register_method
from seq2math.lyapunov.methods.ensemble import longest_reader, routed
from seq2math.lyapunov.methods.hypotheses import Proposal, exact_fits, read_hypotheses, unusable_reason
from seq2math.lyapunov.methods.views import View, from_view, identity, system_in_view, views_of
from seq2math.symbolic.expr import NotPolynomialError, from_poly, to_poly
from seq2math.symbolic.poly import Poly, in_ring
from seq2math.tokens.prefix import expression_tokens, integer_tokens, poly_tokens
from seq2math.tokens.vocab import EQUATION_SEPARATOR
from seq2math.training.config import DEFAULT_MODEL, NONPOLY_MODEL, SHIPPED_MODELS

#: decoded beams remembered per process (``model`` and ``guided`` share one decoding of a system)
MAX_CACHED_BEAMS = 4096
#: the exact-fit screen (``hypotheses.exact_fits``) may use this share of the time left (about a millisecond per
#: hypothesis of two or three variables)
SCREEN_SHARE = 0.2
#: a non-polynomial system's hypotheses go in blocks of this many, its own then each view's (``with_views``): on a
#: development set 95% of the model's proofs were among the first 9 of its own (docs/results.md, session 33)
VIEW_BLOCK = 10
_LOADED: dict[tuple[str, str, str], Any] = {}
_DECODED: dict[tuple, list[tuple[list[str], float | None]]] = {}


def resolve_model_path(model: str | Path | None) -> Path:
    """``model`` or, when None, the committed checkpoint; a clear error when neither exists."""
    path = Path(model) if model else DEFAULT_MODEL
    if not (path / "config.json").exists():
        hint = "" if model else " (no committed checkpoint: train one and `seq2math export` it there, or pass --model)"
        raise ValueError(f"model {path} is not a run directory or exported checkpoint{hint}")
    return path


def resolve_model_paths(model: str | Path | None) -> list[Path]:
    """The models a ``model`` option names: one run directory or export; several joined by ``+``
    (``runs/small+runs/large``, proposing in that order); None: the shipped checkpoints of
    ``SHIPPED_MODELS`` that exist (at least one must)."""
    if model is None:
        shipped = [path for path in SHIPPED_MODELS if (path / "config.json").exists()]
        return shipped or [resolve_model_path(None)]
    text = str(model)
    if "+" not in text or (Path(text) / "config.json").exists():
        return [resolve_model_path(text)]
    return [resolve_model_path(part) for part in text.split("+") if part]


def nonpoly_model_paths(model: str | Path | None, polynomial_paths: list[Path]) -> list[Path]:
    """The models that propose for a non-polynomial system: ``NONPOLY_MODEL`` when no model is named and it
    exists (the polynomial models were never shown sin, exp or ln), otherwise ``polynomial_paths``."""
    if model is None and (NONPOLY_MODEL / "config.json").exists():
        return [NONPOLY_MODEL]
    return polynomial_paths


def polynomial_equations(system: list) -> list[Poly] | None:
    """The equations of ``system`` as polynomials of one ring, or None when one is not a polynomial."""
    from seq2math.lyapunov.check import as_polynomials

    polynomials = as_polynomials(system, system[0])
    return None if polynomials is None else polynomials[0]


def is_polynomial_system(system: list) -> bool:
    """Whether every equation of ``system`` expands to a polynomial."""
    return polynomial_equations(system) is not None


def interleaved(beams: list[list]) -> list:
    """The hypotheses of several models' beams taken in turn, best first: a[0], b[0], a[1], b[1], ...

    Beam scores of different models are not comparable, so rank decides; a model whose beam
    is shorter simply drops out of the turn."""
    out = []
    for rank in range(max((len(beam) for beam in beams), default=0)):
        out.extend(beam[rank] for beam in beams if rank < len(beam))
    return out


def ensemble_hypotheses(options: MethodOptions, paths: list[Path], systems: list[list],
                        deadline: float | None = None) -> list[list[list[tuple[list[str], float | None]]]]:
    """Per system, the beam of each of ``paths`` (``ranked_hypotheses``, decoded in batches), in order; a
    model not started before ``deadline`` contributes nothing. ``interleaved`` merges them (``guided``)."""
    per_model = []
    reader = longest_reader(paths)
    for path in paths:
        if per_model and deadline is not None and time.perf_counter() > deadline:
            break
        per_model.append(ranked_hypotheses(options, path, systems, deadline, extrapolate=path == reader))
    return [list(beams) for beams in zip(*per_model)]


class LazyBeams:
    """The beams of ``paths`` for one system, each decoded when first asked for, in order (``ranked_hypotheses``:
    once per process), none started after ``deadline``: the ``model`` method proposes the first model's whole
    beam before the next model is loaded and decoded. The shipped small model proves the textbook system
    with its 11th hypothesis, and the mixture model is then never loaded (docs/api.md).

    ``views`` (``views.views_of``; the identity first) are the system as typed and the signed permutations of
    its variables that are read after it: ``in_views`` decodes each view's beams, model by model, after every
    model's beam of the system as typed (``equations``: the system as polynomials, which the other views of a
    polynomial system are made of; None: a non-polynomial system, whose views rename the variables of its
    expression trees). ``prepared``: the beams of the system as typed, already decoded."""

    def __init__(self, options: MethodOptions, paths: list[Path], system: list, deadline: float | None,
                 views: list[View] | None = None, prepared: list | None = None, equations: list[Poly] | None = None):
        self.options, self.paths, self.system, self.deadline = options, paths, system, deadline
        self.views = views or [identity(len(system))]
        self.equations = equations
        self.decoded: dict[int, list[tuple[list[str], float | None]]] = dict(enumerate(prepared or []))

    def __iter__(self) -> Iterator[list[tuple[list[str], float | None]]]:
        """The beams of the system as typed, model by model."""
        for _, beam in self.in_views(self.deadline, other=False):
            yield beam

    def in_views(self, deadline: float | None, other: bool = False
                 ) -> Iterator[tuple[View, list[tuple[list[str], float | None]]]]:
        """(view, beam) of each model for the system as typed, or with ``other`` for each other view, view by view
        and model by model; no decoding starts after ``deadline``, except the first model's beam of the system
        as typed (it proposes nothing otherwise)."""
        reader = longest_reader(self.paths)
        pairs = [(view, path) for view in self.views for path in self.paths]
        first = len(self.paths) if other else 0
        for index in range(first, len(pairs) if other else len(self.paths)):
            view, path = pairs[index]
            if index not in self.decoded:
                if index and deadline is not None and time.perf_counter() > deadline:
                    return
                system = self.system if view.is_identity else \
                    system_in_view(self.system if self.equations is None else self.equations, view)
                self.decoded[index] = ranked_hypotheses(self.options, path, [system], deadline, path == reader)[0]
            yield view, self.decoded[index]


def load_model(model: str | Path | None = None, device: str = "cpu", which: str = "best"):
    """The ``LoadedRun`` of a run directory or export, loaded once per process."""
    from seq2math.training.checkpoint import load_run

    path = resolve_model_path(model)
    key = (str(path.resolve()), str(device), which)
    if key not in _LOADED:
        from seq2math.training.runtime import limit_cpu_threads, resolve_device

        resolve_device(str(device))     # a CUDA device must exist, and decodes without cuDNN's attention
        # as in train/evaluate: no more threads than idle cores (spinning threads); a short look
        limit_cpu_threads(device, window=0.05)
        loaded = load_run(path, device, which=which)
        if loaded.task.name != "lyapunov":
            raise ValueError(f"{path} was trained on task {loaded.task.name!r}, not lyapunov")
        _LOADED[key] = loaded
    return _LOADED[key]


#: seconds to import torch and load a small checkpoint on a 2-core CPU (measured 1.5-2.1 s)
MODEL_LOAD_SECONDS = 2.0


def is_loaded(model: str | Path | None = None, device: str = "cpu", which: str = "best") -> bool:
    """Whether ``load_model`` has this model in memory already (then starting it costs nothing)."""
    return (str(resolve_model_path(model).resolve()), str(device), which) in _LOADED


def system_source(system: list) -> list[str]:
    """Source tokens of a system (expression trees or flint polynomials): a polynomial system in the canonical
    term order of ``poly_tokens`` (what the backward generator writes); a system with a non-polynomial equation
    with every equation as its expression tree's prefix tokens (what the non-polynomial generator writes, so a
    test line reaches the model token for token as in its file)."""

    n = len(system)
    out = integer_tokens(n)
    try:
        equations = [poly_tokens(in_ring(f, n)) if isinstance(f, Poly) else poly_tokens(to_poly(f, n)) for f in system]
    except NotPolynomialError:
        equations = [expression_tokens(from_poly(f) if isinstance(f, Poly) else f) for f in system]
    for tokens in equations:
        out.append(EQUATION_SEPARATOR)
        out.extend(tokens)
    return out


def decode_hypotheses(loaded, sources: list[list[str]], beam: int, batch_size: int = 16,
                      deadline: float | None = None, extrapolate: bool = False
                      ) -> list[list[tuple[list[str], float | None]]]:
    """Beam-search hypotheses (tokens, score), best first, for each source; past ``deadline``
    (``time.perf_counter()``) the search stops with what is finished (possibly nothing). With ``extrapolate`` the
    model reads sources up to twice its trained positions (``evaluation.decode.source_capacity``)."""
    import torch

    from seq2math.evaluation.decode import decode_sources

    options = loaded.config.task
    max_len = min(loaded.config.model.max_len, int(options.get("max_target_tokens", 256)) + 16)
    device = next(loaded.model.parameters()).device
    out: list[list[tuple[list[str], float | None]]] = [[] for _ in sources]
    # batches of sources of similar length: one long source would pad its whole batch (a beam of 50 over 16
    # sources padded to 1,300 tokens instead of 300)
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    # a report decodes its whole test file here first (minutes at beam 50): show it
    with torch.no_grad(), Progress(len(sources), f"decode (beam {beam})", unit="system",
                                   disable=len(sources) <= batch_size) as progress:
        for first in range(0, len(sources), batch_size):
            chunk = order[first: first + batch_size]
            decoded = decode_sources(loaded.model, loaded.vocab, [sources[i] for i in chunk], beam, max_len, device,
                                     deadline=deadline, extrapolate=extrapolate)
            for i, hypotheses in zip(chunk, decoded):
                out[i] = [(h.tokens, h.score) for h in hypotheses]
            progress.update(len(chunk))
    return out


def ranked_hypotheses(options: MethodOptions, path: Path, systems: list[list], deadline: float | None = None,
                      extrapolate: bool = False) -> list[list[tuple[list[str], float | None]]]:
    """The beam of each system (tokens, score), best first, decoded once per process.

    ``extrapolate``: read sources up to twice the model's trained positions. The ensemble's model with the most
    positions does (``longest_reader``; by default the mixture model): a
    source too long for every model is then still read by one (bpoly system 156 of our test set, 810 monomial
    tokens against 768 trained positions, is proved by ``guided`` from that beam, docs/results.md, session 23),
    while the small model does not spend the method's time decoding sources it was never trained near.

    ``model`` and ``guided`` both start from this: a system already decoded with the same
    decoder, model, weights, device and beam size is not decoded again. The rest are decoded
    together in batches (``decode_hypotheses``).
    """
    # the decoder function is part of the key: tests replace it with stubs
    settings = (decode_hypotheses, str(path.resolve()), options.device, options.checkpoint, options.beam, extrapolate)
    keys = [settings + (tuple(system_source(system)),) for system in systems]
    beams = {key: _DECODED[key] for key in keys if key in _DECODED}
    missing = [key for key in dict.fromkeys(keys) if key not in beams]
    if missing:
        loaded = load_model(path, options.device, options.checkpoint)
        beams.update(zip(missing, decode_hypotheses(loaded, [list(key[-1]) for key in missing], options.beam,
                                                    deadline=deadline, extrapolate=extrapolate)))
        if deadline is not None and time.perf_counter() > deadline:
            return [beams[key] for key in keys]                  # cut by the time limit: not kept for later
    for key in missing:
        if len(_DECODED) >= MAX_CACHED_BEAMS:
            _DECODED.pop(next(iter(_DECODED)))                   # forget the oldest
        _DECODED[key] = beams[key]
    return [beams[key] for key in keys]


@register_method
class ModelMethod(Method):
    """A trained transformer proposes V by beam search, best beam score first.

    ``prepare`` decodes many systems in batches (``seq2math report`` does it before forking its
    workers); ``start`` decodes one system when nothing was prepared. Under the barrier check the
    V proved under the lyapunov check, when there is one, is tried first (a Lyapunov function is
    a barrier function too). Several models (``resolve_model_paths``: the shipped ones by default)
    propose in turn, those trained on systems like this one first (``routed``): first each model's exact fits
    of the gradient form (``exact_fits``), then each model's other hypotheses, in beam order (``LazyBeams``: a
    model is loaded and decoded only when the ones before it have no exact fit left to propose; ``guided``
    takes every model's hypotheses by rank, ``interleaved``). For a polynomial system, the exact fits of the
    beams of ``options.views − 1`` other views of it (``views``: its variables reordered and sign-flipped),
    mapped back to its own variables, come after those other hypotheses, or before them when the system's own
    beams hold no exact fit (``view_fits``; docs/results.md, sessions 29–30).
    """

    name = "model"
    batched = True

    def __init__(self, options: MethodOptions | None = None):
        super().__init__(options)
        self.paths = resolve_model_paths(self.options.model)   # fail early, not at the first system
        self.nonpoly_paths = nonpoly_model_paths(self.options.model, self.paths)

    def paths_for(self, system: list) -> list[Path]:
        """The models that propose for ``system``, in order: those trained on systems like it first (``routed``)."""
        return self.paths_for_equations(polynomial_equations(system))

    def paths_for_equations(self, equations: list[Poly] | None) -> list[Path]:
        """``paths_for`` of a system already read as polynomials (``polynomial_equations``; None: not polynomial)."""
        return self.nonpoly_paths if equations is None else routed(self.paths, equations)

    def prepare(self, systems: list[list], deadline: float | None = None
                ) -> list[list[list[tuple[list[str], float | None]]]]:
        """The beams of each system, one per model, the polynomial and the non-polynomial systems each decoded in
        batches by their own models (a ``polynomial_only`` subclass decodes no non-polynomial system)."""
        groups: dict[tuple[Path, ...], list[int]] = {}
        out: list = [[] for _ in systems]
        for index, system in enumerate(systems):
            equations = polynomial_equations(system)
            if equations is not None or not self.polynomial_only:
                groups.setdefault(tuple(self.paths_for_equations(equations)), []).append(index)
        for paths, indices in groups.items():
            beams = ensemble_hypotheses(self.options, list(paths), [systems[i] for i in indices], deadline)
            for index, beam in zip(indices, beams):
                out[index] = beam
        return out

    def start(self, system: list, time_limit: float | None, prepared: Any = None) -> Search:
        equations = polynomial_equations(system)
        paths = self.paths_for_equations(equations)
        if prepared is not None:
            return Search(system, self.beams(system, equations, paths, None, prepared) if prepared else [])
        if time_limit is not None and time_limit < MODEL_LOAD_SECONDS / 2 and not all(
                is_loaded(path, self.options.device, self.options.checkpoint) for path in paths):
            # loading torch and the checkpoint cannot be interrupted; a load may borrow from the later
            # methods' shares, but a share under half of it is skipped: the load would eat the whole budget
            return Search(system, [], reason=f"{self.name}: skipped: loading the model takes about "
                          f"{MODEL_LOAD_SECONDS:g} s, more than the {time_limit:.2g} s this method has "
                          f"(raise --time-limit)", interrupted=True)
        deadline = None if time_limit is None else time.perf_counter() + time_limit
        if equations is not None or not self.polynomial_only:
            return Search(system, self.beams(system, equations, paths, deadline))
        return Search(system, [])

    def beams(self, system: list, equations: list[Poly] | None, paths: list[Path], deadline: float | None,
              prepared: list | None = None) -> LazyBeams:
        """The beams the method reads for ``system`` in ``options.views`` views (``views.views_of``; for a
        non-polynomial one, ``equations`` None, reorderings of its variables only: ``LazyBeams``)."""
        views = views_of(len(system), self.options.views, signs=equations is not None)
        return LazyBeams(self.options, paths, system, deadline, views, prepared, equations)

    def view_hypotheses(self, search: Search, seen: set[str], deadline: float | None, polynomial: bool
                        ) -> Iterator[list[Any]]:
        """For each other view of the system (``LazyBeams.in_views``, decoded when first asked for), the readable
        hypotheses of its beams mapped back to the system's own variables (as polynomials when ``polynomial``),
        best first, none already in ``seen`` (strings)."""
        if not isinstance(search.state, LazyBeams):
            return
        n = len(search.system)
        for view, beam in search.state.in_views(deadline, other=True):
            fresh = []
            for proposal in (p for p in read_hypotheses(beam, n) if p.V is not None):
                try:
                    V = from_view(to_poly(proposal.V, n) if polynomial else proposal.V, view, n)
                except NotPolynomialError:
                    continue
                if str(V) not in seen:
                    seen.add(str(V))
                    fresh.append(V)
            yield fresh

    def view_fits(self, search: Search, equations: list[Poly] | None, seen: set[str], deadline: float | None
                  ) -> Iterator[Poly]:
        """The exact fits of the hypotheses of the system's other views (``view_hypotheses``)."""
        if equations is not None:
            for fresh in self.view_hypotheses(search, seen, deadline, polynomial=True):
                yield from exact_fits(equations, fresh, deadline)

    def with_views(self, search: Search, own: list[Any], deadline: float | None) -> Iterator[Any]:
        """A non-polynomial system's own hypotheses ``own`` and its other views' (``view_hypotheses``), with no exact
        fit to screen them: in blocks, the first ``VIEW_BLOCK`` of its own, then the first ``VIEW_BLOCK`` of each
        view's (decoded when reached), then the rest of each in the same order (docs/results.md, session 33)."""
        yield from own[:VIEW_BLOCK]
        rests = [own[VIEW_BLOCK:]]
        for mapped in self.view_hypotheses(search, {str(V) for V in own}, deadline, polynomial=False):
            yield from mapped[:VIEW_BLOCK]
            rests.append(mapped[VIEW_BLOCK:])
        for rest in rests:
            yield from rest

    def propose(self, search: Search, check: str, deadline: float | None) -> Iterator[Any]:
        if deadline is not None and time.perf_counter() > deadline:
            return                               # decoding used up the time (the loop checks the rest)
        if check == "barrier" and "lyapunov" in search.proved:
            yield search.proved["lyapunov"]
        # first the hypotheses that fit the gradient form f = −G∇V exactly (``exact_fits``), model by model, each
        # as soon as its beam is decoded; then every other one, model by model, each beam best first. The next
        # model is decoded only when this one's exact fits are spent
        proposals: list[Proposal] = []
        rest: list[Any] = []
        seen: set[tuple[str, ...]] = set()
        equations = polynomial_equations(search.system)
        seen_views: set[str] = set()
        fitted = False
        screen_until = None if deadline is None else time.perf_counter() + SCREEN_SHARE * (deadline - time.perf_counter())
        for beam in search.state or []:
            fresh = []
            for proposal in read_hypotheses(beam, len(search.system)):
                proposals.append(proposal)
                if proposal.V is not None and tuple(proposal.tokens) not in seen:
                    seen.add(tuple(proposal.tokens))
                    fresh.append(proposal.V)
            fits = exact_fits(equations, fresh, screen_until)
            fitted = fitted or bool(fits)
            seen_views.update(str(to_poly(V, len(search.system))) for V in fits)   # a view's fit may repeat one
            yield from fits
            rest.extend(V for V in fresh if not any(V is fit for fit in fits))
        # then the exact fits of the other views (``views``), mapped back to the system's variables: before the
        # other hypotheses when the system's own beams hold no exact fit (on backward-generated systems only exact
        # fits were ever proved: docs/results.md, session 30), after them otherwise (a forward system's many
        # exact fits of a linear part say nothing, and its proofs also come from the other hypotheses)
        views = self.view_fits(search, equations, seen_views, deadline)
        if not fitted:
            yield from views
        yield from rest if equations is not None else self.with_views(search, rest, deadline)
        yield from views                         # nothing when already spent, or not polynomial
        if not proposals:                        # skipped, or no hypothesis finished before the deadline
            search.reason = search.reason or f"{self.name}: no hypothesis finished within the time limit"
            search.interrupted = True
            return
        search.reason = unusable_reason(proposals, len(system_source(search.system)))
