"""RECOLA: the public AVEC 2016 release (`recola_avec2016`) and the full RECOLA release (`recola_full`).

AVEC 2016 release (as distributed)::

    recordings_audio/{train,dev,test}_N.wav
    ratings_gold_standard/{arousal,valence}/{train,dev}_N.arff   (test: withheld)
    ratings_individual/{arousal,valence}/{instance}.csv          `;`-separated time + 6 raters

The recordings are named by AVEC instance (`train_1`) and the release ships no
map to RECOLA speaker ids: the speaker is the instance name and the presets
`avec2016` and `release` take the partition from the file name.  Option
`speaker_map` (a CSV `instance,speaker` you write yourself) maps instances to
speaker ids (`P16`); `avec2016` is then the published 9/9/9 speaker lists.  Test
instances without a gold standard are left out of the manifest and listed in
the log.  Option `gold`: `arff` (default, the challenge's gold standard) or
`raters` (mean of the individual ratings).

Full RECOLA, files named by speaker; the first of these layouts found under the
root is read, and the log says which::

    release:  RECOLA-Audio-recordings/P16.wav
              RECOLA-Annotation/emotional_behaviour/{arousal,valence}/P16.csv
              (RECOLA-Annotation/social_behaviour/, RECOLA-Audio_timings/: not used)
    project:  audio/P16.wav, labels/{arousal,valence}/P16.csv
    group:    Audio_recordings_WAV/P16.wav,
              Ratings_affective_behaviour_CCC_centred/{arousal,valence}/P16.csv

Ratings are `;`-separated `time;FM1 ;FM2 ;FM3 ;FF1 ;FF2 ;FF3` (rater names may
carry trailing spaces; 7 501 rows for 300 s); the gold standard is the mean of
the individual ratings of each row.  Options `audio_dir` and `labels_dir` (paths
relative to the root) override the detected folders.  The distributed release
holds fewer than the 46 speakers: a preset keeps its assignment for the
speakers present (see emotrace.splits); preset `public23` is the AVEC 2016
train and dev speakers as train and dev and every other speaker present as test.

Both: option `metadata` (CSV `speaker,gender,age`), `tolerance` (s, default 1),
`max_gap` (s, default 1).  A `.wav`/`.arff`/`.csv` file in a corpus folder whose
name does not follow the layout is an error (a misnamed recording would
otherwise be silently dropped); files of other kinds there are logged as
warnings and ignored.  Individual ratings are also returned rater by rater
(`rater_labels`) for the raters' agreement.
"""

from __future__ import annotations

from abc import abstractmethod

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from emotrace.corpora.base import CorpusAdapter, register
from emotrace.corpora.labels import (
    DEFAULT_MAX_GAP,
    DEFAULT_TOLERANCE,
    audio_header,
    check_coverage,
    check_dimensions,
    check_same_sets,
    check_trace,
    frame_times,
    label_frame,
    manifest_frame,
    rater_frame,
    merge_options,
    numeric_column,
    read_speaker_metadata,
    read_table,
    resolve_path,
)
from emotrace.corpora.rates import RateLog, to_grid
from emotrace.errors import InputError

log = logging.getLogger(__name__)

RATING_RANGE = (-1.0, 1.0)

AVEC2016_SPLIT = {
    "train": ["P16", "P21", "P23", "P25", "P37", "P39", "P41", "P46", "P56"],
    "dev": ["P19", "P26", "P28", "P30", "P34", "P42", "P45", "P64", "P65"],
    "test": ["P13", "P20", "P32", "P38", "P47", "P49", "P53", "P59", "P63"],
}
TRIGEORGIS2016_SPLIT = {
    "train": ["P15", "P16", "P17", "P18", "P21", "P23", "P25", "P37", "P39", "P41", "P46", "P50", "P51",
              "P55", "P56", "P60"],
    "dev": ["P14", "P19", "P24", "P26", "P28", "P30", "P34", "P40", "P42", "P43", "P44", "P45", "P52",
            "P64", "P65"],
    "test": ["P13", "P20", "P22", "P32", "P38", "P47", "P48", "P49", "P53", "P54", "P57", "P58", "P59",
             "P62", "P63"],
}

