"""Ingestion checks: the contract every later stage relies on."""

import numpy as np
import pandas as pd
import pytest

from emotrace.errors import InputError
from emotrace.ingest import check_labels, check_manifest, label_matrix


def _manifest(durations={"a": 4.0, "b": 4.0}):
    return pd.DataFrame(
        [{"recording": r, "speaker": r, "group": r, "gender": "F", "age": 30, "audio_path": f"/x/{r}.wav",
          "offset": 0.0, "duration": d, "sample_rate": 16000} for r, d in durations.items()]
    )


def _labels(recs={"a": 100, "b": 100}, dims=("arousal", "valence")):
    rows = []
    for r, n in recs.items():
        for d in dims:
            for k in range(n):
                rows.append({"recording": r, "dimension": d, "frame": k, "time": k * 0.04, "value": np.sin(k / 9)})
    return pd.DataFrame(rows)


def test_good_labels_pass_and_matrix_has_dimension_order():
    labels = check_labels(_labels(), _manifest(), ["arousal", "valence"], 0.04, 1.0)
    m = label_matrix(labels, "a", ["valence", "arousal"])
    assert m.shape == (100, 2)


def test_nan_gap_length_and_set_errors_name_the_recording():
    labels = _labels()
    nan = labels.copy()
    nan.loc[5, "value"] = np.nan
    with pytest.raises(InputError, match="a: arousal labels contain NaN"):
        check_labels(nan, _manifest(), ["arousal"], 0.04, 1.0)
    gap = labels.drop(index=[10, 11])
    with pytest.raises(InputError, match="a: arousal labels have a gap"):
        check_labels(gap, _manifest(), ["arousal"], 0.04, 1.0)
    with pytest.raises(InputError, match="b: .*labels cover 4.00 s but the audio lasts 9.00 s"):
        check_labels(labels, _manifest({"a": 4.0, "b": 9.0}), ["arousal"], 0.04, 1.0)
    with pytest.raises(InputError, match=r"no labels for \['c'\]"):
        check_labels(labels, _manifest({"a": 4.0, "b": 4.0, "c": 4.0}), ["arousal"], 0.04, 1.0)
    with pytest.raises(InputError, match="no labels for dimensions"):
        check_labels(_labels(dims=("arousal",)), _manifest(), ["arousal", "valence"], 0.04, 1.0)


def test_manifest_checks():
    m = _manifest()
    with pytest.raises(InputError, match="duplicate"):
        check_manifest(pd.concat([m, m]), "corpus")
    with pytest.raises(InputError, match="lacks columns"):
        check_manifest(m.drop(columns=["group"]), "corpus")


@pytest.mark.integration
def test_truncated_wav_stops_ingestion_naming_it_and_both_durations(tmp_path):
    """A WAV cut short (header: the full length) is not taken for a shorter recording."""
    import sys

    import soundfile as sf
    import yaml

    from conftest import REPO, TINY, snakemake

    sys.path.insert(0, str(REPO / "tests" / "fixtures"))
    import make_corpora

    root = make_corpora.write_generic(tmp_path / "corpus", seed=1, speakers=3)
    wav = root / "audio" / "S01.wav"
    info = sf.info(str(wav))
    cut = int(info.frames * 2 // 3)
    block = info.channels * 2  # PCM_16
    data = wav.read_bytes()
    wav.write_bytes(data[: len(data) - cut * block])
    config = yaml.safe_load(TINY.read_text())
    config["corpus"].update(name="gen", adapter="generic", root=str(root))
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(config))
    proc = snakemake(tmp_path, "--configfile", str(cfg), "--cores", "1", "results/gen/ingest/manifest.csv", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"{wav}: truncated audio file" in out, out[-3000:]
    assert f"declares {info.frames / info.samplerate:.2f} s" in out
    assert f"holds {(info.frames - cut) / info.samplerate:.2f} s" in out
