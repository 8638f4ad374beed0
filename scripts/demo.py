"""The demo city: Dongguan's towns and categories, a few hundred enterprises whose names fit
what they make, inspectors, labs accredited for the categories they really test, and users.

The test items of each category (``ITEMS``) follow the standard the category is tested
against in ``data/dongguan.json``; ``demo_quarter`` draws its results from them.
"""

import json
import random
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from extensions import db
from models.auth import User
from models.registry import Category, Enterprise, Inspector, Lab
from sampling.credit_code import ALPHABET, make_code
from services.audit import record_event
from services.users import hash_token, new_token

DATA = Path(__file__).resolve().parent.parent / "data" / "dongguan.json"


@dataclass(frozen=True)
class Item:
    """A test item (检验项目) of a category's standard: what passes, what a failure measures."""

    name: str
    requirement: str
    good: str
    bad: str
    unit: str | None = None
    critical: bool = False
    weight: int = 1  # how often it is the item that fails, relative to the others


ITEMS = {
    "DX-01": [Item("导体电阻", "≤ 18.1", "17.6", "21.4", "Ω/km", True, 5),
              Item("绝缘厚度平均值", "≥ 0.7", "0.74", "0.61", "mm", True, 3),
              Item("绝缘老化前抗张强度", "≥ 12.5", "15.2", "10.8", "MPa", False, 2),
              Item("不延燃试验", "上端无损距离 ≥ 50 mm", "符合", "上端烧损", None, True, 1),
              Item("标志耐擦性", "擦拭10次后清晰", "符合", "字迹模糊", None, False, 1)],
    "DQ-01": [Item("泄漏电流和电气强度", "≤ 0.75", "0.21", "1.36", "mA", True, 3),
              Item("发热", "手柄温升 ≤ 35", "22", "41", "K", True, 2),
              Item("结构", "蒸汽开关可靠", "符合", "干烧保护失效", None, True, 2),
              Item("电源连接和外部软线", "软线截面积 ≥ 0.75", "0.75", "0.50", "mm²", True, 2),
              Item("标志和说明", "GB 4706.1 第7章", "符合", "缺少额定功率标志", None, False, 3)],
    "DQ-02": [Item("温升", "端子温升 ≤ 45", "28", "57", "K", True, 3),
              Item("插头插入和拔出所需的力", "1.5 N – 40 N", "12 N", "54 N", None, False, 2),
              Item("防触电保护", "单极插入不得触及带电部件", "符合", "可触及带电部件", None, True, 3),
              Item("爬电距离、电气间隙", "≥ 3", "3.6", "2.1", "mm", True, 1),
              Item("标志", "GB/T 2099.1 第8章", "符合", "未标注额定电流", None, False, 2)],
    "DQ-03": [Item("骚扰电压", "符合 GB/T 17743 限值", "符合", "超限 8.3 dB", None, False, 4),
              Item("谐波电流", "符合 GB 17625.1", "符合", "3次谐波超限", None, False, 2),
              Item("爬电距离和电气间隙", "≥ 2.5", "3.1", "1.6", "mm", True, 2),
              Item("防触电保护", "不可触及带电部件", "符合", "可触及带电部件", None, True, 1),
              Item("标记", "GB 7000.1 第3章", "符合", "缺少额定电压", None, False, 2)],
    "DZ-01": [Item("标称容量", "≥ 标称值", "10 150 mAh", "7 320 mAh", None, False, 4),
              Item("过充电保护", "不起火、不爆炸", "符合", "起火", None, True, 2),
              Item("外部短路保护", "不起火、不爆炸", "符合", "外壳熔化", None, True, 2),
              Item("挤压", "不起火、不爆炸", "符合", "冒烟", None, True, 1),
              Item("标识", "GB 31241 第7章", "符合", "缺少警示说明", None, False, 2)],
    "DZ-02": [Item("最高车速", "≤ 25", "24.6", "31.2", "km/h", True, 4),
              Item("整车质量", "≤ 55", "52.8", "61.5", "kg", False, 3),
              Item("制动性能", "干态制动距离 ≤ 7", "5.2", "8.1", "m", True, 2),
              Item("防篡改", "不可通过简单改装提高车速", "符合", "可拆除限速线", None, True, 2),
              Item("阻燃性能", "燃烧速率 ≤ 75", "41", "96", "mm/min", True, 1)],
    "WJ-01": [Item("熄火保护装置", "开阀 ≤ 15 s，闭阀 ≤ 60 s", "8 s / 32 s", "8 s / 74 s", None, True, 3),
              Item("热效率", "≥ 63", "64.8", "59.1", "%", False, 3),
              Item("燃烧工况", "干烟气中CO ≤ 0.05", "0.012", "0.083", "%", True, 2),
              Item("气密性", "泄漏量 ≤ 0.07", "0.02", "0.11", "L/h", True, 1),
              Item("标志", "GB 16410 第9章", "符合", "未标注适用气种", None, False, 1)],
    "WJ-02": [Item("小零件", "不得有可容入小零件试验器的零件", "符合", "眼睛脱落可容入", None, True, 3),
              Item("增塑剂", "DEHP+DBP+BBP ≤ 0.1", "未检出", "0.85", "%", True, 3),
              Item("可触及锐利边缘", "不得有危险锐利边缘", "符合", "有危险锐利边缘", None, True, 2),
              Item("可迁移元素", "可溶性铅 ≤ 90", "< 5", "214", "mg/kg", True, 1),
              Item("标识和使用说明", "GB 6675.1 附录", "符合", "缺少年龄警示", None, False, 3)],
    "TC-01": [Item("制动装置", "斜面12°不滑移", "符合", "滑移 35 mm", None, True, 3),
              Item("稳定性", "斜面10°不倾翻", "符合", "倾翻", None, True, 2),
              Item("锁定装置", "意外折叠不得发生", "符合", "锁定失效", None, True, 2),
              Item("剪切和挤压", "不得有 5–12 mm 的间隙", "符合", "有 8 mm 挤压点", None, True, 1),
              Item("使用说明", "GB 14748 第7章", "符合", "缺少警示语", None, False, 2)],
    "FZ-01": [Item("纤维含量", "与标注相符（允差 ±5%）", "符合", "棉 62.3%（标注 100%）", None, False, 5),
              Item("pH值", "4.0 – 8.5", "6.4", "9.1", None, True, 2),
              Item("甲醛含量", "≤ 75", "< 20", "112", "mg/kg", True, 1),
              Item("耐湿摩擦色牢度", "≥ 2–3", "3", "1–2", "级", False, 3),
              Item("使用说明", "GB/T 5296.4", "符合", "缺少洗涤说明", None, False, 2)],
    "FZ-02": [Item("纤维含量", "与标注相符", "符合", "羊毛 31.5%（标注 70%）", None, False, 5),
              Item("起球", "≥ 3", "3–4", "2", "级", False, 3),
              Item("水洗尺寸变化率", "-5.0 – +2.0", "-2.1", "-8.4", "%", False, 2),
              Item("pH值", "4.0 – 8.5", "6.8", "8.9", None, True, 1),
              Item("使用说明", "GB/T 5296.4", "符合", "缺少纤维含量", None, False, 1)],
    "XL-01": [Item("邻苯二甲酸酯", "≤ 0.1", "未检出", "0.62", "%", True, 3),
              Item("耐折性能", "40 000 次无裂纹", "符合", "裂纹 6 mm", None, False, 2),
              Item("鞋跟高度", "≤ 30", "18", "36", "mm", False, 2),
              Item("外底耐磨性能", "≤ 12", "8", "16", "mm", False, 2),
              Item("标识", "GB 30585 第6章", "符合", "缺少适用年龄", None, False, 1)],
    "JJ-01": [Item("稳定性", "不得倾翻", "符合", "抽屉拉出时倾翻", None, True, 3),
              Item("甲醛释放量", "≤ 0.124", "0.04", "0.31", "mg/m³", True, 2),
              Item("孔和间隙", "不得有 8–25 mm 的孔", "符合", "有 12 mm 孔", None, True, 2),
              Item("危险锐利边缘", "不得有", "符合", "有", None, True, 1),
              Item("警示标识", "GB 28007 第8章", "符合", "缺少警示标识", None, False, 2)],
}
# Batch failure rates per category, in line with recent national and provincial spot checks.
FAILURE_RATES = {"DX-01": 0.16, "DQ-01": 0.10, "DQ-02": 0.13, "DQ-03": 0.15, "DZ-01": 0.14, "DZ-02": 0.11,
                 "WJ-01": 0.12, "WJ-02": 0.09, "TC-01": 0.08, "FZ-01": 0.10, "FZ-02": 0.12, "XL-01": 0.09,
                 "JJ-01": 0.07}

