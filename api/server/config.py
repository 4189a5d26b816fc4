"""Who may ask, as whom: the server's users, their credentials and roles, and the bots' secrets.

One YAML file (``chatbi serve --config PATH`` or ``$CHATBI_SERVER_CONFIG``)::

    users:
      - name: alice
        role: finance                 # admin | finance | marketing | store_manager
        api_keys: ["k-alice-1"]       # X-API-Key: ... or Authorization: Bearer ...
        slack_ids: ["U024BE7LH"]
        dingtalk_ids: ["manager4321"]
      - name: bob
        role: store_manager
        store: st_sh01
        api_keys: ["k-bob-1"]
    public_url: "https://bi.example.com/"  # download links in bot replies (default: the request's address)
    slack:
      signing_secret: "..."
      bot_token: "xoxb-..."
      api_base: "https://slack.com/api/"   # tests point it at a loopback server
    dingtalk:
      app_secret: "..."                    # the robot's AppSecret: signs callbacks
      client_id: "..."                     # Stream mode (optional)
      sign_window_s: 3600                  # callback timestamp tolerance, at most DingTalk's hour
      webhook_hosts: [oapi.dingtalk.com, api.dingtalk.com]   # where replies may go (the default)

Without a file the server runs in demo mode: everyone is admin, and it listens on loopback only.
Secrets are never printed: ``repr`` of these objects hides them.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from semantic_layer.query import Principal


class ConfigError(ValueError):
    """The server's config file is missing, unreadable or invalid (message names the problem)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class User(_Strict):
    name: str
    role: str = "admin"
    store: str | None = None
    api_keys: list[SecretStr] = Field(default_factory=list)
    slack_ids: list[str] = Field(default_factory=list)
    dingtalk_ids: list[str] = Field(default_factory=list)

    @property
    def principal(self) -> Principal:
        return Principal(role=self.role, store_id=self.store)


class SlackConfig(_Strict):
    signing_secret: SecretStr
    bot_token: SecretStr
    api_base: str = "https://slack.com/api/"


#: Where DingTalk's session webhooks live: a reply goes nowhere else, whatever a callback body names.
DINGTALK_WEBHOOK_HOSTS = ["oapi.dingtalk.com", "api.dingtalk.com"]


class DingTalkConfig(_Strict):
    app_secret: SecretStr
    client_id: str | None = None
    #: How far a callback's timestamp may be from now; DingTalk's own rule (one hour) is the widest allowed.
    sign_window_s: int = Field(default=3600, gt=0, le=3600)
    #: Hosts a sessionWebhook may point at (exact names; tests set their loopback stand-in).
    webhook_hosts: list[str] = Field(default_factory=lambda: list(DINGTALK_WEBHOOK_HOSTS), min_length=1)


class ServerConfig(_Strict):
    users: list[User] = Field(default_factory=list)
    #: The address users reach this server at (behind a proxy, e.g. https://bi.example.com/): the bots' download
    #: links are absolute; unset, a reply links to the address the platform's request came to.
    public_url: str | None = Field(default=None, pattern=r"^https?://")
    slack: SlackConfig | None = None
    dingtalk: DingTalkConfig | None = None

    @property
    def demo_mode(self) -> bool:
        """No users configured: every request is admin, and the server must stay on loopback."""
        return not self.users

    def by_api_key(self, key: str) -> User | None:
        return next((u for u in self.users if any(k.get_secret_value() == key for k in u.api_keys)), None)

    def by_slack_id(self, user_id: str) -> User | None:
        return next((u for u in self.users if user_id in u.slack_ids), None)

    def by_dingtalk_id(self, user_id: str) -> User | None:
        return next((u for u in self.users if user_id in u.dingtalk_ids), None)


def load_config(path: str | os.PathLike[str] | None = None) -> ServerConfig:
    """The config at ``path`` (else ``$CHATBI_SERVER_CONFIG``); demo mode when neither is given."""
    target = path or os.environ.get("CHATBI_SERVER_CONFIG")
    if not target:
        return ServerConfig()
    file = Path(target)
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read server config {file}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"server config {file} is not valid YAML: {str(exc).splitlines()[0]}") from None
    try:
        return ServerConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"server config {file}: {where}: {first['msg']}") from None
