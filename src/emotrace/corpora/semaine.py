"""SEMAINE Solid-SAL: user turns cut from word-aligned transcripts, gold = mean of the FeelTrace raters.

Layout read under the corpus root, one folder per session::

    Sessions/<id>/session.xml                          <session character="Poppy" ...> with a
                                                       <subject role="User" id="..."/> element
    Sessions/<id>/*User HeadMounted*.wav               the user's microphone (used)
    Sessions/<id>/*Operator HeadMounted*.wav           the operator's (not used; logged)
    Sessions/<id>/wordLevel_alignedTranscript*_user*.txt   lines `start_ms end_ms WORD`;
                                                       `---...---` turn headers and blank lines skipped
    Sessions/<id>/R<rater>S<n>TUC<Po|Pr|Sp|Ob>[2]D<letter>.txt  FeelTrace: `time_s value` per line

The user id is the `id` of the session.xml element with `role="User"`, else
`rec<recording>` from the root's `recording` attribute.  Sessions whose character
is not a Solid-SAL character (Poppy, Prudence, Spike, Obadiah) and sessions
without a word-level user transcript are skipped and logged; a session with
traces but no user audio, or user audio but no traces, is an error.  Trace
dimension letters: A -> arousal (activation), V -> valence, E -> expectation,
P -> power; other letters (intensity, categories) are ignored.  A `R<n>...txt`
file that does not follow the trace pattern is logged as a warning.

A user turn is a run of words with pauses of at most `pause` s (default 1);
turns shorter than `min_turn` s (default 1) are dropped and counted in the log.
Each turn is a manifest row `<session>_t<NN>` (NN numbers all turns of the
session, dropped ones included, so ids do not move when `min_turn` changes),
the region `[first word start, last word end)` of the user audio.  Its labels
are each rater's trace linearly interpolated at `offset + k * step` and averaged
over raters; times are relative to the turn start.

Options: `pause`, `min_turn`, `group_by` (`session`, the default: Yang &
Hirschberg split by conversation; or `user`), `metadata` (CSV
`speaker,gender,age` keyed by user id), `tolerance` (s a trace may end
before/after the user audio, default 1), `max_gap` (s, default 1).
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from emotrace.corpora.base import CorpusAdapter, register
from emotrace.corpora.generic import check_recording_id
from emotrace.corpora.labels import (
    DEFAULT_MAX_GAP,
    DEFAULT_TOLERANCE,
    audio_header,
    check_coverage,
    check_dimensions,
    check_trace,
    frame_times,
    label_frame,
    manifest_frame,
    merge_options,
    read_speaker_metadata,
    resolve_path,
)
from emotrace.errors import InputError

log = logging.getLogger(__name__)

SAL_CHARACTERS = {"poppy": "Po", "prudence": "Pr", "spike": "Sp", "obadiah": "Ob"}
DIMENSION_LETTERS = {"arousal": "A", "valence": "V", "expectation": "E", "power": "P"}
TRACE_RANGE = (-1.0, 1.0)

TRACE = re.compile(r"^R(\d+)S(\d+)TUC([A-Z][a-z])2?D([A-Z][a-z]?)\.txt$")
TRACE_LIKE = re.compile(r"^R\d+.*\.txt$")
USER_AUDIO = re.compile(r"User HeadMounted.*\.wav$", re.IGNORECASE)
OPERATOR_AUDIO = re.compile(r"Operator HeadMounted.*\.wav$", re.IGNORECASE)
USER_WORDS = re.compile(r"^wordLevel_alignedTranscript.*_user.*\.txt$", re.IGNORECASE)
WORD_LINE = re.compile(r"^(\d+)\s+(\d+)\s+(\S.*)$")


@dataclass
class Word:
    """One word of a word-aligned transcript, times in seconds, with its file line."""

    start: float
    end: float
    text: str
    line: int


@dataclass
class Turn:
    """A user turn: its number within the session and its span in seconds."""

    number: int
    start: float
    end: float
    line: int

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Session:
    """What one Solid-SAL session folder holds."""

    id: str
    folder: Path
    character: str
    user: str
    user_audio: Path | None = None
    user_words: Path | None = None
    traces: dict[str, dict[int, Path]] = field(default_factory=dict)  # letter -> rater -> file


# --------------------------------------------------------------------------- readers

def read_session_xml(folder: Path) -> tuple[str, str]:
    """(character, user id) from `session.xml`; InputError if missing, malformed or inconsistent."""
    path = folder / "session.xml"
    if not path.is_file():
        raise InputError(path, "session.xml does not exist")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise InputError(f"{path}:{exc.position[0]}", f"malformed XML: {exc}") from exc
    if root.tag != "session":
        raise InputError(path, f"root element is <{root.tag}>, expected <session>")
    session_id = root.get("sessionId")
    if session_id is not None and session_id.strip() != folder.name:
        raise InputError(path, f"sessionId {session_id!r} differs from the folder name {folder.name!r}")
    character = (root.get("character") or "").strip()
    if not character:
        raise InputError(path, "no 'character' attribute on <session>")
    for element in root.iter():
        if (element.get("role") or "").strip().lower() == "user" and (element.get("id") or "").strip():
            return character, element.get("id").strip()
    if (root.get("recording") or "").strip():
        return character, f"rec{root.get('recording').strip()}"
    raise InputError(path, "no element with role='User' and an id, and no 'recording' attribute: "
                           "cannot identify the user")


def read_words(path: Path) -> list[Word]:
    """Words of a word-aligned transcript (`start_ms end_ms WORD` lines), sorted by start."""
    words = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.strip()
            if not line or line.startswith("---"):
                continue
            match = WORD_LINE.match(line)
            if not match:
                raise InputError(f"{path}:{lineno}", f"expected 'start_ms end_ms WORD', found {line!r}")
            start, end = int(match.group(1)) / 1000, int(match.group(2)) / 1000
            if end < start:
                raise InputError(f"{path}:{lineno}", f"word ends ({end:.3f} s) before it starts ({start:.3f} s)")
            words.append(Word(start, end, match.group(3), lineno))
    return sorted(words, key=lambda w: (w.start, w.end))


def cut_turns(words: list[Word], pause: float) -> list[Turn]:
    """Group words into turns: a pause longer than `pause` s starts a new turn."""
    turns: list[Turn] = []
    for word in words:
        if turns and word.start - turns[-1].end <= pause:
            turns[-1].end = max(turns[-1].end, word.end)
        else:
            turns.append(Turn(len(turns) + 1, word.start, word.end, word.line))
    return turns


def read_trace(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A FeelTrace file: two whitespace-separated columns, time (s) and value; blank lines skipped."""
    times, values = [], []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, raw in enumerate(fh, start=1):
            fields = raw.split()
            if not fields:
                continue
            try:
                if len(fields) != 2:
                    raise ValueError
                t, v = float(fields[0]), float(fields[1])
            except ValueError:
                raise InputError(f"{path}:{lineno}", f"expected two numbers 'time value', found {raw.strip()!r}") \
                    from None
            if not (np.isfinite(t) and np.isfinite(v)):
                raise InputError(f"{path}:{lineno}", "NaN in trace")
            times.append(t)
            values.append(v)
    if not times:
        raise InputError(path, "trace has no rows")
    return np.array(times), np.array(values)


