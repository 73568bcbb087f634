"""The API's routers, one per capability."""
