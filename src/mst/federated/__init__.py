"""Federated analysis: each center keeps its rows, the coordinator receives aggregates only.

A node (:mod:`mst.federated.node`) answers queries from its own flat analysis table with
aggregates (:mod:`mst.federated.aggregates`) after its disclosure rules
(:mod:`mst.federated.disclosure`) have passed, and logs every query in its registry's audit
trail. The coordinator (:mod:`mst.federated.coordinator`) combines the aggregates and runs the
same estimators and Newton iterations as the pooled analysis in :mod:`mst.stats`, so the
federated result equals the pooled one number for number. Transports: in-process
(:mod:`mst.federated.simulation`) and Flower (:mod:`mst.federated.flower_app`).
See docs/federated.md.
"""

from mst.federated.errors import FederationError as FederationError
