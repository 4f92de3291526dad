"""SEMAINE Solid-SAL: the corpus's own user turns, gold = mean of the FeelTrace raters.

Layout read under the corpus root, one folder per session (as released)::

    Sessions/<n>/session.xml          <session recording="1" character="Poppy" ...>, optionally with a
                                      <subject role="User" id="..."/> element
    Sessions/<n>/<date>_User HeadMounted_<Character>.wav       the user's microphone, 48 kHz 24-bit mono
    Sessions/<n>/<date>_Operator HeadMounted_<Character>.wav   the operator's (not used; logged)
    Sessions/<n>/wordLevel_alignedTranscript_01.1Poppy_user    word-level user transcript, no extension
                                      (a `.txt` one is read too): blocks of a header
                                      `---recording <date> user turn <k>---`, `start_ms end_ms WORD`
                                      lines and a line `.` closing the block
    Sessions/<n>/R<rater>S<recording>TUC<Po|Pr|Sp|Ob>[2]D<letter>.txt  FeelTrace: `time_s value` lines

Trace names may also begin `A<rater>` and carry `R<recording>` (the `[AR]`/`[RS]`
variants public loaders meet); other files that look like traces are listed in
the log and ignored.  Trace dimension letters: A -> arousal (activation), V ->
valence, E -> expectation, P -> power; other letters are ignored.

The user id is the `id` of the session.xml element with `role="User"`, else
`rec<recording>`.  Sessions whose character is not a Solid-SAL character (Poppy,
Prudence, Spike, Obadiah; e.g. beginning/end sessions) and sessions without a
word-level user transcript are skipped and logged; a session with traces but no
user audio, or user audio but no traces, is an error.

Turns (option `turns`): `transcript` (default, as Yang & Hirschberg): each block
of the word-level transcript is a user turn, from its first word's start to its
last word's end; `pause`: the words re-cut into turns wherever a pause is longer
than `pause` s (default 1).  Turns shorter than `min_turn` s (default 1) are
dropped and counted in the log.  Each turn is a manifest row `<session>_t<NN>`
(NN numbers all turns of the session, dropped ones included, so ids do not move
when `min_turn` changes), the region `[start, end)` of the user audio.

Rater traces of one session may differ in length: turns outside the span every
rater covers (within 0.1 s) are dropped, with a log line naming the trace that
ends first (or starts last), and ingestion stops only if no turn is left.  A
turn's labels are each rater's trace linearly interpolated at `offset + k * step`
(`rater_labels`), averaged over raters (`labels`); times are relative to the turn.

Options: `turns`, `pause`, `min_turn`, `group_by` (the split unit: `recording`,
the default, keeps the sessions of one recording, one user talking to the four
characters, together; `session`, one conversation with one character; or
`user`), `metadata` (CSV `speaker,gender,age` keyed by user id), `tolerance` (s
a trace may end before or after the user audio without a log line, default 1),
`max_gap` (s, default 1).
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
    check_dimensions,
    check_trace,
    frame_times,
    label_frame,
    manifest_frame,
    merge_options,
    rater_frame,
    read_speaker_metadata,
    resolve_path,
)
from emotrace.corpora.rates import GridMapping, RateLog, median_step
from emotrace.errors import InputError

log = logging.getLogger(__name__)

SAL_CHARACTERS = {"poppy": "Po", "prudence": "Pr", "spike": "Sp", "obadiah": "Ob"}
DIMENSION_LETTERS = {"arousal": "A", "valence": "V", "expectation": "E", "power": "P"}
TRACE_RANGE = (-1.0, 1.0)

TRACE = re.compile(r"^[AR](\d+)[RS](\d+)TUC([A-Z][a-z])2?D([A-Z][a-z]?)\.txt$")
TRACE_LIKE = re.compile(r"^[AR]\d+.*\.txt$")
USER_AUDIO = re.compile(r"User HeadMounted.*\.wav$", re.IGNORECASE)
OPERATOR_AUDIO = re.compile(r"Operator HeadMounted.*\.wav$", re.IGNORECASE)
USER_WORDS = re.compile(r"^wordLevel_alignedTranscript.*_user(\.txt)?$", re.IGNORECASE)
WORD_LINE = re.compile(r"^(\d+(?:\.\d*)?)\s+(\d+(?:\.\d*)?)\s+(\S.*)$")
TURN_HEADER = re.compile(r"^---.*---$")
SPAN_SLACK = 0.1  # s a turn may reach past the span every rater covers (edge value held)


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
    recording: str
    user_audio: Path | None = None
    user_words: Path | None = None
    traces: dict[str, dict[int, Path]] = field(default_factory=dict)  # letter -> rater -> file


# --------------------------------------------------------------------------- readers

def read_session_xml(folder: Path) -> tuple[str, str, str]:
    """(character, user id, recording) from `session.xml`; InputError if missing, malformed or inconsistent."""
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
    recording = (root.get("recording") or "").strip()
    for element in root.iter():
        if (element.get("role") or "").strip().lower() == "user" and (element.get("id") or "").strip():
            user = element.get("id").strip()
            return character, user, recording or user
    if recording:
        return character, f"rec{recording}", recording
    raise InputError(path, "no element with role='User' and an id, and no 'recording' attribute: "
                           "cannot identify the user")


def read_blocks(path: Path) -> list[list[Word]]:
    """The turns of a word-level transcript: blocks of `start_ms end_ms WORD` lines, each opened by a
    `---... turn <k>---` header and/or closed by a `.` line; empty blocks are left out."""
    blocks: list[list[Word]] = [[]]
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.strip()
            if not line:
                continue
            if line == "." or TURN_HEADER.match(line):
                if blocks[-1]:
                    blocks.append([])
                continue
            match = WORD_LINE.match(line)
            if not match:
                raise InputError(f"{path}:{lineno}", f"expected 'start_ms end_ms WORD', a '---...---' turn header "
                                                     f"or '.', found {line!r}")
            start, end = float(match.group(1)) / 1000, float(match.group(2)) / 1000
            if end < start:
                raise InputError(f"{path}:{lineno}", f"word ends ({end:.3f} s) before it starts ({start:.3f} s)")
            blocks[-1].append(Word(start, end, match.group(3), lineno))
    return [block for block in blocks if block]


def read_words(path: Path) -> list[Word]:
    """All words of a word-aligned transcript, sorted by start."""
    return sorted((w for block in read_blocks(path) for w in block), key=lambda w: (w.start, w.end))


def block_turns(blocks: list[list[Word]]) -> list[Turn]:
    """One turn per transcript block, from its earliest word start to its latest word end."""
    return [Turn(k, min(w.start for w in block), max(w.end for w in block), block[0].line)
            for k, block in enumerate(blocks, start=1)]


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
    DEFAULTS = {"turns": "transcript", "pause": 1.0, "min_turn": 1.0, "group_by": "recording", "metadata": None,
                "tolerance": DEFAULT_TOLERANCE, "max_gap": DEFAULT_MAX_GAP}
    CHOICES = {"turns": ("transcript", "pause"), "group_by": ("recording", "session", "user")}
    options_accepted = DEFAULTS

    def __init__(self, root: str | Path, options: dict | None = None):
        super().__init__(root, options)
        self.options = merge_options(self.name, self.options, self.DEFAULTS)
        for key, choices in self.CHOICES.items():
            if self.options[key] not in choices:
                raise InputError(f"corpus.options.{key}", f"{self.options[key]!r} is not one of {', '.join(choices)}")
        for key in ("pause", "min_turn"):
            if not float(self.options[key]) >= 0:
                raise InputError(f"corpus.options.{key}", "must be a non-negative number of seconds")
        self._sessions: list[Session] | None = None
        self._manifest: pd.DataFrame | None = None
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
            character, user, recording = read_session_xml(folder)
            if character.lower() not in SAL_CHARACTERS:
                skipped.append(f"{folder.name} ({character})")
                continue
            check_recording_id(folder.name, str(folder))
            session = self._classify(Session(folder.name, folder, character, user, recording))
            if session.user_audio is None and not session.traces:
                skipped.append(f"{folder.name} (no user audio, no traces)")
            elif session.user_audio is None:
                traces_only.append(folder.name)
            elif not session.traces:
                audio_only.append(folder.name)
            elif session.user_words is None:
                log.warning("%s: no word-level user transcript (wordLevel_alignedTranscript*_user); "
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
        ignored = []
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
                ignored.append(name)
        if ignored:
            log.warning("%s: ignored %d file(s) that look like traces but do not match "
                        "[AR]<rater>[RS]<recording>TUC<character>D<dim>.txt: %s", session.folder, len(ignored),
                        ", ".join(ignored))
        return session

    # ------------------------------------------------------------------ manifest
    def turns(self, session: Session, duration: float) -> tuple[list[Turn], int]:
        """Kept turns of a session (checked against the audio and the raters' common span) and the
        number dropped as too short."""
        if self.options["turns"] == "transcript":
            turns = block_turns(read_blocks(session.user_words))
        else:
            turns = cut_turns(read_words(session.user_words), float(self.options["pause"]))
        if not turns:
            log.warning("%s: transcript has no words", session.user_words)
        (first, last), (late, early) = self.rater_span(session, duration)
        kept, dropped, outside = [], 0, []
        for turn in turns:
            if turn.start >= duration or turn.end > duration + self.options["tolerance"]:
                raise InputError(f"{session.user_words}:{turn.line}",
                                 f"turn {turn.number} [{turn.start:.2f}, {turn.end:.2f}] s lies past the end of "
                                 f"{session.user_audio.name} ({duration:.2f} s)")
            turn.end = min(turn.end, duration)
            if turn.start < first - SPAN_SLACK or turn.end > last + SPAN_SLACK:
                outside.append(turn.number)
            elif turn.duration < self.options["min_turn"]:
                dropped += 1
            else:
                kept.append(turn)
        if outside:
            log.warning("%s: dropped %d turn(s) outside [%.2f, %.2f] s, the span every rater covers (earliest "
                        "end: %s; latest start: %s): turns %s", session.folder, len(outside), first, last,
                        early.name, late.name, ", ".join(map(str, outside)))
        return kept, dropped

    def rater_span(self, session: Session, duration: float) -> tuple[tuple[float, float], tuple[Path, Path]]:
        """[latest start, earliest end] of the session's traces and the traces that set them; traces
        ending (or starting) more than `tolerance` s away from the user audio's ends are logged."""
        ends = {}
        for letter in sorted(session.traces):
            for path in session.traces[letter].values():
                times, _ = self._trace(path)
                ends[path] = (float(times[0]), float(times[-1]))
                gap_end, gap_start = duration - times[-1], times[0]
                if abs(gap_end) > self.options["tolerance"] or gap_start > self.options["tolerance"]:
                    log.warning("%s: trace covers [%.2f, %.2f] s, the user audio [0, %.2f] s", path, times[0],
                                times[-1], duration)
        late = max(ends, key=lambda p: ends[p][0])
        early = min(ends, key=lambda p: ends[p][1])
        return (ends[late][0], ends[early][1]), (late, early)

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
                group = {"recording": session.recording, "session": session.id, "user": session.user}
                for turn in kept:
                    self._session_of[f"{session.id}_t{turn.number:02d}"] = session.id
                    rows.append({
                        "recording": f"{session.id}_t{turn.number:02d}",
                        "speaker": session.user,
                        "group": group[self.options["group_by"]],
                        "gender": gender, "age": age,
                        "audio_path": str(session.user_audio.resolve()),
                        "offset": turn.start, "duration": turn.duration, "sample_rate": sample_rate,
                    })
            log.info("%s: %d user turns (%s) kept from %d sessions, %d dropped as shorter than %g s",
                     self.sessions_dir, len(rows), self.options["turns"], len(self.sessions()), total_dropped,
                     self.options["min_turn"])
            if not rows:
                raise InputError(self.sessions_dir, "no user turn long enough and covered by every rater")
            self._manifest = manifest_frame(rows)
        return self._manifest.copy()

    # ------------------------------------------------------------------ labels
    def _trace(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        times, values = read_trace(path)
        check_trace(times, values, path, first_line=1, max_gap=self.options["max_gap"], value_range=TRACE_RANGE)
        return times, values

    def _rater_values(self, dimensions: list[str], step: float, rates: RateLog | None = None):
        """(turn, dimension, {rater: trace at offset + k * step}) for every turn and wanted dimension;
        each trace's rate is collected in `rates` (FeelTrace's own clock: interpolated linearly)."""
        manifest = self.manifest()
        check_dimensions(dimensions, DIMENSION_LETTERS, "corpus.dimensions")
        sessions = {s.id: s for s in self.sessions()}
        for session_id, turns in manifest.groupby(manifest["recording"].map(self._session_of), sort=True):
            session = sessions[session_id]
            for dim in dimensions:
                letter = DIMENSION_LETTERS[dim]
                available = sorted(k for k, v in DIMENSION_LETTERS.items() if v in session.traces)
                check_dimensions([dim], available, session.folder)
                traces = {f"R{r}": self._trace(p) for r, p in sorted(session.traces[letter].items())}
                for times, _ in traces.values():
                    if rates is not None:
                        rates.add(dim, GridMapping(median_step(times), "interpolated"))
                for rec in turns.itertuples(index=False):
                    grid = rec.offset + frame_times(rec.duration, step)
                    yield rec.recording, dim, {r: np.interp(grid, t, v) for r, (t, v) in traces.items()}

    def labels(self, dimensions: list[str], step: float = 0.04) -> pd.DataFrame:
        """Per turn and dimension: every rater's trace at `offset + k * step`, averaged over raters;
        the traces' rates are logged per dimension."""
        rates = RateLog(step)
        labels = label_frame([(rec, dim, np.mean(list(raters.values()), axis=0))
                              for rec, dim, raters in self._rater_values(dimensions, step, rates)], step)
        rates.flush(log)
        return labels

    def rater_labels(self, dimensions: list[str], step: float = 0.04) -> pd.DataFrame:
        """Each rater's FeelTrace on the grid of `labels()` (rater `R<n>` from the trace file name)."""
        return rater_frame([(rec, dim, rater, values) for rec, dim, raters in self._rater_values(dimensions, step)
                            for rater, values in raters.items()], step)
