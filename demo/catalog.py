"""Master data of the demo retailer: categories, brands, suppliers, SKUs and their aliases,
selling points, warehouses and paying customers.

Everything is drawn from one numpy Generator so that a seed fixes the whole catalog.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from demo.scales import DATA_END, DATA_START, WARMUP_START


@dataclass(frozen=True)
class Category:
    zh: str
    en: str
    code: str
    sku_share: float
    median_price: float
    elasticity: float  # planted; written to truth_elasticity
    season: str  # "flat" | "summer" | "winter" | "gifting"
    spec_zh: tuple[str, ...]
    spec_en: tuple[str, ...]


CATEGORIES: tuple[Category, ...] = (
    Category(
        "面膜",
        "Face mask",
        "mask",
        0.12,
        89,
        -2.0,
        "flat",
        ("10片装", "5片装", "20片装"),
        ("10 sheets", "5 sheets", "20 sheets"),
    ),
    Category("精华", "Serum", "serum", 0.12, 299, -1.2, "flat", ("30ml", "50ml", "15ml"), ("30ml", "50ml", "15ml")),
    Category("面霜", "Face cream", "cream", 0.10, 259, -1.5, "winter", ("50g", "30g", "15g"), ("50g", "30g", "15g")),
    Category(
        "洁面", "Cleanser", "cleanser", 0.08, 79, -1.8, "flat", ("120g", "100ml", "50g"), ("120g", "100ml", "50g")
    ),
    Category(
        "爽肤水", "Toner", "toner", 0.08, 129, -1.6, "flat", ("150ml", "200ml", "100ml"), ("150ml", "200ml", "100ml")
    ),
    Category(
        "防晒", "Sunscreen", "sunscreen", 0.07, 139, -1.4, "summer", ("50ml", "30ml", "60g"), ("50ml", "30ml", "60g")
    ),
    Category(
        "口红", "Lipstick", "lipstick", 0.10, 189, -1.3, "gifting", ("3.5g", "3g", "礼盒"), ("3.5g", "3g", "gift box")
    ),
    Category(
        "粉底", "Foundation", "foundation", 0.07, 269, -1.1, "flat", ("30ml", "40ml", "15ml"), ("30ml", "40ml", "15ml")
    ),
    Category(
        "眼霜", "Eye cream", "eyecream", 0.06, 329, -0.9, "winter", ("15g", "20ml", "10g"), ("15g", "20ml", "10g")
    ),
    Category(
        "卸妆",
        "Makeup remover",
        "remover",
        0.06,
        99,
        -2.2,
        "flat",
        ("200ml", "150ml", "500ml"),
        ("200ml", "150ml", "500ml"),
    ),
    Category(
        "身体乳",
        "Body lotion",
        "bodylotion",
        0.07,
        89,
        -1.7,
        "winter",
        ("250ml", "400ml", "200g"),
        ("250ml", "400ml", "200g"),
    ),
    Category(
        "香水", "Perfume", "perfume", 0.07, 459, -0.8, "gifting", ("50ml", "30ml", "100ml"), ("50ml", "30ml", "100ml")
    ),
)

# Fictional brands: (Chinese display name, English display name).
BRANDS: tuple[tuple[str, str], ...] = (
    ("花间集", "Huajianji"),
    ("雪肌源", "Xuejiyuan"),
    ("澄研", "Chengyan"),
    ("青禾", "Qinghe"),
    ("悦颜", "Yueyan"),
    ("水之谧", "Aquamist"),
    ("植萃家", "Botanica Home"),
    ("初白", "Chubai"),
    ("蔻丝", "Kousi"),
    ("沐光", "Muguang"),
    ("玉容坊", "Yurong"),
    ("柔肌", "Softskin"),
    ("颜究所", "Yan Lab"),
    ("润百颜", "Runbaiyan Lab"),
    ("芷兰", "Zhilan"),
    ("瑷尔", "Aier"),
    ("素然", "Suran"),
    ("薇诺", "Weinuo"),
    ("凝时", "Ningshi"),
    ("晨露", "Morning Dew"),
    ("黛妆", "Daizhuang"),
    ("花漾", "Huayang"),
    ("珂兰", "Kelan"),
    ("朵拉", "Dora"),
    ("静研", "Jingyan"),
    ("光感", "Glowcode"),
    ("若水", "Ruoshui"),
    ("安肌", "Anji"),
    ("雅萃", "Yacui"),
    ("木槿", "Mujin"),
    ("星颜", "Starface"),
    ("纯粹", "Purely"),
    ("清屿", "Qingyu"),
    ("美研社", "Meiyan"),
    ("香氛集", "Scent Co"),
    ("红颜", "Hongyan"),
)

ADJECTIVES: tuple[tuple[str, str], ...] = (
    ("水润", "Hydrating"),
    ("焕亮", "Brightening"),
    ("修护", "Repairing"),
    ("紧致", "Firming"),
    ("净透", "Clarifying"),
    ("舒缓", "Soothing"),
    ("美白", "Whitening"),
    ("保湿", "Moisturizing"),
    ("抗皱", "Anti-wrinkle"),
    ("清爽", "Fresh"),
    ("滋养", "Nourishing"),
    ("柔滑", "Silky"),
    ("控油", "Oil-control"),
    ("亮采", "Radiance"),
    ("丝绒", "Velvet"),
    ("轻盈", "Light"),
)
INGREDIENTS: tuple[tuple[str, str], ...] = (
    ("玻尿酸", "Hyaluronic"),
    ("烟酰胺", "Niacinamide"),
    ("神经酰胺", "Ceramide"),
    ("积雪草", "Centella"),
    ("视黄醇", "Retinol"),
    ("胶原蛋白", "Collagen"),
    ("茶树", "Tea Tree"),
    ("氨基酸", "Amino Acid"),
    ("维C", "Vitamin C"),
    ("二裂酵母", "Bifida"),
    ("玫瑰", "Rose"),
    ("山茶花", "Camellia"),
    ("蜂蜜", "Honey"),
    ("白松露", "White Truffle"),
    ("人参", "Ginseng"),
    ("绿茶", "Green Tea"),
    ("珍珠", "Pearl"),
    ("雪莲", "Snow Lotus"),
    ("燕窝", "Bird's Nest"),
    ("乳木果", "Shea"),
)

SOURCE_SYSTEMS = ("shop", "wms", "finance", "pos")

CHANNELS = ("tmall", "jd", "douyin", "xiaohongshu", "offline")


@dataclass(frozen=True)
class StoreSpec:
    store_id: str
    store_name: str
    store_name_en: str
    channel: str
    city: str
    city_en: str
    region: str
    region_en: str
    warehouse_id: str
    weight: float  # share of the company's demand before seasonality
    assortment: float  # share of the SKU range (most popular first) the store sells
    operator: str | None  # distributor that runs a franchise store and is invoiced for it


STORES: tuple[StoreSpec, ...] = (
    StoreSpec(
        "tmall_flagship",
        "天猫旗舰店",
        "Tmall flagship store",
        "tmall",
        "杭州",
        "Hangzhou",
        "华东",
        "East China",
        "wh_sh",
        0.27,
        1.0,
        None,
    ),
    StoreSpec(
        "tmall_outlet",
        "天猫奥莱店",
        "Tmall outlet store",
        "tmall",
        "杭州",
        "Hangzhou",
        "华东",
        "East China",
        "wh_sh",
        0.07,
        0.6,
        None,
    ),
    StoreSpec(
        "jd_flagship",
        "京东自营旗舰店",
        "JD flagship store",
        "jd",
        "北京",
        "Beijing",
        "华北",
        "North China",
        "wh_bj",
        0.15,
        0.75,
        None,
    ),
    StoreSpec(
        "douyin_shop",
        "抖音官方旗舰店",
        "Douyin official store",
        "douyin",
        "上海",
        "Shanghai",
        "华东",
        "East China",
        "wh_gz",
        0.15,
        0.45,
        None,
    ),
    StoreSpec(
        "xhs_shop",
        "小红书官方店",
        "Xiaohongshu official store",
        "xiaohongshu",
        "上海",
        "Shanghai",
        "华东",
        "East China",
        "wh_sh",
        0.07,
        0.5,
        None,
    ),
    StoreSpec(
        "st_sh01",
        "上海南京路店",
        "Shanghai Nanjing Road store",
        "offline",
        "上海",
        "Shanghai",
        "华东",
        "East China",
        "wh_sh",
        0.035,
        0.5,
        None,
    ),
    StoreSpec(
        "st_sh02",
        "上海徐家汇店",
        "Shanghai Xujiahui store",
        "offline",
        "上海",
        "Shanghai",
        "华东",
        "East China",
        "wh_sh",
        0.03,
        0.5,
        None,
    ),
    StoreSpec(
        "st_sh03",
        "上海五角场店",
        "Shanghai Wujiaochang store",
        "offline",
        "上海",
        "Shanghai",
        "华东",
        "East China",
        "wh_sh",
        0.022,
        0.45,
        None,
    ),
    StoreSpec(
        "st_hz01",
        "杭州湖滨店",
        "Hangzhou Hubin store",
        "offline",
        "杭州",
        "Hangzhou",
        "华东",
        "East China",
        "wh_sh",
        0.025,
        0.45,
        None,
    ),
    StoreSpec(
        "st_nj01",
        "南京新街口店",
        "Nanjing Xinjiekou store",
        "offline",
        "南京",
        "Nanjing",
        "华东",
        "East China",
        "wh_sh",
        0.022,
        0.45,
        "dist_east",
    ),
    StoreSpec(
        "st_bj01",
        "北京三里屯店",
        "Beijing Sanlitun store",
        "offline",
        "北京",
        "Beijing",
        "华北",
        "North China",
        "wh_bj",
        0.03,
        0.5,
        None,
    ),
    StoreSpec(
        "st_bj02",
        "北京西单店",
        "Beijing Xidan store",
        "offline",
        "北京",
        "Beijing",
        "华北",
        "North China",
        "wh_bj",
        0.025,
        0.45,
        None,
    ),
    StoreSpec(
        "st_tj01",
        "天津滨江道店",
        "Tianjin Binjiang Road store",
        "offline",
        "天津",
        "Tianjin",
        "华北",
        "North China",
        "wh_bj",
        0.018,
        0.4,
        "dist_north",
    ),
    StoreSpec(
        "st_gz01",
        "广州天河店",
        "Guangzhou Tianhe store",
        "offline",
        "广州",
        "Guangzhou",
        "华南",
        "South China",
        "wh_gz",
        0.028,
        0.45,
        None,
    ),
    StoreSpec(
        "st_sz01",
        "深圳万象城店",
        "Shenzhen MixC store",
        "offline",
        "深圳",
        "Shenzhen",
        "华南",
        "South China",
        "wh_gz",
        0.026,
        0.45,
        "dist_south",
    ),
    StoreSpec(
        "st_sz02",
        "深圳海岸城店",
        "Shenzhen Coastal City store",
        "offline",
        "深圳",
        "Shenzhen",
        "华南",
        "South China",
        "wh_gz",
        0.018,
        0.4,
        "dist_south",
    ),
    StoreSpec(
        "st_cd01",
        "成都春熙路店",
        "Chengdu Chunxi Road store",
        "offline",
        "成都",
        "Chengdu",
        "西南",
        "Southwest China",
        "wh_gz",
        0.026,
        0.45,
        "dist_west",
    ),
)

WAREHOUSES = pd.DataFrame(
    {
        "warehouse_id": ["wh_sh", "wh_bj", "wh_gz"],
        "warehouse_name": ["上海嘉定仓", "北京大兴仓", "广州白云仓"],
        "warehouse_name_en": ["Shanghai Jiading DC", "Beijing Daxing DC", "Guangzhou Baiyun DC"],
        "city": ["上海", "北京", "广州"],
    }
)

# Paying customers: platform settlement accounts (settle the shop's sales weekly) and
# distributors running franchise stores (invoiced monthly, slower and less reliable payers).
CUSTOMERS = pd.DataFrame(
    {
        "customer_id": [
            "cus_tmall",
            "cus_jd",
            "cus_douyin",
            "cus_xhs",
            "dist_east",
            "dist_north",
            "dist_south",
            "dist_west",
        ],
        "customer_name": [
            "天猫结算账户",
            "京东结算账户",
            "抖音小店结算账户",
            "小红书结算账户",
            "华东美妆经销商",
            "华北联合经销商",
            "华南丽人经销商",
            "西南悦美经销商",
        ],
        "customer_type": ["platform"] * 4 + ["distributor"] * 4,
        "payment_terms_days": [15, 30, 7, 14, 60, 60, 45, 60],
    }
)
PLATFORM_CUSTOMER = {"tmall": "cus_tmall", "jd": "cus_jd", "douyin": "cus_douyin", "xiaohongshu": "cus_xhs"}


def stores_frame() -> pd.DataFrame:
    rows = [
        {
            "store_id": s.store_id,
            "store_name": s.store_name,
            "store_name_en": s.store_name_en,
            "channel": s.channel,
            "channel_type": "offline" if s.channel == "offline" else "online",
            "city": s.city,
            "city_en": s.city_en,
            "region": s.region,
            "region_en": s.region_en,
            "warehouse_id": s.warehouse_id,
        }
        for s in STORES
    ]
    return pd.DataFrame(rows)


@dataclass
class Catalog:
    """The SKU master and the arrays the simulation indexes by SKU position."""

    skus: pd.DataFrame
    aliases: pd.DataFrame
    suppliers: pd.DataFrame
    category_index: np.ndarray  # per SKU, position in CATEGORIES
    supplier_index: np.ndarray  # per SKU, row of `suppliers`
    base_demand: np.ndarray  # units/day company-wide at the reference price, before seasonality
    ref_price: np.ndarray  # list price at the start of the simulation (demand reference)
    unit_cost: np.ndarray
    launch_day: np.ndarray  # simulation day index of launch (may be negative: launched before)
    decline_day: np.ndarray  # day from which demand fades (end of life); large = never
    volatility: np.ndarray  # gamma shape of day-to-day demand noise: small = erratic (XYZ "Z")
    pack_size: np.ndarray  # case pack: order quantities are multiples of it


def _sim_day(d: pd.Timestamp) -> int:
    return int((d - pd.Timestamp(WARMUP_START)).days)


def build_catalog(rng: np.random.Generator, n_sku: int) -> Catalog:
    cats = CATEGORIES
    shares = np.array([c.sku_share for c in cats])
    cat_idx = rng.choice(len(cats), size=n_sku, p=shares / shares.sum())
    cat_idx.sort(kind="stable")

    n_brand = len(BRANDS)
    brand_idx = rng.integers(0, n_brand, size=n_sku)

    suppliers = _suppliers(rng)
    # Each brand is bought from one supplier (brand owner or its distributor).
    brand_supplier = rng.integers(0, len(suppliers), size=n_brand)
    sup_idx = brand_supplier[brand_idx]

    adj = rng.integers(0, len(ADJECTIVES), size=n_sku)
    ing = rng.integers(0, len(INGREDIENTS), size=n_sku)
    spec = rng.integers(0, 3, size=n_sku)

    median = np.array([c.median_price for c in cats])[cat_idx]
    raw_price = median * rng.lognormal(0.0, 0.35, size=n_sku)
    ref_price = retail_price(raw_price)
    cost_ratio = np.clip(rng.normal(0.69, 0.05, size=n_sku), 0.45, 0.85)
    unit_cost = np.round(ref_price * cost_ratio, 2)

    # Popularity: lognormal, so that about 20% of SKUs make about 80% of GMV.
    base_demand = rng.lognormal(np.log(0.33), 1.6, size=n_sku)
    volatility = rng.choice([1.5, 4.0, 12.0], size=n_sku, p=[0.25, 0.4, 0.35])

    horizon = _sim_day(pd.Timestamp(DATA_END))
    launch_day = rng.integers(-1500, -30, size=n_sku)
    new = rng.random(n_sku) < 0.12
    launch_day[new] = rng.integers(_sim_day(pd.Timestamp(DATA_START)), horizon - 60, size=int(new.sum()))
    decline_day = np.full(n_sku, 10**6)
    fading = (~new) & (rng.random(n_sku) < 0.22)
    decline_day[fading] = rng.integers(-60, horizon - 120, size=int(fading.sum()))
    pack_size = rng.choice([6, 12, 24], size=n_sku, p=[0.3, 0.5, 0.2])

    launch_dates = pd.Timestamp(WARMUP_START) + pd.to_timedelta(launch_day, unit="D")
    sku_ids = np.array([f"sku{i + 1:05d}" for i in range(n_sku)])
    names_zh, names_en = [], []
    for i in range(n_sku):
        c = cats[cat_idx[i]]
        b_zh, b_en = BRANDS[brand_idx[i]]
        names_zh.append(f"{b_zh}{ADJECTIVES[adj[i]][0]}{INGREDIENTS[ing[i]][0]}{c.zh}{c.spec_zh[spec[i]]}")
        names_en.append(f"{b_en} {ADJECTIVES[adj[i]][1]} {INGREDIENTS[ing[i]][1]} {c.en} {c.spec_en[spec[i]]}")
    names_zh = _dedupe(names_zh, " ")
    names_en = _dedupe(names_en, " #")

    skus = pd.DataFrame(
        {
            "sku_id": sku_ids,
            "sku_name": names_zh,
            "sku_name_en": names_en,
            "category": [cats[i].zh for i in cat_idx],
            "category_en": [cats[i].en for i in cat_idx],
            "brand": [BRANDS[i][0] for i in brand_idx],
            "brand_en": [BRANDS[i][1] for i in brand_idx],
            "supplier_id": suppliers["supplier_id"].to_numpy()[sup_idx],
            "unit_cost": unit_cost,
            "list_price": ref_price,  # replaced by the final list price after the simulation
            "launch_date": launch_dates.date,
        }
    )
    aliases = _aliases(rng, skus, cat_idx, brand_idx, adj, ing, spec)
    return Catalog(
        skus=skus,
        aliases=aliases,
        suppliers=suppliers,
        category_index=cat_idx,
        supplier_index=sup_idx,
        base_demand=base_demand,
        ref_price=ref_price,
        unit_cost=unit_cost,
        launch_day=launch_day,
        decline_day=decline_day,
        volatility=volatility,
        pack_size=pack_size,
    )


def retail_price(raw: np.ndarray) -> np.ndarray:
    """Round to the price points shops use: ..x.9 under 100 yuan, ..9 above."""
    cheap = np.round(raw - 0.9) + 0.9
    dear = np.round((raw - 9.0) / 10.0) * 10.0 + 9.0
    return np.where(raw < 100, cheap, dear).round(2)


def _dedupe(names: list[str], sep: str) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        k = seen.get(n, 0)
        seen[n] = k + 1
        out.append(n if k == 0 else f"{n}{sep}{k + 1}")
    return out


def _suppliers(rng: np.random.Generator) -> pd.DataFrame:
    n = 24
    # Fixed mixes, shuffled: the seed decides which supplier gets what, not the mix itself.
    lead = rng.permutation(np.repeat([5.0, 7.0, 10.0, 14.0, 21.0, 28.0], [2, 5, 6, 6, 3, 2]))
    std = np.round(lead * rng.uniform(0.15, 0.45, size=n), 1)
    terms = rng.permutation(np.repeat([30, 45, 60], [14, 7, 3]))
    prefixes = ["上海", "广州", "杭州", "苏州", "深圳", "宁波", "青岛", "无锡"]
    kinds = ["日化", "美妆", "生物科技", "化妆品", "国际贸易", "精细化工"]
    names = [f"{prefixes[i % len(prefixes)]}{kinds[(i * 5) % len(kinds)]}有限公司{i + 1:02d}" for i in range(n)]
    return pd.DataFrame(
        {
            "supplier_id": [f"sup{i + 1:03d}" for i in range(n)],
            "supplier_name": names,
            "lead_time_days": lead,
            "lead_time_std_days": std,
            "payment_terms_days": terms,
        }
    )


def _aliases(
    rng: np.random.Generator,
    skus: pd.DataFrame,
    cat_idx: np.ndarray,
    brand_idx: np.ndarray,
    adj: np.ndarray,
    ing: np.ndarray,
    spec: np.ndarray,
) -> pd.DataFrame:
    """1 to 4 aliases per SKU from the shop, warehouse, finance and POS systems.

    The finance system books gift sets under one set name per brand and category, so
    a few finance aliases ("花间集面膜套装") stand for several SKUs at once.
    """
    n = len(skus)
    n_alias = rng.choice([1, 2, 3, 4], size=n, p=[0.2, 0.35, 0.3, 0.15])
    rows: list[tuple[str, str, str]] = []
    for i in range(n):
        c = CATEGORIES[cat_idx[i]]
        b = BRANDS[brand_idx[i]][0]
        spec_short = c.spec_zh[spec[i]].replace("片装", "P").replace("礼盒", "GB")
        candidates = [
            ("shop", f"【官方正品】{b}{ADJECTIVES[adj[i]][0]}{c.zh}{c.spec_zh[spec[i]]}"),
            ("wms", f"{b}{c.zh}{spec_short}-{skus.sku_id.iat[i][3:]}"),
            ("pos", f"{b}{INGREDIENTS[ing[i]][0]}{c.zh}{spec_short}"),
            ("finance", f"{b}{c.zh}套装" if rng.random() < 0.25 else f"FIN-{c.code}-{skus.sku_id.iat[i][3:]}"),
        ]
        order = rng.permutation(4)[: n_alias[i]]
        for j in sorted(order):
            system, alias = candidates[j]
            rows.append((alias, skus.sku_id.iat[i], system))
    frame = pd.DataFrame(rows, columns=["alias", "sku_id", "source_system"])
    return frame.drop_duplicates(["alias", "sku_id"]).reset_index(drop=True)
