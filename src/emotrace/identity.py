"""What a configured system is, and which row of the papers' Table 1 it fills.

A system is a config model and one of its objectives; what it is is its network, its
features and its target (one model for every dimension, `joint`, or one per dimension).
Each paper row names what its system is, as the paper describes it (docs/references.md):
Trigeorgis 2016 trains one network per dimension, Yang & Hirschberg 2018 one for both.
Every configured system that is what a row describes fills that row, whatever its config
key; two such systems both fill it; a system that fills no row is "beyond the papers"
(`emotrace.beyond`). Tables, bar charts and findings all match rows here, so renaming
`e2e` to `e2e_big` changes only the label a reader sees, never where the system appears.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from emotrace.systems import FEATURE_NETWORKS, NETWORK_DEFAULTS, SSL_NETWORKS

TRIGEORGIS = "Trigeorgis 2016"
YANG = "Yang & Hirschberg 2018"
MISSING = "–"


@dataclass(frozen=True)
class Identity:
    """Network, feature set (None for a network on the raw signal) and target kind (`joint` True:
    one model for every dimension; False: one per dimension; None in a row: either)."""

    network: str
    features: str | None = None
    joint: bool | None = False

    def accepts(self, other: Identity) -> bool:
        """Whether a configured system that is `other` fills a row that describes `self`."""
        return ((self.network, self.features) == (other.network, other.features)
                and (self.joint is None or self.joint == other.joint))

    def describe(self) -> str:
        """'drnn on egemaps, per dimension', 'e2e on the raw signal, joint'."""
        on = f"on {self.features}" if self.features else "on the raw signal"
        target = {True: "joint", False: "per dimension", None: "joint or per dimension"}[self.joint]
        return f"{self.network} {on}, {target}"


@dataclass(frozen=True)
class PaperRow:
    """One row of a paper's Table 1: what its system is, with its label and the published test (dev) CCC
    per corpus, (arousal, valence) as the paper prints them."""

    paper: str
    key: str  # the row's short name (its model key in the shipped configs), for messages only
    objective: str
    identity: Identity
    label: str
    published: dict[str, tuple[str, str]] = field(hash=False, compare=False)


def _trigeorgis(objective: str, key: str, identity: Identity, label: str, arousal: str, valence: str) -> PaperRow:
    return PaperRow(TRIGEORGIS, key, objective, identity, label, {"RECOLA": (arousal, valence)})


_SVR_EGEMAPS, _SVR_COMPARE = Identity("svr", "egemaps"), Identity("svr", "compare")
_DRNN_EGEMAPS, _DRNN_COMPARE = Identity("drnn", "egemaps"), Identity("drnn", "compare")
_E2E, _E2E2017 = Identity("e2e"), Identity("e2e2017", joint=None)  # the 2017 code is not in the paper: either target
_E2E2017_LABEL = "extra: raw signal, frame-wise CNN (authors' 2017 code)"

# Trigeorgis 2016 Table 1 in the paper's order: a) MSE objective, b) CCC objective; RECOLA 16/15/15 speakers.
TRIGEORGIS_ROWS = (
    _trigeorgis("mse", "svr_egemaps", _SVR_EGEMAPS, "eGeMAPS + SVR", ".318 (.489)", ".169 (.210)"),
    _trigeorgis("mse", "svr_compare", _SVR_COMPARE, "ComParE + SVR", ".366 (.491)", ".180 (.178)"),
    _trigeorgis("mse", "drnn_egemaps", _DRNN_EGEMAPS, "eGeMAPS + BLSTM-DRNN", ".300 (.404)", ".192 (.187)"),
    _trigeorgis("mse", "drnn_compare", _DRNN_COMPARE, "ComParE + BLSTM-DRNN", ".132 (.221)", ".117 (.152)"),
    _trigeorgis("mse", "e2e", _E2E, "raw signal, end-to-end", ".684 (.728)", ".249 (.312)"),
    _trigeorgis("mse", "e2e2017", _E2E2017, _E2E2017_LABEL, MISSING, MISSING),
    _trigeorgis("ccc", "drnn_egemaps", _DRNN_EGEMAPS, "eGeMAPS + BLSTM-DRNN", ".316 (.445)", ".195 (.190)"),
    _trigeorgis("ccc", "drnn_compare", _DRNN_COMPARE, "ComParE + BLSTM-DRNN", ".382 (.478)", ".187 (.246)"),
    _trigeorgis("ccc", "e2e", _E2E, "raw signal, end-to-end", ".686 (.741)", ".261 (.325)"),
    _trigeorgis("ccc", "e2e2017", _E2E2017, _E2E2017_LABEL, MISSING, MISSING),
)

# Yang & Hirschberg 2018 Table 1: CCC objective, one model for both dimensions; test CCC on each corpus.
YANG_ROWS = (
    PaperRow(YANG, "blstm6373", "ccc", Identity("blstm6373", "compare6373", True), "baseline (ComParE 6373 + BLSTM)",
             {"SEMAINE": (".376", ".177"), "RECOLA": (".317", ".162")}),
    PaperRow(YANG, "wave", "ccc", Identity("wave", None, True), "W only",
             {"SEMAINE": (".675", ".435"), "RECOLA": (".674", ".361")}),
    PaperRow(YANG, "spec", "ccc", Identity("spec", None, True), "S only",
             {"SEMAINE": (".656", ".494"), "RECOLA": (".651", ".408")}),
    PaperRow(YANG, "wavespec", "ccc", Identity("wavespec", None, True), "W+S",
             {"SEMAINE": (".680", ".506"), "RECOLA": (".692", ".423")}),
)
PAPER_ROWS = TRIGEORGIS_ROWS + YANG_ROWS


def paper_row(paper: str, objective: str, key: str) -> PaperRow:
    """The row of `paper` with this objective and short name (KeyError naming it if there is none)."""
    for row in PAPER_ROWS:
        if (row.paper, row.objective, row.key) == (paper, objective, key):
            return row
    raise KeyError(f"{paper} has no row {key}/{objective}")


def identity_of(entry: Mapping) -> Identity:
    """What a config `models` entry is. Built-in networks on the raw signal ignore `features` (as
    training does); the ssl_* networks always read the `ssl` set; any other network, a plug-in
    included, is what its `features` say."""
    network = entry["network"]
    if network in SSL_NETWORKS:
        features = "ssl"
    elif network in NETWORK_DEFAULTS and network not in FEATURE_NETWORKS:
        features = None
    else:
        features = entry.get("features")
    return Identity(network, features, bool(entry.get("joint", False)))


def target(entry: Mapping, dimension: str) -> str:
    """The results folder of a model for one dimension: `joint` or the dimension itself."""
    return "joint" if identity_of(entry).joint else dimension


def members(models: Mapping[str, Mapping], row: PaperRow) -> list[str]:
    """Config keys (in config order) of the systems that fill `row`: what it describes, trained with its objective."""
    return [name for name, entry in models.items()
            if row.objective in entry["objectives"] and row.identity.accepts(identity_of(entry))]


def rows_of(models: Mapping[str, Mapping], model: str, objective: str) -> list[PaperRow]:
    """The paper rows one configured system fills (none for a system beyond the papers)."""
    entry = models[model]
    return [row for row in PAPER_ROWS if row.objective == objective and objective in entry["objectives"]
            and row.identity.accepts(identity_of(entry))]


def extra_systems(models: Mapping[str, Mapping]) -> list[tuple[str, str]]:
    """(model, objective) of every configured system that fills no paper row, in config order."""
    return [(name, objective) for name, entry in models.items() for objective in entry["objectives"]
            if not rows_of(models, name, objective)]


def system_name(models: Mapping[str, Mapping], model: str, objective: str) -> str:
    """What a reader sees for a system: its paper row's label and its key ('raw signal, end-to-end [e2e_big]'),
    or, beyond the papers, its key and what it is ('mynet [mypkg.nets:Net on the raw signal, joint]')."""
    rows = rows_of(models, model, objective)
    if rows:
        return f"{rows[0].label} [{model}]"
    return f"{model} [{identity_of(models[model]).describe()}]"
