"""Benefits service: GET /v1/commerce/benefit/benefits/get, the account's limits.

Answers the simulator's own --qps as `effective.item_info.total` for the resource asked
(chat or workflow), in the shape of the official SDK's cozepy/benefits. With
`sim.set(benefits_refused=True)` it refuses, as an edition that may not call it might.
"""
import time

UNLIMITED_QPS = 500  # what the simulator reports when it has no --qps (the enterprise figure)


def benefit_item(total):
    now = int(time.time())
    return {"status": "valid", "item_info": {"strategy": "by_quota", "total": total, "used": 0,
                                              "start_at": now - 86400, "end_at": now + 86400 * 365}}


class BenefitRoutes(object):
    ROUTES = {("GET", "/v1/commerce/benefit/benefits/get"): "benefits_get"}

    def benefits_get(self, query, body, raw, fault):
        if getattr(self.sim, "benefits_refused", False):
            return self.error(4101, "the token has no permission to read benefits")
        kinds = [k for k in (query.get("benefit_type_list") or "api_run_qps").split(",") if k]
        resource = query.get("resource_id") or "chat"
        total = self.sim.qps if self.sim.qps is not None else UNLIMITED_QPS
        self.ok({"basic_info": {"user_level": "simulator"},
                 "benefit_info": [{"resource_id": resource, "benefit_type": kind, "basic": benefit_item(total),
                                   "effective": benefit_item(total), "extra": []} for kind in kinds]})
