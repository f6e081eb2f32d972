"""``jiramigrate fix``: check a site backup, rewrite the rows a plan names, and check again.

``plan`` reads and validates the YAML plan and the e-mail CSV, ``rewrite``
streams the XML and changes only the rows a fix touches, ``command`` runs the
readiness suite before and after and prints both.
"""
