# Validation-tuned post-processing (Trigeorgis 2016 after AV+EC 2015): median
# filter, centring, scaling, time shift, each kept only if it raises dev CCC.


rule postprocess:
    input:
        f"{DRAW_RES}/train/{{model}}/{{objective}}/{{target}}/seed{{seed}}/predictions.csv",
    output:
        settings=f"{DRAW_RES}/postprocess/{{model}}/{{objective}}/{{target}}/seed{{seed}}/settings.json",
        predictions=f"{DRAW_RES}/postprocess/{{model}}/{{objective}}/{{target}}/seed{{seed}}/predictions.csv",
    log:
        f"logs/{CORPUS}/postprocess/{DRAW_PART}{{model}}/{{objective}}/{{target}}/seed{{seed}}.log",
    conda:
        "../envs/torch.yaml"
    params:
        pp=config["postprocess"],
        step=config["labels"]["step"],
    script:
        "../scripts/postprocess.py"
