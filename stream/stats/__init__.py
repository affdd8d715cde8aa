"""Pure-numpy Krippendorff's alpha: distances, incremental coincidences, alpha and bootstrap."""

from stream.stats.alpha import (
    REASON_NO_PAIRABLE,
    REASON_NO_VARIATION,
    AlphaResult,
    alpha_from_matrix,
)
from stream.stats.bootstrap import (
    REASON_NO_PAIRS,
    BootstrapResult,
    bootstrap_alpha,
    bootstrap_replicates,
)
from stream.stats.coincidence import Coincidence
from stream.stats.delta import UnitDelta, unit_contribution
from stream.stats.distance import LEVELS, Level, distance_matrix

__all__ = [
    "LEVELS",
    "REASON_NO_PAIRABLE",
    "REASON_NO_PAIRS",
    "REASON_NO_VARIATION",
    "AlphaResult",
    "BootstrapResult",
    "Coincidence",
    "Level",
    "UnitDelta",
    "alpha_from_matrix",
    "bootstrap_alpha",
    "bootstrap_replicates",
    "distance_matrix",
    "unit_contribution",
]
