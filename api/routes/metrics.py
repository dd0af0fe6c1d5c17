"""/metrics: the API's metrics for Prometheus (``api.metrics``): counts only, nothing personal."""

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import MetricsDep
from api.permissions import METRICS, PermittedRoute, permit

router = APIRouter(tags=["operations"], route_class=PermittedRoute)


@router.get("/metrics", response_class=Response)
async def metrics(metrics: MetricsDep, _: None = permit(METRICS)) -> Response:
    """Prometheus metrics (text exposition format): counts only, nothing personal."""
    return Response(await metrics.exposition(), media_type=metrics.content_type)