# What a maker of each category calls itself (字号 + 行业).
TRADES = {
    "DX-01": ("电线电缆", "线缆科技", "电缆实业"), "DQ-01": ("电器", "电器制品", "家电科技"),
    "DQ-02": ("电工电器", "电气", "开关插座"), "DQ-03": ("照明科技", "光电", "照明电器"),
    "DZ-01": ("新能源科技", "电池科技", "电子科技"), "DZ-02": ("电动车", "车业", "电动车科技"),
    "WJ-01": ("燃气具", "厨具电器", "五金制品"), "WJ-02": ("玩具", "玩具制品", "塑胶玩具"),
    "TC-01": ("婴童用品", "童车", "儿童用品"), "FZ-01": ("服饰", "制衣", "时装"),
    "FZ-02": ("毛织", "针织", "毛织制衣"), "XL-01": ("鞋业", "童鞋", "鞋材"),
    "JJ-01": ("家具", "儿童家具", "木业"),
}
# What else a maker of a category plausibly makes (a kettle maker may make plugs, never sofas).
ALSO_MAKES = {"DQ-01": ("DQ-02",), "DQ-02": ("DQ-01", "DQ-03"), "DQ-03": ("DQ-02",), "DX-01": ("DQ-02",),
              "DZ-01": ("DZ-02",), "DZ-02": ("DZ-01",), "WJ-01": ("DQ-01",), "WJ-02": ("TC-01",),
              "TC-01": ("WJ-02", "JJ-01"), "FZ-01": ("FZ-02",), "FZ-02": ("FZ-01",), "XL-01": ("FZ-01",),
              "JJ-01": ("TC-01",)}
