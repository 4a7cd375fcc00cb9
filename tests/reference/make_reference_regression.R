# Reference values for mst.stats Cox and Fine-Gray regression, computed with R survival::coxph
# and cmprsk::crr on the committed CSV files under tests/reference/data/regression/.
# Usage: Rscript tests/reference/make_reference_regression.R [OUTDIR]   (default tests/reference)
# Needs only base R + survival + cmprsk (JSON written by lib/json.R, full precision).
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

# length-1 vectors as scalars, named vectors as objects (the layout of the ref_cox/crr files)
write_ref <- function(obj, name) write_json(obj, name, writer = function(x) to_json(x, unbox = TRUE))
rd <- function(f) read.csv(file.path(datadir, f), stringsAsFactors = FALSE)

ctrl <- coxph.control(eps = 1e-10, iter.max = 100)
cox_ref <- function(fit, data_name, ties, strata = NULL, cluster = NULL, start = NULL) {
  b <- coef(fit)
  wald <- function(v) drop(t(b) %*% solve(v, b))
  out <- list(dataset = data_name, ties = ties, strata = strata, cluster = cluster, start = start,
              coef = coef(fit), se = setNames(sqrt(diag(fit$var)), names(coef(fit))),
              loglik = unname(fit$loglik), n = fit$n, events = fit$nevent,
              score_test = unname(fit$score), wald_test = wald(fit$var),
              lr_test = 2 * diff(unname(fit$loglik)), var = unname(fit$var))
  if (!is.null(fit$naive.var)) {
    out$robust_se <- setNames(sqrt(diag(fit$var)), names(coef(fit)))
    out$se <- setNames(sqrt(diag(fit$naive.var)), names(coef(fit)))
    out$robust_wald_test <- wald(fit$var)
    out$wald_test <- wald(fit$naive.var)
    out$naive_var <- unname(fit$naive.var)
  }
  zph <- cox.zph(fit, transform = "km", terms = FALSE)
  out$zph_chisq <- zph$table[, "chisq"]
  out$zph_p <- zph$table[, "p"]
  out
}
names_fix <- function(fit, nm) { names(fit$coefficients) <- nm; fit }

lung <- rd("lung.csv")
lung_na <- c("time", "status", "age", "sex", "ph.ecog", "inst")
lung1 <- na.omit(lung[, lung_na])
for (ties in c("efron", "breslow")) {
  f <- coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lung1, ties = ties, control = ctrl)
  r <- cox_ref(f, "lung.csv", ties); r$covariates <- c("age", "sex", "ph.ecog")
  r$time <- "time"; r$event <- "status"; r$na_omit <- lung_na
  write_ref(r, sprintf("ref_cox_lung_%s.json", ties))
  f <- coxph(Surv(time, status) ~ age + ph.ecog + strata(sex), data = lung1, ties = ties,
             cluster = inst, control = ctrl)
  r <- cox_ref(f, "lung.csv", ties, strata = "sex", cluster = "inst")
  r$covariates <- c("age", "ph.ecog")
  r$time <- "time"; r$event <- "status"; r$na_omit <- lung_na
  write_ref(r, sprintf("ref_cox_lung_strata_cluster_%s.json", ties))
}
vet <- rd("veteran.csv")
for (ties in c("efron", "breslow")) {
  f <- coxph(Surv(time, status) ~ trt + factor(celltype) + karno + age, data = vet, ties = ties,
             control = ctrl)
  f <- names_fix(f, c("trt", "celltype[large]", "celltype[smallcell]", "celltype[squamous]",
                      "karno", "age"))
  r <- cox_ref(f, "veteran.csv", ties); r$covariates <- c("trt", "celltype", "karno", "age")
  r$time <- "time"; r$event <- "status"
  write_ref(r, sprintf("ref_cox_veteran_%s.json", ties))
  f <- coxph(Surv(time, status) ~ trt + karno + diagtime + strata(celltype), data = vet,
             ties = ties, robust = TRUE, control = ctrl)
  r <- cox_ref(f, "veteran.csv", ties, strata = "celltype", cluster = "(row)")
  r$covariates <- c("trt", "karno", "diagtime")
  r$time <- "time"; r$event <- "status"; r$robust <- TRUE
  write_ref(r, sprintf("ref_cox_veteran_strata_robust_%s.json", ties))
}
jasa1 <- rd("jasa1.csv")
for (ties in c("efron", "breslow")) {
  f <- coxph(Surv(start, stop, event) ~ transplant + age + surgery, data = jasa1, ties = ties,
             cluster = id, control = ctrl)
  r <- cox_ref(f, "jasa1.csv", ties, cluster = "id", start = "start")
  r$covariates <- c("transplant", "age", "surgery")
  r$time <- "stop"; r$event <- "event"
  write_ref(r, sprintf("ref_cox_jasa1_%s.json", ties))
}

