"""The function words of a question, in Chinese and English: what is asked of the metrics.

The semantic model supplies the content words (metrics, dimensions, members); these
patterns catch how people ask for rankings, comparisons, breakdowns and follow-ups, and
what the assistant must decline (data changes, instruction overrides, small talk).
Every pattern is matched on NFKC-normalised, case-folded text.
"""

from __future__ import annotations

import re

from agent.regex_cache import PatternSet

# Python's \b treats Chinese characters as word characters, so "YoY呢" would have no boundary
# after "yoy". Patterns here write \b and mean an ASCII word boundary.
_ASCII_BOUNDARY = r"(?:(?<![a-z0-9])(?=[a-z0-9])|(?<=[a-z0-9])(?![a-z0-9]))"


#: Compiled together on first use, from the disk cache when it has them (agent/regex_cache.py).
_PATTERNS = PatternSet("cues")


def _rx(pattern: str) -> re.Pattern[str]:
    return _PATTERNS.pattern(pattern.replace(r"\b", _ASCII_BOUNDARY))


_NUM = r"(?:\d+|[一二两三四五六七八九十]+)"
_EN_NUM = r"one|two|three|four|five|six|seven|eight|nine|ten"

# -- comparisons --------------------------------------------------------------------------
YOY = _rx(
    r"同比(?:增长|增速|变化|下降|上升)?|(?:和|跟|与|比|较|相比|对比)(?:前一年|上一年|上年)(?:同期)?(?:相比|比)?|(?:和|跟|与|比|较|相比|对比)?去年同期(?:相比|比|对比)?|比去年|较去年|跟去年比|和去年比|(?:vs\.?|versus|对比)\s*去年"
    r"|\byoy\b|\by-o-y\b|year[- ]over[- ]year|year[- ]on[- ]year"
    r"|(?:vs\.?|versus|compared? (?:to|with)|against|than) (?:the )?(?:same (?:period|time|month|quarter|dates|days|weeks) )?(?:of |in )?(?:last year|the (?:previous|prior) year|the year before|a year (?:ago|earlier|before))"
    r"|(?:vs\.?|versus|compared? (?:to|with)|against) (?:the )?same (?:period|time|dates) (?:a )?year (?:ago|earlier|before)"
)
POP = _rx(
    r"环比(?:增长|增速|变化|下降|上升)?|(?:和|跟|与|比|较)上(?:个)?(?:月|周|季度|期)(?:相比|比)?"
    r"|\bmom\b|\bqoq\b|\bwow\b|month[- ]over[- ]month|month[- ]on[- ]month|quarter[- ]over[- ]quarter|quarter[- ]on[- ]quarter"
    r"|week[- ]over[- ]week|week[- ]on[- ]week"
    r"|period[- ]over[- ]period|period[- ]on[- ]period"
    r"|(?:和|跟|与|比|较)(?:前一|上一|之前|此前|前)(?:个)?(?:\s*\d+\s*天|[一二两三四五六七八九十]+天|月|周|星期|季度|期|段时间)(?:相比|比)?"
    r"|(?:vs\.?|versus|compared? (?:to|with)|against|than) (?:the )?(?:previous|prior|last|preceding|the) (?:\d+ days|\d+ weeks|month|week|quarter|period)(?: before\b)?"
    r"|(?:比|较|和|跟|与|vs\.?|对比|相比)\s*(?:再)?(?:前一|上一)(?:个)?(?:月|周|星期|季度)"
)
#: How much a comparison moved ("增长了多少", "growth"): part of a comparison already asked for.
GROWTH = _rx(r"增长率|增长|增幅|涨幅|变化|\bgrowth\b|\bchange\b|\bchanged\b|\bincrease\b|\bdecrease\b")

