"""Settings for both processes, read from environment variables and checked at start.

Every problem is reported at once, one line per variable, so a misconfigured deployment is
fixed in one round trip rather than one variable per restart.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

DEFAULT_GITHUB_API_URL = "https://api.github.com"
DEFAULT_TASK_TIME_LIMIT = 300.0
DEFAULT_RETRY_DELAY = 5.0
DEFAULT_HTTP_RETRY_DELAY = 0.5
DEFAULT_WRITES_PER_MINUTE = 80  # GitHub's documented secondary limit on content-creating requests
DEFAULT_CLIENT_TIMEOUT = 10.0
# Settings field → the optional environment variable that tunes it, and its kind of number.
TUNING_VARIABLES: dict[str, tuple[str, type[int] | type[float]]] = {
    "task_time_limit": ("GOREEF_TASK_TIME_LIMIT", float),
    "retry_delay": ("GOREEF_RETRY_DELAY", float),
    "http_retry_delay": ("GOREEF_HTTP_RETRY_DELAY", float),
    "visibility_timeout": ("GOREEF_VISIBILITY_TIMEOUT", float),
    "writes_per_minute": ("GOREEF_WRITES_PER_MINUTE", int),
    "client_timeout": ("GOREEF_CLIENT_TIMEOUT", float),
}
# The App's own credentials. With none of them set the web process runs in setup mode: it
# serves its health and rule pages and no webhooks (`goreef serve` before the App exists).
APP_VARIABLES = ("GITHUB_APP_ID", "GITHUB_PRIVATE_KEY", "GITHUB_PRIVATE_KEY_PATH", "GITHUB_WEBHOOK_SECRET")
# Set by `goreef serve` to the data directory of the Redis it runs itself.
EMBEDDED_REDIS_VARIABLE = "GOREEF_EMBEDDED_REDIS"
REDIS_SCHEMES = {"redis", "rediss", "unix"}


class SettingsError(ValueError):
    """The environment does not describe a usable configuration; the message lists why."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("goreef is misconfigured:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Settings:
    app_id: int
    # Secrets stay out of repr() so that logging a Settings never leaks them.
    private_key: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    redis_url: str
    github_api_url: str = DEFAULT_GITHUB_API_URL
    docs_url: str | None = None
    # Tuning (seconds unless said), tuned down by the tests; production keeps the defaults.
    task_time_limit: float = DEFAULT_TASK_TIME_LIMIT  # a review running longer is stopped
    retry_delay: float = DEFAULT_RETRY_DELAY  # first wait before a failed review is retried; doubles
    http_retry_delay: float = DEFAULT_HTTP_RETRY_DELAY  # first wait before a failed GitHub read is resent
    # An unacknowledged task (its worker died) is handed to another worker after this long:
    # longer than any review may run. None: twice the task time limit.
    visibility_timeout: float | None = None
    writes_per_minute: int = DEFAULT_WRITES_PER_MINUTE  # content-creating requests per installation, all workers
    # The web process closes a connection whose client pauses this long while sending a request.
    client_timeout: float = DEFAULT_CLIENT_TIMEOUT
    embedded_redis: str | None = None  # the data directory, when `goreef serve` runs Redis itself

    @property
    def redelivery_after(self) -> float:
        return self.visibility_timeout or 2 * self.task_time_limit

    @property
    def celery_redis_url(self) -> str:
        return celery_url(self.redis_url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        problems: list[str] = []
        app_id = _app_id(environ, problems)
        private_key = _private_key(environ, problems)
        webhook_secret = environ.get("GITHUB_WEBHOOK_SECRET", "")
        if not webhook_secret:
            problems.append("GITHUB_WEBHOOK_SECRET is not set: use the secret entered when registering the App")
        redis_url = _url(environ, "REDIS_URL", REDIS_SCHEMES, problems, required=True)
        github_api_url = _url(environ, "GITHUB_API_URL", {"http", "https"}, problems) or DEFAULT_GITHUB_API_URL
        docs_url = _url(environ, "GOREEF_DOCS_URL", {"http", "https"}, problems)
        tuning = _tuning(environ, problems)
        if problems:
            raise SettingsError(problems)
        return cls(
            app_id=app_id,
            private_key=private_key,
            webhook_secret=webhook_secret,
            redis_url=redis_url,
            github_api_url=github_api_url,
            docs_url=docs_url,
            embedded_redis=environ.get(EMBEDDED_REDIS_VARIABLE) or None,
            **tuning,
        )


def has_app_credentials(environ: Mapping[str, str] = os.environ) -> bool:
    return any(environ.get(name, "").strip() for name in APP_VARIABLES)


def setup_redis_url(environ: Mapping[str, str] = os.environ) -> str:
    """REDIS_URL, checked, for the web process in setup mode (no App credentials yet)."""
    problems: list[str] = []
    redis_url = _url(environ, "REDIS_URL", REDIS_SCHEMES, problems, required=True)
    if redis_url is None:
        raise SettingsError(problems)
    return redis_url


def tuning_from_env(environ: Mapping[str, str] = os.environ) -> dict[str, int | float]:
    """The tuning variables that are set, checked: what gunicorn's settings need in setup mode too."""
    problems: list[str] = []
    tuning = _tuning(environ, problems)
    if problems:
        raise SettingsError(problems)
    return tuning


def celery_url(redis_url: str) -> str:
    """The same Redis for Celery, which names a Unix socket `redis+socket://` where redis-py
    says `unix://` (and its database `virtual_host` where redis-py says `db`)."""
    parts = urlsplit(redis_url)
    if parts.scheme != "unix":
        return redis_url
    query = "&".join(
        f"virtual_host={value}" if name == "db" else f"{name}={value}" for name, value in parse_qsl(parts.query)
    )
    return f"redis+socket://{parts.path}" + (f"?{query}" if query else "")


@functools.cache
def get_settings() -> Settings:
    """The process's settings, read from the environment (and the env file) once."""
    return Settings.from_env(process_environment())


def env_file_path(environ: Mapping[str, str] = os.environ) -> Path:
    """Where `/setup` writes the App's credentials and both processes read them."""
    return Path(environ.get("GOREEF_ENV_FILE") or ".env")


def read_env_file(path: Path) -> dict[str, str]:
    """`NAME=value` lines (a value may be in double quotes; `#` starts a comment line); {} when there is no file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    values = {}
    for line in text.splitlines():
        name, equals, value = line.strip().removeprefix("export ").partition("=")
        if equals and name and not name.startswith("#"):
            value = value.strip()
            values[name.strip()] = value[1:-1] if len(value) > 1 and value[0] == value[-1] == '"' else value
    return values


def process_environment() -> dict[str, str]:
    """The environment, over the env file: what a process reads its settings from."""
    return {**read_env_file(env_file_path()), **os.environ}


def _app_id(environ: Mapping[str, str], problems: list[str]) -> int:
    raw = environ.get("GITHUB_APP_ID", "").strip()
    if not raw:
        problems.append("GITHUB_APP_ID is not set: use the App ID shown on the App's settings page")
    elif not raw.isdigit() or int(raw) == 0:
        problems.append(f"GITHUB_APP_ID must be a positive integer, got {raw!r}")
    else:
        return int(raw)
    return 0


def _private_key(environ: Mapping[str, str], problems: list[str]) -> str:
    inline = environ.get("GITHUB_PRIVATE_KEY", "")
    path = environ.get("GITHUB_PRIVATE_KEY_PATH", "")
    if inline and path:
        problems.append("set only one of GITHUB_PRIVATE_KEY and GITHUB_PRIVATE_KEY_PATH")
        return ""
    if path:
        source = "GITHUB_PRIVATE_KEY_PATH"
        try:
            pem = Path(path).read_text()
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"GITHUB_PRIVATE_KEY_PATH: cannot read {path}: {exc.strerror or exc}")
            return ""
    elif inline:
        source = "GITHUB_PRIVATE_KEY"
        # Platforms that take one-line values carry the PEM with escaped newlines.
        pem = inline.replace("\\n", "\n")
    else:
        problems.append("GITHUB_PRIVATE_KEY or GITHUB_PRIVATE_KEY_PATH must be set to the App's private key (PEM)")
        return ""
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        problems.append(f"{source} is not a PEM private key without a passphrase")
        return ""
    if not isinstance(key, RSAPrivateKey):
        problems.append(f"{source} must be an RSA key (GitHub signs App JWTs with RS256)")
        return ""
    return pem


def _url(
    environ: Mapping[str, str], name: str, schemes: set[str], problems: list[str], *, required: bool = False
) -> str | None:
    raw = environ.get(name, "").strip()
    if not raw:
        if required:
            problems.append(f"{name} is not set")
        return None
    parts = urlsplit(raw)
    if parts.scheme not in schemes or not (parts.netloc or parts.path):
        problems.append(
            f"{name} must be a URL starting with {' or '.join(sorted(f'{s}://' for s in schemes))}, got {raw!r}"
        )
        return None
    return raw.rstrip("/")


def _tuning(environ: Mapping[str, str], problems: list[str]) -> dict[str, int | float]:
    return {
        name: value
        for name, (variable, kind) in TUNING_VARIABLES.items()
        if (value := _positive(environ, variable, kind, problems)) is not None
    }


def _positive(
    environ: Mapping[str, str], name: str, kind: type[int] | type[float], problems: list[str]
) -> int | float | None:
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    try:
        value = kind(raw)
    except ValueError:
        value = -1
    if not 0 < value < float("inf"):
        problems.append(f"{name} must be a positive {'integer' if kind is int else 'number'}, got {raw!r}")
        return None
    return value
