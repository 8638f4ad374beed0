"""A failing sample's story over HTTP, for the follow-up tests: visit, result, notification,
and the way to a final failure (window passed, or objection and retest)."""

from datetime import UTC, datetime, timedelta

from lifecycle_factory import World

API = "/api/v1/samples"


def now() -> datetime:
    return datetime.now(UTC)


def items(verdict: str, critical: bool = True) -> list[dict]:
    """A kettle's test items; the leakage current passes or fails (a safety item if ``critical``)."""
    return [
        {"name": "标志和说明", "requirement": "GB 4706.1-2005 第7章", "measured": "符合", "verdict": "pass"},
        {"name": "泄漏电流", "requirement": "≤ 0.75", "measured": "0.92" if verdict == "fail" else "0.31",
         "unit": "mA", "verdict": verdict, "critical": critical},
    ]


class Story:
    """Moves one world's samples along the life cycle with real tokens of each role."""

    def __init__(self, client, auth, world: World, days_ago: int = 50):
        self.client, self.world = client, world
        self.base = now() - timedelta(days=days_ago)
        self.sup = auth.headers("supervisor", name="王科长")
        self.insp = auth.headers("inspector", inspector=world.team[0])
        self.lab = auth.headers("lab", lab=world.lab)
        self.retest_labs = {lab.id: auth.headers("lab", lab=lab) for lab in world.other_labs}

    def at(self, days: float) -> str:
        return (self.base + timedelta(days=days)).isoformat()

    def post(self, code: str, action: str, body: dict, headers: dict) -> dict:
        answer = self.client.post(f"{API}/{code}/{action}", json=body, headers=headers)
        assert answer.status_code == 200, (action, answer.json)
        return answer.json

    def tested(self, code: str, verdict: str = "fail", critical: bool = True, producer: dict | None = None) -> dict:
        """Visited (``producer``: the named producer on the label), received and tested."""
        team = [i.code for i in self.world.team[:2]]
        visit = {"sampled_at": self.at(0), "stage": "production", "product_name": "电热水壶",
                 "batch_no": "20260801", "quantity": "6台", "reserve_quantity": "3台", "inspector_codes": team}
        self.post(code, "sampling", {**visit, **({"producer": producer} if producer else {})}, self.insp)
        self.post(code, "receipt", {"received_at": self.at(1)}, self.lab)
        return self.post(code, "result", {"report_no": f"R-{code}", "tested_at": self.at(5),
                                          "items": items(verdict, critical)}, self.lab)

    def notified(self, code: str, verdict: str = "fail", critical: bool = True) -> dict:
        self.tested(code, verdict, critical)
        return self.post(code, "notification", {"notified_at": self.at(6)}, self.sup)

    def final_failure(self, code: str, critical: bool = True) -> dict:
        """Notified 44 days ago, no objection: finalized now."""
        self.notified(code, "fail", critical)
        return self.post(code, "finalize", {}, self.sup)

    def refused(self, code: str) -> dict:
        team = [i.code for i in self.world.team[:2]]
        return self.post(code, "refusal", {"refused_at": self.at(0), "reason": "企业拒绝抽样",
                                           "inspector_codes": team}, self.insp)

    def action(self, code: str, body: dict, status: int = 201) -> dict:
        answer = self.client.post(f"{API}/{code}/actions", json=body, headers=self.sup)
        assert answer.status_code == status, answer.json
        return answer.json

    def patch(self, action_id: int, body: dict, status: int = 200) -> dict:
        answer = self.client.patch(f"/api/v1/actions/{action_id}", json=body, headers=self.sup)
        assert answer.status_code == status, answer.json
        return answer.json