#: Right before a period it names what the asked period is compared with: "Q4比Q3", "Q4 compared with Q3".
COMPARE_BEFORE = _rx(r"(?:相比|相较于?|对比|比|较|\bcompared? (?:to|with)|\bversus|\bvs\.?|\bagainst)\s*$")
#: Around a period it names what the asked period is compared with: "跟一月比", "和前年相比".
COMPARE_AROUND = (_rx(r"(?:和|跟|与|同)\s*$"), _rx(r"^\s*(?:相比|比较|对比|比)(?![例重])"))

# -- share of total ("占比", "mix"): each row's part of all rows the filters select ------------------
SHARE = _rx(
    r"占比|份额|比重|占多少|占了多少|贡献(?:度|率|占比)?|构成|结构|(?:怎么|如何)分配(?:的)?"
    r"|(?:\bas\s+(?:a\s+)?)?(?:%|\bpercent(?:age)?)\s+of\s+(?:the\s+)?(?:total|all)\b|\bshare(?:s)?(?:\s+of(?:\s+(?:the\s+)?total)?)?\b|\bmix\b|\bcontribution\b|\bcontribut(?:e|es|ed)\b"
)

#: "各占营收的几成", "占总销量的比例", "占全部库存的比例": the share's start (read before metric names,
#: so the total's own words, "总", "全部", are not a scope) and its end (read once a start was seen).
SHARE_OF = _rx(r"(?:各|分别)?占(?!比|用|据|领)(?:了)?(?:总额|总数|总量|总体|整体|全部的?|所有的?|全年的?|总的?)?")
SHARE_END = _rx(r"(?:的)?(?:比例|比重|占比|百分之几|百分比|几成|份额|多少)|%")
SHARE_EN = _rx(
    r"\bwhat (?:share|percentage|percent|portion|proportion|fraction)\b|\b(?:their|its|the) shares?\b|\bpercentages?\b"
    r"|\bin %|\bin percent\b|\bas (?:a )?(?:%|percentage)\b|(?<![0-9a-z])%(?!\s*of)"
    r"|(?:%|\bpercent(?:age)?)\s+of\s+(?:the\s+)?(?:full|whole)\s+year\b|\bsplit\b"
)

# -- distributive words ("各", "每个", "each"): one row per member, never one combined number ------
DISTRIBUTIVE = _rx(r"各|每个|每一个|每家|每一家|分别|各自|\beach\b|\bper\b|\bevery\b|\bfor all\b|\bindividual(?:ly)?\b")

# -- text pasted into a question: a record or a SQL fragment is context, not what is asked --------
PASTED_CONTEXT = _rx(
    r"\{[^{}]*\}|(?:附|附上|附带)?(?:系统)?(?:记录|备注|note|ps)\s*[:：=].*$"
    r"|\b(?:or|and)\s+'?\d+'?\s*=\s*'?\d+'?|'[^']*'\s*or\s*'[^']*'\s*=\s*'[^']*|\bwhere\b(?=.*=)"
)

