"""Outcome statistics (numpy/scipy core), validated number-for-number against R.

The public names are the functions and result classes the docs show
(``from mst.stats import kaplan_meier, cox, finegray``), grouped by topic below. Every
function that takes a data frame reads it through :mod:`mst.stats.io` (one set of event
codings, one set of checks, plain-words errors).
"""

# --- nonparametric survival: Kaplan-Meier, Nelson-Aalen, RMST, log-rank, follow-up ---
from mst.stats.followup import FollowUp as FollowUp
from mst.stats.followup import median_followup as median_followup
from mst.stats.km import KMCurve as KMCurve
from mst.stats.km import KMResult as KMResult
from mst.stats.km import KMTable as KMTable
from mst.stats.km import confidence_band as confidence_band
from mst.stats.km import kaplan_meier as kaplan_meier
from mst.stats.km import km_core as km_core
from mst.stats.logrank import LogRankResult as LogRankResult
from mst.stats.logrank import logrank_test as logrank_test
from mst.stats.logrank import pairwise_logrank as pairwise_logrank
from mst.stats.logrank import trend_logrank as trend_logrank

# --- competing risks: cumulative incidence, Gray's test ---
# isort: split
from mst.stats.cif import CIFCurve as CIFCurve
from mst.stats.cif import CIFResult as CIFResult
from mst.stats.cif import CIFTable as CIFTable
from mst.stats.cif import cif_core as cif_core
from mst.stats.cif import cumulative_incidence as cumulative_incidence
from mst.stats.gray import GrayResult as GrayResult
from mst.stats.gray import gray_test as gray_test

# --- regression: Cox, Fine-Gray, landmark, time-dependent covariates, forest plot ---
# isort: split
from mst.stats.cox_model import CoxResult as CoxResult
from mst.stats.cox_model import MonotoneLikelihoodError as MonotoneLikelihoodError
from mst.stats.cox_model import cox as cox
from mst.stats.cox_model import cox_fit as cox_fit
from mst.stats.cox_model import cox_univariate as cox_univariate
from mst.stats.finegray_model import FineGrayResult as FineGrayResult
from mst.stats.finegray_model import finegray as finegray
from mst.stats.finegray_model import finegray_fit as finegray_fit
from mst.stats.forest import forest_data as forest_data
from mst.stats.forest import forest_plot as forest_plot
from mst.stats.landmark import landmark_table as landmark_table
from mst.stats.timedep import course_days as course_days
from mst.stats.timedep import split_at_times as split_at_times

# --- tables and endpoints: Table 1, exact tests, seed-002 endpoints ---
# isort: split
from mst.stats.endpoints import ENDPOINTS as ENDPOINTS
from mst.stats.endpoints import days_summary as days_summary
from mst.stats.endpoints import endpoint_data as endpoint_data
from mst.stats.endpoints import outcome_summary as outcome_summary
from mst.stats.endpoints import proportion as proportion
from mst.stats.endpoints import rates_at as rates_at
from mst.stats.exact import chisq_test as chisq_test
from mst.stats.exact import conventional_table_test as conventional_table_test
from mst.stats.exact import fisher_exact as fisher_exact
from mst.stats.table1 import Table1 as Table1
from mst.stats.table1 import table1 as table1

# --- input: the one reader and its factor-level rule ---
# isort: split
from mst.stats._levels import factor_levels as factor_levels
from mst.stats._levels import r_sort as r_sort
from mst.stats.io import read_table as read_table
