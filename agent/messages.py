"""What the assistant says when it does not run a query, in the question's language."""

from __future__ import annotations

_TEXTS: dict[str, dict[str, str]] = {
    "help": {
        "zh": "我可以回答销售、库存、财务和营销指标的问题,例如:“上个月天猫的毛利率?”“各品类的库存周转天数”"
        "“近30天销售额趋势”“现金转换周期同比变化”。输入 chatbi metrics 可查看全部指标和口径。",
        "en": "I answer questions about sales, inventory, finance and marketing metrics, for example "
        '"gross margin on Tmall last month", "days of inventory by category", "GMV trend over the last 30 days", '
        '"cash conversion cycle vs last year". Run chatbi metrics to see every metric and its definition.',
    },
    "greeting": {
        "zh": "您好!我是 chatbi,零售数据分析助手。",
        "en": "Hello! I am chatbi, a retail analytics assistant.",
    },
    "out_of_scope": {
        "zh": "抱歉,这个问题不在我能回答的范围内:我只回答公司经营数据的问题。",
        "en": "Sorry, that is outside what I can answer: I only answer questions about the business's data.",
    },
    "data_change": {
        "zh": "抱歉,我只能读取数据,不能新增、修改或删除任何数据。如需更正数据,请联系数据负责人。",
        "en": "Sorry, I can only read data; I cannot insert, change or delete anything. "
        "Please ask the data owner to correct data.",
    },
    "injection": {
        "zh": "抱歉,我不能执行这个请求:我只按统一的指标口径回答业务问题,不会改变我的规则,也不会直接访问底层数据表。",
        "en": "Sorry, I can't do that: I answer business questions with the governed metric definitions only; "
        "I do not change my rules or query raw tables.",
    },
    "unknown_metric": {
        "zh": "抱歉,“{word}”不是已定义的指标,我无法按统一口径回答。",
        "en": 'Sorry, "{word}" is not a governed metric, so I cannot answer it with an agreed definition.',
    },
    "did_you_mean": {"zh": "您是不是想问:{options}?", "en": "Did you mean: {options}?"},
    "which_metric": {
        "zh": "您想看哪个指标?例如:{options}。",
        "en": "Which metric would you like? For example: {options}.",
    },
    "ambiguous_metric": {
        "zh": "“{word}”可以指以下几个指标,您想看哪一个?",
        "en": '"{word}" can mean several metrics. Which one do you mean?',
    },
    "disjoint_periods": {
        "zh": "{periods}不相连,一次查询只能覆盖一段连续的时间。您想看哪一段?",
        "en": "{periods} are not next to each other, and one query covers one continuous period. Which would you like?",
    },
    "ambiguous_member": {
        "zh": "“{word}”对应多个{kind},您指的是哪一个?",
        "en": '"{word}" matches several {kind}s. Which one do you mean?',
    },
    "no_days_yet": {
        "zh": "“{label}”在参考日期 {today} 之前还没有完整的一天,暂无数据。数据截至 {today} 的前一天。",
        "en": '"{label}" has no complete day before the reference date {today}, so there is no data for it yet.',
    },
    "cannot_cut": {
        "zh": "{metric}不能按{dimension}拆分或筛选:它的口径读取的数据里没有这个维度。{metric}可以按{allowed}查看。",
        "en": "{metric} cannot be broken down or filtered by {dimension}: the data its definition reads has no "
        "{dimension}. {metric} can be cut by {allowed}.",
    },
    "metric_denied": {
        "zh": "抱歉,您的角色({role})无权查看{metric}。您可以查看:{allowed}。",
        "en": "Sorry, your role ({role}) may not see {metric}. You can ask about: {allowed}.",
    },
    "rows_denied": {
        "zh": "抱歉,您的角色({role})只能查看本店({store})的数据。",
        "en": "Sorry, your role ({role}) may only see the data of your store ({store}).",
    },
    "invalid": {
        "zh": "抱歉,这个问题我无法按口径回答:{reason}",
        "en": "Sorry, I cannot answer that with the governed definitions: {reason}",
    },
    "why_nothing": {
        "zh": "我能给出指标的分解和对比,但无法直接判断原因。请告诉我想看哪个指标,例如“现金转换周期为什么变长了?”。",
        "en": "I can break a metric down and compare periods, but not state causes by myself. "
        'Tell me which metric, e.g. "why did the cash conversion cycle get longer?".',
    },
    "verified": {
        "zh": "已核验答案(核验人:{by},{day})。",
        "en": "Verified answer (verified by {by} on {day}). ",
    },
    "ignored": {
        "zh": "注意:问题中的“{words}”我没有理解,以下结果没有考虑它。",
        "en": 'Note: I did not understand "{words}", so the result below leaves it out. ',
    },
    "not_understood": {
        "zh": "我理解的是:{reading};但问题中的{words}我没有理解,为免答非所问,请确认。",
        "en": "I understood: {reading}; but not {words}, so rather than answer a broader question I am asking.",
    },
    "maybe": {"zh": "“{word}”可能是指:", "en": ' "{word}" may mean one of these:'},
    "without_words": {"zh": "不考虑{words}: {reading}", "en": "Leave out {words}: {reading}"},
    "read_as": {"zh": "“{word}”按“{surface}”理解。", "en": 'Read "{word}" as "{surface}". '},
    "share_which_dimension": {
        "zh": "占比是分项占合计的比例,您想按哪个维度看占比?",
        "en": "A share is each part's share of the total. Which breakdown would you like the shares of?",
    },
    "share_needs_breakdown": {
        "zh": "占比需要按某个维度拆分,这个指标没有可拆分的维度。",
        "en": "A share needs a breakdown, and this metric has none.",
    },
    "which_dimension": {"zh": "您想列出哪一类的成员?", "en": "Which members would you like listed?"},
    "listing": {"zh": "列出各{dimension}及其属性", "en": "a list of {dimension}s with their attributes"},
    "tools_busy": {
        "zh": "分析工具正忙(其他分析正在运行或排队),请约 {seconds} 秒后再问一次;指标类问题不受影响,可以照常提问。",
        "en": "The analysis tools are busy (other analyses are running or waiting); please ask again in about "
        "{seconds} s. Metric questions are not affected and are answered as usual.",
    },
    "unknown_tool": {
        "zh": "抱歉,没有名为 {tool} 的分析工具。可用的有:补货建议、价格弹性与定价、现金转换周期分析。",
        "en": "Sorry, there is no analysis tool called {tool}. "
        "Available: replenishment, price elasticity, cash conversion cycle.",
    },
    "tool_unscoped": {
        "zh": "{tool}不能按{dimensions}筛选{allowed},问题中的{words}用不上。",
        "en": "The {tool} cannot be narrowed by {dimensions}{allowed}, so {words} would be left out.",
    },
    "tool_no_exclude": {
        "zh": "{tool}只能选定成员、不能排除成员,问题中的{words}用不上。",
        "en": "The {tool} can be narrowed to members but cannot leave any out, so {words} would be ignored.",
    },
    "tool_scopes": {"zh": "(只能按{allowed})", "en": " (only by {allowed})"},
    "tool_no_scope": {"zh": "(它不按任何维度筛选)", "en": " (it takes no filter)"},
    "tool_no_breakdown": {
        "zh": "{tool}不按{dimensions}拆分,问题中的{words}用不上。",
        "en": "The {tool} is not broken down by {dimensions}, so {words} would be left out.",
    },
    "tool_other_metrics": {
        "zh": "{tool}不包含{words}。",
        "en": "The {tool} does not show {words}.",
    },
    "tool_one_member": {
        "zh": "{tool}一次看一个{dimension},您想先看哪一个?",
        "en": "The {tool} looks at one {dimension} at a time; which one first?",
    },
    "tool_ask": {
        "zh": "为免答非所问,请确认。",
        "en": "Rather than answer a broader question, I am asking.",
    },
    "follow_up_unclear": {
        "zh": "抱歉,我没理解这个追问要改变什么。可以换个说法,例如“那京东呢?”“按月拆开”“去年呢?”。",
        "en": 'Sorry, I did not understand what to change. Try e.g. "what about JD?", "by month", "and last year?".',
    },
}


def say(key: str, language: str, **values: object) -> str:
    return _TEXTS[key][language].format(**values)