# -- rankings ---------------------------------------------------------------------------
_NOT_TIME = r"(?!\s*(?:个)?(?:年|月|周|星期|天|日|季|期|小时))"
TOP_N = _rx(
    rf"(?:排名|排行)?前\s*({_NUM})\s*(?:名|个|大|位|家|款|的)?{_NOT_TIME}|\btop\s*(\d+)\b|\bbest\s+(\d+)\b|\bhighest\s+(\d+)\b"
    rf"|(?:最高|最多|最大|最长|最好|最贵|最晚|最狠)的?\s*({_NUM})\s*(?:个|家|款|名|位|大)|(?:哪|\bwhich\s*)({_NUM}|\d+)\s*(?:个|家|款|位)?(?=.*(?:最高|最多|最大|最长|最好|最贵|最晚|最狠|\bmost\b|\bhighest\b|\bbest\b|\blargest\b|\bbiggest\b|\blongest\b))"
    rf"|\b(\d+|{_EN_NUM})\s+(?:most|highest|largest|biggest|longest|latest|newest|deepest|best|top)\b"
)
BOTTOM_N = _rx(
    rf"倒数\s*(?:第|前)?\s*({_NUM})\s*(?:名|个|位|家|款)?|后\s*({_NUM})\s*(?:名|位)|\bbottom\s*(\d+)\b|\blowest\s+(\d+)\b"
    rf"|(?:最低|最少|最小|最短|最便宜)的?\s*({_NUM})\s*(?:个|家|款|名|位)"
    rf"|(?:哪|\bwhich\s*)({_NUM}|\d+)\s*(?:个|家|款|位)?(?=.*(?:最低|最少|最小|最短|\blowest\b|\bleast\b|\bfewest\b|\bsmallest\b))"
)
WORST_N = _rx(
    rf"\bworst\s+(\d+)\b|最差的?\s*({_NUM})\s*(?:个|家|款|名|位)|(?:哪|\bwhich\s*)({_NUM}|\d+)\s*(?:个|家|款|位)?(?=.*(?:最差|\bworst\b))"
)
HIGHEST = _rx(
    r"最高|最多|最大|最长|最好|最强|最快|最贵|最晚|最狠|从高到低|从长到短|从大到小|由高到低|由长到短|降序|卖得最好|第一名"
    r"|\b(?:highest|longest|largest) first\b|\bdescending\b|\bdeepest\b|\bhighest\b|\bmost\b|\bbiggest\b|\blargest\b|\btop\b|\blongest\b|\bbest\b|\bgreatest\b"
)
LOWEST = _rx(
    r"最低|最少|最小|最短|最慢|最便宜|最早|从低到高|从短到长|从小到大|由低到高|升序|垫底|\b(?:lowest|shortest|smallest|earliest|oldest) first\b|\bascending\b|\bearliest\b|\boldest\b|\blowest\b|\bleast\b|\bsmallest\b|\bshortest\b|\bfewest\b"
)
#: Newest first, for members listed by a date ("最近上新的5个SKU", "most recently launched"); in a
#: metric question "最新" means the latest data, so only an attribute listing reads these.
RECENT_FIRST = _rx(r"最新|最近|\b(?:latest|newest|most recent(?:ly)?)\b")
#: A count of members ("5个", "五款"): how many an attribute listing shows.
MEMBER_COUNT = _rx(
    rf"({_NUM})\s*(?:个|款|家|位|名)|\b(\d+|{_EN_NUM})\b(?=\s+(?:most|\w+\s+(?:products|skus|suppliers|promotions)))"
)
#: A number with its unit beside an attribute ("账期60天", "60-day terms", "交期超过30天"): a condition.
ATTRIBUTE_AMOUNT = _rx(
    r"(?:超过|大于|多于|高于|不少于|至少|少于|小于|低于|不超过|不到|>=|<=|>|<|=|\bmore than\b|\bover\b|\bat least\b"
    r"|\bless than\b|\bunder\b|\bat most\b)?\s*(?P<n>\d+(?:\.\d+)?)\s*-?\s*(?:天|日|days?\b|%|元)(?:以上|以内|以下|\s*or (?:more|less)\b)?"
)
AMOUNT_OPS = (
    (">=", _rx(r"不少于|至少|>=|以上|\bat least\b|\bor more\b")),
    ("<=", _rx(r"不超过|<=|以内|以下|\bat most\b|\bor less\b")),
    (">", _rx(r"超过|大于|多于|高于|>|\bmore than\b|\bover\b")),
    ("<", _rx(r"少于|小于|低于|不到|<|\bless than\b|\bunder\b")),
)
WORST = _rx(r"最差|最糟|最烂|拖后腿|\bworst\b")
RANK_ALL = _rx(r"排名|排行|排序|名次|\brank(?:ing|ed)?\b|\bsorted\b|\bleaderboard\b")

