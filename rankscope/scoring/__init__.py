"""Zero-cost proxy scoring: the proxy contract, the one shared scoring pass, and helpers.

The proxies themselves live in the ``proxies/`` folder (one file each), installed as
``rankscope.proxies``."""

from rankscope.scoring.proxy import (
           PROXIES,
           Proxy,
           ScoringContext,
           connection_sensitivity,
           get_proxy,
)
from rankscope.scoring.score_pass import ScoreResult, score_edges, scoring_batches
from rankscope.scoring.spectrum import GradientSpectrum

__all__ = ["GradientSpectrum", "PROXIES", "Proxy", "ScoreResult", "ScoringContext", "connection_sensitivity", "get_proxy",
           "score_edges", "scoring_batches"]
