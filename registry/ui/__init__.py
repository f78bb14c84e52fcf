"""The registry core's web UI: server-rendered pages answering like Quay's where a user looks.

Sign in with a username and password; the user's organizations; an organization with its
repositories, robot accounts (credentials revealed on request), default permissions and OAuth
applications (Create New Application, Generate Token); a repository with its tags. Pages are
Jinja2 templates with autoescaping everywhere, sent with a script-free Content-Security-Policy;
sessions live on the server (``sessions``), forms carry CSRF tokens (``guards``), and every read
and write goes through the same store functions and permission checks as the REST API.
``routing.add_routes(app)`` mounts it.
"""