# -- breakdowns ("各渠道", "by category"): a marker right before a dimension word -----------------
BREAKDOWN_BEFORE = _rx(
    r"(?:各|每个|每一个|每家|每一家|每|分|按|按照|按照各|哪个|哪些|哪家|哪一个|哪一家|哪几个|哪款|哪"
    r"|\bby\b|\bper\b|\beach\b|\bevery\b|\bacross\b|\bwhich\b|\bwhat\b|\bamong\b|\bfor each\b|\bfor all\b)\s*(?:个|家|一个)?\s*$"
)
#: "stores x category", "门店×品类": the word before is a breakdown crossed with the one after.
CROSS_AFTER = _rx(r"\s*(?:×|\bx\b|\bby\b)\s*")
DIMENSION_DATE = _rx(r"哪天|哪一天|哪个月|哪一月|哪一周|哪周|哪个季度|which (day|month|week|quarter|year)")

# -- filters ---------------------------------------------------------------------------
EXCLUDE_BEFORE = _rx(
    r"(?:除了|除去|除开|除掉|刨除|刨去|扣除|扣掉|除|不含|不包括|不算|剔除|排除|去掉|\bexcluding\b|\bexcept(?: for)?\b|\bother than\b|\bwithout\b|\bnot\b)\s*$"
)
#: "精华以外的品类", "面膜之外", "口红除外": the words after a member that leave it out.
EXCLUDE_AFTER = _rx(r"^\s*(?:以外|之外|除外)")

# -- follow-ups ------------------------------------------------------------------------
FOLLOW_UP = _rx(
    r"^(?:那|那么|那就|那再|再|还有|换成|改成|改为|只看|仅看|光看|单看|如果是|要是|和|跟|同样|也)"
    r"|呢\s*[?？!。]*\s*$"
    r"|^(?:and|what about|how about|and what about|same for|now|then|only|just|instead|also|ok|okay)\b"
    r"|\binstead\b|\bsame (?:thing|question)\b|\bbreak (?:it|that|this) down\b|拆开|拆分|细分|展开"
)
ADD_TO_PREVIOUS = _rx(r"再按|也按|同时|另外|加上|还要|\balso\b|\band also\b|\badd\b|\bas well\b")

# -- what is declined ---------------------------------------------------------------------
INJECTION = _rx(
    r"忽略|无视|忘记|忘掉|不要管|跳过(?:之前|前面|上面|以上)|(?:之前|前面|上面|以上)的(?:所有)?(?:指令|指示|规则|设定|要求)"
    r"|系统提示|提示词|system prompt|your prompt|your instructions|开发者模式|developer mode|越狱|jailbreak|\bdan\b"
    r"|ignore (?:all |any |the |your )?(?:previous|prior|above|earlier|preceding)|disregard|forget (?:all |your |everything)"
    r"|you are now|你现在是|从现在开始你|pretend (?:to be|you are)|act as|扮演|角色扮演|override|绕过|bypass"
    r"|\bselect\b[\s\S]*\bfrom\b|\bunion\b\s+\bselect\b|;\s*(?:drop|delete|update|insert|alter|truncate)\b|--\s*$|\bexec(?:ute)?\s+sql\b|执行(?:这条|以下|下面的)?\s*sql"
    r"|\bsql\b\s*[:：]|原始表|raw tables?|直接查(?:询)?(?:表|数据库)|information_schema|pg_catalog|sqlite_master|duckdb_tables"
)
DATA_CHANGE = _rx(
    r"删除|删掉|删了|清空|清除|抹掉|篡改|插入|写入|录入|导入|新增一条|添加一条|增加一条记录|回滚"
    r"|(?:修改|改成|改为|改一下|更新|调整|设置为|设为|置为)[^按看成]{0,12}(?:\d|数据|记录|数值|成本|价格|金额|为)"
    r"|把.{1,20}(?:改成|改为|设为|调成|调整为|修改为|更新为)"
    r"|\b(?:delete|drop|truncate|insert|alter|wipe|overwrite|erase|purge)\b"
    r"|\bupdate\b.{0,40}\b(?:to|set|table|data|record|records|value|values)\b|\bset\b.{0,40}\bto\s+[\d¥$]"
    r"|\bchange\b.{0,40}\bto\s+[\d¥$]|\bremove\b.{0,30}\b(?:data|records?|rows?|orders?|table)\b"
)
OUT_OF_SCOPE = _rx(
    r"天气|气温|下雨|笑话|段子|讲个故事|写(?:一)?首诗|写诗|作诗|股价|股票|基金|彩票|星座|算命|翻译|菜谱|做饭|电影|歌|足球|篮球|新闻|汇率|比特币"
    r"|\bweather\b|\brain(?:ing)?\b|\bjoke\b|\bpoem\b|\bstory\b|\bstock price\b|\bshare price\b|\bbitcoin\b|\bcrypto\b|\bhoroscope\b"
    r"|\brecipe\b|\bmovie\b|\bsong\b|\bfootball\b|\bsoccer\b|\bnews\b|\btranslate\b|\bexchange rate\b|\bcapital of\b|\bpresident\b"
)
GREETING = _rx(
    r"^(?:你好|您好|嗨|哈喽|hello|hi|hey|早上好|晚上好|下午好|谢谢|多谢|感谢|thanks|thank you|你是谁|你叫什么|who are you|what can you do|你能做什么|你会什么|help|帮助)"
    r"[\s!！,，.。?？~]*(?:啊|呀|吗|呢)?[\s!！,，.。?？~]*$"
)
#: The asker's own store: context (the role pins the store), not a breakdown by store.
OWN_STORE = _rx(
    r"我们店|我们的店|咱们店|本店|我店|(?<![体门网家旗舰])店里|自己店|自己的店|\b(?:my|our) (?:store|shop)(?:'s)?\b"
)