# --------------------------------------------------------------------------- adapter

@register
class SemaineAdapter(CorpusAdapter):
    """SEMAINE Solid-SAL user turns (see the module docstring for the layout and options)."""

    name = "semaine"
    DEFAULTS = {"pause": 1.0, "min_turn": 1.0, "group_by": "session", "metadata": None,
                "tolerance": DEFAULT_TOLERANCE, "max_gap": DEFAULT_MAX_GAP}
    options_accepted = DEFAULTS

    def __init__(self, root: str | Path, options: dict | None = None):
        super().__init__(root, options)
        self.options = merge_options(self.name, self.options, self.DEFAULTS)
        if self.options["group_by"] not in ("session", "user"):
            raise InputError("corpus.options.group_by", f"{self.options['group_by']!r} is not 'session' or 'user'")
        for key in ("pause", "min_turn"):
            if not float(self.options[key]) >= 0:
                raise InputError(f"corpus.options.{key}", "must be a non-negative number of seconds")
        self._sessions: list[Session] | None = None
        self._manifest: pd.DataFrame | None = None
        self._traces: dict[Path, tuple[np.ndarray, np.ndarray]] = {}
        self._session_of: dict[str, str] = {}  # turn recording -> session id

    @property
    def sessions_dir(self) -> Path:
        return self.root / "Sessions"

    # ------------------------------------------------------------------ sessions
    def sessions(self) -> list[Session]:
        """The usable Solid-SAL sessions (user audio, word transcript and traces), others logged."""
        if self._sessions is None:
            self._sessions = self._scan()
        return self._sessions

    def _scan(self) -> list[Session]:
        if not self.sessions_dir.is_dir():
            raise InputError(self.sessions_dir, "folder does not exist")
        folders = sorted((p for p in self.sessions_dir.iterdir() if p.is_dir()),
                         key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name))
        if not folders:
            raise InputError(self.sessions_dir, "no session folders")
        usable, audio_only, traces_only, skipped = [], [], [], []
        for folder in folders:
            character, user = read_session_xml(folder)
            if character.lower() not in SAL_CHARACTERS:
                skipped.append(f"{folder.name} ({character})")
                continue
            check_recording_id(folder.name, str(folder))
            session = self._classify(Session(folder.name, folder, character, user))
            if session.user_audio is None and not session.traces:
                skipped.append(f"{folder.name} (no user audio, no traces)")
            elif session.user_audio is None:
                traces_only.append(folder.name)
            elif not session.traces:
                audio_only.append(folder.name)
            elif session.user_words is None:
                log.warning("%s: no word-level user transcript (wordLevel_alignedTranscript*_user*.txt); "
                            "session skipped", folder)
                skipped.append(f"{folder.name} (no word-level user transcript)")
            else:
                usable.append(session)
        if skipped:
            log.info("%s: skipped %d session(s): %s", self.sessions_dir, len(skipped), "; ".join(skipped))
        if audio_only or traces_only:
            parts = []
            if audio_only:
                parts.append(f"user audio without traces: sessions {', '.join(audio_only)}")
            if traces_only:
                parts.append(f"traces without user audio: sessions {', '.join(traces_only)}")
            raise InputError(self.sessions_dir, "audio and labels cover different sessions; " + "; ".join(parts))
        if not usable:
            raise InputError(self.sessions_dir, "no usable Solid-SAL session")
        return usable

    def _classify(self, session: Session) -> Session:
        """Sort a session folder's files into user audio, user words and traces."""
        code = SAL_CHARACTERS[session.character.lower()]
        for path in sorted(p for p in session.folder.iterdir() if p.is_file()):
            name = path.name
            if USER_AUDIO.search(name):
                if session.user_audio is not None:
                    raise InputError(session.folder, f"two user audio files: {session.user_audio.name}, {name}")
                session.user_audio = path
            elif OPERATOR_AUDIO.search(name):
                log.info("%s: operator audio not used", path)
            elif USER_WORDS.match(name):
                if session.user_words is not None:
                    raise InputError(session.folder, f"two user word transcripts: {session.user_words.name}, {name}")
                session.user_words = path
            elif match := TRACE.match(name):
                rater, char_code, letter = int(match.group(1)), match.group(3), match.group(4)
                if char_code != code:
                    raise InputError(path, f"trace of character code {char_code!r} in a session of "
                                           f"{session.character} ({code})")
                if letter not in DIMENSION_LETTERS.values():
                    continue
                if rater in session.traces.get(letter, {}):
                    raise InputError(path, f"rater {rater} already has a D{letter} trace in this session: "
                                           f"{session.traces[letter][rater].name}")
                session.traces.setdefault(letter, {})[rater] = path
            elif TRACE_LIKE.match(name):
                log.warning("%s: looks like a trace but does not match R<rater>S<n>TUC<character>D<dim>.txt; "
                            "ignored", path)
        return session

    # ------------------------------------------------------------------ manifest
    def turns(self, session: Session, duration: float) -> tuple[list[Turn], int]:
        """Kept turns of a session (checked against the audio length) and the number dropped as too short."""
        turns = cut_turns(read_words(session.user_words), float(self.options["pause"]))
        if not turns:
            log.warning("%s: transcript has no words", session.user_words)
        kept, dropped = [], 0
        for turn in turns:
            if turn.start >= duration or turn.end > duration + self.options["tolerance"]:
                raise InputError(f"{session.user_words}:{turn.line}",
                                 f"turn {turn.number} [{turn.start:.2f}, {turn.end:.2f}] s lies past the end of "
                                 f"{session.user_audio.name} ({duration:.2f} s)")
            turn.end = min(turn.end, duration)
            if turn.duration < self.options["min_turn"]:
                dropped += 1
            else:
                kept.append(turn)
        return kept, dropped

    def manifest(self) -> pd.DataFrame:
        """One row per kept user turn: a region of the session's user audio."""
        if self._manifest is None:
            meta = (read_speaker_metadata(resolve_path(self.root, self.options["metadata"]))
                    if self.options["metadata"] else {})
            rows, total_dropped = [], 0
            for session in self.sessions():
                sample_rate, duration = audio_header(session.user_audio)
                kept, dropped = self.turns(session, duration)
                total_dropped += dropped
                if dropped:
                    log.info("%s: dropped %d turn(s) shorter than %g s", session.user_words, dropped,
                             self.options["min_turn"])
                if meta and session.user not in meta:
                    log.warning("%s: user %s not in the metadata file", session.folder, session.user)
                gender, age = meta.get(session.user, ("", pd.NA))
                for turn in kept:
                    self._session_of[f"{session.id}_t{turn.number:02d}"] = session.id
                    rows.append({
                        "recording": f"{session.id}_t{turn.number:02d}",
                        "speaker": session.user,
                        "group": session.id if self.options["group_by"] == "session" else session.user,
                        "gender": gender, "age": age,
                        "audio_path": str(session.user_audio.resolve()),
                        "offset": turn.start, "duration": turn.duration, "sample_rate": sample_rate,
                    })
            log.info("%s: %d user turns kept from %d sessions, %d dropped as shorter than %g s",
                     self.sessions_dir, len(rows), len(self.sessions()), total_dropped, self.options["min_turn"])
            if not rows:
                raise InputError(self.sessions_dir, "no user turn long enough")
            self._manifest = manifest_frame(rows)
        return self._manifest.copy()

    # ------------------------------------------------------------------ labels
    def _trace(self, path: Path, duration: float) -> tuple[np.ndarray, np.ndarray]:
        if path not in self._traces:
            times, values = read_trace(path)
            check_trace(times, values, path, first_line=1, max_gap=self.options["max_gap"], value_range=TRACE_RANGE)
            check_coverage(times, 0.0, duration, path, self.options["tolerance"])
            self._traces[path] = (times, values)
        return self._traces[path]

    def labels(self, dimensions: list[str], step: float = 0.04) -> pd.DataFrame:
        """Per turn and dimension: every rater's trace at `offset + k * step`, averaged over raters."""
        manifest = self.manifest()
        check_dimensions(dimensions, DIMENSION_LETTERS, "corpus.dimensions")
        sessions = {s.id: s for s in self.sessions()}
        parts = []
        for session_id, turns in manifest.groupby(manifest["recording"].map(self._session_of), sort=True):
            session = sessions[session_id]
            duration = audio_header(session.user_audio)[1]
            for dim in dimensions:
                letter = DIMENSION_LETTERS[dim]
                available = sorted(k for k, v in DIMENSION_LETTERS.items() if v in session.traces)
                check_dimensions([dim], available, session.folder)
                traces = [self._trace(p, duration) for _, p in sorted(session.traces[letter].items())]
                for rec in turns.itertuples(index=False):
                    grid = rec.offset + frame_times(rec.duration, step)
                    values = np.mean([np.interp(grid, t, v) for t, v in traces], axis=0)
                    parts.append((rec.recording, dim, values))
        self._traces.clear()
        return label_frame(parts, step)
