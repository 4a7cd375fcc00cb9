# Reference values for the regression extras of issue 12 (Statistics III): Fine-Gray case
# weights (survival::finegray expansion + coxph), Fine-Gray time-varying effects (crr's
# cov2/tf), Cox exact partial likelihood (coxph ties = "exact") and the standard error of
# Harrell's concordance (concordance(fit) / summary(coxph)$concordance).
# Reads the committed CSV files under tests/reference/data/regression/.
# Usage: Rscript tests/reference/make_reference_regression_extra.R [OUTDIR]
#        (default tests/reference; writes ref_regression_extra.json)
args <- commandArgs(trailingOnly = TRUE)
script_dir <- local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f)) dirname(normalizePath(f)) else "tests/reference"
})
source(file.path(script_dir, "lib", "json.R"))  # json(), to_json(), arr(), write_json()
outdir <- if (length(args) >= 1) args[1] else script_dir
datadir <- file.path(script_dir, "data", "regression")
dir.create(outdir, showWarnings = FALSE, recursive = TRUE)
suppressPackageStartupMessages({library(survival); library(cmprsk)})

rd <- function(f) read.csv(file.path(datadir, f), stringsAsFactors = FALSE)
ctrl <- suppressWarnings(coxph.control(eps = 1e-12, iter.max = 100))
out <- list(meta = list(R = R.version.string, survival = as.character(packageVersion("survival")),
                        cmprsk = as.character(packageVersion("cmprsk"))))

# ---- 1. Fine-Gray with case weights -------------------------------------------------
# survival::finegray keeps the censoring Kaplan-Meier unweighted and multiplies the user
# weights into fgwt; coxph(weights = fgwt, ties = "breslow") on the expanded rows then has
# crr's estimating equation. Data: sim_ties.csv with the censored times moved by +0.5
# (survival::finegray and crr differ when a censoring is tied with an event: crr counts
# the event in the censoring risk set, survival does not), heavy ties otherwise kept.
sim <- rd("sim_ties.csv")
sim$id <- seq_len(nrow(sim))
sim$w <- 0.5 + (sim$id %% 5) / 4
sim$t5 <- sim$time + ifelse(sim$status == 0, 0.5, 0)
sim$ev <- factor(sim$status, 0:2, c("cens", "c1", "c2"))
fg_weights <- function(cause, w) {
  d <- sim
  d$ww <- w
  fg <- finegray(Surv(t5, ev) ~ ., data = d, etype = c("c1", "c2")[cause], weights = ww)
  f <- coxph(Surv(fgstart, fgstop, fgstatus) ~ x1 + x2 + x3, data = fg, weights = fgwt,
             ties = "breslow", control = ctrl)
  fc <- coxph(Surv(fgstart, fgstop, fgstatus) ~ x1 + x2 + x3, data = fg, weights = fgwt,
              ties = "breslow", control = ctrl, cluster = id)
  list(cause = cause, coef = unname(coef(f)), loglik = unname(f$loglik),
       naive_se = unname(sqrt(diag(if (is.null(f$naive.var)) f$var else f$naive.var))),
       robust_row_se = unname(sqrt(diag(f$var))), robust_default = !is.null(f$naive.var),
       cluster_id_se = unname(sqrt(diag(fc$var))))
}
# weights together with a time-varying effect x1 * log(t): coxph's tt() on the expansion
fg_weights_tf <- function() {
  fg <- finegray(Surv(t5, ev) ~ ., data = sim, etype = "c1", weights = w)
  tt_log <- function(x, t, ...) x * log(t)
  f <- coxph(Surv(fgstart, fgstop, fgstatus) ~ x1 + x2 + x3 + tt(x1), data = fg,
             weights = fgwt, ties = "breslow", control = ctrl, tt = tt_log)
  fc <- coxph(Surv(fgstart, fgstop, fgstatus) ~ x1 + x2 + x3 + tt(x1) + cluster(id), data = fg,
              weights = fgwt, ties = "breslow", control = ctrl, tt = tt_log)
  list(cause = 1, coef = unname(coef(f)), loglik = unname(f$loglik),
       naive_se = unname(sqrt(diag(f$naive.var))), cluster_id_se = unname(sqrt(diag(fc$var))))
}
out$fg_weights <- list(
  data = "sim_ties.csv; t5 = time + 0.5 for censored rows; w = 0.5 + (row %% 5) / 4",
  cause1 = fg_weights(1, sim$w), cause2 = fg_weights(2, sim$w),
  cause1_unweighted = fg_weights(1, rep(1, nrow(sim))),
  cause1_tf_log = fg_weights_tf())