TODAY = _rx(r"今天|今日|\btoday\b")

#: The last day of each period ("每个月月底", "month-end", "year-end"): where a stock is read.
PERIOD_END = _rx(
    r"月底|月末|季末|季度末|(?:each |every )?(?:month|quarter|year)[- ]end\b|\bat (?:the )?end of (?:each|every|the) (?:month|quarter|year)\b"
)

WHY = _rx(r"为什么|为何|怎么回事|原因|\bwhy\b|\bhow come\b")
#: A change said as a fact ("现金转换周期变长了", "got longer"): asks what moved, like "why".
CHANGED = _rx(
    r"变长|变短|拉长|缩短|变高|变低|升高|降低|(?:上升|下降|上涨|下跌|恶化|变差|变好)了"
    r"|\b(?:get|got|gotten|getting|grew|grow)\s+(?:longer|shorter|worse|better)\b|\bworsen(?:ed)?\b|\bdeteriorat\w*"
)
#: The parts of a composite metric ("CCC的构成", "which component drives it"): its components beside it.
COMPONENTS = _rx(
    r"构成|组成部分|组成部|组成|由哪(?:几|些)?(?:个)?部分|拆开看|拆开|拆解|分解|(?:哪|那)(?:个|一|几)?(?:个)?(?:环节|项|部分)(?:拖的|拉高的|拉低的|拉动的|导致的)?"
    r"|主要|拖的|拉高的?|拉低的?|拉动的?|三个部分|几部分"
    r"|\bcomponents?\b|\bdrivers?\b|\bdrives?\b|\bdriving\b|\b(?:its |their )?parts\b|\bbroken into\b|\bsplit into\b|\binto\b"
)

#: Filler characters that are also parts of names (天 of 天猫, 花 of 精华's typo 精花): next to an
#: unread character they are kept with it, so the pair is asked about instead of dropped.
NAME_FILLER = frozenset("天花")

#: Verbs of amount that FILLER drops because a metric beside them carries their meaning ("投放花了多少钱",
#: "卖了多少钱", "欠多少"): in a listing of members no metric does, so they are words left unread.
AMOUNT_VERBS = _rx(r"(?:花了?|欠了?|卖了?)(?:多少)?钱?|钱|\b(?:spent|spend|spending|owe|owed|owes)\b")

