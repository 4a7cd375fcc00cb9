# One-off export of the public R datasets used as test data (run once; outputs are committed).
# Usage: Rscript tests/reference/data/export_datasets.R tests/reference/data
args <- commandArgs(trailingOnly = TRUE)
outdir <- if (length(args) >= 1) args[1] else "tests/reference/data"
suppressPackageStartupMessages({library(survival); library(KMsurv)})
lung_df <- survival::lung
write.csv(lung_df, file.path(outdir, "lung.csv"), row.names = FALSE, na = "")
data(bmt, package = "KMsurv")
write.csv(bmt, file.path(outdir, "kmsurv_bmt.csv"), row.names = FALSE, na = "")
write.csv(survival::veteran, file.path(outdir, "veteran.csv"), row.names = FALSE, na = "")
