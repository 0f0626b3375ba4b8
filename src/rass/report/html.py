"""Build ``report.html`` (self-contained, plots embedded) and ``report.md`` from a run folder.

Nothing here loads a model: every number and picture comes from files the stages saved, so a
report can be rebuilt anywhere, any time.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from rass.runs import atomic_write_text, read_json_if, read_rows

CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{border-bottom:2px solid #444}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left}
th{background:#f3f3f3}.num{text-align:right}img{max-width:100%;border:1px solid #ddd;margin:.5em 0}
.muted{color:#777}.card{background:#fafafa;border:1px solid #e5e5e5;padding:.5em 1em;margin:.5em 0}"""


def _img(path: Path, alt: str) -> str:
    if not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _fmt(x: Any) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.3f}"
    return html.escape(str(x))


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _md_cell(x: Any) -> str:
    return html.unescape(_fmt(x)).replace("|", "\\|").replace("\n", " ")


def _md_table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


class Doc:
    """Collects one section as HTML and as Markdown at the same time."""

    def __init__(self) -> None:
        self.html: list[str] = []
        self.md: list[str] = []

    def p(self, text: str, muted: bool = False) -> None:
        self.html.append(f"<p{' class=muted' if muted else ''}>{html.escape(text)}</p>")
        self.md.append(text)

    def h3(self, text: str) -> None:
        self.html.append(f"<h3>{html.escape(text)}</h3>")
        self.md.append(f"### {text}")

    def table(self, headers: list[str], rows: list[list[Any]]) -> None:
        self.html.append(_table(headers, rows))
        self.md.append(_md_table(headers, rows))

    def img(self, path: Path, alt: str) -> None:
        if path.is_file():
            self.html.append(_img(path, alt))
            self.md.append(f"![{alt}]({path.parent.name}/{path.name})")


def _rate(m: dict[str, Any] | None) -> str:
    if not m:
        return "–"
    lo, hi = m["ci95"] or [m["rate"], m["rate"]]
    return f"{m['rate']:.2f} [{lo:.2f}, {hi:.2f}] (n={m['n']})"