crr_ref <- function(fit, data_name, cov, failcode, cengroup = NULL, newx = NULL, columns,
                    time, status, na_omit = NULL, categorical = NULL) {
  out <- list(dataset = data_name, covariates = cov, columns = columns, time = time,
              status = status, na_omit = na_omit, categorical = categorical,
              failcode = failcode, cengroup = cengroup,
              coef = setNames(unname(fit$coef), cov),
              se = setNames(sqrt(diag(fit$var)), cov), var = unname(fit$var),
              loglik = fit$loglik, loglik_null = fit$loglik.null, converged = fit$converged,
              n = fit$n, inf = unname(fit$inf), uftime = fit$uftime, bfitj = fit$bfitj)
  if (!is.null(newx)) {
    p <- predict(fit, newx)
    out$predict_x <- unname(newx)
    out$predict_cif <- unname(p[, -1, drop = FALSE])
  }
  out
}
mg <- rd("mgus2.csv")
mg_na <- c("age", "sex", "hgb", "etime", "status")
mg <- mg[complete.cases(mg[, mg_na]), ]
mg$sex_M <- as.integer(mg$sex == "M")
X <- as.matrix(mg[, c("age", "sex_M", "hgb")])
cv <- c("age", "sex[M]", "hgb")
nx <- rbind(c(70, 0, 13), c(80, 1, 11))
for (k in 1:2) {
  f <- crr(mg$etime, mg$status, X, failcode = k)
  write_ref(crr_ref(f, "mgus2.csv", cv, k, newx = nx, columns = c("age", "sex", "hgb"),
                     time = "etime", status = "status", na_omit = mg_na),
             sprintf("ref_crr_mgus2_cause%d.json", k))
}
f <- crr(mg$etime, mg$status, X[, c("age", "hgb")], cengroup = mg$sex, failcode = 1)
write_ref(crr_ref(f, "mgus2.csv", c("age", "hgb"), 1, cengroup = "sex",
                   columns = c("age", "hgb"), time = "etime", status = "status", na_omit = mg_na),
           "ref_crr_mgus2_cengroup.json")
bmt <- rd("kmsurv_bmt.csv")
Xb <- cbind(as.integer(bmt$group == 2), as.integer(bmt$group == 3), bmt$z1, bmt$z2, bmt$z10)
cvb <- c("group[2]", "group[3]", "z1", "z2", "z10")
for (k in 1:2) {
  f <- crr(bmt$t2, bmt$status, Xb, failcode = k)
  write_ref(crr_ref(f, "kmsurv_bmt.csv", cvb, k, newx = rbind(c(0, 0, 28, 28, 0)),
                     columns = c("group", "z1", "z2", "z10"), time = "t2", status = "status",
                     categorical = "group"),
             sprintf("ref_crr_bmt_cause%d.json", k))
}
sim <- rd("sim_ties.csv")
Xs <- as.matrix(sim[, c("x1", "x2", "x3")])
for (k in 1:2) {
  f <- crr(sim$time, sim$status, Xs, failcode = k)
  write_ref(crr_ref(f, "sim_ties.csv", c("x1", "x2", "x3"), k, newx = rbind(c(0, 1, 0.5)),
                     columns = c("x1", "x2", "x3"), time = "time", status = "status"),
             sprintf("ref_crr_sim_ties_cause%d.json", k))
  f <- crr(sim$time, sim$status, Xs, failcode = k, cengroup = sim$cg)
  write_ref(crr_ref(f, "sim_ties.csv", c("x1", "x2", "x3"), k, cengroup = "cg",
                     columns = c("x1", "x2", "x3"), time = "time", status = "status"),
             sprintf("ref_crr_sim_ties_cengroup_cause%d.json", k))
}
