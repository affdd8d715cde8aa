"""Output models of model selection: Bradley-Terry leaderboards and Swiss pairing rounds."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

Modality = Literal["t2v", "i2v", "v2v"]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelScore(_Out):
    """One configuration on a leaderboard; score null (with score_reason) when it cannot be placed."""

    model_id: str
    score: float | None = Field(description="Elo-like: the anchor at elo_base, 400 points = 10:1 odds")
    score_reason: str | None = None
    ci_low: float | None = Field(None, description="95% bootstrap interval over votes")
    ci_high: float | None = None
    rank: int | None = Field(None, description="1 = best, by point score")
    rank_best: int | None = Field(None, description="best plausible rank given the intervals")
    rank_worst: int | None = Field(None, description="worst plausible rank given the intervals")
    wins: float = Field(description="qualified votes won, a tie counting half")
    votes: int = Field(description="qualified votes involving this configuration")


class PositionBias(_Out):
    """Share of decisive (non-tie) votes that went to the clip shown on the left."""

    left_share: float | None
    left_share_reason: str | None = None
    ci_low: float | None = Field(None, description="95% Wilson interval")
    ci_high: float | None = None
    decisive_votes: int


class AnnotatorPositionBias(_Out):
    annotator_id: str
    left_share: float
    decisive_votes: int
    qualified: bool


class LeaderboardRecord(_Out):
    """Bradley-Terry leaderboard of one modality and dimension (topic model-rankings)."""

    schema_version: Literal[1] = 1
    modality: Modality
    dimension: str = Field(description="a rating dimension, or 'overall' (per vote: majority across "
                           "dimensions)")
    model: Literal["bradley_terry"] = "bradley_terry"
    tie_model: Literal["half_win"] = "half_win"
    anchor: str | None = Field(description="configuration fixed at elo_base")
    anchor_reason: str = Field(description="configured, or most-compared configuration")
    elo_base: float
    regularization: float = Field(description="alpha of the penalty alpha * sum(theta^2) (choix's)")
    bootstrap_samples: int
    votes: int = Field(description="qualified votes in the fit")
    votes_excluded: int = Field(description="votes of annotators not qualified at fit time")
    annotators: int = Field(description="qualified annotators whose votes are in the fit")
    models: list[ModelScore]
    position_bias: PositionBias = Field(description="over the qualified votes in the fit")
    annotator_position_bias: list[AnnotatorPositionBias] = Field(
        default_factory=list, description="annotators furthest from 0.5, with enough decisive votes")
    computed_at: AwareDatetime


class PairSuggestion(_Out):
    config_a: str
    config_b: str
    prompt_id: str
    prompt: str
    kind: Literal["swiss", "random"]
    selection_probability: float = Field(description="chance this pair is in the round given the "
                                         "scores: 1 for the Swiss matching, k / candidates for random")
    prompt_choices: int = Field(description="prompts this pair was not yet compared on (one drawn "
                                "uniformly)")
    p_a_wins: float = Field(description="predicted P(config_a preferred), over score uncertainty")


class PairingRound(_Out):
    """What to compare next in one modality (topic pairing-suggestions)."""

    schema_version: Literal[1] = 1
    modality: Modality
    round: int = Field(description="per worker process, increasing")
    dimension: str = Field(description="scores the pairing used")
    random_share: float
    based_on_votes: int
    pairs: list[PairSuggestion]
    computed_at: AwareDatetime


RANKING_MODELS: dict[str, type[BaseModel]] = {
    "leaderboard_record": LeaderboardRecord,
    "pairing_round": PairingRound,
}
