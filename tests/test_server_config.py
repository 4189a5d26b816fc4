"""The server config: users, credentials and roles, demo mode, errors that name the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.server.config import ConfigError, load_config

CONFIG = """
users:
  - name: alice
    role: finance
    api_keys: ["k-alice"]
    slack_ids: ["U1"]
  - name: bob
    role: store_manager
    store: st_sh01
    api_keys: ["k-bob"]
    dingtalk_ids: ["staff9"]
    feishu_ids: ["ou_bob", "bob-user-id"]
slack:
  signing_secret: "s3cret-signing"
  bot_token: "xoxb-123"
feishu:
  app_id: "cli_app"
  app_secret: "s3cret-feishu"
  encrypt_key: "s3cret-key"
  verification_token: "s3cret-token"
"""


def test_users_by_credential_and_chat_id(tmp_path: Path) -> None:
    path = tmp_path / "server.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    config = load_config(path)
    assert not config.demo_mode
    assert config.by_api_key("k-bob").principal.store_id == "st_sh01"
    assert config.by_api_key("nope") is None
    assert config.by_slack_id("U1").name == "alice" and config.by_dingtalk_id("staff9").name == "bob"
    assert config.by_feishu_ids("ou_other", "bob-user-id", None).name == "bob"
    assert config.by_feishu_ids("ou_alice", None, "") is None and config.by_feishu_ids() is None
    assert config.feishu is not None and config.feishu.callback_mode and not config.feishu.long_connection
    assert "s3cret" not in repr(config) and "k-alice" not in repr(config)


def test_no_file_is_demo_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHATBI_SERVER_CONFIG", raising=False)
    assert load_config().demo_mode


@pytest.mark.parametrize(
    ("text", "message"),
    [("users: [", "not valid YAML"), ("users: [{role: admin}]", "users.0.name"), ("nobody: 1", "nobody")],
)
def test_bad_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "server.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