ARFF_ATTRIBUTES = [("Instance_name", {"string"}), ("frameTime", {"numeric", "real"}),
                   ("GoldStandard", {"numeric", "real"})]
ARFF_RELATION = "GOLDSTANDARD"


# --------------------------------------------------------------------------- file readers

def scan_folder(folder: Path, pattern: re.Pattern, extension: str) -> dict[str, Path]:
    """{name: path} of the files named by `pattern` (group 1 = name) in `folder`.

    A file with `extension` that does not match is an InputError; other files are
    logged as warnings and ignored.
    """
    if not folder.is_dir():
        raise InputError(folder, "folder does not exist")
    found = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        match = pattern.match(path.name)
        if match:
            found[match.group(1)] = path
        elif path.suffix.lower() == extension:
            raise InputError(path, f"file name does not follow the layout (expected {pattern.pattern})")
        else:
            log.warning("%s: not part of the corpus layout; ignored", path)
    return found


def _unquote(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def read_gold_arff(path: Path, instance: str | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Read an AVEC gold-standard ARFF: times, values and the file line of the first row.

    The header must be exactly the AVEC one; InputError names the file and line
    of an unexpected relation or attribute, a malformed row, a row of another
    instance or a missing value.
    """
    if not path.is_file():
        raise InputError(path, "file does not exist")
    instance = instance or path.stem
    state, attributes, times, values = "relation", [], [], []
    first_row = None
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.strip()
            if not line or line.startswith("%"):
                continue
            where = f"{path}:{lineno}"
            if state != "data":
                words = line.split(None, 2)
                keyword = words[0].lower()
                if state == "relation":
                    if keyword != "@relation" or len(words) < 2 or _unquote(line.split(None, 1)[1]) != ARFF_RELATION:
                        raise InputError(where, f"expected '@relation {ARFF_RELATION}', found {line!r}")
                    state = "attributes"
                elif keyword == "@attribute":
                    if len(words) != 3:
                        raise InputError(where, f"malformed attribute line {line!r}")
                    name, kind = _unquote(words[1]), words[2].strip().lower()
                    k = len(attributes)
                    if k >= len(ARFF_ATTRIBUTES) or name != ARFF_ATTRIBUTES[k][0] or kind not in ARFF_ATTRIBUTES[k][1]:
                        expected = ", ".join(f"{n} {sorted(t)[0]}" for n, t in ARFF_ATTRIBUTES)
                        raise InputError(where, f"unexpected attribute '{name} {kind}'; expected exactly: {expected}")
                    attributes.append(name)
                elif keyword == "@data":
                    if len(attributes) != len(ARFF_ATTRIBUTES):
                        raise InputError(where, f"@data after {len(attributes)} of the "
                                                f"{len(ARFF_ATTRIBUTES)} expected attributes")
                    state = "data"
                else:
                    raise InputError(where, f"unexpected header line {line!r}")
                continue
            fields = line.split(",")
            if len(fields) != 3:
                raise InputError(where, f"expected 3 comma-separated fields, found {len(fields)}: {line!r}")
            if _unquote(fields[0]) != instance:
                raise InputError(where, f"row of instance {_unquote(fields[0])!r} in the file of {instance!r}")
            try:
                t, v = float(fields[1]), float(fields[2])
            except ValueError:
                raise InputError(where, f"non-numeric time or value (missing values '?' are not allowed): "
                                        f"{line!r}") from None
            if not (np.isfinite(t) and np.isfinite(v)):
                raise InputError(where, "NaN in gold standard")
            first_row = first_row or lineno
            times.append(t)
            values.append(v)
    if state != "data":
        raise InputError(path, "no @data section (incomplete ARFF header)")
    if not times:
        raise InputError(path, "gold standard has no rows")
    return np.array(times), np.array(values), first_row


def read_ratings_csv(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read `;`-separated individual ratings: times, (rows, raters) values, rater names (stripped)."""
    table = read_table(path, sep=";")
    table = table.loc[:, [c for c in table.columns
                          if not (c.startswith("Unnamed") and (table[c].str.strip() == "").all())]]
    if "time" not in table.columns:
        found = ", ".join(table.columns)
        hint = " (the file looks ','-separated; expected ';')" if len(table.columns) == 1 and "," in found else ""
        raise InputError(path, f"no 'time' column{hint}; found {found}")
    raters = [c for c in table.columns if c != "time"]
    if not raters:
        raise InputError(path, "no rater columns besides 'time'")
    if len(set(raters)) != len(raters):
        raise InputError(path, f"duplicate rater columns: {', '.join(raters)}")
    if table.empty:
        raise InputError(path, "no rows")
    times = numeric_column(table, "time", path)
    ratings = np.stack([numeric_column(table, r, path) for r in raters], axis=1)
    return times, ratings, raters


def gold_from_ratings(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Times and the mean of the individual ratings of each row (every rating in [-1, 1])."""
    times, ratings, _ = read_ratings_csv(path)
    for k in range(ratings.shape[1]):
        check_trace(times, ratings[:, k], path, max_gap=np.inf, value_range=RATING_RANGE)
    return times, ratings.mean(axis=1)


def read_speaker_map(path: Path) -> dict[str, str]:
    """Read `instance,speaker` into {instance: speaker}."""
    table = read_table(path)
    missing = [c for c in ("instance", "speaker") if c not in table.columns]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}; found {', '.join(table.columns)}")
    out: dict[str, str] = {}
    for i, (instance, speaker) in enumerate(zip(table["instance"], table["speaker"])):
        instance, speaker = instance.strip(), speaker.strip()
        if not instance or not speaker:
            raise InputError(f"{path}:{i + 2}", "empty instance or speaker")
        if instance in out:
            raise InputError(f"{path}:{i + 2}", f"instance {instance!r} listed twice")
        out[instance] = speaker
    return out


# --------------------------------------------------------------------------- adapters

class RecolaAdapter(CorpusAdapter):
    """Shared parts of the RECOLA adapters: options, speaker metadata, manifest rows, gold on the grid."""

    DEFAULTS: dict = {"metadata": None, "tolerance": DEFAULT_TOLERANCE, "max_gap": DEFAULT_MAX_GAP}
    options_accepted = DEFAULTS

    def __init__(self, root: str | Path, options: dict | None = None):
        super().__init__(root, options)
        self.options = merge_options(self.name, self.options, self.DEFAULTS)
        self._manifest: pd.DataFrame | None = None
        self._speakers: dict[str, tuple[str, object]] | None = None
        self.rates: dict[float, RateLog] = {}  # grid step -> traces' rates, logged by log_rates

    def speaker_metadata(self) -> dict[str, tuple[str, object]]:
        """{speaker: (gender, age)} from option `metadata`, empty without it."""
        if self._speakers is None:
            path = self.options["metadata"]
            self._speakers = read_speaker_metadata(resolve_path(self.root, path)) if path else {}
        return self._speakers

    def manifest_row(self, recording: str, speaker: str, audio: Path) -> dict:
        """A whole-file manifest row, with gender/age from the speaker metadata when listed."""
        sample_rate, duration = audio_header(audio)
        meta = self.speaker_metadata()
        if meta and speaker not in meta:
            log.warning("%s: speaker %s not in the metadata file; gender and age left empty", audio, speaker)
        gender, age = meta.get(speaker, ("", pd.NA))
        return {"recording": recording, "speaker": speaker, "group": speaker, "gender": gender, "age": age,
                "audio_path": str(audio.resolve()), "offset": 0.0, "duration": duration,
                "sample_rate": sample_rate}

    def manifest(self) -> pd.DataFrame:
        """One row per labelled recording (whole file)."""
        if self._manifest is None:
            self._manifest = manifest_frame(self._manifest_rows())
        return self._manifest.copy()

    @abstractmethod
    def _manifest_rows(self) -> list[dict]:
        """One dict per labelled recording, with the manifest's columns."""

    def on_grid(self, times: np.ndarray, values: np.ndarray, duration: float, step: float, path: Path,
                first_line: int = 2, what: str = "labels") -> np.ndarray:
        """Check a gold trace against its recording and put it on the `step` grid; its rate and what was
        done are collected under `what` for the log (see emotrace.corpora.rates)."""
        check_trace(times, values, path, first_line=first_line, max_gap=self.options["max_gap"])
        check_coverage(times, 0.0, duration, path, self.options["tolerance"])
        on_grid, mapping = to_grid(times, values, frame_times(duration, step), step, path, first_line)
        self.rates.setdefault(step, RateLog(step)).add(what, mapping)
        return on_grid

    def log_rates(self) -> None:
        """One line per dimension (and its raters) with the label rates found and what was done."""
        for rates in self.rates.values():
            rates.flush(log)
        self.rates = {}

    def raters_on_grid(self, path: Path, recording: str, dim: str, duration: float,
                       step: float) -> list[tuple[str, str, str, np.ndarray]]:
        """Each rater's column of an individual-ratings file on the `step` grid, as rater_frame parts."""
        times, ratings, raters = read_ratings_csv(path)
        parts = []
        for k, rater in enumerate(raters):
            check_trace(times, ratings[:, k], path, max_gap=self.options["max_gap"], value_range=RATING_RANGE)
            parts.append((recording, dim, rater,
                          self.on_grid(times, ratings[:, k], duration, step, path, what=f"{dim} raters")))
        return parts


@register
class RecolaAvec2016Adapter(RecolaAdapter):
    """The public AVEC 2016 RECOLA release (27 instances, test gold standard withheld)."""

    name = "recola_avec2016"
    DEFAULTS = {**RecolaAdapter.DEFAULTS, "speaker_map": None, "gold": "arff"}
    options_accepted = DEFAULTS
    INSTANCE = re.compile(r"^((?:train|dev|test)_\d+)\.wav$")
    GOLD = re.compile(r"^((?:train|dev|test)_\d+)\.arff$")
    RATINGS = re.compile(r"^((?:train|dev|test)_\d+)\.csv$")

    def __init__(self, root: str | Path, options: dict | None = None):
        super().__init__(root, options)
        if self.options["gold"] not in ("arff", "raters"):
            raise InputError("corpus.options.gold", f"{self.options['gold']!r} is not 'arff' or 'raters'")

    @property
    def gold_dir(self) -> Path:
        return self.root / ("ratings_gold_standard" if self.options["gold"] == "arff" else "ratings_individual")

    def gold_files(self) -> dict[str, dict[str, Path]]:
        """{dimension: {instance: gold file}} (ARFF, or individual ratings with `gold: raters`)."""
        if not self.gold_dir.is_dir():
            raise InputError(self.gold_dir, "gold-standard folder does not exist")
        pattern, ext = (self.GOLD, ".arff") if self.options["gold"] == "arff" else (self.RATINGS, ".csv")
        return {d.name: scan_folder(d, pattern, ext) for d in sorted(self.gold_dir.iterdir()) if d.is_dir()}

    def speaker_of(self) -> dict[str, str]:
        """{instance: speaker} from option `speaker_map`, else identity."""
        path = self.options["speaker_map"]
        return read_speaker_map(resolve_path(self.root, path)) if path else {}

    def _manifest_rows(self) -> list[dict]:
        audio = scan_folder(self.root / "recordings_audio", self.INSTANCE, ".wav")
        if not audio:
            raise InputError(self.root / "recordings_audio", "no recordings")
        labelled = set().union(*self.gold_files().values())
        unlabelled_test = sorted(i for i in set(audio) - labelled if i.startswith("test_"))
        if unlabelled_test:
            log.info("%s: skipped %d test recording(s) without a gold standard (withheld in the public "
                     "release): %s", self.root, len(unlabelled_test), ", ".join(unlabelled_test))
        check_same_sets(set(audio) - set(unlabelled_test), labelled, self.root, "instances")
        speakers = self.speaker_of()
        if self.options["speaker_map"]:
            unmapped = sorted(i for i in audio if i not in speakers)
            if unmapped:
                raise InputError(resolve_path(self.root, self.options["speaker_map"]),
                                 f"no speaker for instance(s) {', '.join(unmapped)}")
        return [self.manifest_row(i, speakers.get(i, i), audio[i]) for i in sorted(labelled)]

    def labels(self, dimensions: list[str], step: float = 0.04) -> pd.DataFrame:
        """Gold standard on the `step` grid; individual-rating files are checked against it."""
        manifest = self.manifest()
        gold = self.gold_files()
        check_dimensions(dimensions, gold, self.gold_dir)
        parts = []
        for dim in dimensions:
            check_same_sets(manifest["recording"], gold[dim], self.gold_dir / dim, "instances")
            for rec in manifest.itertuples(index=False):
                path = gold[dim][rec.recording]
                if self.options["gold"] == "arff":
                    times, values, first_line = read_gold_arff(path, rec.recording)
                    self._check_ratings(dim, rec.recording, len(times))
                else:
                    times, values = gold_from_ratings(path)
                    first_line = 2
                parts.append((rec.recording, dim,
                              self.on_grid(times, values, rec.duration, step, path, first_line, what=dim)))
        self.log_rates()
        return label_frame(parts, step)

    def _check_ratings(self, dim: str, instance: str, n_gold: int) -> None:
        """An individual-rating file, where present, must have as many rows as the gold standard."""
        path = self.root / "ratings_individual" / dim / f"{instance}.csv"
        if not path.is_file():
            return
        times, _, _ = read_ratings_csv(path)
        if len(times) != n_gold:
            raise InputError(path, f"{len(times)} rows of individual ratings but {n_gold} gold-standard frames "
                                   f"in ratings_gold_standard/{dim}/{instance}.arff")

    def rater_labels(self, dimensions: list[str], step: float = 0.04) -> pd.DataFrame | None:
        """Each rater of `ratings_individual/<dim>/<instance>.csv` on the grid of `labels()`; None without them."""
        folder = self.root / "ratings_individual"
        if not folder.is_dir():
            return None
        parts, absent = [], []
        for dim in dimensions:
            for rec in self.manifest().itertuples(index=False):
                path = folder / dim / f"{rec.recording}.csv"
                if path.is_file():
                    parts += self.raters_on_grid(path, rec.recording, dim, rec.duration, step)
                else:
                    absent.append(f"{dim}/{rec.recording}.csv")
        if absent:
            log.warning("%s: no individual ratings for %s", folder, ", ".join(absent))
        self.log_rates()
        return rater_frame(parts, step) if parts else None

    def preset_splits(self) -> dict[str, dict[str, list[str]]]:
        """`release`: the partitions of the file names; `avec2016`: the same without `speaker_map`, else the
        published 9/9/9 speaker lists (P-ids)."""
        release: dict[str, list[str]] = {"train": [], "dev": [], "test": []}
        seen: dict[str, str] = {}
        for rec in self.manifest().itertuples(index=False):
            part = rec.recording.split("_")[0]
            if seen.setdefault(rec.group, part) != part:
                raise InputError(self.options["speaker_map"] or self.root,
                                 f"speaker {rec.group} has recordings in both {seen[rec.group]} and {part}")
            if rec.group not in release[part]:
                release[part].append(rec.group)
        release = {k: sorted(v) for k, v in release.items()}
        if not self.options["speaker_map"]:
            return {"avec2016": release, "release": release}
        return {"avec2016": {k: list(v) for k, v in AVEC2016_SPLIT.items()}, "release": release}


# (name, audio folder, ratings folder) of the full-RECOLA layouts, in the order they are tried.
FULL_LAYOUTS = [
    ("release", "RECOLA-Audio-recordings", "RECOLA-Annotation/emotional_behaviour"),
    ("project", "audio", "labels"),
    ("group", "Audio_recordings_WAV", "Ratings_affective_behaviour_CCC_centred"),
]


@register
class RecolaFullAdapter(RecolaAdapter):
    """The full RECOLA release (or the speakers of it you have): audio + individual ratings per speaker."""

    name = "recola_full"
    DEFAULTS = {**RecolaAdapter.DEFAULTS, "audio_dir": None, "labels_dir": None}
    options_accepted = DEFAULTS
    AUDIO = re.compile(r"^(P\d+)\.wav$")
    RATINGS = re.compile(r"^(P\d+)\.csv$")

    def __init__(self, root: str | Path, options: dict | None = None):
        super().__init__(root, options)
        self._folders: tuple[Path, Path] | None = None

    def folders(self) -> tuple[Path, Path]:
        """(audio folder, ratings folder): the options where set, else the first known layout found."""
        if self._folders is None:
            self._folders = self._detect()
        return self._folders

    def _detect(self) -> tuple[Path, Path]:
        audio_opt, labels_opt = self.options["audio_dir"], self.options["labels_dir"]
        tried = []
        for layout, audio, labels in FULL_LAYOUTS:
            audio_dir = resolve_path(self.root, audio_opt or audio)
            labels_dir = resolve_path(self.root, labels_opt or labels)
            if audio_dir.is_dir() and labels_dir.is_dir():
                where = "options" if audio_opt and labels_opt else f"layout {layout!r}"
                log.info("%s: RECOLA %s: audio %s, ratings %s", self.root, where, audio_dir, labels_dir)
                return audio_dir, labels_dir
            tried.append(f"{audio_opt or audio}/ + {labels_opt or labels}/")
            if audio_opt and labels_opt:
                break
        raise InputError(self.root, "no known RECOLA layout found (tried " + "; ".join(dict.fromkeys(tried))
                         + "); set corpus.options audio_dir and labels_dir to your folders")

    @property
    def labels_dir(self) -> Path:
        return self.folders()[1]

    def _manifest_rows(self) -> list[dict]:
        folder = self.folders()[0]
        audio = scan_folder(folder, self.AUDIO, ".wav")
        if not audio:
            raise InputError(folder, "no recordings")
        return [self.manifest_row(s, s, audio[s]) for s in sorted(audio)]

    def rating_files(self) -> dict[str, dict[str, Path]]:
        """{dimension: {speaker: ratings file}}."""
        if not self.labels_dir.is_dir():
            raise InputError(self.labels_dir, "label folder does not exist")
        return {d.name: scan_folder(d, self.RATINGS, ".csv") for d in sorted(self.labels_dir.iterdir())
                if d.is_dir()}

    def labels(self, dimensions: list[str], step: float = 0.04) -> pd.DataFrame:
        """Gold standard = mean of the individual ratings of each row, on the `step` grid."""
        parts = []
        for rec, dim, path in self._files(dimensions):
            times, values = gold_from_ratings(path)
            parts.append((rec.recording, dim, self.on_grid(times, values, rec.duration, step, path, what=dim)))
        self.log_rates()
        return label_frame(parts, step)

    def rater_labels(self, dimensions: list[str], step: float = 0.04) -> pd.DataFrame:
        """Each rater's column on the grid of `labels()`."""
        parts = []
        for rec, dim, path in self._files(dimensions):
            parts += self.raters_on_grid(path, rec.recording, dim, rec.duration, step)
        self.log_rates()
        return rater_frame(parts, step)

    def _files(self, dimensions: list[str]):
        """(manifest row, dimension, ratings file) for every recording and wanted dimension."""
        manifest = self.manifest()
        files = self.rating_files()
        check_dimensions(dimensions, files, self.labels_dir)
        for dim in dimensions:
            check_same_sets(manifest["recording"], files[dim], self.labels_dir / dim, "speakers")
            for rec in manifest.itertuples(index=False):
                yield rec, dim, files[dim][rec.recording]

    def preset_splits(self) -> dict[str, dict[str, list[str]]]:
        """`trigeorgis2016` (16/15/15, the authors' code), `avec2016` (9/9/9), as P-ids, and `public23`:
        AVEC 2016 train and dev, every other speaker present as test."""
        avec = set(AVEC2016_SPLIT["train"]) | set(AVEC2016_SPLIT["dev"])
        rest = sorted(set(self.manifest()["group"]) - avec)
        return {"trigeorgis2016": {k: list(v) for k, v in TRIGEORGIS2016_SPLIT.items()},
                "avec2016": {k: list(v) for k, v in AVEC2016_SPLIT.items()},
                "public23": {"train": list(AVEC2016_SPLIT["train"]), "dev": list(AVEC2016_SPLIT["dev"]),
                             "test": rest}}
