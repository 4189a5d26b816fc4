"""Master data: mentions in Chinese or English, with aliases, synonyms and small typos, to canonical keys."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from engines import connect
from engines.members import load_master_data
from semantic_layer.master_data import (
    Ambiguous,
    Exact,
    Fuzzy,
    MasterData,
    NotFound,
    Resolution,
    normalize,
)
from tests.member_tables import master_data_of

SKUS = [
    ("sku00001", "水润面膜10片装", "Aqua Hydrating Face mask 10 sheets", "面膜", "Face mask", "水之谧", "Aquamist"),
    ("sku00002", "水润面膜20片装", "Aqua Hydrating Face mask 20 sheets", "面膜", "Face mask", "水之谧", "Aquamist"),
    ("sku00003", "青禾修护精华30ml", "Qinghe Repair Serum 30ml", "精华", "Serum", "青禾", "Qinghe"),
    ("sku00004", "青禾修护精华50ml", "Qinghe Repair Serum 50ml", "精华", "Serum", "青禾", "Qinghe"),
]
ALIASES = [
    ("【官方正品】水润面膜10片装", "sku00001", "shop"),
    ("面膜10P", "sku00001", "wms"),
    ("面膜套装", "sku00001", "finance"),
    ("面膜套装", "sku00002", "finance"),
    ("精华30ML-00003", "sku00003", "wms"),
    ("修护精华30ml", "sku00003", "pos"),
    ("FIN-serum-00004", "sku00004", "finance"),
]
STORES = [
    ("tmall_flagship", "天猫旗舰店", "Tmall flagship store", "tmall", "online", "杭州", "Hangzhou", "华东", "East China"),
    ("jd_flagship", "京东自营旗舰店", "JD flagship store", "jd", "online", "北京", "Beijing", "华北", "North China"),
    ("douyin_shop", "抖音官方旗舰店", "Douyin official store", "douyin", "online", "上海", "Shanghai", "华东", "East China"),
    ("xhs_shop", "小红书官方店", "Xiaohongshu official store", "xiaohongshu", "online", "上海", "Shanghai", "华东",
     "East China"),
    ("st_sh01", "上海南京路店", "Shanghai Nanjing Road store", "offline", "offline", "上海", "Shanghai", "华东",
     "East China"),
    ("st_bj01", "北京三里屯店", "Beijing Sanlitun store", "offline", "offline", "北京", "Beijing", "华北", "North China"),
]
WAREHOUSES = [("wh_sh", "上海嘉定仓", "Shanghai Jiading DC", "上海"), ("wh_bj", "北京大兴仓", "Beijing Daxing DC", "北京")]


@pytest.fixture(scope="module")
def md(tmp_path_factory: pytest.TempPathFactory) -> MasterData:
    return master_data_of(tmp_path_factory.mktemp("md"), skus=SKUS, aliases=ALIASES, stores=STORES, warehouses=WAREHOUSES)


def keys(result: Resolution) -> set[tuple[str, str]]:
    if isinstance(result, Exact):
        return {(result.candidate.member.kind, result.candidate.member.key)}
    if isinstance(result, Fuzzy):
        return {(result.best.member.kind, result.best.member.key)}
    if isinstance(result, Ambiguous):
        return {(c.member.kind, c.member.key) for c in result.candidates}
    return set()


@pytest.mark.parametrize(
    ("mention", "kind", "key"),
    [
        # SKUs: names in both languages, ids, aliases from every source system
        ("水润面膜10片装", "sku", "sku00001"),
        ("aqua hydrating FACE MASK 10 sheets", "sku", "sku00001"),
        ("  Aqua   Hydrating Face mask 10 sheets ", "sku", "sku00001"),
        ("ＳＫＵ00003", "sku", "sku00003"),  # full-width
        ("面膜10P", "sku", "sku00001"),
        ("面膜10p", "sku", "sku00001"),
        ("【官方正品】水润面膜10片装", "sku", "sku00001"),
        ("精华30ML-00003", "sku", "sku00003"),
        ("修护精华30ml", "sku", "sku00003"),
        ("FIN-serum-00004", "sku", "sku00004"),
        # stores: names, ids, the name without its city
        ("上海南京路店", "store", "st_sh01"),
        ("Shanghai Nanjing Road store", "store", "st_sh01"),
        ("st_bj01", "store", "st_bj01"),
        ("三里屯店", "store", "st_bj01"),
        ("Sanlitun", "store", "st_bj01"),
        ("天猫旗舰店", "store", "tmall_flagship"),
        # cities, regions, categories, brands, warehouses
        ("上海", "city", "上海"),
        ("上海市", "city", "上海"),
        ("shanghai", "city", "上海"),
        ("华东", "region", "华东"),
        ("East China", "region", "华东"),
        ("华北地区", "region", "华北"),
        ("精华", "category", "精华"),
        ("Serum", "category", "精华"),
        ("serums", "category", "精华"),
        ("face masks", "category", "面膜"),
        ("水之谧", "brand", "水之谧"),
        ("Aquamist", "brand", "水之谧"),
        ("上海嘉定仓", "warehouse", "wh_sh"),
        ("Beijing Daxing DC", "warehouse", "wh_bj"),
        ("wh_bj", "warehouse", "wh_bj"),
        ("嘉定仓", "warehouse", "wh_sh"),  # the name without its city
        ("上海仓", "warehouse", "wh_sh"),  # a synonym from the model
        ("上海的仓库", "warehouse", "wh_sh"),  # the model's prefix forms
        ("Beijing warehouse", "warehouse", "wh_bj"),
        # channels and channel types
        ("tmall", "channel", "tmall"),
        ("天猫", "channel", "tmall"),
        ("Tmall", "channel", "tmall"),
        ("淘宝", "channel", "tmall"),
        ("京东", "channel", "jd"),
        ("JD", "channel", "jd"),
        ("抖音", "channel", "douyin"),
        ("小红书", "channel", "xiaohongshu"),
        ("红书", "channel", "xiaohongshu"),
        ("RED", "channel", "xiaohongshu"),
        ("线下门店", "channel", "offline"),
        ("门店", "channel", "offline"),
        ("stores", "channel", "offline"),
        ("offline", "channel", "offline"),
        ("线上", "channel_type", "online"),
        ("online", "channel_type", "online"),
        ("线下", "channel", "offline"),  # the channel type too: the model prefers the channel (the same rows)
    ],
)
def test_exact_mentions_resolve_to_canonical_keys(md: MasterData, mention: str, kind: str, key: str) -> None:
    result = md.resolve(mention)
    assert isinstance(result, Exact), result
    assert (result.candidate.member.kind, result.candidate.member.key) == (kind, key)


def test_an_alias_shared_by_several_skus_returns_all_of_them(md: MasterData) -> None:
    result = md.resolve("面膜套装")
    assert isinstance(result, Ambiguous)
    assert keys(result) == {("sku", "sku00001"), ("sku", "sku00002")}
    assert all(c.via == "alias:finance" for c in result.candidates)


def test_the_candidate_says_which_name_matched(md: MasterData) -> None:
    result = md.resolve("面膜10P")
    assert isinstance(result, Exact)
    assert result.candidate.via == "alias:wms" and result.candidate.member.name == "水润面膜10片装"


@pytest.mark.parametrize(
    ("mention", "kind", "key"),
    [
        ("Shangahi", "city", "上海"),
        ("tmal", "channel", "tmall"),
        ("Xiaohongsu", "channel", "xiaohongshu"),
        ("上海南京店", "store", "st_sh01"),
        ("青禾修护精华30", "sku", "sku00003"),
        ("Aquamits", "brand", "水之谧"),
    ],
)
def test_small_typos_resolve_fuzzily(md: MasterData, mention: str, kind: str, key: str) -> None:
    result = md.resolve(mention)
    assert isinstance(result, Fuzzy), result
    assert (result.best.member.kind, result.best.member.key) == (kind, key)
    assert 80 <= result.score < 100


def test_a_typo_between_two_skus_is_ambiguous_not_a_guess(md: MasterData) -> None:
    result = md.resolve("水润面膜0片装")  # one character from both the 10- and the 20-sheet SKU
    assert isinstance(result, Ambiguous) and result.score < 100
    assert keys(result) == {("sku", "sku00001"), ("sku", "sku00002")}


@pytest.mark.parametrize("mention", ["上梅", "京冬", "gross margin", "毛利率", "last quarter", "xyz", ""])
def test_unknown_or_too_short_mentions_are_not_guessed(md: MasterData, mention: str) -> None:
    assert isinstance(md.resolve(mention), NotFound)


def test_not_found_offers_suggestions(md: MasterData) -> None:
    result = md.resolve("青禾精华")
    assert isinstance(result, NotFound)
    assert ("brand", "青禾") in {(c.member.kind, c.member.key) for c in result.suggestions}


def test_kinds_narrow_the_search(md: MasterData) -> None:
    assert keys(md.resolve("offline", kinds={"channel_type"})) == {("channel_type", "offline")}
    assert keys(md.resolve("线下", kinds={"channel_type"})) == {("channel_type", "offline")}
    assert keys(md.resolve("Shangahi", kinds={"city"})) == {("city", "上海")}
    assert isinstance(md.resolve("Shangahi", kinds={"sku"}), NotFound)


def mentions(md: MasterData, text: str, **kwargs: object) -> list[tuple[str, set[tuple[str, str]]]]:
    found = md.find_mentions(text, **kwargs)  # type: ignore[arg-type]
    return [(m.text, {(c.member.kind, c.member.key) for c in m.candidates}) for m in found]


def test_find_mentions_in_chinese_without_spaces(md: MasterData) -> None:
    assert mentions(md, "上个月天猫和红书在华东的毛利率") == [
        ("天猫", {("channel", "tmall")}),
        ("红书", {("channel", "xiaohongshu")}),
        ("华东", {("region", "华东")}),
    ]


def test_find_mentions_prefers_the_longest_name(md: MasterData) -> None:
    found = mentions(md, "上海南京路店的水润面膜10片装卖了多少")
    assert found == [("上海南京路店", {("store", "st_sh01")}), ("水润面膜10片装", {("sku", "sku00001")})]


def test_find_mentions_flags_shared_aliases(md: MasterData) -> None:
    (mention,) = md.find_mentions("面膜套装的库存")
    assert mention.ambiguous and len(mention.candidates) == 2


def test_find_mentions_in_english_respects_word_boundaries(md: MasterData) -> None:
    assert mentions(md, "How did Tmall and JD do in East China?") == [
        ("Tmall", {("channel", "tmall")}),
        ("JD", {("channel", "jd")}),
        ("East China", {("region", "华东")}),
    ]
    assert mentions(md, "the jdx credit report") == []
    assert mentions(md, "RED vs bored") == [("RED", {("channel", "xiaohongshu")})]


def test_find_mentions_offsets_point_into_the_original_text(md: MasterData) -> None:
    text = "Ｔｍａｌｌ  与  上海嘉定仓"
    found = md.find_mentions(text)
    assert [text[m.start : m.end] for m in found] == ["Ｔｍａｌｌ", "上海嘉定仓"]
    assert [m.text for m in found] == ["Ｔｍａｌｌ", "上海嘉定仓"]


def test_find_mentions_kinds_filter(md: MasterData) -> None:
    assert mentions(md, "上海南京路店", kinds={"city"}) == [("上海", {("city", "上海")})]


def test_normalize() -> None:
    assert normalize("  ＴＭＡＬＬ\u3000Store ") == "tmall store"


# --- on the demo warehouse -------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_md(demo_db: Path) -> MasterData:
    engine = connect(str(demo_db))
    try:
        return load_master_data(engine)
    finally:
        engine.close()


@pytest.fixture(scope="module")
def demo_aliases(demo_db: Path) -> list[tuple]:
    engine = connect(str(demo_db))
    try:
        return engine.execute("SELECT alias, sku_id FROM sku_alias", row_limit=1_000_000).rows
    finally:
        engine.close()


def test_every_demo_alias_resolves_to_exactly_the_skus_that_carry_it(
    demo_md: MasterData, demo_aliases: list[tuple]
) -> None:
    owners: dict[str, set[tuple[str, str]]] = {}
    for alias, sku_id in demo_aliases:
        owners.setdefault(normalize(alias), set()).add(("sku", sku_id))
    shared = 0
    for alias, expected in owners.items():
        got = keys(demo_md.resolve(alias, kinds={"sku"}))
        assert got == expected, alias
        shared += len(expected) > 1
    assert shared > 0, "the demo has aliases shared by several SKUs (finance's 套装)"


def test_fuzzy_accuracy_on_the_demo(demo_md: MasterData) -> None:
    """One random edit in a name of 4+ characters: almost never a wrong member, rarely missed."""
    rng = random.Random(3)
    hanzi = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子"
    members = [
        m
        for kind in ("sku", "store", "city", "brand", "category", "warehouse")
        for m in demo_md.members(kind)
        for name in (m.name, m.name_en)
        if name and len(normalize(name)) >= 4
    ]
    wrong = missed = total = 0
    for member in rng.sample(members, min(400, len(members))):
        name = rng.choice([n for n in (member.name, member.name_en) if n and len(normalize(n)) >= 4])
        i = rng.randrange(len(name))
        alphabet = hanzi if "\u4e00" <= name[i] <= "\u9fff" else "abcdefghijklmnopqrstuvwxyz"
        typo = rng.choice([name[:i] + name[i + 1 :], name[:i] + rng.choice(alphabet) + name[i + 1 :]])
        result = demo_md.resolve(typo)
        if isinstance(result, Exact):
            continue  # the edit made another real name
        total += 1
        if isinstance(result, NotFound):
            missed += 1
        elif (member.kind, member.key) not in keys(result):
            wrong += 1
    assert total > 300
    assert wrong / total <= 0.01, f"{wrong} wrong of {total}"
    assert missed / total <= 0.05, f"{missed} missed of {total}"


@pytest.mark.parametrize(
    "phrase",
    ["毛利率", "库存周转天数", "上个月", "补货建议", "gross margin", "days of inventory", "last quarter",
     "cash conversion cycle", "conversion rate", "现金转换周期", "应收账龄", "marketing spend", "by month"],
)
def test_metric_and_time_words_are_not_members(demo_md: MasterData, phrase: str) -> None:
    assert isinstance(demo_md.resolve(phrase), NotFound)


def synthetic_rows(n_sku: int = 6000) -> tuple[list[tuple], list[tuple]]:
    """A case-scale vocabulary: 6,000 SKUs with 4 aliases each, the demo's name shapes."""
    rng = random.Random(11)
    brands = [f"品牌{i}" for i in range(40)]
    cats = ["面膜", "精华", "面霜", "口红", "防晒", "洁面", "眼霜", "香水", "卸妆", "爽肤水", "粉底", "身体乳"]
    words = ["水润", "修护", "美白", "控油", "保湿", "紧致", "净透", "滋养", "舒缓", "焕亮", "清爽", "丝绒"]
    skus, aliases = [], []
    for i in range(n_sku):
        sku_id, brand, cat = f"sku{i:05d}", rng.choice(brands), rng.choice(cats)
        name = f"{brand}{rng.choice(words)}{rng.choice(words)}{cat}{i}号"
        skus.append((sku_id, name, f"Brand{brand[2:]} {cat} no {i}", cat, cat, brand, f"Brand{brand[2:]}"))
        aliases += [
            (f"【官方正品】{name}", sku_id, "shop"),
            (f"{brand}{cat}{i}P", sku_id, "wms"),
            (f"{brand}{cat}套装", sku_id, "finance"),
            (f"POS-{i:05d}", sku_id, "pos"),
        ]
    return skus, aliases


def test_a_shared_alias_at_case_scale_is_ambiguous(tmp_path: Path) -> None:
    """(Its speed is benchmarks/recognition_bench.py's.)"""
    skus, aliases = synthetic_rows()
    md = master_data_of(tmp_path, skus=skus, aliases=aliases, stores=STORES, warehouses=WAREHOUSES)
    assert len(md.members("sku")) == 6000 and md.size > 15_000
    found = md.find_mentions("品牌3面膜套装 的库存")
    assert found[0].ambiguous and len(found[0].candidates) > 1
