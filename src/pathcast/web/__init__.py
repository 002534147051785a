"""Server-rendered pages (Jinja2 + HTMX, charts with Apache ECharts)."""
