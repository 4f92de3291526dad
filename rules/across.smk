# With speaker folds or training redraws (config `split.folds` / `split.redraws`): both papers' Table 1,
# all metrics and the findings across the draws (emotrace.across_folds): the pooled out-of-fold CCC (folds)
# or the mean over draws (redraws), intervals and verdicts from a bootstrap over draws, then test blocks.

if PLAN:

    localrules:
        across_draws,

    rule across_draws:
        input:
            metrics=across_files("evaluate", "metrics.csv"),
            raw=across_files("train", "predictions.csv"),
            postprocessed=across_files("postprocess", "predictions.csv"),
            settings=across_files("postprocess", "settings.json"),
            history=across_files("train", "history.csv", [s for s in GRID if s.model in NET_MODELS]),
            # each draw's own tables are built first (scripts/across_draws.py recomputes the first draw's verdicts)
            findings=[f"{draw_res(d)}/tables/findings.csv" for d in DRAWS],
            splits=[f"{draw_res(d)}/split/split.csv" for d in DRAWS],
        output:
            multiext(f"{RES}/tables/trigeorgis2016_table1", ".csv", ".md", ".tex"),
            multiext(f"{RES}/tables/yang2018_table1", ".csv", ".md", ".tex"),
            multiext(f"{RES}/tables/across_draws", ".csv", ".md", ".tex"),
            trigeorgis=report(
                f"{RES}/tables/trigeorgis2016_table1.html",
                caption="../report/across.rst",
                category="Tables and findings",
                subcategory="Table 1 across draws",
            ),
            yang=report(
                f"{RES}/tables/yang2018_table1.html",
                caption="../report/across.rst",
                category="Tables and findings",
                subcategory="Table 1 across draws",
            ),
            across=report(
                f"{RES}/tables/across_draws.html",
                caption="../report/across_draws.rst",
                category="Tables and findings",
                subcategory="Every draw",
            ),
            metrics=f"{RES}/tables/all_metrics.csv",
            metrics_html=f"{RES}/tables/all_metrics.html",
            findings=f"{RES}/tables/findings.csv",
            findings_md=f"{RES}/tables/findings.md",
            findings_html=report(
                f"{RES}/tables/findings.html",
                caption="../report/across.rst",
                category="Tables and findings",
                subcategory="Findings across draws",
            ),
        log:
            f"logs/{CORPUS}/across_draws.log",
        conda:
            "../envs/torch.yaml"
        params:
            kind=PLAN.kind,
            draws=DRAWS,
            outdir=lambda w, output: str(Path(output.metrics).parent),
            corpus=CORPUS,
            adapter=config["corpus"]["adapter"],
            uncertainty=config["uncertainty"],
            collapse=config["collapse"],
            step=config["labels"]["step"],
            models=config["models"],
            claims=config["findings"],
        script:
            "../scripts/across_draws.py"
