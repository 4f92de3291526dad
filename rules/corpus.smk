# The generated RECOLA-like corpus (corpus.adapter: synthetic), written in the
# generic on-disk layout so that it is read back through ingestion like a real one.

if config["corpus"]["adapter"] == "synthetic":
    from emotrace.synth.speakers import speakers as _synth_speakers

    SYNTH_ROOT = config["corpus"]["root"]
    SYNTH = config["synthetic"]
    SYNTH_RECORDINGS = _synth_speakers(SYNTH["n_speakers"], SYNTH["seed"])["recording"].tolist()

    localrules:
        synthesize_speakers,
        synthesize_corpus,

    rule synthesize_speakers:
        output:
            f"{SYNTH_ROOT}/speakers.csv",
        log:
            f"logs/{CORPUS}/synthesize_speakers.log",
        conda:
            "../envs/audio.yaml"
        params:
            n_speakers=SYNTH["n_speakers"],
            seed=SYNTH["seed"],
        script:
            "../scripts/synthesize_speakers.py"

    rule synthesize_recording:
        input:
            speakers=f"{SYNTH_ROOT}/speakers.csv",
        output:
            audio=f"{SYNTH_ROOT}/audio/{{recording}}.wav",
            labels=expand(f"{SYNTH_ROOT}/labels/{{dimension}}/{{{{recording}}}}.csv", dimension=DIMENSIONS),
        log:
            f"logs/{CORPUS}/synthesize_recording/{{recording}}.log",
        benchmark:
            f"benchmarks/{CORPUS}/synthesize_recording/{{recording}}.tsv"
        conda:
            "../envs/audio.yaml"
        params:
            root=lambda w, output: str(Path(output.audio).parents[1]),
            duration=SYNTH["duration"],
            seed=SYNTH["seed"],
            dimensions=DIMENSIONS,
        script:
            "../scripts/synthesize_recording.py"

    rule synthesize_corpus:
        input:
            speakers=f"{SYNTH_ROOT}/speakers.csv",
            audio=expand(f"{SYNTH_ROOT}/audio/{{recording}}.wav", recording=SYNTH_RECORDINGS),
        output:
            f"{SYNTH_ROOT}/metadata.csv",
        log:
            f"logs/{CORPUS}/synthesize_corpus.log",
        conda:
            "../envs/audio.yaml"
        params:
            root=lambda w, output: str(Path(output[0]).parent),
        script:
            "../scripts/synthesize_corpus.py"
