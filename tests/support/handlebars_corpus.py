# ruff: noqa: E501 - the corpus is data: one case a line, whatever its length
"""The corpus of the Handlebars differential test: templates and data, as Mia's messages would use them.

Every case is rendered by handlebars.js 4.7 + handlebars-helpers 0.10 under Node (tests/reference/
handlebars) and by Tidings, and the two outputs must be identical (or both must fail). Cases render as
text fields (nothing escaped) unless ``html=True``, where ``{{x}}`` escapes; HTML cases hold no newline
in an escaped value, since Tidings turns those into ``<br/>`` (tested on its own).

The clock is fixed at :data:`NOW`; dates that go through date.js (``moment`` with a string date and a
string pattern) are ones it reads correctly.
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["CASES", "NOW", "Case"]

NOW = "2025-03-10T12:34:56.789Z"


class Case(NamedTuple):
    name: str
    template: str
    data: dict[str, Any] | None = None
    user: dict[str, Any] | None = None
    html: bool = False
    locale: str | None = None


USER: dict[str, Any] = {
    "name": "mario",
    "surname": "Rossi",
    "email": "mario.rossi@example.com",
    "age": 42,
    "vip": True,
    "score": 0,
    "city": None,
    "tags": ["vip", "beta", "early"],
    "address": {"street": "Via Roma 1", "city": "Roma", "zip": "00100"},
}

DATA: dict[str, Any] = {
    "type": "patients",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "appointmentDate": "01/01/2021",
    "serviceAmount": 1234567.89,
    "startDate": "2024-05-01T10:00:00Z",
    "when": "2024-06-15T08:30:00+02:00",
    "epoch": 1714557600000,
    "count": 3,
    "zero": 0,
    "negative": -7.5,
    "price": 19.999,
    "ratio": 0.125,
    "big": 123456789,
    "pi": 3.14159265,
    "numString": "42",
    "blank": "",
    "spaces": "  padded text  ",
    "none": None,
    "yes": True,
    "no": False,
    "title": "the quick brown fox",
    "snake": "hello_world-foo bar",
    "sentence": "hello there. how ARE you? fine!",
    "html": '<b class="x">Tom & "Jerry"</b> = `tick` \'q\'',
    "url": "https://Example.COM/path/to page?x=1&y=2#frag",
    "query": "a b&c=d/é",
    "items": [
        {"name": "apple", "qty": 3, "price": 1.5},
        {"name": "banana", "qty": 0, "price": 0.25},
        {"name": "cherry", "qty": 12, "price": 4},
    ],
    "letters": ["c", "a", "b", "a"],
    "numbers": [3, 1, 10, 2],
    "mixed": [1, "two", None, True],
    "empty": [],
    "emptyObj": {},
    "matrix": [[1, 2], [3, 4]],
    "person": {"first": "Grace", "last": "Hopper", "born": 1906},
    "counts": {"b": 2, "a": 1, "10": "ten", "2": "two"},
    "nested": {"deep": {"deeper": {"value": "found"}}},
    "json": '{"a": 1, "b": [true, null], "c": "x"}',
    "translations": {"lang": "it", "it": {"greeting": "ciao", "bye": {"short": "ciao ciao"}}},
    "odd key": "odd",
    "list": "a,b,,c",
}

_CORE = [
    Case("plain text", "Hello, world!"),
    Case("path", "Hello, {{user.name}} {{user.surname}}!"),
    Case(
        "mia documented example",
        'Hello, {{user.name}}! You have a new appointment on {{data.appointmentDate}} and you are going to pay ${{toLocale data.serviceAmount "en-US"}}',
    ),
    Case("mia if eq example", '{{#if (eq data.type "patients")}}{{data.firstName}} {{data.lastName}}{{/if}}'),
    Case("mia if eq other", '{{#if (eq data.type "doctors")}}{{data.firstName}}{{else}}nobody{{/if}}'),
    Case("spaces inside mustache", "{{ user.name }} {{{ user.surname }}}"),
    Case(
        "nested path", "{{data.nested.deep.deeper.value}}|{{data.nested.deep.missing}}|{{data.nested.x.y.z}}"
    ),
    Case("slash paths", "{{user/address/city}} {{data/nested/deep/deeper/value}}"),
    Case("this and dot", "{{this.user.name}} {{./user.surname}} {{#with user}}{{.}}{{/with}}"),
    Case("literal segments", "{{data.[odd key]}} {{[data].[firstName]}} {{data.items.[1].name}}"),
    Case(
        "string length and index",
        "{{data.title.length}} {{data.title.[4]}} {{data.items.length}} {{data.items.[0].name.length}}",
    ),
    Case("missing values", "[{{data.missing}}][{{data.none}}][{{missing.path.here}}][{{user.city}}]"),
    Case(
        "javascript printing",
        "{{data.yes}} {{data.no}} {{data.zero}} {{data.negative}} {{data.pi}} {{data.big}}",
    ),
    Case(
        "array and object printing",
        "{{data.numbers}} {{data.mixed}} {{data.matrix}} {{data.person}} {{data.empty}}",
    ),
    Case(
        "float printing",
        "{{data.n1}} {{data.n2}} {{data.n3}} {{data.n4}} {{data.n5}}",
        data={"n1": 1e21, "n2": 1.5e-7, "n3": 0.1, "n4": 100.0, "n5": 2**53 + 2},
    ),
    Case("triple stash and ampersand", "{{{data.html}}} {{& data.html}}"),
    Case("text fields do not escape", "{{data.html}}"),
    Case("html escapes", "{{data.html}}", html=True),
    Case("html raw does not escape", "{{{data.html}}}|{{& data.html}}", html=True),
    Case(
        "html escapes numbers and booleans",
        "{{data.zero}} {{data.no}} {{data.numbers}} {{data.none}}",
        html=True,
    ),
    Case(
        "html escape helper output",
        '{{concat}}{{append data.html "!"}}',
        data={"html": "a<b", "concat": "&"},
        html=True,
    ),
    Case(
        "html attribute values", '<a href="{{data.url}}" title="{{data.html}}">{{user.name}}</a>', html=True
    ),
    Case("html block output unescaped", "{{#if data.yes}}<p>{{data.html}}</p>{{/if}}", html=True),
    Case("escaped mustache", "\\{{user.name}} and {{user.name}}"),
    Case("escaped backslash", "\\\\{{user.name}}"),
    Case("lone braces", "{ {user.name} } {{user.name}} } { }}"),
    Case(
        "emoji counts two",
        "{{data.e.length}} {{reverse data.w}} {{first data.w}}",
        data={"e": "😀", "w": "ab😀"},
    ),
    Case("comments", "a{{! short }}b{{!-- long }} with braces --}}c"),
    Case("literal lookup", '{{"data"}} {{#with data}}{{"firstName"}}{{/with}}'),
    Case("root data", "{{@root.user.name}} {{#each data.items}}{{@root.data.type}}{{/each}}"),
    Case(
        "helper name wins over a key",
        "{{#each data.people}}[{{first}} {{last}} {{name}}]{{/each}}",
        data={"people": [{"first": "A", "last": "B", "name": "C"}]},
    ),
    Case(
        "scoped key beats helper",
        "{{#each data.people}}[{{this.first}} {{./last}}]{{/each}}",
        data={"people": [{"first": "A", "last": "B"}]},
    ),
    Case(
        "prototype is out of reach",
        "[{{data.constructor}}][{{data.__proto__}}][{{data.title.constructor}}][{{data.items.map}}]",
    ),
    Case("lookup out of prototype", '[{{lookup data "constructor"}}][{{lookup data.title "toString"}}]'),
]

_BLOCKS = [
    Case("if else", "{{#if data.yes}}yes{{else}}no{{/if}}|{{#if data.no}}yes{{else}}no{{/if}}"),
    Case(
        "if truthiness",
        "{{#if data.zero}}1{{/if}}{{#if data.blank}}2{{/if}}{{#if data.empty}}3{{/if}}{{#if data.emptyObj}}4{{/if}}{{#if data.numString}}5{{/if}}{{#if data.none}}6{{/if}}",
    ),
    Case("if includeZero", "{{#if data.zero includeZero=true}}zero{{else}}nothing{{/if}}"),
    Case("else if chain", "{{#if data.none}}a{{else if data.zero}}b{{else if data.count}}c{{else}}d{{/if}}"),
    Case("else unless chain", "{{#if data.none}}a{{else unless data.yes}}b{{else}}c{{/if}}"),
    Case("inverse caret else", "{{#if data.none}}a{{^}}b{{/if}}"),
    Case("unless", "{{#unless data.no}}not no{{/unless}}{{#unless data.yes}}x{{else}}yes{{/unless}}"),
    Case(
        "each array",
        "{{#each data.letters}}{{@index}}={{this}}{{#if @first}}^{{/if}}{{#if @last}}${{/if}};{{/each}}",
    ),
    Case("each objects", "{{#each data.items}}{{name}}x{{qty}} {{/each}}"),
    Case("each object keys in javascript order", "{{#each data.counts}}{{@key}}={{this}},{{/each}}"),
    Case(
        "each object first last index",
        "{{#each data.person}}{{@index}}{{@key}}{{#if @first}}F{{/if}}{{#if @last}}L{{/if}} {{/each}}",
    ),
    Case(
        "each else",
        "{{#each data.empty}}x{{else}}none{{/each}}{{#each data.emptyObj}}x{{else}}none{{/each}}{{#each data.title}}x{{else}}str{{/each}}",
    ),
    Case("each block params", "{{#each data.items as |item i|}}{{i}}:{{item.name}} {{/each}}"),
    Case("each object block params", "{{#each data.person as |value key|}}{{key}}->{{value}} {{/each}}"),
    Case(
        "nested each parent", "{{#each data.matrix}}[{{#each this}}{{this}}@{{@../index}}{{/each}}]{{/each}}"
    ),
    Case(
        "parent context paths", "{{#each data.items}}{{name}}/{{../data.type}}/{{@root.user.name}} {{/each}}"
    ),
    Case(
        "depth counts changed contexts",
        "{{#with data}}{{#if yes}}{{../user.name}}|{{../../user.name}}{{/if}}{{/with}}",
    ),
    Case(
        "deep parents",
        "{{#with data.nested}}{{#with deep}}{{#with deeper}}{{value}}{{../deeper.value}}{{../../deep.deeper.value}}{{../../../data.type}}{{/with}}{{/with}}{{/with}}",
    ),
    Case("with", "{{#with user.address}}{{street}}, {{zip}} {{city}}{{/with}}"),
    Case(
        "with else",
        "{{#with data.none}}x{{else}}no address{{/with}}{{#with data.empty}}x{{else}}empty{{/with}}",
    ),
    Case("with block param", "{{#with data.person as |p|}}{{p.first}} {{p.last}}{{/with}}"),
    Case(
        "nested block params",
        "{{#each data.matrix as |row r|}}{{#each row as |cell c|}}{{r}}{{c}}={{cell}} {{/each}}{{/each}}",
    ),
    Case(
        "lookup",
        '{{lookup data.person "first"}} {{lookup data.letters 1}} {{lookup data.none "x"}} {{lookup data.zero "x"}}',
    ),
    Case(
        "lookup dynamic key",
        "{{#each data.letters}}{{lookup ../data.counts this}}{{/each}}",
        data={**DATA, "counts": {"a": 1, "b": 2, "c": 3}},
    ),
    Case("lookup subexpression", "{{#with (lookup data.items 2)}}{{name}}{{/with}}"),
    Case("section over array", "{{#data.letters}}<{{this}}>{{/data.letters}}"),
    Case("section over object", "{{#data.person}}{{first}}{{/data.person}}"),
    Case("section over boolean", "{{#data.yes}}Y{{/data.yes}}{{#data.no}}N{{/data.no}}"),
    Case(
        "inverse section",
        "{{^data.empty}}no items{{/data.empty}}{{^data.items}}x{{/data.items}}{{^data.none}}none{{/data.none}}",
    ),
    Case("inverse section with else", "{{^data.yes}}no{{else}}yes{{/data.yes}}"),
    Case("raw block", "{{{{raw}}}} {{user.name}} {{{{/raw}}}}"),
    Case("raw block nested braces", "{{{{raw}}}}{{#if x}}{{{y}}}{{/if}}{{{{/raw}}}}"),
    Case("raw helper as block", "{{#raw}}a {{user.name}} b{{/raw}}"),
]

_WHITESPACE = [
    Case("tilde strips", "a {{~user.name~}} b\n {{~user.surname}}\n\n  c  {{~! comment ~}}  d"),
    Case("tilde on blocks", "<ul>\n  {{~#each data.letters~}}\n  <li>{{this}}</li>\n  {{~/each~}}\n</ul>"),
    Case("tilde on else", "{{#if data.no}}\n a \n{{~else~}}\n b \n{{/if}}"),
    Case("standalone block lines", "Items:\n{{#each data.letters}}\n  - {{this}}\n{{/each}}\nDone\n"),
    Case("standalone if else lines", "start\n  {{#if data.yes}}\n  yes\n  {{else}}\n  no\n  {{/if}}\nend"),
    Case("standalone comment line", "a\n  {{! a comment }}\nb\n{{!-- long --}}\nc"),
    Case("standalone at start and end", "{{#if data.yes}}\nfirst line\n{{/if}}"),
    Case("not standalone with text", "x {{#if data.yes}} y {{/if}} z\n"),
    Case(
        "tilde on chained else",
        "{{#if data.none~}}\n a \n{{~else if data.yes~}}\n b \n{{~else~}}\n c \n{{~/if}}",
    ),
    Case("standalone crlf", "a\r\n{{#if data.yes}}\r\nb\r\n{{/if}}\r\nc"),
    Case("standalone else if", "{{#if data.none}}\nA\n{{else if data.yes}}\nB\n{{else}}\nC\n{{/if}}\n"),
    Case("standalone inverse section", "x\n{{^data.empty}}\nempty\n{{/data.empty}}\ny"),
    Case("mustache alone is not standalone", "a\n{{user.name}}\nb"),
    Case(
        "indented nested blocks",
        "{{#each data.items}}\n  {{#if qty}}\n    {{name}}: {{qty}}\n  {{/if}}\n{{/each}}\n",
    ),
    Case("tabs and spaces", "\t{{#if data.yes}}\t\n\tin\n\t{{/if}}\t\nout"),
]

_COMPARISON = [
    Case("eq inline", '{{eq data.count 3}} {{eq data.count "3"}} {{eq data.type "patients"}}'),
    Case("eq block", '{{#eq data.type "patients"}}patient{{else}}other{{/eq}}'),
    Case("eq compare hash", "{{#eq data.count compare=3}}three{{/eq}}"),
    Case("is loose", '{{#is data.count "3"}}loose{{/is}} {{is data.zero false}} {{is data.none undefined}}'),
    Case("isnt", '{{#isnt data.type "doctors"}}not doctor{{/isnt}} {{isnt 1 "1"}}'),
    Case(
        "gt gte lt lte",
        "{{gt data.count 2}}{{gte data.count 3}}{{lt data.count 3}}{{lte data.count 3}}{{gt data.numString 5}}",
    ),
    Case(
        "comparisons with strings",
        '{{gt "b" "a"}} {{lt "B" "a"}} {{gt "10" "9"}} {{gt 10 "9"}} {{lt data.none 1}} {{gt data.missing 1}}',
    ),
    Case(
        "comparison blocks",
        "{{#gt data.count 1}}many{{else}}few{{/gt}} {{#lte data.zero 0}}nonpositive{{/lte}}",
    ),
    Case(
        "and or not",
        "{{and data.yes data.count}} {{and data.yes data.zero}} {{or data.no data.none}} {{or data.no data.type}} {{not data.zero}} {{not data.type}}",
    ),
    Case(
        "and or blocks",
        "{{#and data.yes data.type}}both{{/and}} {{#or data.no data.none}}x{{else}}neither{{/or}}",
    ),
    Case(
        "nested logic subexpressions",
        '{{#if (and (eq data.type "patients") (or data.no (gt data.count 2)))}}ok{{/if}}',
    ),
    Case(
        "compare operators",
        '{{compare 1 "<" 2}} {{compare 2 ">=" 3}} {{compare "a" "===" "a"}} {{compare 1 "==" "1"}} {{compare 1 "!==" "1"}} {{compare data.count "typeof" "number"}}',
    ),
    Case("compare block", '{{#compare data.count ">" 2}}more{{else}}less{{/compare}}'),
    Case("compare invalid operator", '{{compare 1 "<>" 2}}'),
    Case("compare too few arguments", "{{compare 1 2}}"),
    Case(
        "contains",
        '{{contains data.letters "a"}} {{contains data.title "quick"}} {{contains data.letters "z"}} {{contains data.letters "a" 3}}',
    ),
    Case("contains block", '{{#contains user.tags "vip"}}VIP{{else}}regular{{/contains}}'),
    Case(
        "default",
        '{{default data.none "fallback"}} {{default data.missing data.none "last"}} {{default data.zero "x"}} [{{default data.none data.missing}}]',
    ),
    Case(
        "has",
        '{{has data.letters "a"}} {{has data.title "fox"}} {{has data.person "first"}} {{has data.person "middle"}}',
    ),
    Case("has block", '{{#has data.title "quick"}}quick{{else}}slow{{/has}}'),
    Case("has on context", '{{#with data.person}}{{has "first"}} {{has "middle"}}{{/with}}'),
    Case(
        "isFalsey isTruthy",
        '{{isFalsey data.zero}} {{isFalsey "no"}} {{isFalsey "nope"}} {{isTruthy data.type}} {{isTruthy data.empty}} {{isFalsey data.emptyObj}}',
    ),
    Case(
        "ifEven ifOdd",
        "{{#ifEven data.count}}even{{else}}odd{{/ifEven}} {{#ifOdd 3}}odd{{/ifOdd}} {{ifEven 4}}",
    ),
    Case(
        "ifEven in each",
        "{{#each data.letters}}{{#ifEven @index}}[{{this}}]{{else}}{{this}}{{/ifEven}}{{/each}}",
    ),
    Case("ifNth", "{{#each data.letters}}{{this}}{{#ifNth 2 @index}}|{{/ifNth}}{{/each}}"),
    Case("neither", "{{neither data.no data.none}} {{#neither data.yes data.no}}x{{else}}one is{{/neither}}"),
    Case(
        "unlessEq family",
        "{{#unlessEq data.count 4}}not four{{/unlessEq}}{{#unlessGt data.count 10}} small{{/unlessGt}}{{#unlessLt data.count 1}} big{{/unlessLt}}{{#unlessGteq data.count 5}} under5{{/unlessGteq}}{{#unlessLteq data.count 1}} over1{{/unlessLteq}}",
    ),
    Case("unlessEq compare hash", "{{#unlessEq data.count compare=3}}x{{else}}is three{{/unlessEq}}"),
]

_STRINGS = [
    Case(
        "capitalize",
        "{{capitalize user.name}} {{capitalize data.title}} [{{capitalize data.blank}}] [{{capitalize data.count}}]",
    ),
    Case("capitalizeAll", '{{capitalizeAll data.title}} {{capitalizeAll "hello-world foo_bar"}}'),
    Case(
        "upcase downcase",
        '{{upcase user.name}} {{downcase "ÀBC"}} {{uppercase data.title}} {{lowercase "MiXeD"}}',
    ),
    Case("uppercase block", "{{#uppercase}}shout {{user.name}}{{/uppercase}}"),
    Case("lowercase block", "{{#lowercase}}QUIET {{user.surname}}{{/lowercase}}"),
    Case(
        "case changes",
        "{{camelcase data.snake}}|{{pascalcase data.snake}}|{{snakecase data.snake}}|{{dashcase data.snake}}|{{dotcase data.snake}}|{{pathcase data.snake}}",
    ),
    Case("case changes single char", '{{camelcase "A"}}{{pascalcase "a"}}{{dashcase "X"}}'),
    Case("chop", '{{chop "  --hello world__  "}}|{{chop "..."}}'),
    Case("center", '{{center "hi" 2}}'),
    Case("ellipsis", '{{ellipsis data.title 9}}|{{ellipsis "short" 10}}'),
    Case("truncate", '{{truncate data.title 9}}|{{truncate data.title 9 "..."}}|{{truncate "short" 10}}'),
    Case("truncateWords", '{{truncateWords data.title 2}}|{{truncateWords data.title 2 "!"}}'),
    Case("hyphenate plusify", '{{hyphenate data.title}} {{plusify data.title}} {{plusify "a-b-c" "-"}}'),
    Case("append prepend", '{{append user.name "!"}} {{prepend user.name "Mr. "}} {{append data.count "x"}}'),
    Case(
        "occurrences",
        '{{occurrences "banana" "a"}} {{occurrences "banana" "an"}} {{occurrences "banana" "z"}}',
    ),
    Case(
        "remove and replace",
        '{{remove "banana" "a"}} {{removeFirst "banana" "a"}} {{replace "banana" "a" "o"}} {{replaceFirst "banana" "a" "o"}}',
    ),
    Case("replaceFirst patterns", '{{replaceFirst "a-b" "-" "[$&]"}} {{replaceFirst "a-b" "-" "$$"}}'),
    Case("reverse string", "{{reverse user.name}} {{reverse data.letters}}"),
    Case("sentence", "{{sentence data.sentence}}"),
    Case("split and join", '{{split data.list}}|{{join (split "a b c" " ") "-"}}|{{split data.list ","}}'),
    Case(
        "startsWith block",
        '{{#startsWith "the" data.title}}starts{{else}}no{{/startsWith}} {{#startsWith "fox" data.title}}x{{else}}not fox{{/startsWith}}',
    ),
    Case("titleize", '{{titleize data.snake}} {{titleize "--a  b"}}'),
    Case("trim", "[{{trim data.spaces}}][{{trimLeft data.spaces}}][{{trimRight data.spaces}}]"),
    Case("isString", "{{isString data.type}} {{isString data.count}}"),
    Case(
        "string helpers on missing",
        "[{{capitalize data.missing}}][{{trim data.missing}}][{{truncate data.missing 3}}][{{upcase data.none}}]",
    ),
    Case(
        "unicode strings",
        '{{upcase "straße"}} {{capitalize "éclair"}} {{data.word.length}}',
        data={"word": "naïve"},
    ),
]

_MATH = [
    Case(
        "add", '{{add 1 2}} {{add data.count data.pi}} {{add "a" "b"}} [{{add data.none 1}}] {{add "1" "2"}}'
    ),
    Case("subtract minus", "{{subtract 10 3}} {{minus data.count 0.5}}"),
    Case("multiply times", "{{multiply 3 4}} {{times data.price 3}}"),
    Case("divide", "{{divide 10 4}} {{divide 1 3}} {{divide 1 0}} {{divide 0 0}}"),
    Case("modulo remainder", "{{modulo 10 3}} {{modulo -7 3}} {{remainder 7.5 2}} {{modulo 1 0}}"),
    Case("plus", '{{plus 0.1 0.2}} {{plus "2" 3}}'),
    Case(
        "abs ceil floor round",
        "{{abs data.negative}} {{ceil data.pi}} {{floor data.negative}} {{round 2.5}} {{round -2.5}} {{round data.price}}",
    ),
    Case(
        "sum avg",
        "{{sum 1 2 3}} {{sum data.numbers}} {{sum data.numbers 5}} {{avg 1 2 3 4}} {{avg data.numbers}}",
    ),
    Case("math nested", "{{add (multiply data.count 2) (divide 10 5)}}"),
    Case("math error", "{{divide data.type 2}}"),
    Case("math missing argument", "{{abs}}"),
    Case("math on strings of numbers", '{{multiply data.numString "2"}} {{floor "3.7"}}'),
]

_NUMBERS = [
    Case(
        "toFixed",
        '{{toFixed data.pi 2}} {{toFixed data.price 2}} {{toFixed 1.005 2}} {{toFixed data.count}} {{toFixed "x" 1}} {{toFixed 2.5 0}}',
    ),
    Case(
        "toPrecision",
        "{{toPrecision data.pi 3}} {{toPrecision 123456 2}} {{toPrecision 0.00001234 2}} {{toPrecision data.count}}",
    ),
    Case("toExponential", "{{toExponential 12345 2}} {{toExponential data.pi}} {{toExponential 0.00015 1}}"),
    Case(
        "toFloat toInt",
        '{{toFloat "3.5abc"}} {{toInt "42px"}} {{toInt data.pi}} {{toFloat data.none}} {{toInt "x"}}',
    ),
    Case("addCommas", "{{addCommas data.big}} {{addCommas 1234567.891}} {{addCommas 999}}"),
    Case("phoneNumber", '{{phoneNumber 8005551212}} {{phoneNumber "5551234567"}}'),
    Case("toAbbr", '{{toAbbr 1234}} {{toAbbr 1234567 1}} {{toAbbr 999}} {{toAbbr data.big}} {{toAbbr "x"}}'),
    Case(
        "bytes",
        '{{bytes 1024}} {{bytes 1500000}} {{bytes 0}} {{bytes 12 1}} {{bytes "hello"}} {{bytes data.none}} {{bytes 987654321 3}}',
    ),
    Case("fileSize", "{{fileSize 2048}}"),
]

_ARRAYS = [
    Case(
        "first last",
        "{{first data.letters}} {{first data.letters 2}} {{last data.letters}} {{last data.letters 2}} {{first data.title}} {{last data.title}}",
    ),
    Case("first last on missing", "[{{first data.missing}}][{{last data.none}}][{{first data.emptyObj}}]"),
    Case("after before", "{{after data.letters 1}} {{before data.letters 1}} [{{after data.missing 1}}]"),
    Case("arrayify", "{{arrayify data.type}} {{arrayify data.letters}} [{{arrayify data.none}}]"),
    Case(
        "join",
        '{{join data.letters}} {{join data.letters " | "}} {{join data.type}} [{{join data.none}}] {{join data.mixed "-"}}',
    ),
    Case(
        "length",
        "{{length data.letters}} {{length data.title}} {{length data.person}} {{length data.zero}} {{length data.none}}",
    ),
    Case(
        "equalsLength",
        "{{#equalsLength data.letters 4}}four{{else}}not four{{/equalsLength}} {{lengthEqual data.title 19}}",
    ),
    Case("isArray", "{{isArray data.letters}} {{isArray data.person}}"),
    Case(
        "itemAt",
        "{{itemAt data.letters 1}} {{itemAt data.letters -1}} [{{itemAt data.letters 10}}] {{itemAt data.letters}}",
    ),
    Case("inArray", '{{#inArray user.tags "beta"}}beta{{else}}no{{/inArray}} {{inArray data.numbers 10}}'),
    Case("pluck", '{{pluck data.items "name"}} {{join (pluck data.items "qty") "+"}}'),
    Case("sort", "{{sort data.letters}} {{sort data.numbers}} {{sort data.letters reverse=true}}"),
    Case(
        "sortBy",
        '{{#each (sortBy data.items "name")}}{{name}} {{/each}}|{{#each (sortBy data.items "qty")}}{{qty}} {{/each}}',
    ),
    Case("sortBy without prop", "{{sortBy data.numbers}}"),
    Case(
        "unique", "{{unique data.letters}} {{unique data.nums}}", data={**DATA, "nums": [1, "1", 1, 2.0, 2]}
    ),
    Case("eachIndex", "{{#eachIndex data.letters}}{{index}}:{{item}} {{/eachIndex}}"),
    Case(
        "forEach",
        "{{#forEach data.items}}{{index}}/{{total}} {{name}}{{#if isFirst}} first{{/if}}{{#if isLast}} last{{/if}}; {{/forEach}}",
    ),
    Case("forEach data index", "{{#forEach data.items}}{{@index}}{{/forEach}}"),
    Case(
        "filter",
        '{{#filter data.letters "a"}}[{{this}}]{{else}}none{{/filter}} {{#filter data.items 3 property="qty"}}{{name}}{{/filter}}',
    ),
    Case("filter none", '{{#filter data.letters "z"}}x{{else}}none{{/filter}}'),
    Case(
        "withFirst withLast",
        "{{#withFirst data.letters}}{{this}}{{/withFirst}} {{#withFirst data.letters 2}}{{this}}{{/withFirst}} {{#withLast data.letters}}{{this}}{{/withLast}} {{#withLast data.letters 2}}{{this}}{{/withLast}}",
    ),
    Case(
        "withAfter withBefore",
        "{{#withAfter data.letters 2}}{{this}}{{/withAfter}} {{#withBefore data.letters 2}}{{this}}{{/withBefore}}",
    ),
    Case("withGroup", "{{#withGroup data.letters 3}}[{{#each this}}{{this}}{{/each}}]{{/withGroup}}"),
    Case(
        "withSort",
        '{{#withSort data.letters}}{{this}}{{/withSort}} {{#withSort data.items "qty"}}{{name}} {{/withSort}} {{#withSort data.items "name" reverse=true}}{{name}} {{/withSort}}',
    ),
    Case("some", '{{#some data.empty "x"}}some{{else}}none{{/some}}'),
    Case("map without function", '{{map data.letters "x"}}'),
    Case(
        "isEmpty",
        "{{isEmpty data.empty}} {{isEmpty data.letters}} {{isEmpty data.emptyObj}} {{#isEmpty data.person}}empty{{else}}full{{/isEmpty}}",
    ),
    Case(
        "iterate",
        "{{#iterate data.items}}{{index}}{{name}}{{/iterate}} {{#iterate data.person}}{{@key}}={{this}} {{/iterate}} {{#iterate data.type}}x{{else}}neither{{/iterate}}",
    ),
    Case(
        "arrays in subexpressions",
        '{{join (sort (unique data.letters)) ""}} {{first (pluck data.items "name")}}',
    ),
]

_OBJECTS = [
    Case("get", '{{get "person.first" data}} {{get "deep.deeper.value" data.nested}} [{{get "x.y" data}}]'),
    Case(
        "get block",
        '{{#get "person" data}}{{first}}{{else}}none{{/get}} {{#get "nope" data}}x{{else}}none{{/get}}',
    ),
    Case("getObject", '{{#with (getObject "person.first" data)}}{{first}}{{/with}}'),
    Case(
        "hasOwn",
        '{{hasOwn data.person "first"}} {{hasOwn data.person "toString"}} {{hasOwn data.letters "length"}}',
    ),
    Case("isObject", "{{isObject data.person}} {{isObject data.letters}} {{isObject data.none}}"),
    Case("extend", "{{#with (extend data.person user.address)}}{{first}} {{city}}{{/with}}"),
    Case("extend with hash", '{{#with (extend data.person nick="Amazing")}}{{nick}} {{last}}{{/with}}'),
    Case("merge", "{{#with (merge data.person extra=1)}}{{first}}{{extra}}{{/with}}"),
    Case(
        "forIn forOwn",
        "{{#forIn data.person}}{{@key}}:{{this}} {{/forIn}}|{{#forOwn data.counts}}{{@key}}{{/forOwn}}",
    ),
    Case(
        "JSONstringify",
        "{{JSONstringify data.person}} {{stringify data.letters}} {{JSONstringify data.mixed}}",
    ),
    Case("JSONstringify indent", "{{{JSONstringify data.items.[0] 2}}}"),
    Case(
        "JSONstringify values",
        "{{JSONstringify data.pi}} {{JSONstringify data.type}} [{{JSONstringify data.missing}}] {{JSONstringify data.none}}",
    ),
    Case("JSONparse", '{{#with (JSONparse data.json)}}{{a}} {{b}} {{c}}{{/with}} {{parseJSON "[1,2]"}}'),
    Case("JSONparse error", '{{JSONparse "{bad"}}'),
    Case(
        "pick",
        '{{#with (pick "first" data.person)}}{{first}}{{/with}} {{#pick "zzz" data.person}}x{{else}}nothing{{/pick}}',
    ),
    Case("toPath", '{{toPath "a" "b" 1}}'),
    Case(
        "typeOf",
        "{{typeOf data.letters}} {{typeOf data.person}} {{typeOf data.none}} {{typeOf data.missing}} {{typeOf data.count}} {{typeOf data.type}} {{typeOf data.yes}}",
    ),
    Case(
        "withHash",
        '{{#withHash name="Ada" year=1815}}{{name}} ({{year}}){{/withHash}} {{#withHash}}x{{else}}no hash{{/withHash}}',
    ),
    Case("noop", "{{#noop}}kept {{user.name}}{{/noop}}"),
    Case("frame", '{{#frame greeting="hi"}}{{@greeting}} {{user.name}}{{/frame}}'),
    Case("option", '{{option "x" 1}}'),
    Case("i18n", '{{#with data.translations}}{{i18n "greeting"}} {{i18n "bye.short"}}{{/with}}'),
    Case("i18n missing key", '{{#with data.translations}}{{i18n "nope"}}{{/with}}'),
]

_OTHER_GROUPS = [
    Case(
        "inflect",
        '{{inflect 0 "item" "items"}} {{inflect 1 "item" "items"}} {{inflect data.count "item" "items" true}}',
    ),
    Case(
        "ordinalize",
        "{{ordinalize 1}} {{ordinalize 2}} {{ordinalize 3}} {{ordinalize 4}} {{ordinalize 11}} {{ordinalize 12}} {{ordinalize 13}} {{ordinalize 21}} {{ordinalize 102}} {{ordinalize 111}}",
    ),
    Case("url encode", "{{url_encode data.query}} {{encodeURI data.query}} {{escape data.query}}"),
    Case("url decode", '{{url_decode "a%20b%26c%3Dd%2F%C3%A9"}} {{decodeURI "%E2%82%AC"}}'),
    Case("url decode malformed", '{{decodeURI "%E2%82"}}'),
    Case("stripQuerystring", "{{stripQuerystring data.url}}"),
    Case(
        "stripProtocol",
        '{{stripProtocol "https://example.com/a?b=c"}} {{stripProtocol "http://Example.COM/Path"}}',
    ),
    Case(
        "urlResolve",
        '{{urlResolve "https://example.com/a/b" "../c"}} {{urlResolve "https://example.com/a/b" "/d?x=1"}} {{urlResolve "https://example.com" "e"}}',
    ),
    Case(
        "sanitize", '{{sanitize "<p>Hello <b>World</b></p> <!-- hidden --> after"}}|{{sanitize "  a < b  "}}'
    ),
    Case("ul ol", '{{#ul data.letters class="list"}}{{this}}{{/ul}}|{{#ol data.items}}{{name}}{{/ol}}'),
    Case("attr", '<div{{attr id="main" class="big"}}>'),
    Case(
        "thumbnailImage",
        "{{{thumbnailImage data.image}}}",
        data={
            "image": {
                "id": 7,
                "alt": "A cat",
                "thumbnail": "cat-small.jpg",
                "full": "cat.jpg",
                "size": {"width": 80, "height": 60},
                "caption": "Our cat",
                "classes": {"image": ["round"], "figure": ["fig"]},
            }
        },
    ),
]

_DATES = [
    Case("dateNow", "{{dateNow}}"),
    Case("dateFormat documented", "{{dateFormat data.startDate format='DD/MM/YYYY' tz='Europe/Rome'}}"),
    Case("dateFormat default format", "{{dateFormat data.startDate}}"),
    Case(
        "dateFormat time zones",
        '{{dateFormat data.when format="YYYY-MM-DD HH:mm Z" tz="America/New_York"}} {{dateFormat data.when format="HH:mm" tz="Asia/Tokyo"}}',
    ),
    Case(
        "dateFormat tokens",
        '{{dateFormat data.startDate format="YY M MM MMM MMMM D DD d dd ddd dddd H HH h hh m mm s ss SSS A a ZZ"}}',
    ),
    Case("dateFormat escapes", '{{dateFormat data.startDate format="[Today is] dddd [at] HH:mm"}}'),
    Case("dateFormat epoch", '{{dateFormat data.epoch format="DD/MM/YYYY HH:mm"}}'),
    Case("dateFormat of dateNow", '{{dateFormat (dateNow) format="YYYY-MM-DD"}}'),
    Case("year", '{{year}} {{year "YY"}} {{year "YYYY"}}'),
    Case("moment now", "{{moment}} {{date}}"),
    Case("moment pattern only", '{{moment "YYYY-MM-DD"}} {{moment "dddd"}}'),
    Case(
        "moment date and pattern",
        '{{moment data.startDate "DD/MM/YYYY HH:mm"}} {{date data.startDate "MMMM Do, YYYY"}}',
    ),
    Case("moment offset date", '{{moment data.when "YYYY-MM-DD HH:mm"}}'),
    Case("moment date only", '{{moment "2024-02-14" "dddd, MMMM Do YYYY"}}'),
    Case(
        "moment tokens",
        '{{moment data.startDate "Q Qo Mo Do DDD DDDD DDDo d do e E w wo ww W Wo WW gggg GGGG H k kk hmm Hmm X x z ZZ"}}',
    ),
    Case("moment long formats", '{{moment data.startDate "LT|LTS|L|l|LL|ll|LLL|lll|LLLL|llll"}}'),
    Case("moment escapes", '{{moment data.startDate "[Week] W [of] YYYY"}}'),
    Case("moment epoch", '{{moment data.epoch "YYYY-MM-DD HH:mm:ss"}}'),
    Case(
        "moment format hash",
        '{{moment data.startDate format="DD MMM YYYY"}} {{date data.epoch format="HH:mm"}}',
    ),
    Case("moment missing date", '{{moment data.missing "YYYY"}}'),
    Case("moment null date", '{{moment data.none "YYYY"}}'),
    Case("moment default format", "{{moment data.epoch}}"),
    Case("moment eras and years", '{{moment data.startDate "N NNNN y yo YYYYYY Y"}}'),
    Case(
        "moment milliseconds",
        '{{moment data.ms format="ss.SSS S SS SSSS"}}',
        data={"ms": "2024-05-01T10:00:07.123Z"},
    ),
    Case(
        "moment week edge", '{{moment "2021-01-01" "w W gggg GGGG"}} {{moment "2020-12-28" "w W gggg GGGG"}}'
    ),
    Case(
        "moment 12 hours",
        '{{moment "2024-05-01T00:05:00Z" "h hh a A k"}} {{moment "2024-05-01T12:30:00Z" "h a"}} {{moment "2024-05-01T23:30:00Z" "hh:mm A"}}',
    ),
]

_LOCALE = [
    Case("toLocale default", "{{toLocale data.serviceAmount}}"),
    Case("toLocale hash locale", "{{toLocale data.serviceAmount locale='it-IT'}}"),
    Case("toLocale documented positional", '{{toLocale data.serviceAmount "en-US"}}'),
    Case("toLocale default locale", "{{toLocale data.serviceAmount}}", locale="it-IT"),
    Case(
        "toLocale locales",
        '{{toLocale 1234567.891 locale="de-DE"}} | {{toLocale 1234567.891 locale="en-GB"}} | {{toLocale 1234567.891 locale="es-ES"}} | {{toLocale 12345.5 locale="es-ES"}}',
    ),
    Case(
        "toLocale rounding",
        "{{toLocale 1.0005}} {{toLocale 0.0625}} {{toLocale 2.5}} {{toLocale -1.2345}} {{toLocale 0.1}}",
    ),
    Case("toLocale integers", "{{toLocale data.big}} {{toLocale 0}} {{toLocale -42}} {{toLocale 1e21}}"),
    Case(
        "toLocale non numbers",
        "{{toLocale data.type}} [{{toLocale data.missing}}] [{{toLocale data.none}}] {{toLocale data.yes}} {{toLocale data.numbers}}",
    ),
    Case("toLocale in each", '{{#each data.items}}{{name}}: {{toLocale price locale="it-IT"}}; {{/each}}'),
]

_ERRORS = [
    Case("if without argument", "{{#if}}x{{/if}}"),
    Case("each without argument", "{{#each}}x{{/each}}"),
    Case("with two arguments", "{{#with data user}}x{{/with}}"),
    Case("forEach over strings", "{{#forEach data.letters}}{{this}}{{/forEach}}"),
    Case("ifEven of a string", "{{#ifEven data.type}}x{{/ifEven}}"),
    Case("occurrences without substring", '{{occurrences "abc"}}'),
    Case("ul over missing", "{{#ul data.missing}}x{{/ul}}"),
    Case("isEmpty of null", "{{isEmpty data.none}}"),
    Case("partial", "{{> footer}}"),
    Case("decorator", "{{* decorate}}"),
    Case("unclosed block", "{{#if data.yes}}x"),
    Case("mismatched close", "{{#if data.yes}}x{{/each}}"),
    Case("block param without value", "{{#withFirst data.letters as |x|}}{{x}}{{/withFirst}}"),
]

_MESSAGES = [
    Case(
        "appointment reminder",
        "Dear {{capitalize user.name}} {{user.surname}},\n{{#if (eq data.type \"patients\")}}\nyour appointment is on {{dateFormat data.startDate format='dddd D MMMM YYYY' tz='Europe/Rome'}} at {{dateFormat data.startDate format='HH:mm' tz='Europe/Rome'}}.\n{{else}}\nplease check your agenda.\n{{/if}}\nTotal: {{toLocale data.serviceAmount locale='it-IT'}} €\n",
    ),
    Case(
        "order summary",
        "Order for {{user.email}}:\n{{#each data.items}}\n- {{qty}} × {{name}} at {{toFixed price 2}} = {{toFixed (multiply qty price) 2}}\n{{else}}\n(no items)\n{{/each}}\nItems: {{length data.items}}, in stock: {{#each data.items}}{{#if qty}}{{name}}{{#unless @last}}, {{/unless}}{{/if}}{{/each}}\n",
    ),
    Case(
        "html order email",
        '<h1>Hello {{user.name}}</h1>\n<table>\n{{#each data.items}}\n  <tr class="{{#ifEven @index}}even{{else}}odd{{/ifEven}}"><td>{{name}}</td><td>{{qty}}</td></tr>\n{{/each}}\n</table>\n<p>{{data.html}}</p>',
        html=True,
    ),
    Case(
        "push title",
        '{{#if user.vip}}⭐ {{/if}}{{truncate (capitalize data.title) 12 "…"}} ({{inflect data.count "message" "messages" true}})',
    ),
    Case(
        "sms with defaults",
        'Hi {{default user.nickname user.name}}, code {{data.numString}} expires {{moment data.startDate "HH:mm"}}.',
    ),
    Case(
        "voice message",
        "{{#is data.count 3}}You have three new messages.{{else}}You have {{data.count}} new messages.{{/is}}",
    ),
    Case("tags list", "Tags: {{#each user.tags}}{{upcase this}}{{#unless @last}}, {{/unless}}{{/each}}."),
    Case("address block", "{{#with user.address}}\n{{street}}\n{{zip}} {{upcase city}}\n{{/with}}"),
    Case("unsubscribe footer", '<p style="font-size:small">{{user.email}} &middot; {{year}}</p>', html=True),
    Case(
        "nested conditions",
        "{{#if user.vip}}{{#gt user.age 40}}senior vip{{else}}young vip{{/gt}}{{else}}regular{{/if}}",
    ),
]


_MIXED_DATA: dict[str, Any] = {
    "items": [{"n": "a", "v": 1}, {"n": "b", "v": 2}],
    "o": {"x": 1, "y": {"z": 2}},
    "s": "hello world",
    "num": 12.5,
    "arr": [5, 3, 9],
    "t": True,
    "e": "",
    "z": 0,
}
_MIXED = [
    Case(
        "mixed 1",
        "{{#each data.items}}{{#with this}}{{n}}{{../v}}{{/with}}{{/each}}",
        data=_MIXED_DATA,
        html=True,
    ),
    Case("mixed 2", "{{#each data.o}}{{@key}}:{{#each this}}{{@key}}{{/each}};{{/each}}", data=_MIXED_DATA),
    Case("mixed 3", "{{#if data.t}}{{#each data.arr}}{{this}}{{else}}none{{/each}}{{/if}}", data=_MIXED_DATA),
    Case("mixed 4", "{{#unless data.e}}empty{{else}}full{{/unless}}", data=_MIXED_DATA, html=True),
    Case(
        "mixed 5",
        "{{#each data.arr}}{{@index}}{{#if @first}}f{{else if @last}}l{{else}}m{{/if}}{{/each}}",
        data=_MIXED_DATA,
    ),
    Case("mixed 6", '{{1}}{{true}}{{"s"}}{{[data]}}', data=_MIXED_DATA),
    Case(
        "mixed 7",
        "{{#each data.items}}{{#each ../data.arr}}{{../n}}{{this}}{{/each}}|{{/each}}",
        data=_MIXED_DATA,
        html=True,
    ),
    Case(
        "mixed 8",
        "{{#with data.o as |obj|}}{{#with obj.y as |y|}}{{y.z}}{{obj.x}}{{/with}}{{/with}}",
        data=_MIXED_DATA,
    ),
    Case("mixed 9", "{{#each data.arr}}{{#if (gt this 4)}}{{this}}{{/if}}{{/each}}", data=_MIXED_DATA),
    Case("mixed 10", "{{capitalize (lowercase (upcase data.s))}}", data=_MIXED_DATA, html=True),
    Case("mixed 11", "{{#each data.items}}{{@root.data.s}}{{/each}}", data=_MIXED_DATA),
    Case("mixed 12", "{{#each (sort data.arr)}}{{this}},{{/each}}", data=_MIXED_DATA),
    Case(
        "mixed 13",
        "{{toFixed data.num}} {{toFixed data.num 3}} {{round data.num}}",
        data=_MIXED_DATA,
        html=True,
    ),
    Case("mixed 14", "x\n  {{#each data.arr}}\n  {{this}}\n  {{/each}}\ny", data=_MIXED_DATA),
    Case("mixed 15", "{{#if data.t}}a{{~else~}}b{{/if}}", data=_MIXED_DATA),
    Case("mixed 16", "{{data.s}}{{data.num}}{{data.z}}{{data.t}}", data=_MIXED_DATA, html=True),
    Case("mixed 17", "{{#each data.items}}{{n}}{{#unless @last}}, {{/unless}}{{/each}}", data=_MIXED_DATA),
    Case("mixed 18", "{{#data.o}}{{x}}{{/data.o}}{{^data.o}}none{{/data.o}}", data=_MIXED_DATA),
    Case("mixed 19", "{{#each data.items}}{{lookup this 'n'}}{{/each}}", data=_MIXED_DATA, html=True),
    Case("mixed 20", "{{default data.e 'def'}} {{default data.z 'def'}}", data=_MIXED_DATA),
    Case("mixed 21", "{{join (split data.s ' ') '+'}}", data=_MIXED_DATA),
    Case(
        "mixed 22",
        "{{#each data.items as |it|}}{{#each ../data.arr as |x i|}}{{it.n}}{{x}}{{i}} {{/each}}{{/each}}",
        data=_MIXED_DATA,
        html=True,
    ),
    Case("mixed 23", "{{{{raw}}}}{{#each}}{{{{/raw}}}}", data=_MIXED_DATA),
    Case("mixed 24", "{{#each data.arr}}{{.}}{{this}}{{/each}}", data=_MIXED_DATA),
    Case(
        "mixed 25",
        "{{#with data.o}}{{#with y}}{{z}}{{../x}}{{@root.data.s}}{{/with}}{{/with}}",
        data=_MIXED_DATA,
        html=True,
    ),
    Case("mixed 26", "{{eq data.num 12.5}}{{eq data.arr data.arr}}", data=_MIXED_DATA),
    Case(
        "mixed 27",
        "{{#each data.items}}{{#if v}}{{#eq v 2}}two{{else}}other{{/eq}}{{/if}}{{/each}}",
        data=_MIXED_DATA,
    ),
    Case(
        "mixed 28",
        "{{#forEach data.items}}{{n}}{{#if isLast}}!{{/if}}{{/forEach}}",
        data=_MIXED_DATA,
        html=True,
    ),
    Case(
        "mixed 29",
        "{{#withFirst data.items}}{{n}}{{/withFirst}}{{#withLast data.arr}}{{this}}{{/withLast}}",
        data=_MIXED_DATA,
    ),
    Case("mixed 30", "{{#each data.o.y}}{{@key}}{{this}}{{/each}}", data=_MIXED_DATA),
]


def _variants() -> list[Case]:
    """The same templates over other data: edge values where JavaScript's rules show."""
    values: list[Any] = [
        0,
        -0.0,
        1,
        2.5,
        -1,
        "",
        "0",
        "text",
        True,
        False,
        None,
        [],
        [0],
        {},
        {"a": 1},
        1e21,
        0.1,
    ]
    cases = []
    for index, value in enumerate(values):
        data = {"v": value, "w": value}
        cases.append(
            Case(
                f"value {index}: if each print default",
                '[{{data.v}}][{{#if data.v}}T{{else}}F{{/if}}][{{#each data.v}}{{@key}}{{/each}}][{{default data.v "d"}}]'
                "[{{eq data.v data.w}}][{{is data.v 0}}][{{typeOf data.v}}][{{JSONstringify data.v}}]"
                "[{{#unless data.v}}U{{/unless}}][{{isTruthy data.v}}][{{toLocale data.v}}][{{data.v.length}}]",
                data=data,
            )
        )
    return cases


CASES: list[Case] = [
    *_CORE,
    *_BLOCKS,
    *_WHITESPACE,
    *_COMPARISON,
    *_STRINGS,
    *_MATH,
    *_NUMBERS,
    *_ARRAYS,
    *_OBJECTS,
    *_OTHER_GROUPS,
    *_DATES,
    *_LOCALE,
    *_ERRORS,
    *_MESSAGES,
    *_MIXED,
    *_variants(),
]
