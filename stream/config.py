"""Every stage's small config object, derived from the settings in one place."""

from __future__ import annotations

from stream.agreement.aggregate import UnitSpec
from stream.agreement.merge import MergeConfig
from stream.agreement.stage import UnitsConfig
from stream.batches.manifests import Scales
from stream.batches.rules import BatchClock, Policy
from stream.batches.stage import BatchConfig
from stream.core import vocabulary
from stream.core.windows import Tumbling
from stream.flags.policy import Policy as FlagPolicy
from stream.qualification.annotator import Config as QualificationConfig
from stream.ranking.leaderboard import RankConfig
from stream.ranking.stage import RankingConfig
from stream.ranking.votes import OVERALL
from stream.settings import Settings


def unit_specs(s: Settings) -> dict[str, UnitSpec]:
    """Dimension names and value counts of the two unit kinds: clip ratings and pairs."""
    return {
        "c": UnitSpec(tuple(s.dimensions), len(s.scale)),
        "p": UnitSpec(tuple(vocabulary.pairwise_dimensions(s.dimensions)), len(vocabulary.PAIRWISE_SCALE),
                      nominal=True),
    }


def units_config(s: Settings) -> UnitsConfig:
    return UnitsConfig(unit_specs(s), [Tumbling(size, s.grace_s) for size in s.window_seconds],
                       s.slices, s.partitions, s.dimensions, s.score_min, s.retention_s)


def merge_config(s: Settings) -> MergeConfig:
    dims = vocabulary.all_dimensions(s.dimensions)
    return MergeConfig(
        n_partitions=s.partitions,
        scales={d: s.scale_for(d) for d in dims},
        levels={d: s.level_for(d) for d in dims},
        threshold=s.alpha_threshold, n_boot=s.bootstrap_samples, seed=s.bootstrap_seed,
        thresholds={d: s.threshold_for(d) for d in dims}, margin=s.flag_margin,
        n_boot_live=s.bootstrap_samples_live, draws=s.bootstrap_draws,
    )


def flag_policy(s: Settings, dimension: str) -> FlagPolicy:
    """The flag policy of one dimension (pairwise dimensions have the A/B/tie scale)."""
    return FlagPolicy(s.threshold_for(dimension), s.flag_confidence, s.flag_margin,
                      len(s.scale_for(dimension)), s.flag_min_pairable, s.flag_look_growth,
                      s.flag_min_share)


def flag_policies(s: Settings) -> dict[str, FlagPolicy]:
    return {d: flag_policy(s, d) for d in vocabulary.all_dimensions(s.dimensions)}


def batch_policy(s: Settings) -> Policy:
    return Policy(BatchClock(s.batch_length_s, s.grace_s, s.batch_length), min(s.window_seconds), s.grace_s,
                  s.batch_required_ratings, s.batch_min_ratings, s.batch_require_qualified,
                  s.batch_include_gold)


def qualification_config(s: Settings) -> QualificationConfig:
    return QualificationConfig(tuple(s.dimensions), s.gold_window, s.gold_min_answers, s.gold_threshold,
                               s.gold_pending_max, s.peer_window, s.gold_rate_target,
                               s.annotator_retention_s)


def rank_config(s: Settings) -> RankConfig:
    anchors = {str(modality): model for modality, model in s.ranking_anchors.items()}
    return RankConfig((*s.dimensions, OVERALL), anchors, s.ranking_elo_base,
                      s.ranking_regularization, s.ranking_bootstrap_samples, s.pairing_random_share,
                      s.ranking_qualified_only)


def batch_config(s: Settings) -> BatchConfig:
    return BatchConfig(batch_policy(s), s.partitions, s.batch_salt.get_secret_value().encode(),
                       s.dimensions, s.scale, s.score_min, s.gold_tolerance)


def manifest_scales(s: Settings) -> Scales:
    """Scale and level of every dimension a manifest summarizes (pairwise ones are nominal)."""
    return {d: (s.scale_for(d), "nominal" if vocabulary.is_pairwise(d) else s.level_for(d))
            for d in vocabulary.all_dimensions(s.dimensions)}


def ranking_config(s: Settings) -> RankingConfig:
    return RankingConfig(rank_config(s), tuple(s.dimensions), s.ranking_seed, s.ranking_dedup_votes,
                         s.ranking_refit_s, s.ranking_metrics_top)
