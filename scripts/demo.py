"""The demo city: Dongguan's towns and categories, a few hundred enterprises, inspectors, labs."""

import json
import random
from pathlib import Path

from auth import hash_token, new_token
from extensions import db
from models.auth import User
from models.registry import Category, Enterprise, Inspector, Lab
from sampling.credit_code import ALPHABET, make_code
from services.audit import record_event

DATA = Path(__file__).resolve().parent.parent / "data" / "dongguan.json"

SURNAMES = "陈李黄张梁刘叶林何罗钟莫袁邓卢谢蔡郑"
GIVEN = ("伟", "志强", "丽娟", "建华", "晓明", "海燕", "国平", "雪梅", "俊杰", "文静", "家豪", "秀英")
TRADE = ("华", "兴", "利", "达", "盛", "宏", "信", "丰", "联", "创", "源", "美", "恒", "广", "新")
SUFFIX = {"DX": "电线电缆", "DQ": "电器", "DZ": "电子科技", "WJ": "五金制品", "TC": "婴童用品",
          "FZ": "服饰", "XL": "鞋业", "JJ": "家具"}
SCALE_WEIGHTS = {"large": 1, "medium": 3, "small": 8, "micro": 5}


def reference() -> dict:
    """Dongguan's reference data shipped with the project."""
    return json.loads(DATA.read_text(encoding="utf-8"))


def credit_code(rng: random.Random, division: str) -> str:
    """A well-formed unified social credit code of a company registered in ``division``."""
    org = "".join(rng.choice(ALPHABET) for _ in range(9))
    return make_code("91" + division + org)


def load_demo(seed: int = 2026, enterprises: int = 300) -> dict[str, str]:
    """Fill an empty database with the demo city; return a token per demo user."""
    rng = random.Random(seed)
    ref = reference()
    categories = _categories(ref["categories"])
    leaves = [c for c in categories.values() if c.parent is not None]
    regions = ref["regions"]
    _enterprises(rng, ref, regions, categories, leaves, enterprises)
    inspectors = _inspectors(rng, regions)
    labs = _labs(leaves)
    tokens = _users(inspectors, labs)
    record_event("demo", "city", ref["division_code"], after={"enterprises": enterprises}, actor="cli")
    db.session.commit()
    return tokens


def _categories(rows: list[dict]) -> dict[str, Category]:
    categories = {}
    for row in rows:
        category = Category(
            code=row["code"], name=row["name"], group=row["group"],
            key_supervised=row.get("key_supervised", False), risk_level=row.get("risk_level", 1),
            standard=row.get("standard"), parent=categories.get(row.get("parent")),
        )
        db.session.add(category)
        categories[row["code"]] = category
    db.session.flush()
    return categories


def _enterprises(rng, ref, regions, categories, leaves, count) -> None:
    specialities = ref["specialities"]
    scales = list(SCALE_WEIGHTS)
    seen = set()
    for i in range(count):
        region = regions[i % len(regions)] if i < len(regions) * 4 else rng.choice(regions)
        special = specialities.get(region)
        first = categories[rng.choice(special)] if special and rng.random() < 0.7 else rng.choice(leaves)
        chosen = {first}
        if rng.random() < 0.2:
            chosen.add(rng.choice(leaves))
        code = credit_code(rng, ref["division_code"])
        while code in seen:
            code = credit_code(rng, ref["division_code"])
        seen.add(code)
        family = first.code.split("-")[0]
        name = f"东莞市{rng.choice(TRADE)}{rng.choice(TRADE)}{SUFFIX.get(family, '实业')}有限公司"
        db.session.add(Enterprise(
            credit_code=code, name=name, region=region, address=f"{region}{rng.randint(1, 300)}号",
            scale=rng.choices(scales, weights=list(SCALE_WEIGHTS.values()))[0],
            status="active" if rng.random() > 0.03 else "closed",
            categories=sorted(chosen, key=lambda c: c.code),
        ))
    db.session.flush()


def _inspectors(rng, regions) -> list[Inspector]:
    inspectors = []
    for i in range(36):
        region = regions[i % 12]
        inspector = Inspector(
            code=f"INS{i + 1:03d}", name=rng.choice(SURNAMES) + rng.choice(GIVEN), region=region,
            unit=f"东莞市市场监督管理局{region}分局",
        )
        db.session.add(inspector)
        inspectors.append(inspector)
    db.session.flush()
    return inspectors


def _labs(leaves) -> list[Lab]:
    specs = [
        ("LAB01", "广东产品质量监督检验研究院", "CNAS L0001", leaves, 400),
        ("LAB02", "东莞市质量监督检测中心", "CNAS L1234", leaves, 400),
        ("LAB03", "国家消费类电子产品质量检验检测中心（东莞）", "CMA 2019190001",
         [c for c in leaves if c.code.startswith(("DQ", "DZ", "DX"))], 200),
        ("LAB04", "广东省东莞市纺织服装检验所", "CMA 2020190002",
         [c for c in leaves if c.code.startswith(("FZ", "XL", "JJ", "WJ", "TC"))], 200),
    ]
    labs = []
    for code, name, accreditation, categories, capacity in specs:
        lab = Lab(code=code, name=name, accreditation=accreditation, capacity=capacity, categories=categories)
        db.session.add(lab)
        labs.append(lab)
    db.session.flush()
    return labs


def _users(inspectors, labs) -> dict[str, str]:
    tokens = {}
    people = [("supervisor", "演示监管员", {}), ("inspector", inspectors[0].name, {"inspector": inspectors[0]}),
              ("inspector2", inspectors[1].name, {"inspector": inspectors[1]}), ("lab", labs[0].name, {"lab": labs[0]})]
    for key, name, bound in people:
        token = new_token()
        db.session.add(User(name=name, role=key.rstrip("2"), token_hash=hash_token(token), **bound))
        tokens[key] = token
    db.session.flush()
    return tokens
