# One-off export of the public datasets used by the regression (Cox, Fine-Gray) reference tests.
# Run once; the CSV files are committed and both R (make_reference_regression.R) and Python read
# them, so both sides use identical data.
# Usage: Rscript tests/reference/data/regression/export_regression_datasets.R [OUTDIR]
args <- commandArgs(trailingOnly = TRUE)
outdir <- if (length(args) >= 1) args[1] else "tests/reference/data/regression"
suppressPackageStartupMessages({library(survival); library(KMsurv)})
put <- function(df, name) {
  num <- vapply(df, is.double, logical(1))
  df[num] <- lapply(df[num], function(v) ifelse(is.na(v), NA, sprintf("%.17g", v)))
  write.csv(df, file.path(outdir, name), row.names = FALSE, na = "", quote = FALSE)
}
lung <- survival::lung
lung$status <- lung$status - 1L           # 0 = censored, 1 = dead
put(lung, "lung.csv")
put(survival::veteran, "veteran.csv")
jasa1 <- survival::jasa1
put(jasa1[, c("id", "start", "stop", "event", "transplant", "age", "year", "surgery")],
    "jasa1.csv")
m <- survival::mgus2
m$etime <- pmin(m$ptime, m$futime)
m$status <- ifelse(m$pstat == 1, 1L, 2L * m$death)   # 1 = progression, 2 = death, 0 = censored
put(m[, c("id", "age", "sex", "hgb", "creat", "mspike", "etime", "status")], "mgus2.csv")
data(bmt, package = "KMsurv")
b <- bmt
b$status <- ifelse(b$d2 == 1, 1L, ifelse(b$d1 == 1, 2L, 0L))  # 1 relapse, 2 death in remission
put(b[, c("group", "t2", "status", "z1", "z2", "z3", "z4", "z7", "z8", "z10")], "kmsurv_bmt.csv")
# Simulated competing-risks data with many ties (times rounded to whole units) and two
# censoring groups; fixed seed.
set.seed(20261122)
n <- 400
x1 <- rnorm(n); x2 <- rbinom(n, 1, 0.4); x3 <- runif(n)
t1 <- rexp(n, 0.10 * exp(0.5 * x1 - 0.4 * x2)); t2 <- rexp(n, 0.05 * exp(0.3 * x3))
cg <- rbinom(n, 1, 0.5) + 1L
cens <- rexp(n, ifelse(cg == 1, 0.03, 0.06))
tt <- pmin(t1, t2, cens)
st <- ifelse(tt == cens, 0L, ifelse(tt == t1, 1L, 2L))
tt <- ceiling(tt)
sim <- data.frame(time = tt, status = st, x1 = round(x1, 3), x2 = x2, x3 = round(x3, 3), cg = cg)
put(sim, "sim_ties.csv")
