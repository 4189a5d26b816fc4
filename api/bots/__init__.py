"""The chat bots: Slack (Events API, slack-bolt), DingTalk (HTTP callback and Stream mode) and Feishu
(event callback and long connection, lark-oapi).

They only translate: a chat message becomes a question to the one Assistant, as the role the
chat user maps to in the server config, and the Answer is rendered for the platform
(:mod:`api.bots.render`). Nothing here plans, queries or formats numbers on its own.
"""
