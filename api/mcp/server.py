"""The MCP server on one Assistant: seven read-only tools and the metric catalog as resources.

Tools: ``list_metrics``, ``list_dimensions``, ``search_members``, ``query_metrics``, ``compiled_sql``,
``ask`` and ``run_analysis``. Their inputs are the project's own pydantic models (MetricQuery, each
analysis tool's Arguments), so an MCP client sees the same typed schema the planners fill, and every
query runs through the same compiler, policies and result cache as ``/v1/ask``. Every tool result
carries ``definitions``: the governed definitions of the metrics it used (none for the catalogs of
dimensions and members). A refusal (unknown metric, a cut a metric cannot take, a policy denial) is a
tool error whose text is the compiler's sentence.

Who asks is never an argument. A stdio server is built for one caller (the configured user, or the
demo admin); the HTTP mount builds it for none and sets :data:`CALLER` per request from the API key,
and a call that arrives with neither is refused, so a missing caller never means admin.

"""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from importlib.metadata import version
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from agent.answer import Answer
from agent.assistant import Assistant
from agent.conversation_store import StoreUnavailable
from agent.metric_runner import compile_cached, definitions
from agent.plan import QueryPlan, ToolCall
from api.catalog import readable_dimensions, readable_metric, readable_metrics, role_of
from api.mcp import members
from api.mcp.analysis import analysis_request
from api.server.auth import Caller
from api.server.schemas import CONVERSATION_ID
from presentation.language import Language
from semantic_layer.errors import QueryError
from semantic_layer.query import MetricQuery

#: The caller of the HTTP request being served, set by the ``/mcp`` mount (api/mcp/http.py).
CALLER: ContextVar[Caller | None] = ContextVar("chatbi_mcp_caller", default=None)

LanguageArg = Annotated[Language, Field(description="Language of the answer text and the definitions.")]
#: The parts of an answer object a client of ``query_metrics`` and ``run_analysis`` reads.
RESULT_FIELDS = {"text", "columns", "rows", "labels", "display", "definitions", "period", "sql", "cached", "data_version"}
CATALOG_URI = "chatbi://metrics"
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)

INSTRUCTIONS = """chatbi answers retail questions with governed metrics: every number comes from one
definition in the semantic layer, computed with the caller's role and row filters applied.
Start with list_metrics and list_dimensions; turn names people use (a product, a store, a channel) into
member keys with search_members; then query_metrics with a MetricQuery (compiled_sql shows its SQL
without running it). ask takes a question in Chinese or English through chatbi's own planner;
run_analysis runs replenishment, price elasticity or the cash conversion cycle."""


