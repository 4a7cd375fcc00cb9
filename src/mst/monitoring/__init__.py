"""Monitoring: count recovery, response, GVHD/CRS grading, donor microchimerism, alerts.

Submodules: :mod:`.recovery` (002 recovery rule), :mod:`.response` (ELN 2022,
IMWG 2016), :mod:`.gvhd` (MAGIC), :mod:`.crs` (ASTCT), :mod:`.chimerism`
(NGS, qPCR, STR, series), :mod:`.immune` (immune reconstitution) and
:mod:`.alerts` (rules engine).
"""
