"""The catalogue as a tree: a category includes the categories below it (DESIGN.md "Domain")."""

from sqlalchemy import select

from extensions import db
from models.registry import Category


def category_tree() -> tuple[dict[str, int], dict[int, list[int]], dict[int, str]]:
    """Every category as code -> id, id -> child ids and id -> code (one query)."""
    ids, children, codes = {}, {}, {}
    for category_id, code, parent_id in db.session.execute(select(Category.id, Category.code, Category.parent_id)):
        ids[code], codes[category_id] = category_id, code
        children.setdefault(parent_id, []).append(category_id)
    return ids, children, codes


def with_descendants(roots, children: dict[int, list[int]]) -> set[int]:
    """The categories ``roots`` and every category below them."""
    found, stack = set(), list(roots)
    while stack:
        category_id = stack.pop()
        if category_id not in found:
            found.add(category_id)
            stack.extend(children.get(category_id, ()))
    return found
