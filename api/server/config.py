"""Who may ask, as whom: the server's users, their credentials and roles, and the bots' secrets.

One YAML file (``chatbi serve --config PATH`` or ``$CHATBI_SERVER_CONFIG``)::

    users:
      - name: alice
        role: finance                 # admin | finance | marketing | store_manager
        api_keys: ["k-alice-1"]       # X-API-Key: ... or Authorization: Bearer ...
        slack_ids: ["U024BE7LH"]
        dingtalk_ids: ["manager4321"]
        feishu_ids: ["ou_7d8a6e6df7621556ce0d21922b676706ccs"]   # open_id (or user_id / union_id)
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
    feishu:
      app_id: "cli_..."
      app_secret: "..."
      long_connection: true                # the SDK's websocket: no public callback needed
      verification_token: "..."            # event-callback mode (POST /feishu/events): both of these
      encrypt_key: "..."
      sign_window_s: 300                   # callback timestamp tolerance
      api_base: "https://open.feishu.cn"   # Lark: https://open.larksuite.com; tests: a loopback server
      public_url: "https://chatbi.example.com"   # the cards' chart button opens the widget page here

Without a file the server runs in demo mode: everyone is admin, and it listens on loopback only.
Secrets are never printed: ``repr`` of these objects hides them.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

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
    feishu_ids: list[str] = Field(default_factory=list)

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


class FeishuConfig(_Strict):
    app_id: str = Field(min_length=1)
    app_secret: SecretStr
    #: The SDK's long connection (a websocket the server dials out on), started by ``chatbi serve``.
    long_connection: bool = False
    #: Event-callback mode (``POST /feishu/events``) needs both: the token inside each event, and the key
    #: that encrypts the body and signs the request (Feishu signs only when an encrypt key is set).
    verification_token: SecretStr | None = None
    encrypt_key: SecretStr | None = None
    #: How far a callback's X-Lark-Request-Timestamp may be from now, in seconds.
    sign_window_s: int = Field(default=300, gt=0, le=3600)
    #: The open API's origin: replies, tenant_access_token and the long connection's endpoint.
    api_base: str = "https://open.feishu.cn"
    #: Where users reach this server (its widget page): a card's chart button opens ``{public_url}/?q=...``.
    #: Without it a card has no chart button (a long connection has no request to take the address from).
    public_url: str | None = None

    @model_validator(mode="after")
    def _one_mode_at_least(self) -> FeishuConfig:
        if (self.verification_token is None) != (self.encrypt_key is None):
            raise ValueError("event-callback mode needs both verification_token and encrypt_key")
        if not self.long_connection and self.encrypt_key is None:
            raise ValueError("set long_connection: true, or verification_token and encrypt_key for event callbacks")
        return self

    @property
    def callback_mode(self) -> bool:
        return self.encrypt_key is not None


class ServerConfig(_Strict):
    users: list[User] = Field(default_factory=list)
    #: The address users reach this server at (behind a proxy, e.g. https://bi.example.com/): the bots' download
    #: links are absolute; unset, a reply links to the address the platform's request came to.
    public_url: str | None = Field(default=None, pattern=r"^https?://")
    slack: SlackConfig | None = None
    dingtalk: DingTalkConfig | None = None
    feishu: FeishuConfig | None = None

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

    def by_feishu_ids(self, *ids: str | None) -> User | None:
        """The user any of a Feishu sender's ids (open_id, user_id, union_id) is listed for."""
        known = [i for i in ids if i]
        return next((u for u in self.users if any(i in u.feishu_ids for i in known)), None)


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