# What the products on the shelf are called.
PRODUCTS = {
    "DX-01": ("BV 单芯铜导体电线 2.5mm²", "BVR 多股软电线 4mm²", "RVV 护套软电缆 3×1.5mm²"),
    "DQ-01": ("电热水壶 1.7L", "不锈钢电热水壶 1.5L", "养生壶 1.8L"),
    "DQ-02": ("五孔插座", "多位延长线插座", "10A 两极插头"),
    "DQ-03": ("LED 吸顶灯 24W", "LED 筒灯 7W", "LED 台灯"), "DZ-01": ("移动电源 10000mAh", "锂离子电池组 48V 12Ah"),
    "DZ-02": ("电动自行车 TDT 型",), "WJ-01": ("嵌入式双眼燃气灶", "台式燃气灶"),
    "WJ-02": ("塑胶积木玩具", "毛绒玩具", "电动遥控车玩具"), "TC-01": ("婴儿推车", "轻便折叠推车"),
    "FZ-01": ("男式休闲夹克", "女式针织连衣裙", "儿童休闲裤"), "FZ-02": ("羊毛衫", "女式开衫"),
    "XL-01": ("儿童运动鞋", "儿童凉鞋"), "JJ-01": ("儿童床", "儿童书桌", "儿童衣柜"),
}
# Seasonal products (季节性产品): knitwear is checked in its autumn-winter season.
SEASONS = {"FZ-02": [10, 11, 12, 1, 2]}
# Sellers (流通领域), online shops (电子商务) and importers (跨境电商): name, platform, what they sell.
TRADERS = (
    ("seller", "百货有限公司", None, ("DQ-01", "DQ-02", "DQ-03", "WJ-02", "FZ-01", "FZ-02")),
    ("seller", "超市有限公司", None, ("DQ-01", "DQ-02", "WJ-02", "FZ-01", "XL-01")),
    ("seller", "五金电器商行", None, ("DQ-02", "DQ-03", "DX-01", "WJ-01")),
    ("seller", "母婴用品店", None, ("WJ-02", "TC-01", "XL-01", "JJ-01")),
    ("online_shop", "电子商务有限公司", "天猫", ("DQ-01", "DQ-03", "DZ-01", "WJ-02")),
    ("online_shop", "网络科技有限公司", "京东", ("DQ-01", "DQ-02", "DZ-01", "FZ-01")),
    ("online_shop", "电子商务有限公司", "拼多多", ("WJ-02", "TC-01", "XL-01", "FZ-02")),
    ("importer", "进出口贸易有限公司", None, ("WJ-02", "TC-01", "DZ-01")),
)
NAME_CHARS = "华兴利达盛宏信丰联创源美恒广新鸿昌泰富嘉永安旭凯晟铭卓越锦德汇佳顺瑞星博"
SURNAMES = "陈李黄张梁刘叶林何罗钟莫袁邓卢谢蔡郑王吴周徐孙马朱胡郭"
GIVEN = ("伟", "志强", "丽娟", "建华", "晓明", "海燕", "国平", "雪梅", "俊杰", "文静", "家豪", "秀英", "振东",
         "嘉欣", "永强", "美玲", "子轩", "慧敏")
