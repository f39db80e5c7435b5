"""``representation``: polynomial roots learned from the expanded or from the factored form.

Two configurations, the same model (preset ``tiny``) and task (``roots``, docs/tasks.md) but
for the form of the training polynomials: ``--representation expanded`` or ``factored``. Each
model is tested on both forms of the same test polynomials (a task's examples depend only on
the seed and the index, and the form does not change the draws), so the 2×2 table says how
much of what a model learned is tied to the form it saw. Reported: accuracy at 5% (the task's
primary metric) by degree and by whether the real roots are well separated (smallest gap
between consecutive real roots ≥ ``SEPARATION``; one real root counts as separated), and what
each model predicts for the lecture's example.

The lecture's example, checked exactly here (``lecture_identity``): the expansion of
2(x² + 1)(x − 3)(x − 5)(x − 7) is 2x⁵ − 30x⁴ + 144x³ − 240x² **+ 142x** − 210; the polynomial
as the lecture writes it, with −142x, is 2 times an irreducible quintic with one real root
(≈ 8.0954). Both are shown to every model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from seq2math.experiments.base import (
    ConfigResult,
    Configuration,
    Experiment,
    TestSet,
    markdown_table,
    percent,
    register_experiment,
)
from seq2math.tasks.base import make_task
from seq2math.tasks.roots import real_roots

FORMS = ("expanded", "factored")
#: real roots at least this far apart are "well separated"
SEPARATION = 1.0
#: the lecture's example as written, and the factorisation it states
LECTURE_WRITTEN = "2*x^5 - 30*x^4 + 144*x^3 - 240*x^2 - 142*x - 210"
LECTURE_FACTORED = "2*(x^2 + 1)*(x - 3)*(x - 5)*(x - 7)"
#: decoding cap for the lecture's example (its targets have at most 3 roots: 10 tokens)
LECTURE_MAX_LEN = 40


def lecture_identity() -> dict[str, Any]:
    """Exact check of the lecture's identity (sympy, integer arithmetic) and the true factorisations."""
    import sympy

    x = sympy.Symbol("x")
    written = sympy.sympify(LECTURE_WRITTEN.replace("^", "**"), locals={"x": x})
    factored = sympy.sympify(LECTURE_FACTORED.replace("^", "**"), locals={"x": x})
    expansion = sympy.expand(factored)
    written_roots = sorted(float(r) for r in sympy.Poly(written, x).nroots(n=15) if r.is_real)
    return {"written": LECTURE_WRITTEN, "factored": LECTURE_FACTORED,
            "expansion_of_factored": str(expansion).replace("**", "^"),
            "identity_holds": bool(sympy.expand(written - factored) == 0),
            "difference": str(sympy.expand(written - factored)).replace("**", "^"),
            "factorisation_of_written": str(sympy.factor(written)).replace("**", "^"),
            "real_roots_of_written": written_roots,
            "real_roots_of_factored": [float(r) for r in sorted(sympy.real_roots(sympy.Poly(factored, x)))]}


def shown(task: Any, tokens: list[str]) -> str:
    """A decoded answer for a table: its roots, or its first tokens when it cannot be read."""
    text = task.to_human(tokens)
    return text if text != " ".join(tokens) or len(tokens) <= 12 else " ".join(tokens[:12]) + " …"


def separated(coefficients: list[int]) -> bool:
    """True when consecutive real roots are at least ``SEPARATION`` apart (or there is one)."""
    roots = real_roots(coefficients)
    return len(roots) < 2 or float(np.min(np.diff(roots))) >= SEPARATION


