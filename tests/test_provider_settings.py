"""The server's own LLM providers are configured like every other setting:
Letta's variable names, each also as NAME_FILE (a Docker or Kubernetes
secret), read once into settings.PROVIDER_ENV that every provider lookup uses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from memory.services.providers import provider_config
from tests.engine_helpers import set_provider_env

ROOT = Path(__file__).resolve().parent.parent

PRINT_CONFIG = (
    "import django, json; django.setup(); "
    "from memory.services.providers import provider_config; c = provider_config(); "
    "print(json.dumps([c.openai_api_key, c.openai_base_url, c.anthropic_api_key, "
    "c.is_configured('anthropic')]))"
)


def test_provider_keys_are_read_from_name_file_secrets(tmp_path):
    key_file = tmp_path / "openai_key"
    key_file.write_text("sk-from-a-file\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "ade.settings",
            "OPENAI_API_KEY_FILE": str(key_file),
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
            "ANTHROPIC_API_KEY": "  ",
        }
    )
    out = subprocess.run(
        [sys.executable, "-c", PRINT_CONFIG],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [
        "sk-from-a-file",
        "http://127.0.0.1:9/v1",
        None,
        False,
    ]


def test_provider_config_follows_the_settings_not_the_process_environment(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "set-after-start-up")
    set_provider_env(monkeypatch, "ANTHROPIC_API_KEY", "")
    assert not provider_config().is_configured("anthropic")
    set_provider_env(monkeypatch, "ANTHROPIC_API_KEY", "sk-ant")
    assert provider_config().anthropic_api_key == "sk-ant"
