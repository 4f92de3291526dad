# Training per (model, objective, target, seed). Networks (waveform,
# spectrogram or feature sequences) share one trainer; the SVR baseline has its
# own rule. Both write predictions.csv in the one shared format, and model.pt
# (the SVR's: weights, C, feature set and statistics) for `emotrace predict`.
# Whether training jobs hold a GPU (a cluster executor submits gpu=1, or this machine
# has one): their runtime and memory requests then come from GPU rates.
TRAIN_GPU = job_resources.gets_gpu(workflow.local_exec)


rule train_network:
    input:
        unpack(feature_inputs),
        unpack(plugin_inputs),
        segments=training_segments,
        split=f"{DRAW_RES}/split/split.csv",
    output:
        model=f"{DRAW_RES}/train/{{model}}/{{objective}}/{{target}}/seed{{seed}}/model.pt",
        history=f"{DRAW_RES}/train/{{model}}/{{objective}}/{{target}}/seed{{seed}}/history.csv",
        predictions=f"{DRAW_RES}/train/{{model}}/{{objective}}/{{target}}/seed{{seed}}/predictions.csv",
    log:
        f"logs/{CORPUS}/train_network/{DRAW_PART}{{model}}/{{objective}}/{{target}}/seed{{seed}}.log",
    benchmark:
        f"benchmarks/{CORPUS}/train_network/{DRAW_PART}{{model}}/{{objective}}/{{target}}/seed{{seed}}.tsv"
    wildcard_constraints:
        model=alternation(NET_MODELS),
    priority: training_priority
    conda:
        "../envs/torch.yaml"
    threads: lambda w: job_resources.train_threads(systems.model_settings(config, w.model), workflow.local_exec)
    resources:
        gpu=lambda w: job_resources.train_placement(systems.model_settings(config, w.model), workflow.local_exec)["gpu"],
        gpu_slots=lambda w: job_resources.train_placement(
            systems.model_settings(config, w.model), workflow.local_exec
        )["gpu_slots"],
        mem_mb=lambda w, input, attempt: job_resources.for_training(
            systems.model_settings(config, w.model), input, attempt, TRAIN_GPU
        )["mem_mb"],
        runtime=lambda w, input, attempt: job_resources.for_training(
            systems.model_settings(config, w.model), input, attempt, TRAIN_GPU
        )["runtime"],
        gpu_mem_mb=lambda w, input, attempt: job_resources.for_training(
            systems.model_settings(config, w.model), input, attempt, TRAIN_GPU
        ).get("gpu_mem_mb", 0),
    params:
        p=train_params,
    script:
        "../scripts/train_network.py"


rule train_svr:
    input:
        unpack(feature_inputs),
        labels=f"{RES}/ingest/labels.csv",
        split=f"{DRAW_RES}/split/split.csv",
    output:
        model=f"{DRAW_RES}/train/{{model}}/{{objective}}/{{target}}/seed{{seed}}/model.pt",
        predictions=f"{DRAW_RES}/train/{{model}}/{{objective}}/{{target}}/seed{{seed}}/predictions.csv",
        grid=f"{DRAW_RES}/train/{{model}}/{{objective}}/{{target}}/seed{{seed}}/c_grid.csv",
    log:
        f"logs/{CORPUS}/train_svr/{DRAW_PART}{{model}}/{{objective}}/{{target}}/seed{{seed}}.log",
    benchmark:
        f"benchmarks/{CORPUS}/train_svr/{DRAW_PART}{{model}}/{{objective}}/{{target}}/seed{{seed}}.tsv"
    wildcard_constraints:
        model=alternation(SVR_MODELS),
        objective="mse",
    priority: svr_priority
    conda:
        # torch: model.pt is written with torch.save (and emotrace.experiment imports torch)
        "../envs/torch.yaml"
    resources:
        mem_mb=lambda w, input, attempt: job_resources.for_svr(
            systems.model_settings(config, w.model), input, attempt
        )["mem_mb"],
        runtime=lambda w, input, attempt: job_resources.for_svr(
            systems.model_settings(config, w.model), input, attempt
        )["runtime"],
    params:
        p=train_params,
        step=config["labels"]["step"],
        alignment=config["labels"]["alignment"],
    script:
        "../scripts/train_svr.py"