def sections(run: Path) -> list[tuple[str, Doc]]:
    """(title, section) for every part of the run that exists."""
    out: list[tuple[str, Doc]] = []
    manifest = read_json_if(run / "manifest.json") or {}
    stages = manifest.get("stages", {})
    model: dict[str, Any] = next((s.get("model") for s in stages.values() if s.get("model")), {}) or {}
    d = Doc()
    versions = ", ".join(f"{k} {v}" for k, v in manifest.get("versions", {}).items())
    d.table(["", ""], [["model", model.get("name")], ["fingerprint", model.get("fingerprint")],
                       ["created", manifest.get("created")], ["git", manifest.get("git_sha")], ["versions", versions]])  # fmt: skip
    d.table(["stage", "status", "seconds"], [[k, v.get("status"), v.get("seconds")] for k, v in stages.items()])
    out.append(("Run", d))

    layers = read_json_if(run / "directions" / "layers.json")
    analysis = read_json_if(run / "boundary" / "analysis.json")
    if layers and analysis:
        d = Doc()
        choice = layers["choice"]
        m = next(x for x in layers["metrics"] if x["layer"] == choice["chosen"])
        d.p(f"Chosen layer {choice['chosen']}: {choice['note']}. Fitted boundary at projection "
            f"{analysis['threshold']:.2f} (logistic fit accuracy {analysis['fit_accuracy']:.3f}).")  # fmt: skip
        d.table(["measure at the chosen layer", "value"], [
            ["AUROC harmful vs harmless", m.get("auroc_harmful_vs_harmless")],
            ["AUROC harmful vs imperative harmless", m.get("auroc_harmful_vs_imperative")],
            ["AUROC harmful vs look-alikes", m.get("auroc_harmful_vs_lookalike")],
            ["AUROC of the projection for the model's look-alike refusals", m.get("auroc_lookalike_refusal")],
            ["harmless refusal rate: base → +direction", f"{m.get('harmless_refusal_rate_base')} → {m.get('harmless_refusal_rate_steered')}"],
            ["harmful refusal rate: base → ablated", f"{m.get('harmful_refusal_rate_base')} → {m.get('harmful_refusal_rate_ablated')}"],
            ["KL on harmless prompts under ablation", m.get("kl_harmless_ablated")],
        ])  # fmt: skip
        d.h3("Over-refusal at the boundary (held-out benign prompts)")
        a = analysis["analysed"]
        rows = [
            [
                "all",
                a["benign"],
                a["benign_refused"],
                a["auroc_distance"],
                a.get("auroc_steering_distance"),
                a["refusal_source"],
            ]
        ]
        rows += [[lang, e["benign"], e["benign_refused"], e["auroc_distance"], e.get("auroc_steering_distance"), e["refusal_source"]]
                 for lang, e in analysis["by_lang"].items()]  # fmt: skip
        d.table(
            ["language", "benign", "refused", "AUROC distance", "AUROC steering distance", "refusals from"],
            rows,
        )
        sd = analysis.get("steering_distance", {}).get("compare")
        if sd:
            d.p(f"Steering-distance search: {sd['cached_s']:.1f} s with the layer cache vs {sd['uncached_s']:.1f} s without "
                f"on {sd['prompts']} prompts ({sd['speedup']}x), same flip point for {sd['same_alpha']}/{sd['prompts']}.", muted=True)  # fmt: skip
        for name, alt in (("layers.png", "per-layer curves"), ("projection_histogram.png", "projection histogram"),
                          ("boundary_map.png", "boundary map"), ("alpha_curves.png", "refusal probability vs alpha")):  # fmt: skip
            d.img(run / "plots" / name, alt)
        out.append(("The safety boundary", d))

    refused = [
        r
        for r in read_rows(run / "boundary" / "boundary.jsonl")
        if r["label"] == "benign" and r.get("refused_generated")
    ]
    if refused:
        d = Doc()
        d.table(["lang", "category", "prompt", "distance", "reply"],
                [[r["lang"], r["category"], r["text"], f"{r['distance']:+.2f}", (r.get("response") or "")[:120]] for r in refused[:24]])  # fmt: skip
        out.append(("Benign prompts the model refused", d))

    sel = read_json_if(run / "select" / "report.json")
    if sel:
        d = Doc()
        c = sel["counts"]
        d.table(["candidates", "in band", "gated", "verified benign", "selected"],
                [[c.get("candidates"), c.get("in_band"), c.get("gated"), c.get("verified_benign"), c.get("selected")]])  # fmt: skip
        proof = sel.get("proof")
        if proof:
            secs = " / ".join(f"{v:.2f}" for v in proof["seconds_per_candidate"].values())
            cost_found = " / ".join(
                "—" if v is None else f"{v:.1f}"
                for v in (proof.get("seconds_per_boundary_prompt_found") or {}).values()
            )
            d.table(["", "value"], [
                ["hit rate of the selection", f"{proof['selected_hit_rate']:.2f} ({proof['selected_refused']}/{proof['selected_checked']}), 95% CI {proof.get('selected_hit_rate_ci95', '')}"],
                ["hit rate of a random verified-benign sample", f"{proof['baseline_hit_rate']:.2f} ({proof['baseline_refused']}/{proof['baseline_checked']}), 95% CI {proof.get('baseline_hit_rate_ci95', '')}"],
                ["ratio", proof["hit_rate_ratio"]],
                ["agreement of the one-pass score with the generated verdict", proof["cheap_vs_generated_agreement"]],
                ["seconds per candidate: score / short generate+judge / full answer", secs],
                ["seconds per boundary prompt found: selection / short generate+judge all / full answers all", cost_found or "—"],
            ])  # fmt: skip
            by_lang = proof.get("by_lang") or {}
            if by_lang:
                d.table(["lang", "selected refused / checked", "random refused / checked"],
                        [[lang, f"{v['selected_refused']}/{v['selected_checked']}", f"{v['baseline_refused']}/{v['baseline_checked']}"] for lang, v in by_lang.items()])  # fmt: skip
        chosen = read_rows(run / "select" / "boundary.jsonl")
        checked = {r["id"]: r.get("refused_generated") for r in (proof or {}).get("checked", [])}
        shown: list[dict[str, Any]] = []
        per_group: dict[tuple[str, str], int] = {}
        for r in chosen:  # up to two per language x category, so every group shows
            lc = (r["lang"], r["category"])
            if per_group.get(lc, 0) < 2 and len(shown) < 24:
                per_group[lc] = per_group.get(lc, 0) + 1
                shown.append(r)
        if shown:

            def verdict(r: dict[str, Any]) -> str:
                v = checked.get(r["id"])
                return "—" if v is None else ("refused" if v else "answered")

            d.table(["lang", "category", "selected boundary prompt", "rel. distance", "model"],
                    [[r["lang"], r["category"], r["text"], r.get("rel_distance", r.get("p_refuse")), verdict(r)] for r in shown])  # fmt: skip
        if sel.get("empty_because"):
            d.p(f"Nothing was selected: {sel['empty_because']}.")
        out.append(("RASS selection", d))

    for folder in sorted(p for p in run.iterdir() if p.is_dir()):
        metrics = read_json_if(folder / "metrics.json")
        if not metrics:
            continue
        d = Doc()
        rows = [
            [lang, _rate(m["over_refusal"]), _rate(m["harmful_refusal"]), m["sh_score"]]
            for lang, m in metrics["by_lang"].items()
        ]
        rows.append(["all", _rate(metrics["overall"]["over_refusal"]), _rate(metrics["overall"]["harmful_refusal"]),
                     metrics["overall"]["sh_score"]])  # fmt: skip
        d.table(["language", "over-refusal [95% CI]", "harmful refused [95% CI]", "S-H score"], rows)
        if "judge_agreement" in metrics:
            ja = metrics["judge_agreement"]
            d.p(
                f"String vs logit judge agreement: {ja['string_vs_logit']:.3f} on {ja['n']} answers.",
                muted=True,
            )
        d.img(folder / "by_language.png", "per-language rates")
        out.append((f"Evaluation: {folder.name}", d))
    d = Doc()
    found = sorted((run / "mitigate").glob("*/metrics*.json")) if (run / "mitigate").is_dir() else []
    # the test's: metrics.json, and metrics-langs-….json for other languages (validation has its own tables);
    # not the shared "before" evaluations' own metrics.json
    mitigations = [p for p in found if not p.parent.name.startswith("before-") and not p.name.startswith(
        "metrics-validation")]  # fmt: skip
    skipped = read_json_if(run / "mitigate" / "skipped.json")
    paths = {p.parent.name + p.stem.removeprefix("metrics"): p for p in mitigations}  # a label per evaluation
    methods = [(name, read_json_if(p)) for name, p in paths.items()]
    # methods evaluated on the same items and settings share one "before"; a method run with another
    # eval limit has its own, and gets its own table rather than a wrong baseline
    cohorts: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for name, m in methods:
        cohorts.setdefault(str(m.get("before_dir")), []).append((name, m))
    for before_dir, same in cohorts.items():
        if len(cohorts) > 1:
            d.h3(f"Against the before measurement {before_dir}")
        _mitigation_tables(d, same)
    from rass.mitigate.goals import goal_check, goal_line

    for name, m in methods:
        data = m.get("data") or {}
        if data:
            from rass.mitigate.runner import data_summary

            d.p(f"{name}: {data_summary(data)}", muted=True)
        if m.get("validation_overlap"):  # reported at a larger --eval-limit than settings were chosen at
            d.p(f"{name}: {m['validation_overlap']} of its reported items were used by a validation evaluation "
                "of this run; these numbers are not clean held-out numbers.")  # fmt: skip
        if m.get("soup"):
            members = ", ".join((m.get("config") or {}).get("soup") or m["soup"]["members"])
            d.p(f"{name}: no training of its own, the mean of the adapters of {members} (rank {m['soup']['rank']})",
                muted=True)  # fmt: skip
        if m.get("band"):
            lo, hi = m["band"]  # a gated steer's has no upper edge: the gate keeps harmful inputs out
            where = f"in [{lo:.2f}, {hi:.2f}]" if hi is not None else f"from {lo:.2f} up to the gate"
            d.p(f"{name}: steered inputs whose projection lies {where}", muted=True)
        if m.get("adapter_scale"):
            d.p(
                f"{name}: the adapter's weight change times {m['adapter_scale']['scale']:g} (adapter-scaled/)",
                muted=True,
            )
        if m.get("guard"):
            g = m["guard"]
            d.p(f"{name}: guarded: the refusal direction added at layer {g['layer']} to inputs projecting above "
                f"{g['threshold']:.2f} (the {g['quantile']:g} quantile of {g['reference_prompts']} benign train prompts "
                "the training never saw; guard.json)", muted=True)  # fmt: skip
        if m.get("gate"):
            g = m["gate"]
            from rass.mitigate.gate import gate_words, mitigator, reach_line

            who = mitigator(str(m.get("method")))
            d.p(f"{name}: gated: {who} acted only on {gate_words(g)} (gate.json), the model before answered the rest",
                muted=True)  # fmt: skip
            if g.get("system_prompt") is not None:
                d.p(f"{name}: the system prompt behind the gate: \u201c{g['system_prompt']}\u201d", muted=True)
            if g.get("reach"):
                d.p(f"{name}: {reach_line(g['reach'], who)}", muted=True)
        folder = paths[name].parent
        if m.get("answer_check"):
            _checked_replies(d, name, folder / str(m.get("after_dir")), m["answer_check"])
        d.p(f"{name}: {goal_line(goal_check(m['before'], m['after']))}")
        _changed_items(d, name, folder, m)
        from rass.mitigate.runner import plot_name

        d.img(folder / plot_name(paths[name].name), f"{name} before and after")
    if not mitigations:
        d.p(f"No mitigation in this run{': ' + skipped['reason'] if skipped else ''}.", muted=True)
    _validation_tables(d, run / "mitigate")
    out.append(("Mitigation", d))
    return out


