"""The cohort outcome report (seed 002's tables and figures) as HTML and PDF."""

from mst.report.build import Report as Report
from mst.report.build import build_report as build_report
from mst.report.build import numbers_from_html as numbers_from_html
from mst.report.compute import add_derived_columns as add_derived_columns
from mst.report.compute import compute_report as compute_report
from mst.report.config import ReportConfig as ReportConfig
from mst.report.config import load_config as load_config
from mst.report.inputs import ReportInput as ReportInput
from mst.report.inputs import load_input as load_input
