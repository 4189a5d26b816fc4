"""Typed refusals of the compiler: each carries a message a business user can act on."""

from __future__ import annotations


class QueryError(ValueError):
    """A MetricQuery the governed model cannot answer as asked."""

    kind = "invalid_query"


class UnknownMetricError(QueryError):
    kind = "unknown_metric"

    def __init__(self, message: str, suggestions: list[str]) -> None:
        super().__init__(message)
        self.suggestions = suggestions


class UnknownDimensionError(QueryError):
    kind = "unknown_dimension"

    def __init__(self, message: str, suggestions: list[str]) -> None:
        super().__init__(message)
        self.suggestions = suggestions


class UnsupportedCutError(QueryError):
    """A metric cut or filtered by a dimension it cannot take (it would fan out)."""

    kind = "unsupported_cut"

    def __init__(self, message: str, metric: str, dimension: str, allowed: list[str]) -> None:
        super().__init__(message)
        self.metric = metric
        self.dimension = dimension
        self.allowed = allowed


class PolicyDeniedError(QueryError):
    """The principal's role may not read this metric, or these rows."""

    kind = "policy_denied"


class ShareNotDefinedError(QueryError):
    """A share of total (占比) asked of a metric that is not a sum or a count (a ratio, an average)."""

    kind = "share_not_defined"

    def __init__(self, message: str, metric: str) -> None:
        super().__init__(message)
        self.metric = metric


class UnknownEventError(QueryError):
    """An event the model does not know, or a year the model has no dates for (春节 2019)."""

    kind = "unknown_event"

    def __init__(self, message: str, event: str, year: int | None) -> None:
        super().__init__(message)
        self.event = event
        self.year = year


class UnknownAttributeError(QueryError):
    """An attribute the listed dimension does not declare (or a dimension without attributes)."""

    kind = "unknown_attribute"

    def __init__(self, message: str, suggestions: list[str]) -> None:
        super().__init__(message)
        self.suggestions = suggestions
