"""HTTP request plumbing that domain routers share: the session, the current user, role checks, the commit.

It sits below the domains (their ``api.py`` routers import it) and above identity and jobs (it resolves
tokens and runs queued side effects), so the import contracts need no exemptions.
"""