@register_experiment
class Representation(Experiment):
    name = "representation"
    title = "Polynomial roots from the expanded vs the factored form"

    def configurations(self, quick: bool = False) -> list[Configuration]:
        tests = tuple(TestSet(form, {"representation": form}) for form in FORMS)
        return [Configuration(f"train-{form}", ("--task", "roots", "--representation", form, "--preset", "tiny"),
                              {"trained on": form}, tests) for form in FORMS]

    def analyse(self, configuration: Configuration, run: Any, records: dict[str, list[dict[str, Any]]]
                ) -> dict[str, Any]:
        from seq2math.evaluation.decode import decode_sources

        by_separation = {}
        for test, rows in records.items():
            task = make_task("roots", {**{k: v for k, v in run.config.task.items() if k != "name"},
                                       "representation": test})
            groups: dict[str, list[bool]] = {"separated": [], "close": []}
            for row in rows:
                key = "separated" if separated(task.decode_source(row["source"].split())) else "close"
                groups[key].append(row["top1"][task.primary_metric] is True)
            by_separation[test] = {k: {"count": len(v), "accuracy": sum(v) / len(v) if v else None}
                                   for k, v in groups.items()}
        lecture = []
        truth = lecture_identity()
        for form in FORMS:
            task = make_task("roots", {**{k: v for k, v in run.config.task.items() if k != "name"},
                                       "representation": form})
            for label, text, roots in (("as written (−142x)", LECTURE_WRITTEN, truth["real_roots_of_written"]),
                                       ("2(x²+1)(x−3)(x−5)(x−7)", LECTURE_FACTORED, truth["real_roots_of_factored"])):
                source = task.from_human(text)
                hypothesis = decode_sources(run.model, run.vocab, [source], 1, LECTURE_MAX_LEN, "cpu")[0][0].tokens
                verdict = task.verify(source, hypothesis)
                lecture.append({"polynomial": label, "form": form, "source": " ".join(source),
                                "prediction": " ".join(hypothesis), "roots": shown(task, hypothesis),
                                "true_roots": ", ".join(f"{v:.4g}" for v in roots),
                                "correct_5%": verdict.scores.get("5%") is True, "error": verdict.error})
        return {"by_separation": by_separation, "lecture": lecture}

    def report(self, results: list[ConfigResult]) -> str:
        identity = lecture_identity()
        header = ["trained on", "steps", "time (s)"] + [f"test {form}: {m}" for form in FORMS
                                                         for m in ("5%", "1%")]
        rows = [[r.labels["trained on"], str(r.steps), f"{r.train_seconds:.0f}"]
                + [percent(r.tests[form]["top1"][m]) for form in FORMS for m in ("5%", "1%")] for r in results]
        sections = ["## Accuracy (top-1, greedy)\n", markdown_table(header, rows)]
        degrees = sorted({size for r in results for form in FORMS for size in r.tests[form]["by_size"]})
        header = ["trained on", "test form"] + [d.replace("deg", "degree ") for d in degrees] + \
            [f"roots ≥ {SEPARATION:g} apart", "closer roots"]
        rows = []
        for r in results:
            for form in FORMS:
                sizes, split = r.tests[form]["by_size"], r.extra["by_separation"][form]
                rows.append([r.labels["trained on"], form]
                            + [f"{percent(sizes[d]['top1']['5%'])} ({sizes[d]['count']})" if d in sizes else "–"
                               for d in degrees]
                            + [f"{percent(split[k]['accuracy'])} ({split[k]['count']})" for k in ("separated", "close")])
        sections += ["\n\n## Accuracy at 5% by degree and by root separation (examples in brackets)\n",
                     markdown_table(header, rows)]
        verdict = "holds" if identity["identity_holds"] else "does NOT hold"
        sections.append(
            f"\n\n## The lecture's example\n\nThe identity {identity['written']} = {identity['factored']} "
            f"{verdict} (checked exactly with sympy). The expansion of the factored form is "
            f"{identity['expansion_of_factored']}; the written polynomial differs from it by "
            f"{identity['difference']} and factors as {identity['factorisation_of_written']}, with real "
            f"root(s) {', '.join(f'{v:.4f}' for v in identity['real_roots_of_written'])}. The factored form "
            f"has real roots {', '.join(f'{v:g}' for v in identity['real_roots_of_factored'])}.\n")
        header = ["model trained on", "polynomial", "shown as", "prediction", "real roots", "correct at 5%"]
        rows = [[r.labels["trained on"], p["polynomial"], p["form"], p["roots"], p["true_roots"],
                 "yes" if p["correct_5%"] else "no"]
                for r in results for p in r.extra["lecture"]]
        sections.append(markdown_table(header, rows))
        return "".join(sections)
