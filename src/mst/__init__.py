"""mst — the microtransplantation (MST) platform.

The package has one domain core and four faces:

* :mod:`mst.protocol` — the 2023 international consensus as executable rules;
* :mod:`mst.donors` — HLA-mismatched donor selection;
* :mod:`mst.monitoring` — recovery, response, GVHD/CRS and microchimerism;
* :mod:`mst.stats` — outcome statistics validated against R.

Around them sit :mod:`mst.registry` (SQLAlchemy + Alembic), :mod:`mst.cli` and
:mod:`mst.web`. The domain core never imports the registry or the web layer.
"""

__version__ = "0.1.0"