# Words that carry no meaning for the plan; what is left after removing them and every
# recognised phrase is what the question asks that we did not understand.
FILLER = _rx(
    r"请问|请|帮我|帮忙|给我|麻烦|查一下|查下|查查|查询|看一下|看下|看看|看|统计|一下|下|算一下|算下|计算|告诉我|列出|展示|显示|对比|比较|分析"
    r"|是多少|多少|是什么|怎么样|怎么|如何|咋样|怎样|情况|表现|数据|数字|指标|水平|几|多高|多大|有多|是否|有没有|大概|大约|一共|总共|总计|合计|整体|总体|全公司|公司|我们|我们的|咱们|本店|我店|我们店|自己"
    r"|的|了|吗|呢|呀|啊|吧|嘛|哦|和|与|及|以及|跟|还有|在|是|为|把|被|从|到|至|里|中|内|期间|时候|(?<!小)时|共|总|各|个|每|按|分|那|那么|就|再|也|只|仅|都|最|一|些|哪|什么"
    r"|\b(?:what|whats|what's|was|were|is|are|the|a|an|of|for|in|on|at|to|by|per|me|show|give|tell|list|how|much|many|did|do|does|we|our|us|i|my|please|can|could|you|get|pull|up|and|with|vs|versus|over|during|from|between|which|who|had|has|have|been|be|it|its|that|this|these|those|total|overall|number|value|figure|figures|data|look|like|about|whole|company|so|far|far|all|only|just|then|now|ok|okay|check|see|break|down|trend|was|looking|doing|how's|hows|did|compare|compared|report|rate|numbers|any)\b"
    r"|\b(?:sell|sold|selling|make|made|earn|earned|did|doing|do|go|went|look|looks|perform|performed|vs)\b|钱|多还是少|增长了多少|增长多少|变化多少|变化|变了多少|涨了多少|跌了多少|多花了多少|少了多少|怎么变|有什么变化|跟|比"
    r"|以外|之外|之间|连同|以及|比例|数量|列表|清单|所有|全部|有哪些|排一下|排序一下|排|拆一下|拆|花了|花|欠|卖|多少天|几天|天|两年|前后|本|场|家|款|位|\b(?:average|avg|ads|ad|still|quantity|days|in days|expensive|cheapest|recently|their|its|came|comes|come|sits|sit|sitting|each one's|one's)\b|\bbroken (?:down|out)\b|\bbreak(?:ing)? (?:it )?down\b"
    r"|(?<![0-9a-z\u4e00-\u9fff])\d{1,2}(?![0-9a-z\u4e00-\u9fff])|\b[a-z]\b"
    r"|[\s?？!！,，.。:：;；、()（）\"'“”‘’%/\\~\-+*=<>_]+"
)

# -- totals, 'each', trends: read last, once everything else is read ------------------------
TOTAL = _rx(r"合计|加起来|一共|总共|总和|汇总|\bcombined\b|\btotal\b|\bin total\b|\baltogether\b")
EACH = _rx(
    r"各自|分别|各是|各(?=卖|有|是|多少|花|赚)|对比|相比|(?<![a-z])(?:vs\.?|versus|each|respectively|separately|side by side)(?![a-z])"
)
TREND = _rx(r"趋势|走势|曲线|怎么变|变化情况|(?<![a-z])trends?(?![a-z])|over time|trajectory|trending")

# -- an event word as a time or as its promotions --------------------------------------------
EVENT_AS_TIME = _rx(r"\s*(?:期间|前后|左右|那几天|那段时间|当天|大促期间|大促|(?:period|season|week|weekend)\b)")
EVENT_AS_PROMOTION = _rx(r"\s*(?:的)?(?:活动|促销|大促活动|campaigns?\b|promotions?\b|promos?\b)")
#: Between a comparison word and the period it names: "环比Q3", "compared with Q3".
TARGET_GAP = _rx(r"\s*(?:的)?\s*$")
