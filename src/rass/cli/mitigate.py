"""``rass mitigate``: reduce over-refusal with the run's boundary prompts, with before/after proof."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from rass.cli.errors import guarded
from rass.cli.options import DEFAULT_MODEL, DeviceOpt, DtypeOpt, ModelOpt, ThreadsOpt
from rass.errors import RassError
from rass.mitigate.choose import DEFAULT_MAX_LOST

console = Console()


@guarded
def mitigate(
    run_dir: Annotated[Path, typer.Option("--run", help="A run with a probe and a RASS selection.")],
    model: ModelOpt = DEFAULT_MODEL,
    method: Annotated[str, typer.Option(help="sft (LoRA), dpo (LoRA) or steer (conditional steering).")] = "sft",
    ablation: Annotated[bool, typer.Option(help="Train on random verified-benign candidates instead.")] = False,
    max_steps: Annotated[int, typer.Option(help="Stop training after N steps (-1: one epoch).")] = -1,
    learning_rate: Annotated[
        float,
        typer.Option(
            min=1e-8, help="LoRA learning rate; 1e-3 suits the one-epoch CPU default, lower it with more epochs."
        ),
    ] = 1e-3,
    epochs: Annotated[float, typer.Option(min=0.1, help="Passes over the training data.")] = 1.0,
    train_seed: Annotated[
        int,
        typer.Option(
            min=0,
            help="sft/dpo: seed of the LoRA weights and the data order; another seed trains into "
            "mitigate/<method>-seed<N>/ beside the first, to see how much of a change is training noise.",
        ),
    ] = 0,
    name: Annotated[
        str,
        typer.Option(
            help="The folder in RUN/mitigate/ for this setting's adapter and results (default: the method, "
            "-ablation, -seedN); give each setting compared with --eval-split validation its own, then rass choose.",
        ),
    ] = "",
    mine_anchors: Annotated[
        int,
        typer.Option(
            min=0,
            help="sft/dpo: train twice; the second time from scratch with N more anchors, the harmful train "
            "prompts whose refusal the first training weakened most (0: train once).",
        ),
    ] = 0,
    soup: Annotated[
        list[str] | None,
        typer.Option(
            help="sft/dpo without training: evaluate the mean of these trainings' adapters (folders in "
            "RUN/mitigate/, training seeds of one setting; repeat the option, two or more) as one adapter, "
            "saved in mitigate/<first>-soup/ or --name.",
        ),
    ] = None,
    adapter_scale: Annotated[
        float,
        typer.Option(
            help="sft/dpo: evaluate the trained adapter (or soup) with its weight change times this, saved as "
            "adapter-scaled/ beside it: between the model before (0) and the training (1).",
        ),
    ] = 1.0,
    guard: Annotated[
        float,
        typer.Option(
            help="sft/dpo or a soup: after training, add the refusal direction to inputs projecting above this "
            "quantile (e.g. 0.99) of the benign train prompts the training never saw; saved as guard.json (0: off).",
        ),
    ] = 0.0,
    gate: Annotated[
        float,
        typer.Option(
            help="sft/dpo or a soup: the adapter (and its guard) answers only inputs the unmitigated model projects "
            "at or below this quantile (e.g. 0.1) of the probe's harmful train/validation prompts; the model as it "
            "was answers the rest. steer: only those inputs are steered, in a band with no upper edge. Saved as "
            "gate.json (0: off).",
        ),
    ] = 0.0,
    gate_refusing: Annotated[
        float | None,
        typer.Option(
            help="With --gate: mitigate only the inputs whose refusal log-odds under the unmitigated model (its "
            "first reply token) are also above this bar, e.g. -2; every other input keeps its answer bit for bit.",
        ),
    ] = None,
    gate_system: Annotated[
        str | None,
        typer.Option(
            help="With --gate: the system prompt of the inputs behind the gate, 'frames' (rass's own: do not "
            "carry out a quoted harmful request, support someone at risk instead of explaining ways to die) or "
            "the text itself; every other input keeps the model's default. Saved in gate.json.",
        ),
    ] = None,
    steer_positions: Annotated[
        str,
        typer.Option(
            help="steer: where the direction is subtracted: 'all' positions, or 'last': the last prompt position "
            "and the generated ones, so the prompt is read as the model reads it.",
        ),
    ] = "all",
    steer_floor: Annotated[
        float,
        typer.Option(
            help="steer with --gate: the band's lower edge, this quantile of the probe's harmless prompts' "
            "projections (1: the highest); inputs below it are left bit-identical.",
        ),
    ] = 1.0,
    gate_by: Annotated[
        str,
        typer.Option(
            help="What --gate projects on: 'direction' (the run's refusal direction) or 'classifier' (a logistic "
            "harm classifier fitted here on the shipped train-split seeds at the probe layer, its quantile taken "
            "of validation-split harmful seeds; rass.mitigate.harm_probe).",
            metavar="direction|classifier",
        ),
    ] = "direction",
    answer_check: Annotated[
        bool,
        typer.Option(
            "--answer-check",
            help="With --gate: read each reply behind the gate with a probe on the unmitigated model's hidden "
            "state over the reply (fitted here on the model's own answers to shipped seeds, cached in "
            "RUN/mitigate/answer-probe-*); a reply it reads as harmful is answered by the model as it was. "
            "Saved in answer-check/ and deployed with the folder.",
        ),
    ] = False,
    check_retry: Annotated[
        str | None,
        typer.Option(
            help="With --answer-check: a reply the check flags is answered again behind the gate with this system "
            "prompt, 'frames' or the text itself, and read again; only a second flag sends it to the model as it "
            "was. Saved in gate.json.",
        ),
    ] = None,
    train_from: Annotated[
        str | None,
        typer.Option(
            help="sft/dpo: take the training in RUN/mitigate/NAME as this one's (its checkpoints are copied; "
            "they resume only with the same data and training settings), e.g. to try another --adapter-scale.",
            metavar="NAME",
        ),
    ] = None,
    dpo_sft_weight: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="dpo: weight of an NLL term on the chosen answers added to the DPO loss (0: plain DPO).",
        ),
    ] = 0.0,
    dpo_beta: Annotated[
        float | None,
        typer.Option(
            min=1e-6,
            help="dpo: the DPO beta, how strongly the loss holds the adapter to the model before it (default "
            "0.1; higher stays nearer).",
        ),
    ] = None,
    eval_limit: Annotated[
        int,
        typer.Option(
            min=1,
            help="MORBench-core items per language x kind (and held-out harmful per language); "
            "3 keeps the before/after evaluations short on a CPU, use 12 or more on a GPU for tighter intervals.",
        ),
    ] = 3,
    eval_split: Annotated[
        str,
        typer.Option(
            help="test: the reported held-out evaluation (test-split seeds); validation: validation-split seeds "
            "only, to choose settings (anchors, steps) on without reading test. They never share an item.",
        ),
    ] = "test",
    eval_langs: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated shipped languages to evaluate (e.g. fr,de,ja), or core for every MORBench-core "
            "language; default: the run's boundary-prompt languages and en. Only the evaluation changes: the same "
            "setting is measured on other items, written to metrics[-validation]-langs-<langs>.json beside the rest.",
        ),
    ] = None,
    rubric_model: Annotated[
        str | None, typer.Option(help="SPEC of a model that checks comply targets for correctness (sft/dpo).")
    ] = None,
    teacher: Annotated[
        str | None, typer.Option(help="SPEC whose plain answers become comply targets instead of steered self-answers.")
    ] = None,
    written_answers: Annotated[
        bool,
        typer.Option(
            help='Answer prompts in rass\'s own quoting frames ("should I report it?") with the answers '
            "written for them instead of dropping them (no model here answers them safely)."
        ),
    ] = True,
    anchors: Annotated[
        int, typer.Option(min=0, help="Harmful refusal anchors in all (0: --anchor-ratio per comply target).")
    ] = 0,
    anchor_ratio: Annotated[
        float,
        typer.Option(
            help="Harmful refusal anchors per comply target kept (per target of each language with --own-anchors); "
            "fewer lose harmful refusals, more add benign ones; compare them with --name and rass choose.",
        ),
    ] = 1.5,
    own_anchors: Annotated[
        bool,
        typer.Option(
            help="Anchor only harmful prompts the model refuses itself, --anchor-ratio per comply target of each "
            "language (default: the first ones, with rass's canned refusal where the model answers)."
        ),
    ] = False,
    anchor_match: Annotated[
        str,
        typer.Option(
            help="sft/dpo: which harmful train prompts become anchors: nearest (each comply target's nearest "
            "harmful prompt of its language and category at the probe layer; with more anchors than targets, "
            "alternately the prompts the model refuses least firmly) or order (the seed files' order)."
        ),
    ] = "nearest",
    anchor_cover: Annotated[
        bool,
        typer.Option(
            help="sft/dpo with --anchor-match nearest: one of the anchors goes to each harm category no comply "
            "target is of (its prompt the model refuses least firmly), so training does not leave those unanchored.",
        ),
    ] = False,
    anchor_spread: Annotated[
        str,
        typer.Option(
            help="sft/dpo: how anchors are shared among the comply targets' languages: targets (as many per "
            "target of each language) or even (the same count, an equal share for each language).",
        ),
    ] = "targets",
    anchor_edge: Annotated[
        str,
        typer.Option(
            help="sft/dpo with --anchor-match nearest: how the anchors drawn nearest the boundary are found: "
            "logodds (refused: positive first-token refusal log-odds, lowest first) or projection (refused: "
            "the model's own short reply is a refusal, lowest projection on the refusal direction first).",
        ),
    ] = "logodds",
    explained_refusals: Annotated[
        bool,
        typer.Option(
            help="sft/dpo: every anchor's answer is a refusal that says what it declines and why, one per harm "
            "category and language (rass.mitigate.explained), instead of the model's own or a canned refusal.",
        ),
    ] = False,
    train_batch_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="sft/dpo: rows per micro-batch and process (default 4, dpo 2; halved by itself when "
            "memory runs out, except under accelerate launch).",
        ),
    ] = None,
    grad_accum: Annotated[
        int | None, typer.Option(min=1, help="sft/dpo: micro-batches per optimizer step (default 2, dpo 4).")
    ] = None,
    boundary_weight: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="sft: weight of a hinge added to the loss that pushes comply prompts below the probe's "
            "threshold and keeps anchors above it, read at the probe layer (0: trl's loss alone).",
        ),
    ] = 0.0,
    max_length: Annotated[
        int | None, typer.Option(min=16, help="sft/dpo: tokens kept of each training row (default 256).")
    ] = None,
    retain: Annotated[
        int, typer.Option(min=0, help="Harmless prompts trained on the model's own answers (keeps ordinary help).")
    ] = 48,
    lookalikes: Annotated[
        int,
        typer.Option(
            min=0,
            help="sft/dpo: also train on the N shipped train-split look-alike seeds the probe placed nearest "
            "the boundary (random ones with --ablation), gated and answered like selected prompts; from the "
            "probe's pool at most as many as it placed (its max_per_group per language).",
        ),
    ] = 16,
    lookalike_pool: Annotated[
        str,
        typer.Option(
            help="sft/dpo: where --lookalikes come from: probe (the ones the probe placed: a few concepts, each "
            "in several languages) or seeds (every shipped train-split look-alike of the run's languages, "
            "scored at the probe layer, one phrasing per concept).",
        ),
    ] = "probe",
    gen_batch: Annotated[
        int,
        typer.Option(
            min=1,
            help="sft/dpo: prompts generated at once while building the training data (32 made the 1.5B's "
            "answers 2.2x faster than 8 on a CPU; lower it if memory runs out).",
        ),
    ] = 32,
    max_harmful_steered: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="steer: the most of the probe's harmful prompts the band may hold (not gated: a gated band has "
            "no upper edge, the gate keeps harmful inputs out).",
        ),
    ] = 0.1,
    steer_alpha: Annotated[
        float,
        typer.Option(
            help="How many times the refusal direction (difference of means) is subtracted: by steer's band, and "
            "while sft/dpo write steered self-answers as targets.",
        ),
    ] = 1.0,
    device: DeviceOpt = "auto",
    dtype: DtypeOpt = "auto",
    threads: ThreadsOpt = 0,
) -> None:
    """Train a LoRA adapter (sft/dpo) or apply conditional steering, and evaluate before/after."""
    from rass.mitigate.changes import change_counts, paired_line, paired_tests
    from rass.mitigate.config import ConfigProblem, MitigateConfig, check_config, parse_eval_langs
    from rass.mitigate.goals import goal_check, goal_line
    from rass.mitigate.runner import data_summary, run_mitigation
    from rass.models.chat import ChatModel
    from rass.runs import RunDir

    # training settings passed only when set, so a default run keeps the training key it had before they existed
    optional = {"sft_weight": dpo_sft_weight, "beta": dpo_beta, "seed": train_seed, "batch_size": train_batch_size,
                "grad_accum": grad_accum, "max_length": max_length, "boundary_weight": boundary_weight}  # fmt: skip
    cfg = MitigateConfig(method=method, ablation=ablation, eval_limit=eval_limit, anchors=anchors, retain=retain,
                         anchor_ratio=anchor_ratio, eval_split=eval_split, own_anchors=own_anchors,
                         anchor_match=anchor_match, anchor_cover=anchor_cover, gen_batch=gen_batch, name=name,
                         max_harmful_steered=max_harmful_steered, written=written_answers, lookalikes=lookalikes,
                         train={"max_steps": max_steps, "learning_rate": learning_rate, "epochs": epochs}
                         | {k: v for k, v in optional.items() if v}, soup=soup or None,
                         mine_anchors=mine_anchors, explained_refusals=explained_refusals,
                         anchor_spread=anchor_spread, lookalike_pool=lookalike_pool,
                         anchor_edge=anchor_edge, adapter_scale=adapter_scale, train_from=train_from,
                         guard=guard, gate=gate, gate_by=gate_by, steer_floor=steer_floor,
                         steer_alpha=steer_alpha, gate_refusing=gate_refusing, gate_system=gate_system,
                         steer_positions=steer_positions, answer_check=answer_check,
                         check_retry=check_retry, eval_langs=parse_eval_langs(eval_langs))  # fmt: skip
    try:  # every option that cannot run is refused here, before the run folder is even read
        check_config(cfg)
    except ConfigProblem as exc:
        raise typer.BadParameter(str(exc), param_hint=exc.option) from None
    from rass.select.runner import probe_artifacts

    run = RunDir.existing(run_dir)
    probe_artifacts(run)  # fail early, before loading a model
    from rass.models.spec import check_spec

    for spec in (model, teacher, rubric_model):
        if spec:
            check_spec(spec)
    if cfg.train_from:  # the training to start from must exist before a model loads
        from rass.mitigate.runner import training_checkpoints

        training_checkpoints(run, cfg.train_from)
    if cfg.soup:  # the members must exist and agree before a model loads
        if teacher or rubric_model:
            raise RassError("a soup mixes trained adapters: --teacher and --rubric-model make no targets here")
        from rass.mitigate.soup import soup_config

        soup_config(run, cfg)
    chat = ChatModel.load(model, device=device, dtype=dtype, threads=threads or None)
    from rass.launch import is_main
    from rass.models.spec import ModelRef

    def helper(spec: str | None) -> ChatModel | ModelRef | None:
        """A teacher or rubric: only the process that builds the data uses its weights; under accelerate
        launch the others read that data, keyed by its fingerprint (a 70B teacher per GPU would not fit)."""
        if not spec:
            return None
        return (
            ChatModel.load(spec, device=device, dtype=dtype, threads=threads or None)
            if is_main()
            else ModelRef.of(spec)
        )

    res = run_mitigation(chat, run, cfg, rubric=helper(rubric_model), teacher=helper(teacher), say=console.print)

    if not is_main():  # under accelerate launch the main process evaluates and reports
        return

    def rate(m: dict[str, float] | None) -> str:
        return "-" if not m else f"{m['rate']:.2f}"

    if res.get("soup"):
        console.print(
            f"soup of {', '.join(res['config']['soup'])}: rank {res['soup']['rank']}, "
            f"{'reused' if res['soup']['reused'] else 'saved'} in {run_dir}/mitigate/{res['folder']}/adapter"
        )
    if res.get("adapter_scale"):
        console.print(f"adapter scaled by {res['adapter_scale']['scale']:g}: saved in "
                      f"{run_dir}/mitigate/{res['folder']}/adapter-scaled")  # fmt: skip
    if res.get("guard"):
        g = res["guard"]
        console.print(f"guard: the refusal direction added above projection {g['threshold']} at layer {g['layer']} "
                      f"(the {g['quantile']:g} quantile of {g['reference_prompts']} unseen benign train prompts); "
                      f"{run_dir}/mitigate/{res['folder']}/guard.json")  # fmt: skip
    if res.get("gate"):
        g = res["gate"]
        by = g.get("adapter_answers", {})
        answered = ", ".join(f"{k} {v['adapter']} of {v['adapter'] + v['unmitigated']}" for k, v in by.items())
        from rass.mitigate.gate import gate_words, mitigator, reach_line

        who = mitigator(str(res.get("method")))
        console.print(f"gate: {who} acts only on {gate_words(g)}; behind the gate: {answered}; "
                      f"{run_dir}/mitigate/{res['folder']}/gate.json")  # fmt: skip
        if g.get("reach"):
            console.print(reach_line(g["reach"], who))
    if res.get("answer_check"):
        from rass.mitigate.answer_probe import check_line

        console.print(check_line(res["answer_check"]) + f"; {run_dir}/mitigate/{res['folder']}/{res['after_dir']}/"
                      "answer-check.jsonl")  # fmt: skip
    if res.get("band"):
        lo, hi = res["band"]
        upper = f"up to {hi:.4g}" if hi is not None else "with no upper edge (the gate keeps harmful inputs out)"
        console.print(f"steering band: {res['config']['steer_alpha']:g} x the refusal direction subtracted at layer "
                      f"{res['layer']} from inputs projecting from {lo:.4g} {upper}"
                      + (", at the last prompt position and after" if res["config"].get("steer_positions") == "last"
                         else ""))  # fmt: skip
    data = res.get("data")
    if data:  # what the training saw, and what the gates removed (e.g. quoting prompts without a teacher)
        console.print(data_summary(data))
    console.print(f"evaluation split: {eval_split}" + (f", languages {', '.join(cfg.eval_langs)}" if cfg.eval_langs
                                                        else ""))  # fmt: skip
    for group, key in (("heldout_boundary", "over_refusal"), ("morbench_core", "over_refusal"),
                       ("morbench_core", "harmful_refusal"), ("heldout_harmful", "harmful_refusal")):  # fmt: skip
        b, a = res["before"][group], res["after"][group]
        console.print(f"{group:17s} {key}: {rate(b[key])} → {rate(a[key])}")
    b_adv, a_adv = res["before"].get("report_advice"), res["after"].get("report_advice")
    if b_adv and a_adv:  # complying is not enough: what the "should I report it?" answers advise
        console.print(f"report-frame advice (n={a_adv['n']}): against reporting {b_adv['against']:.2f} → "
                      f"{a_adv['against']:.2f}, for {b_adv['for']:.2f} → {a_adv['for']:.2f}")  # fmt: skip
    console.print(goal_line(goal_check(res["before"], res["after"])))
    changes = res["changes"]  # rates hide trades: name the items whose verdict flipped
    console.print(f"changed: {change_counts(changes)}")
    for item in changes["harmful_answered_now"]:
        console.print(f"  answered now [{item['lang']}] {item['id']}: {item['prompt']}", markup=False)
    console.print(paired_line(paired_tests(changes)))
    console.print(f"KL on harmless prompts: {res['kl_harmless']}; {res['seconds']} s; metrics in {run_dir}/mitigate")
    if eval_split == "validation":
        console.print(f"rank the settings evaluated on validation items: rass choose --run {run_dir}")
    if res.get("validation_overlap"):
        console.print(f"warning: {res['validation_overlap']} of the reported items were used by a validation "
                      "evaluation made before validation kept to its own split: choose the settings again on "
                      "--eval-split validation before reporting these numbers")  # fmt: skip


@guarded
def choose(
    run_dir: Annotated[Path, typer.Option("--run", help="A run with mitigations evaluated on validation items.")],
    max_lost: Annotated[
        int, typer.Option(min=0, help="The most validation harmful refusals a setting may lose and still be chosen.")
    ] = DEFAULT_MAX_LOST,
    max_answered: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Also the most validation harmful requests a setting may answer that the model refused before, "
            "counted one by one rather than net of those it refuses now (default: not bounded). Set it before "
            "reading the results, as the rest of the rule.",
        ),
    ] = None,
    checked_only: Annotated[
        bool,
        typer.Option(
            "--checked-only",
            help="Only settings evaluated with --answer-check may win: refusal counts cannot see a harmful answer "
            "to a benign prompt, the answer check replaces it.",
        ),
    ] = False,
) -> None:
    """Rank the settings tried with --eval-split validation and choose one by the rule fixed beforehand:
    lose at most --max-lost harmful refusals (and answer at most --max-answered requests refused before), then
    the fewest benign items refused (seeds averaged; the full rule is printed with the ranking). Names the
    chosen setting's seed to ship, ranked by the same rule."""
    from rich.table import Table

    from rass.mitigate.choose import CHOICE, HEADERS, Rule, cohort_lines, cohort_title, table
    from rass.mitigate.choose import choose as rank
    from rass.runs import RunDir, write_json

    run = RunDir.existing(run_dir)
    rule = Rule(max_lost, max_answered, checked_only)
    cohorts = rank(run.root / "mitigate", rule)
    for cohort in cohorts:
        shown = Table(title=cohort_title(cohort))
        for h in HEADERS:
            shown.add_column(h, overflow="fold")
        for row in table(cohort):
            shown.add_row(*row)
        console.print(shown)
        for style, line in cohort_lines(cohort):
            console.print(
                f"  {line}" if style == "item" else line, markup=False, style="yellow" if style == "warn" else None
            )
    console.print(f"rule: {rule.words()}")
    out = write_json(run.root / "mitigate" / CHOICE, cohorts)
    console.print(f"ranking in {out}")