def build_server(assistant: Assistant, caller: Caller | None) -> MCPServer:
    """The server answering as ``caller`` (stdio), or as each HTTP request's :data:`CALLER` (``None``)."""
    model = assistant.model
    server = MCPServer(
        "chatbi", title="chatbi governed metrics", instructions=INSTRUCTIONS, version=version("chatbi"),
        log_level="WARNING",
    )  # fmt: skip

    def current() -> Caller:
        found = CALLER.get() or caller
        if found is None:
            raise ToolError("no authenticated caller: send the API key with every MCP request")
        return found

    def cited(metric_ids: list[str], language: str) -> list[dict[str, Any]]:
        return [d.model_dump() for d in definitions(metric_ids, model, "en" if language == "en" else "zh")]

    @server.tool(annotations=READ_ONLY)
    def list_metrics(language: LanguageArg = "zh") -> dict[str, Any]:
        """The governed metrics your role may read: names (中文/English), definition, formula, format (the unit:
        cny, percent, days, count, ratio), domain, owner, and can_break_down_by (the dimensions and time each
        can be cut and filtered by)."""
        try:
            catalog = readable_metrics(model, current().principal)
        except QueryError as exc:
            raise ToolError(str(exc)) from None
        return {"metrics": catalog, "definitions": cited([m["id"] for m in catalog], language)}

    @server.tool(annotations=READ_ONLY)
    def list_dimensions() -> dict[str, Any]:
        """The time grains and the dimensions: names, the members the model declares, the attributes your role
        may read, which of your metrics each can cut, and whether your role is limited to one member of it."""
        try:
            return {**readable_dimensions(model, current().principal), "definitions": []}
        except QueryError as exc:
            raise ToolError(str(exc)) from None

    @server.tool(annotations=READ_ONLY)
    def search_members(
        mention: Annotated[str, Field(min_length=1, max_length=200, description="A name as people write it.")],
        dimension: Annotated[
            str | None, Field(description="Only members of this dimension (one master data indexes); none: any.")
        ] = None,
    ) -> dict[str, Any]:
        """Resolve a product, store, city, category, brand, channel... name to the member keys query_metrics
        filters take: exact, fuzzy (with a score), ambiguous (several members share the name: pick one from
        candidates) or not_found (with suggestions)."""
        kinds = assistant.master.kinds  # the dimensions the model indexes
        if dimension is not None and dimension not in kinds:
            raise ToolError(f"master data resolves {', '.join(kinds)}; not '{dimension}'")
        principal = current().principal
        try:
            role = role_of(model, principal)
        except QueryError as exc:
            raise ToolError(str(exc)) from None
        found = members.resolution(assistant.master, mention, [dimension] if dimension else None, role, principal)
        return {**found, "definitions": []}

    @server.tool(annotations=READ_ONLY)
    def query_metrics(query: MetricQuery, language: LanguageArg = "zh") -> dict[str, Any]:
        """Compute governed metrics: a MetricQuery (metrics, dimensions, grain, filters with member keys from
        search_members, period, compare yoy/pop, share, order_by, limit). Returns the answer text, columns,
        rows (a <dimension>_name column follows each coded dimension), the definitions used, the period and
        the SQL that ran. Your role's row filters are applied as on every other channel."""
        answer = assistant.answer_plan(QueryPlan(query=query), principal=current().principal, language=language)
        return _result(answer)

    @server.tool(annotations=READ_ONLY)
    def compiled_sql(query: MetricQuery, language: LanguageArg = "zh") -> dict[str, Any]:
        """The SQL a MetricQuery would run, in the warehouse engine's dialect and with your role's row filters,
        for review: it is compiled, not executed."""
        engine = assistant.engine
        try:
            compiled = compile_cached(query, model, current().principal, engine.dialect)
        except QueryError as exc:
            raise ToolError(str(exc)) from None
        return {
            "sql": compiled.sql, "dialect": engine.dialect, "columns": compiled.columns,
            "definitions": cited(query.metrics, language),
        }  # fmt: skip

    @server.tool(annotations=READ_ONLY)
    def ask(
        question: Annotated[str, Field(min_length=1, max_length=2000, description="In Chinese or English.")],
        conversation_id: Annotated[
            str | None,
            Field(pattern=CONVERSATION_ID, description="The id of an earlier answer, to ask a follow-up."),
        ] = None,
    ) -> dict[str, Any]:
        """Ask a question through chatbi's planner, as the web widget and /v1/ask do. Returns the whole answer
        object: status (answer, clarification with options, refusal), text, the plan, SQL, columns, rows,
        chart, definitions, period, and the conversation_id a follow-up sends back."""
        who = current()
        conversation = conversation_id or uuid.uuid4().hex
        try:
            answer = assistant.ask(
                question,
                conversation_id=f"mcp/{who.name}/{conversation}",  # per user: another's id reads nothing
                principal=who.principal,
                new_conversation=conversation_id is None,
            )
        except StoreUnavailable as exc:
            raise ToolError(f"the conversation store cannot be read right now, ask again shortly ({exc})") from None
        if answer.status == "error":
            raise ToolError(answer.text)
        return {**answer.model_dump(mode="json"), "conversation_id": conversation}

    def run_analysis(analysis: Any, language: LanguageArg = "zh") -> dict[str, Any]:
        """Run an analysis tool: replenishment (what to reorder, slow movers, overstock per SKU x warehouse),
        elasticity (price elasticity and the gross-profit-maximising price by category or SKU) or ccc (the
        cash conversion cycle, its trend, AR/AP aging and alerts), each with its own arguments."""
        call = ToolCall(tool=analysis.tool, arguments=analysis.arguments.model_dump(mode="json", exclude_defaults=True))
        return _result(assistant.answer_plan(call, principal=current().principal, language=language))

    # Its input is the union of the registered tools' calls, a type built at run time: the SDK reads the
    # signature when the tool is added, and keeps a non-string annotation as it is.
    run_analysis.__annotations__["analysis"] = analysis_request()
    server.add_tool(run_analysis, annotations=READ_ONLY)

    @server.resource(CATALOG_URI, name="metric catalog", mime_type="application/json")
    def catalog() -> list[dict[str, Any]]:
        """Every governed metric your role may read, with its definition, format and cuts."""
        try:
            return readable_metrics(model, current().principal)
        except (QueryError, ToolError) as exc:
            raise ResourceError(str(exc)) from None

    @server.resource(CATALOG_URI + "/{metric_id}", name="metric definition", mime_type="application/json")
    def metric(metric_id: str) -> dict[str, Any]:
        """One governed metric: names, definition, formula, format, domain, owner and the cuts it takes."""
        try:
            return readable_metric(model, current().principal, metric_id)
        except (QueryError, ToolError) as exc:
            raise ResourceError(str(exc)) from None

    return server


def _result(answer: Answer) -> dict[str, Any]:
    """A governed answer as a tool result; a refusal or an error is a tool error saying why (and what to try)."""
    if answer.status != "answer":
        unsaid = [option for option in answer.options if option not in answer.text]
        raise ToolError(answer.text + (f" (try: {', '.join(unsaid)})" if unsaid else ""))
    return answer.model_dump(mode="json", include=RESULT_FIELDS)
