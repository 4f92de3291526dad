# The run-cost page of the report: per stage wall, CPU and peak memory of this
# run's jobs, from their benchmark files (inputs: common.smk's benchmark_files).


localrules:
    run_cost,


rule run_cost:
    input:
        benchmark_files,
    output:
        figure=report(
            f"{RES}/runcost/run_cost.png",
            caption="../report/run_cost.rst",
            category="Run cost",
        ),
        pdf=f"{RES}/runcost/run_cost.pdf",
        table=f"{RES}/runcost/run_cost.md",
        jobs=f"{RES}/runcost/jobs.csv",
    log:
        f"logs/{CORPUS}/run_cost.log",
    conda:
        "../envs/report.yaml"
    params:
        corpus=CORPUS,
        cores=run_cores,
    script:
        "../scripts/run_cost.py"
