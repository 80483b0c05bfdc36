"""The HTTP edge: the FastAPI app, its routes, the page and what guards and observes them."""