STREETS = ("工业大道", "兴业路", "科技路", "环城路", "创业路")
SCALE_WEIGHTS = {"large": 1, "medium": 3, "small": 8, "micro": 5}

# Labs and what they are accredited for: a textile lab does not test gas stoves.
LABS = (
    ("LAB01", "广东产品质量监督检验研究院", "CNAS L0327", ("DX", "DQ", "DZ", "WJ-01"), 300),
    ("LAB02", "东莞市质量监督检测中心", "CNAS L1234", ("DX", "DQ", "WJ", "TC-01", "JJ-01"), 300),
    ("LAB03", "国家消费类电子产品质量检验检测中心（东莞）", "CMA 190012050316", ("DQ-03", "DZ"), 200),
    ("LAB04", "东莞市纺织服装鞋类检验所", "CNAS L2291", ("FZ", "XL-01"), 200),
    ("LAB05", "广东省玩具及婴童用品质量监督检验站", "CNAS L3802", ("WJ-02", "TC-01", "JJ-01", "XL-01"), 200),
    ("LAB06", "广州海关技术中心纺织品检测实验室", "CNAS L0153", ("FZ-01", "FZ-02"), 150),
)


def reference() -> dict:
    """Dongguan's reference data shipped with the project."""
    return json.loads(DATA.read_text(encoding="utf-8"))


def credit_code(rng: random.Random, division: str) -> str:
    """A well-formed unified social credit code of a company registered in ``division``."""
    org = "".join(rng.choice(ALPHABET) for _ in range(9))
    return make_code("91" + division + org)


