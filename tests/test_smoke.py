"""Basic liveness and sign-up through the whole stack."""

from tests.conftest import Api


async def test_health_endpoints(api: Api) -> None:
    assert (await api.client.get("/healthz")).status == 200
    ready = await api.client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["status"] == "ready"


async def test_sign_up_then_me(api: Api) -> None:
    user = await api.sign_up("Ada")
    data = await api.ok("{ me { id name email } }", token=user["token"])
    assert data["me"] == {"id": user["id"], "name": "Ada", "email": user["email"]}
