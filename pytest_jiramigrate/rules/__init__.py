"""The rule API and the built-in readiness rules, one module per rule group.

:mod:`.base` (what a rule is), :mod:`.site` (the Cloud site it is checked
against) and :mod:`.outcome` (running it) are the rule API; the groups are
``archive``, ``users``, ``groups``, ``content``, ``media`` and
``after_import``, which the README's catalogue lists with each rule id, and
:mod:`.builtin` contributes them all through the ``pytest_jiramigrate_rules``
hook.  Importing this package loads no rule module.
"""