def load_demo(seed: int = 2026, enterprises: int = 400) -> None:
    """Fill an empty database with the demo city (categories, makers, sellers, shops, inspectors, labs)."""
    rng = random.Random(seed)
    ref = reference()
    categories = make_categories(ref["categories"])
    make_enterprises(rng, ref, categories, enterprises)
    make_traders(rng, ref, categories, max(enterprises // 8, 12))
    make_inspectors(rng, ref["regions"])
    make_labs(categories)
    record_event("demo", "city", ref["division_code"], after={"enterprises": enterprises}, actor="cli")
    db.session.commit()


def make_categories(rows: list[dict]) -> dict[str, Category]:
    """The catalogue of the reference data, parents first."""
    categories = {}
    for row in rows:
        category = Category(
            code=row["code"], name=row["name"], group=row["group"],
            key_supervised=row.get("key_supervised", False), risk_level=row.get("risk_level", 1),
            standard=row.get("standard"), parent=categories.get(row.get("parent")),
            season_months=SEASONS.get(row["code"]),
        )
        db.session.add(category)
        categories[row["code"]] = category
    db.session.flush()
    return categories


def enterprise_name(rng: random.Random, category: str, taken: set[str]) -> str:
    """A company name that fits ``category`` and no other enterprise of the city has."""
    while True:
        trade = rng.choice(TRADES[category])
        name = f"东莞市{rng.choice(NAME_CHARS)}{rng.choice(NAME_CHARS)}{trade}有限公司"
        if name not in taken and name[3] != name[4]:
            taken.add(name)
            return name


def make_enterprises(rng: random.Random, ref: dict, categories: dict[str, Category], count: int) -> None:
    """Producers spread over the towns, most making their town's speciality; names fit products."""
    regions, specialities = ref["regions"], ref["specialities"]
    leaves = sorted(code for code, c in categories.items() if c.parent is not None)
    codes, names = set(), set()
    for i in range(count):
        region = regions[i % len(regions)] if i < len(regions) * 4 else rng.choice(regions)
        special = specialities.get(region)
        first = rng.choice(special) if special and rng.random() < 0.7 else rng.choice(leaves)
        chosen = {first}
        if rng.random() < 0.2:
            chosen.add(rng.choice(ALSO_MAKES[first]))
        code = credit_code(rng, ref["division_code"])
        while code in codes:
            code = credit_code(rng, ref["division_code"])
        codes.add(code)
        db.session.add(Enterprise(
            credit_code=code, name=enterprise_name(rng, first, names), region=region,
            address=f"{region}{rng.choice(STREETS)}{rng.randint(1, 300)}号",
            scale=rng.choices(list(SCALE_WEIGHTS), weights=list(SCALE_WEIGHTS.values()))[0],
            status="active" if rng.random() > 0.03 else "closed",
            categories=[categories[c] for c in sorted(chosen)],
        ))
    db.session.flush()


def make_traders(rng: random.Random, ref: dict, categories: dict[str, Category], count: int) -> None:
    """Sellers, online shops and importers: what distribution, online and cross-border plans draw."""
    names = set(db.session.scalars(select(Enterprise.name)))
    codes = set(db.session.scalars(select(Enterprise.credit_code)))
    for i in range(count):
        kind, trade, platform, sells = TRADERS[i % len(TRADERS)]
        region = rng.choice(ref["regions"][:16])
        name = f"东莞市{rng.choice(NAME_CHARS)}{rng.choice(NAME_CHARS)}{trade}"
        while name in names or name[3] == name[4]:
            name = f"东莞市{rng.choice(NAME_CHARS)}{rng.choice(NAME_CHARS)}{trade}"
        names.add(name)
        code = credit_code(rng, ref["division_code"])
        while code in codes:
            code = credit_code(rng, ref["division_code"])
        codes.add(code)
        db.session.add(Enterprise(
            credit_code=code, name=name, region=region, address=f"{region}{rng.choice(STREETS)}{rng.randint(1, 300)}号",
            scale=rng.choice(("medium", "small", "small", "micro")), status="active", kinds=[kind],
            platform=platform, shop_id=f"{rng.randint(10**8, 10**9 - 1)}" if platform else None,
            categories=[categories[c] for c in sorted(rng.sample(sells, 3))],
        ))
    db.session.flush()


def make_inspectors(rng: random.Random, regions: list[str], count: int = 48) -> list[Inspector]:
    """Law-enforcement inspectors of the town branches, each with a distinct name."""
    names, inspectors = set(), []
    for i in range(count):
        region = regions[i % 16]
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        while name in names:
            name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        names.add(name)
        inspector = Inspector(code=f"INS{i + 1:03d}", name=name, region=region,
                              unit=f"东莞市市场监督管理局{region}分局")
        db.session.add(inspector)
        inspectors.append(inspector)
    db.session.flush()
    return inspectors


def accredited(scopes: tuple[str, ...], categories: dict[str, Category]) -> list[Category]:
    """The leaf categories under ``scopes`` (a family code covers its children)."""
    return [c for code, c in sorted(categories.items()) if c.parent is not None
            and (code in scopes or c.parent.code in scopes)]


def make_labs(categories: dict[str, Category]) -> list[Lab]:
    """The city's accredited labs, each for the categories it really tests."""
    labs = []
    for code, name, accreditation, scopes, capacity in LABS:
        lab = Lab(code=code, name=name, accreditation=accreditation, capacity=capacity,
                  categories=accredited(scopes, categories))
        db.session.add(lab)
        labs.append(lab)
    db.session.flush()
    return labs


def make_users(inspectors: list[Inspector], lab: Lab) -> list[dict]:
    """Demo users with fresh tokens: a supervisor, two inspectors of one drawn team, that team's lab.

    Each is ``{key, role, bound, name, token}``; ``bound`` names the inspector or lab code.
    """
    people = [("supervisor", "supervisor", None, "演示监管员", {})]
    for key, inspector in zip(("inspector", "inspector2"), inspectors, strict=False):
        people.append((key, "inspector", inspector.code, inspector.name, {"inspector": inspector}))
    people.append(("lab", "lab", lab.code, lab.name, {"lab": lab}))
    users = []
    for key, role, bound, name, records in people:
        token = new_token()
        db.session.add(User(name=name, role=role, token_hash=hash_token(token), **records))
        users.append({"key": key, "role": role, "bound": bound, "name": name, "token": token})
    db.session.commit()
    return users
