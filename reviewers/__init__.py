"""goreef's Go analysis: a pure library. Bytes and a diff in, findings out.

No network, no Redis, no GitHub types: the app and the command line both call `review`
(a change) or `check_files` (whole files).
"""

from .config import Config, ConfigError, load_config
from .diffs import ChangedFile, DiffError, diff_of_contents, from_patches, parse_diff
from .engine import ReviewResult, check_files, review
from .finding import Finding, Severity


def goreef_version() -> str:
    """The installed distribution's version (`goreef --version`, SARIF's tool version)."""
    from importlib import metadata  # here, not at the top: slow to import, and seldom asked

    try:
        return metadata.version("goreef")
    except metadata.PackageNotFoundError:  # a source tree that was never installed
        return "unknown"


__all__ = [
    "ChangedFile",
    "Config",
    "ConfigError",
    "DiffError",
    "Finding",
    "ReviewResult",
    "Severity",
    "check_files",
    "diff_of_contents",
    "from_patches",
    "goreef_version",
    "load_config",
    "parse_diff",
    "review",
]
