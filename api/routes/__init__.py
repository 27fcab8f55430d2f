"""HTTP routes, one ``APIRouter`` per resource; each route is a thin call of a service."""
