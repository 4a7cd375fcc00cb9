"""Protocol engine: the 2023 international MST consensus as executable, cited rules.

Public API
----------
assess(data) -> Assessment
    Candidate assessment and options (004 §3–§5).
plan(data, *, start=None, regimen_id=None, dose_choices=None) -> PlanResult
    Assessment + doses + calendar + anthracycline exposure + collection plan.
catalog.load_catalog() -> dict[str, Regimen]
dosing.bsa(height_cm, weight_kg, method="mosteller") -> float
dosing.course_doses(regimen, height_cm, weight_kg, ...) -> CourseDoses
schedule.course_calendar(regimen, start_date, ...) -> CourseCalendar
schedule.check_infusion(last_dose_at, infused_at) -> InfusionCheck
schedule.next_step(induction_responses) -> NextStep
cells.collection_plan(weight_kg, *, mnc_total_1e8, cd3_total_1e8, courses) -> CollectionPlan
anthracycline.cumulative_exposure(exposures, ...) -> Exposure
eln.eln2022_risk(lesions) -> ElnResult
fitness.derive_fitness(criteria, age=, enable_local=) -> FitnessResult
"""

from mst.protocol.assessment import Assessment, Option, assess
from mst.protocol.catalog import Regimen, get_regimen, load_catalog
from mst.protocol.dosing import bsa
from mst.protocol.inputs import PlanInput, read_plan_input
from mst.protocol.notes import Note
from mst.protocol.planner import PlanResult, plan

__all__ = [
    "Assessment",
    "Note",
    "Option",
    "PlanInput",
    "PlanResult",
    "Regimen",
    "assess",
    "bsa",
    "get_regimen",
    "load_catalog",
    "plan",
    "read_plan_input",
]
