"""Cost reports: the data (model), JSON, HTML with inline SVG charts, and PNG."""
