"""Request handling for the consistency pages; one module per page."""
