"""The RocketMQ 5.x SQL92 message selector (reference rocketmq-facts.md section 6).

>>> from rmqcore.filter import sql92
>>> selector = sql92.compile("(TAGS is not null and TAGS in ('TagA','TagC')) and (baiLi is not null and baiLi between 0 and 3)")
>>> [i for i in range(15) if selector.matches({"TAGS": "TagA TagB TagC".split()[i % 3], "baiLi": str(i)})]
[0, 2, 3]
>>> str(selector)
"TAGS IS NOT NULL AND TAGS IN ('TagA', 'TagC') AND baiLi IS NOT NULL AND baiLi BETWEEN 0 AND 3"
"""

from rmqcore.filter.errors import SelectorEvaluationError, SelectorSyntaxError, UnsupportedPropertyTypeError
from rmqcore.filter.sql92.parser import DEFAULT_MAX_DEPTH, DEFAULT_MAX_LENGTH, parse
from rmqcore.filter.sql92.selector import Selector, compile

__all__ = [
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_LENGTH",
    "Selector",
    "SelectorEvaluationError",
    "SelectorSyntaxError",
    "UnsupportedPropertyTypeError",
    "compile",
    "parse",
]
