"""Settings from the environment: every problem named at once, secrets kept out of repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from appcore.settings import DEFAULT_GITHUB_API_URL, Settings, SettingsError, read_env_file


@pytest.fixture
def environ(private_key_pem: str) -> dict[str, str]:
    return {
        "GITHUB_APP_ID": "4242",
        "GITHUB_PRIVATE_KEY": private_key_pem,
        "GITHUB_WEBHOOK_SECRET": "s3cret",
        "REDIS_URL": "redis://127.0.0.1:7000/0",
    }


def test_a_complete_environment(environ: dict[str, str], private_key_pem: str) -> None:
    settings = Settings.from_env(environ | {"GOREEF_DOCS_URL": "https://goreef.example/rules/"})

    assert (settings.app_id, settings.private_key, settings.webhook_secret) == (4242, private_key_pem, "s3cret")
    assert settings.github_api_url == DEFAULT_GITHUB_API_URL
    assert settings.docs_url == "https://goreef.example/rules"
    assert private_key_pem not in repr(settings) and "s3cret" not in repr(settings)


def test_every_missing_variable_is_named_at_once() -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env({})

    assert [problem.split()[0] for problem in error.value.problems] == [
        "GITHUB_APP_ID",
        "GITHUB_PRIVATE_KEY",
        "GITHUB_WEBHOOK_SECRET",
        "REDIS_URL",
    ]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GITHUB_APP_ID", "abc", "GITHUB_APP_ID must be a positive integer, got 'abc'"),
        ("GITHUB_PRIVATE_KEY", "not a key", "GITHUB_PRIVATE_KEY is not a PEM private key without a passphrase"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL must be a URL starting with"),
        ("GITHUB_API_URL", "ftp://ghe.example", "GITHUB_API_URL must be a URL starting with http:// or https://"),
        ("GOREEF_DOCS_URL", "docs", "GOREEF_DOCS_URL must be a URL"),
        (
            "GITHUB_PRIVATE_KEY_PATH",
            "/nonexistent.pem",
            "set only one of GITHUB_PRIVATE_KEY and GITHUB_PRIVATE_KEY_PATH",
        ),
        ("GOREEF_RETRY_DELAY", "soon", "GOREEF_RETRY_DELAY must be a positive number, got 'soon'"),
        ("GOREEF_TASK_TIME_LIMIT", "-5", "GOREEF_TASK_TIME_LIMIT must be a positive number, got '-5'"),
        ("GOREEF_WRITES_PER_MINUTE", "1.5", "GOREEF_WRITES_PER_MINUTE must be a positive integer, got '1.5'"),
    ],
)
def test_a_malformed_variable_says_what_is_wrong(environ: dict[str, str], name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env(environ | {name: value})

    [problem] = error.value.problems
    assert problem.startswith(message)


def test_the_key_can_come_from_a_file_or_one_escaped_line(
    environ: dict[str, str], private_key_pem: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "app.pem"
    key_file.write_text(private_key_pem)
    without_key = {k: v for k, v in environ.items() if k != "GITHUB_PRIVATE_KEY"}

    from_file = Settings.from_env(without_key | {"GITHUB_PRIVATE_KEY_PATH": str(key_file)})
    one_line = Settings.from_env(environ | {"GITHUB_PRIVATE_KEY": private_key_pem.replace("\n", "\\n")})

    assert from_file.private_key == one_line.private_key == private_key_pem
    with pytest.raises(SettingsError, match=r"cannot read /nonexistent\.pem"):
        Settings.from_env(without_key | {"GITHUB_PRIVATE_KEY_PATH": "/nonexistent.pem"})


def test_tuning_has_production_defaults_and_can_be_set(environ: dict[str, str]) -> None:
    defaults = Settings.from_env(environ)
    tuned = Settings.from_env(
        environ
        | {"GOREEF_TASK_TIME_LIMIT": "20", "GOREEF_WRITES_PER_MINUTE": "500", "GOREEF_VISIBILITY_TIMEOUT": "2.5"}
    )

    assert (defaults.task_time_limit, defaults.redelivery_after, defaults.writes_per_minute) == (300, 600, 80)
    assert (tuned.task_time_limit, tuned.redelivery_after, tuned.writes_per_minute) == (20, 2.5, 500)


@pytest.mark.parametrize(
    ("redis_url", "celery"),
    [
        ("redis://127.0.0.1:7000/0", "redis://127.0.0.1:7000/0"),
        ("unix:///run/goreef/redis.sock", "redis+socket:///run/goreef/redis.sock"),
        ("unix:///run/goreef/redis.sock?db=2", "redis+socket:///run/goreef/redis.sock?virtual_host=2"),
    ],
)
def test_celery_reaches_a_unix_socket_under_its_own_scheme(
    environ: dict[str, str], redis_url: str, celery: str
) -> None:
    settings = Settings.from_env(environ | {"REDIS_URL": redis_url})

    assert (settings.redis_url, settings.celery_redis_url) == (redis_url, celery)


def test_the_env_file_is_read_as_procfile_runners_read_it(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        '# a comment\nGITHUB_APP_ID=12\nexport PORT=8080\nGITHUB_PRIVATE_KEY="-----BEGIN\\nKEY\\n"\nEMPTY=\n\nnot a line\n'
    )

    assert read_env_file(env_file) == {
        "GITHUB_APP_ID": "12",
        "PORT": "8080",
        "GITHUB_PRIVATE_KEY": "-----BEGIN\\nKEY\\n",
        "EMPTY": "",
    }
    assert read_env_file(tmp_path / "missing.env") == {}