def _changed_items(d: Doc, name: str, folder: Path, result: dict[str, Any]) -> None:
    """The items whose verdict the mitigation flipped, harmful requests answered now first."""
    from rass.mitigate.changes import KINDS, paired_line, paired_tests, result_changes

    changes = result_changes(folder, result)
    if not isinstance(changes, dict):  # answers not on disk, or a foreign file: the rest of the report stands
        return
    rows = [[words, x.get("lang", ""), x.get("id", ""), x.get("prompt", ""), x.get("answer", "")]
            for kind, _, _, words in KINDS for x in changes.get(kind) or [] if isinstance(x, dict)]  # fmt: skip
    if not rows:
        d.p(f"{name}: no item's verdict changed.", muted=True)
        return
    d.p(f"{name}: {paired_line(paired_tests(changes))}", muted=True)
    d.p(f"{name}: the items whose verdict changed (answers after, cut to a snippet)")
    d.table(["change", "language", "item", "prompt", "answer after"], rows)


def _checked_replies(d: Doc, name: str, after_dir: Path, record: dict[str, Any]) -> None:
    """What the answer check did, and the mitigated replies it replaced: what a researcher reads to trust it."""
    from rass.mitigate.answer_probe import check_line
    from rass.mitigate.gate import CHECK_LOG, kept_on_retry, read_check_log, replaced

    d.p(f"{name}: {check_line(record)} ({after_dir.name}/{CHECK_LOG})", muted=True)
    last = read_check_log(after_dir / CHECK_LOG)
    rows = [[p[:200], str(r.get("reply", ""))[:200]] for p, r in last.items() if replaced(r)]
    if rows:
        d.p(f"{name}: the mitigated replies the answer check read as harmful (replaced by the model before's answer)")
        d.table(["prompt", "mitigated reply, not given"], rows)
    kept = [[p[:200], str(r.get("reply", ""))[:200], str(r["retry"].get("reply", ""))[:200]]
            for p, r in last.items() if kept_on_retry(r)]  # fmt: skip
    if kept:
        d.p(f"{name}: flagged replies answered again with the retry's system prompt and kept (read as not harmful)")
        d.table(["prompt", "first reply, not given", "reply given"], kept)


