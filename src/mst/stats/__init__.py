"""Outcome statistics (numpy/scipy core), validated number-for-number against R."""

# --- issue 3: endpoints, KM, log-rank, CIF, Gray, Table 1 ---
from mst.stats.cif import CIFCurve as CIFCurve
from mst.stats.cif import CIFResult as CIFResult
from mst.stats.cif import CIFTable as CIFTable
from mst.stats.cif import cif_core as cif_core
from mst.stats.cif import cumulative_incidence as cumulative_incidence
from mst.stats.endpoints import ENDPOINTS as ENDPOINTS
from mst.stats.endpoints import days_summary as days_summary
from mst.stats.endpoints import endpoint_data as endpoint_data
from mst.stats.endpoints import outcome_summary as outcome_summary
from mst.stats.endpoints import proportion as proportion
from mst.stats.endpoints import rates_at as rates_at
from mst.stats.exact import chisq_test as chisq_test
from mst.stats.exact import conventional_table_test as conventional_table_test
from mst.stats.exact import fisher_exact as fisher_exact
from mst.stats.followup import FollowUp as FollowUp
from mst.stats.followup import median_followup as median_followup
from mst.stats.gray import GrayResult as GrayResult
from mst.stats.gray import gray_test as gray_test
from mst.stats.km import KMCurve as KMCurve
from mst.stats.km import KMResult as KMResult
from mst.stats.km import KMTable as KMTable
from mst.stats.km import confidence_band as confidence_band
from mst.stats.km import kaplan_meier as kaplan_meier
from mst.stats.km import km_core as km_core
from mst.stats.logrank import LogRankResult as LogRankResult
from mst.stats.logrank import logrank_test as logrank_test
from mst.stats.table1 import Table1 as Table1
from mst.stats.table1 import table1 as table1

# --- end of issue 3 exports ---

# --- issue 4: Cox, Fine-Gray, landmark, time-dependent covariates, forest data ---
# isort: split
from mst.stats.cox import CoxResult as CoxResult
from mst.stats.cox import cox_fit as cox_fit
from mst.stats.cox import cox_univariate as cox_univariate
from mst.stats.finegray import FineGrayResult as FineGrayResult
from mst.stats.finegray import finegray_fit as finegray_fit
from mst.stats.forest import forest_data as forest_data
from mst.stats.forest import forest_plot as forest_plot
from mst.stats.landmark import landmark_table as landmark_table
from mst.stats.timedep import course_days as course_days
from mst.stats.timedep import split_at_times as split_at_times
# --- end of issue 4 exports ---
