"""goreef's Go analysis: a pure library. Bytes and a diff in, findings out.

No network, no Redis, no GitHub types: the app and the command line both call `review`
(a change) or `check_files` (whole files).
"""

from .config import Config, ConfigError, load_config
from .diffs import ChangedFile, DiffError, from_patches, parse_diff
from .engine import ReviewResult, check_files, review
from .finding import Finding, Severity

__all__ = [
    "ChangedFile",
    "Config",
    "ConfigError",
    "DiffError",
    "Finding",
    "ReviewResult",
    "Severity",
    "check_files",
    "from_patches",
    "load_config",
    "parse_diff",
    "review",
]