# ---- 2. Fine-Gray time-varying effects (crr cov2 / tf) --------------------------------
crr_tf <- function(f, newx1 = NULL, newx2 = NULL) {
  out <- list(names = names(f$coef), coef = unname(f$coef), se = unname(sqrt(diag(f$var))),
              var = unname(f$var), inf = unname(f$inf), loglik = f$loglik,
              loglik_null = f$loglik.null, converged = f$converged, uftime = f$uftime,
              bfitj = f$bfitj)
  if (!is.null(newx1)) {
    pr <- predict(f, cov1 = newx1, cov2 = newx2)
    out$newx1 <- newx1
    out$newx2 <- newx2
    out$pred <- unname(pr[, -1, drop = FALSE])
  }
  out
}
Xs <- as.matrix(sim[, c("x1", "x2", "x3")])
bmt <- rd("kmsurv_bmt.csv")
Xb <- as.matrix(bmt[, c("z1", "z2", "z8")])
gt <- 1e-10  # crr's gtol: converged far below its default so both sides agree to 1e-9
out$fg_tf <- list(
  sim_log = crr_tf(crr(sim$time, sim$status, Xs, Xs[, "x1", drop = FALSE],
                       tf = function(t) log(t), failcode = 1, gtol = gt, maxiter = 50),
                   newx1 = rbind(c(0.5, 1, 0.2)), newx2 = rbind(0.5)),
  sim_log_cengroup = crr_tf(crr(sim$time, sim$status, Xs, Xs[, "x1", drop = FALSE],
                                tf = function(t) log(t), failcode = 1, cengroup = sim$cg,
                                gtol = gt, maxiter = 50)),
  sim_step_cause2 = crr_tf(crr(sim$time, sim$status, Xs, Xs[, "x2", drop = FALSE],
                               tf = function(t) as.numeric(t > 10), failcode = 2,
                               gtol = gt, maxiter = 50)),
  bmt_t_step = crr_tf(crr(bmt$t2, bmt$status, Xb, Xb[, c("z1", "z8")],
                          tf = function(t) cbind(t / 365, as.numeric(t > 100)), failcode = 1,
                          gtol = gt, maxiter = 50),
                      newx1 = rbind(c(28, 30, 1), c(40, 35, 0)), newx2 = rbind(c(28, 1), c(40, 0))),
  bmt_two_functions = crr_tf(crr(bmt$t2, bmt$status, Xb[, c("z1", "z8")],
                                 Xb[, c("z1", "z1")],
                                 tf = function(t) cbind(log(t), t / 365), failcode = 2,
                                 gtol = gt, maxiter = 50)))

# ---- 4. Concordance and its standard error -------------------------------------------
lung <- rd("lung.csv")
lung <- lung[complete.cases(lung[, c("time", "status", "age", "sex", "ph.ecog")]), ]
lung$w <- 0.5 + (seq_len(nrow(lung)) %% 4) / 2
conc_block <- function(f) {
  cc <- concordance(f)
  cnt <- if (is.matrix(cc$count)) colSums(cc$count) else cc$count
  list(coef = unname(coef(f)), concordance = unname(cc$concordance), se = sqrt(unname(cc$var)),
       count = unname(cnt[c("concordant", "discordant", "tied.x", "tied.y", "tied.xy")]),
       summary = unname(summary(f)$concordance))
}
out$concordance <- list(
  lung = conc_block(coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lung, control = ctrl)),
  lung_tied_lp = conc_block(coxph(Surv(time, status) ~ sex + ph.ecog, data = lung,
                                  control = ctrl)),
  lung_strata = conc_block(coxph(Surv(time, status) ~ age + ph.ecog + strata(sex), data = lung,
                                 control = ctrl)),
  lung_weighted = conc_block(coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lung,
                                   weights = w, control = ctrl)),
  lung_entry = conc_block(coxph(Surv(floor(time * 0.25), time, status) ~ age + sex + ph.ecog,
                                data = lung, control = ctrl)),
  jasa1_cluster = conc_block(coxph(Surv(start, stop, event) ~ transplant + age + surgery +
                                     cluster(id), data = rd("jasa1.csv"), control = ctrl)),
  lung_cluster_inst = conc_block(coxph(Surv(time, status) ~ age + sex, data = rd("lung.csv"),
                                       cluster = inst, control = ctrl)))

# ---- 3. Cox exact partial likelihood (ties = "exact") ---------------------------------
# lung with time in 60-day blocks (tie groups of up to ~20 deaths), with strata; lung in
# (entry, time] form (R enumerates the subsets there, so small tie groups only); and a
# data set whose event times are all tied.
cox_exact <- function(f, data) {
  list(coef = unname(coef(f)), se = unname(sqrt(diag(f$var))), loglik = unname(f$loglik),
       score = unname(f$score), wald = unname(f$wald.test),
       lr = unname(2 * diff(f$loglik)), n = f$n, nevent = f$nevent)
}
lung$tm <- ceiling(lung$time / 60)
lung$entry <- floor(lung$time * 0.25)
alltied <- data.frame(time = rep(5, 14), status = c(1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1),
                      x = c(0.2, 1.1, -0.3, 0.8, 0.5, -1.2, 0.4, 1.5, -0.1, 0.9, 0.3, -0.6,
                            1.3, 0.7),
                      g = c(0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0))
out$cox_exact <- list(
  lung_60 = cox_exact(coxph(Surv(tm, status) ~ age + sex + ph.ecog, data = lung,
                            ties = "exact", control = ctrl)),
  lung_60_strata = cox_exact(coxph(Surv(tm, status) ~ age + ph.ecog + strata(sex),
                                   data = lung, ties = "exact", control = ctrl)),
  lung_entry = cox_exact(coxph(Surv(entry, time, status) ~ age + sex + ph.ecog, data = lung,
                               ties = "exact", control = ctrl)),
  alltied = c(cox_exact(coxph(Surv(time, status) ~ x + g, data = alltied, ties = "exact",
                              control = ctrl)),
              list(time = alltied$time, status = alltied$status, x = alltied$x,
                   g = alltied$g)))

write_json(out, "ref_regression_extra.json", writer = to_json)