def _validation_tables(d: Doc, mitigate_dir: Path) -> None:
    """The settings tried on validation items (``--eval-split validation``), ranked by ``rass choose``'s rule."""
    from rass.errors import RassError
    from rass.mitigate.choose import (
        HEADERS,
        cohort_lines,
        cohort_title,
        last_rule,
        rank,
        table,
        validation_results,
    )

    rule = last_rule(mitigate_dir)  # as the last rass choose ranked them
    try:
        cohorts, problem = rank(validation_results(mitigate_dir), rule), ""
    except RassError as exc:  # a stray file does not cost the rest of the report
        cohorts, problem = [], str(exc)
    if not cohorts and not problem:
        return
    d.h3("Settings compared on validation items")
    d.p(f"Validation items are never reported above. Rule of the last rass choose: {rule.words()}",
        muted=True)  # fmt: skip
    if problem:
        d.p(f"Not ranked: {problem}", muted=True)
    for cohort in cohorts:
        if len(cohorts) > 1:  # the same settings on other items (e.g. --eval-langs): say which
            d.p(cohort_title(cohort))
        d.table(list(HEADERS), table(cohort))
        for style, line in cohort_lines(cohort):
            d.p(line, muted=style in ("muted", "warn"))


def build_report(run: Path) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` into the run folder."""
    from rass.errors import RassError

    if not (run / "manifest.json").is_file():
        raise RassError(f"{run} is not a rass run folder (no manifest.json)")
    parts = sections(run)
    body = "".join(f"<h2>{html.escape(t)}</h2>{''.join(d.html)}" for t, d in parts)
    page = (
        f"<!doctype html><html><head><meta charset=utf-8><title>rass report: {html.escape(run.name)}</title>"
        f"<style>{CSS}</style></head><body><h1>rass report: {html.escape(run.name)}</h1>{body}</body></html>"
    )
    html_path = atomic_write_text(run / "report.html", page)
    md = [f"# rass report: {run.name}", ""]
    for t, d in parts:
        md += [f"## {t}", "", "\n\n".join(d.md), ""]
    md_path = atomic_write_text(run / "report.md", "\n".join(md))
    return html_path, md_path


_MITIGATION_GROUPS = (("heldout_boundary", "over_refusal", "held-out boundary over-refused"),
                      ("morbench_core", "over_refusal", "MORBench-core benign over-refused"),
                      ("heldout_harmful", "harmful_refusal", "held-out harmful refused"))  # fmt: skip


def _share(metrics: dict[str, Any], side: str) -> str:
    """A report-frame advice share with its n ("–" for runs made before advice was checked)."""
    adv = metrics.get("report_advice")
    return "–" if not adv else f"{adv[side]:.2f} (n={adv['n']})"


def _mitigation_tables(d: Doc, methods: list[tuple[str, dict[str, Any]]]) -> None:
    """Every method and the ablation side by side, against the "before" they all share."""
    before = methods[0][1]["before"]
    d.table(["measure", "before", *(name for name, _ in methods)],
            [[label, _rate(before[g][k]), *(_rate(m["after"][g][k]) for _, m in methods)]
             for g, k, label in _MITIGATION_GROUPS]
            + [[f"held-out report frames advising {side} reporting", _share(before, side),
                *(_share(m["after"], side) for _, m in methods)] for side in ("against", "for")]
            + [["KL on harmless prompts (nats)", "", *(_fmt(m.get("kl_harmless")) for _, m in methods)],
               ["method wall time (s)", "", *(f"{m.get('seconds') or 0:.0f}" for _, m in methods)]])  # fmt: skip
    langs = sorted({x for _, m in methods for x in m["after"].get("core_by_lang", {})})
    d.h3("MORBench-core benign over-refusal per language")
    d.table(["language", "before", *(name for name, _ in methods)],
            [[x, _rate(before["core_by_lang"].get(x, {}).get("over_refusal")),
              *(_rate(m["after"].get("core_by_lang", {}).get(x, {}).get("over_refusal")) for _, m in methods)]
             for x in langs])  # fmt: skip
