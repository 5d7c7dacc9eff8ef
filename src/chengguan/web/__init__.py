"""HTTP: create_app(), dependencies, problem+json errors, console pages and static assets."""
