# Reference values for mst.stats (issue 3): Kaplan–Meier, log-rank, reverse-KM follow-up,
# cumulative incidence, Gray's test and the Table 1 tests, computed with R `survival`,
# `cmprsk` and base `stats` on the CSV files of tests/reference/data/ (the very same files
# the Python tests read).
#
# Usage:  Rscript tests/reference/make_reference.R [OUTDIR]     (default: tests/reference)
# Needs only base R + survival + cmprsk (KMsurv is needed only by data/export_datasets.R).
# JSON is written by lib/json.R (17 significant digits; NA/NaN/Inf -> null).

suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
})

args <- commandArgs(trailingOnly = TRUE)
script_dir <- local({
  a <- commandArgs(trailingOnly = FALSE)
  f <- sub("^--file=", "", a[grep("^--file=", a)])
  if (length(f)) dirname(normalizePath(f)) else "tests/reference"
})
source(file.path(script_dir, "lib", "json.R"))  # json(), to_json(), arr(), write_json()
outdir <- if (length(args) >= 1) args[1] else script_dir
datadir <- file.path(script_dir, "data")
dir.create(outdir, showWarnings = FALSE, recursive = TRUE)

meta <- list(r_version = R.version.string,
             survival = as.character(packageVersion("survival")),
             cmprsk = as.character(packageVersion("cmprsk")))

read <- function(f) read.csv(file.path(datadir, f), stringsAsFactors = FALSE)
lung <- read("lung.csv")
veteran <- read("veteran.csv")
kbmt <- read("kmsurv_bmt.csv")
scr <- read("scrucca_bmt.csv")

# ---------------------------------------------------------------- Kaplan–Meier
km_curve <- function(fit, at) {
  s <- summary(fit, censored = TRUE)
  q <- quantile(fit, 0.5)
  a <- summary(fit, times = at, extend = TRUE)
  list(time = arr(fit$time), n_risk = arr(fit$n.risk), n_event = arr(fit$n.event),
       n_censor = arr(fit$n.censor), surv = arr(fit$surv),
       std_err = arr(fit$surv * fit$std.err), lower = arr(fit$lower), upper = arr(fit$upper),
       median = unname(q$quantile), median_lower = unname(q$lower),
       median_upper = unname(q$upper),
       at = list(time = arr(a$time), surv = arr(a$surv), std_err = arr(a$std.err),
                 lower = arr(a$lower), upper = arr(a$upper), n_risk = arr(a$n.risk)))
}
km_cases <- function(time, event, group, at, weights = NULL) {
  out <- list()
  for (ct in c("log-log", "log", "plain")) {
    curves <- list()
    if (is.null(group)) {
      fit <- survfit(Surv(time, event) ~ 1, conf.type = ct, weights = weights,
                     robust = FALSE)   # model-based (Greenwood) SE also with weights
      curves[["all"]] <- km_curve(fit, at)
    } else {
      for (g in sort(unique(group))) {
        sel <- group == g
        w <- if (is.null(weights)) NULL else weights[sel]
        fit <- survfit(Surv(time[sel], event[sel]) ~ 1, conf.type = ct, weights = w,
                       robust = FALSE)
        curves[[as.character(g)]] <- km_curve(fit, at)
      }
    }
    out[[ct]] <- curves
  }
  out
}
km <- list(
  meta = meta,
  lung_all = km_cases(lung$time, as.integer(lung$status == 2), NULL, c(0, 180, 365, 730, 2000)),
  lung_sex = km_cases(lung$time, as.integer(lung$status == 2), lung$sex, c(180, 365, 730)),
  lung_weighted = km_cases(lung$time, as.integer(lung$status == 2), NULL, c(180, 365),
                           weights = lung$age / 60),
  kmsurv_bmt_dfs = km_cases(kbmt$t2, kbmt$d3, kbmt$group, c(365, 1095, 1825)),
  scrucca_any = km_cases(scr$ftime, as.integer(scr$status > 0), scr$dis, c(12, 36, 60))
)
write_json(km, "ref_km.json")

# ---------------------------------------------------------------- log-rank (survdiff)
lr <- function(fit) {
  list(observed = arr(if (is.matrix(fit$obs)) rowSums(fit$obs) else fit$obs),
       expected = arr(if (is.matrix(fit$exp)) rowSums(fit$exp) else fit$exp),
       variance = arr(as.vector(fit$var)), statistic = fit$chisq,
       df = length(fit$n) - 1, p = fit$pvalue)
}
lung_e <- subset(lung, !is.na(ph.ecog))
logrank <- list(
  meta = meta,
  lung_sex = lr(survdiff(Surv(time, status == 2) ~ sex, data = lung)),
  lung_sex_rho1 = lr(survdiff(Surv(time, status == 2) ~ sex, data = lung, rho = 1)),
  lung_sex_rho05 = lr(survdiff(Surv(time, status == 2) ~ sex, data = lung, rho = 0.5)),
  lung_ecog = lr(survdiff(Surv(time, status == 2) ~ ph.ecog, data = lung_e)),
  lung_sex_strata_ecog = lr(survdiff(Surv(time, status == 2) ~ sex + strata(ph.ecog),
                                     data = lung_e)),
  lung_sex_strata_inst_rho1 = lr(survdiff(Surv(time, status == 2) ~ sex + strata(ph.ecog),
                                          data = lung_e, rho = 1)),
  veteran_trt_strata_celltype = lr(survdiff(Surv(time, status) ~ trt + strata(celltype),
                                            data = veteran)),
  veteran_celltype = lr(survdiff(Surv(time, status) ~ celltype, data = veteran)),
  kmsurv_bmt_dfs = lr(survdiff(Surv(t2, d3) ~ group, data = kbmt)),
  kmsurv_bmt_dfs_rho1 = lr(survdiff(Surv(t2, d3) ~ group, data = kbmt, rho = 1)),
  scrucca_any = lr(survdiff(Surv(ftime, status > 0) ~ dis, data = scr))
)
write_json(logrank, "ref_logrank.json")

# ---------------------------------------------------------------- reverse KM follow-up
rev_fu <- function(time, event) {
  fit <- survfit(Surv(time, 1 - event) ~ 1, conf.type = "log-log")
  q <- quantile(fit, 0.5)
  list(median = unname(q$quantile), lower = unname(q$lower), upper = unname(q$upper))
}
followup <- list(
  meta = meta,
  lung = rev_fu(lung$time, as.integer(lung$status == 2)),
  kmsurv_bmt = rev_fu(kbmt$t2, kbmt$d3),
  veteran = rev_fu(veteran$time, veteran$status)
)
write_json(followup, "ref_followup.json")

# ---------------------------------------------------------------- cumulative incidence + Gray
cif_curve <- function(pf) {
  x <- pf$time; d <- duplicated(x)
  tt <- x[d]; ee <- pf$est[d]; vv <- pf$var[d]
  k <- !duplicated(tt, fromLast = TRUE)
  list(time = arr(tt[k]), cif = arr(ee[k]), variance = arr(vv[k]),
       raw_time = arr(pf$time), raw_est = arr(pf$est), raw_var = arr(pf$var))
}
cif_case <- function(ftime, fstatus, group, at, strata = NULL, rho = 0) {
  fit <- if (is.null(strata)) cuminc(ftime, fstatus, group, rho = rho)
         else cuminc(ftime, fstatus, group, strata = strata, rho = rho)
  tp <- timepoints(fit, at)
  out <- list()
  causes <- rownames(fit$Tests)
  for (k in causes) {
    curves <- list()
    for (g in sort(unique(group))) {
      key <- paste(g, k)
      curves[[as.character(g)]] <- c(cif_curve(fit[[key]]),
                                      list(at_est = arr(tp$est[key, ]),
                                           at_var = arr(tp$var[key, ])))
    }
    stat <- fit$Tests[k, "stat"]
    df <- fit$Tests[k, "df"]
    out[[k]] <- list(curves = curves, at = arr(at),
                     gray = list(statistic = stat, df = df,
                                 p = pchisq(stat, df, lower.tail = FALSE),
                                 p_cuminc = fit$Tests[k, "pv"]))
  }
  out
}
kb_status <- ifelse(kbmt$d2 == 1, 1, ifelse(kbmt$d1 == 1, 2, 0))   # relapse / TRM
cif <- list(
  meta = meta,
  scrucca_dis = cif_case(scr$ftime, scr$status, scr$dis, c(12, 24, 36, 60)),
  scrucca_dis_rho1 = cif_case(scr$ftime, scr$status, scr$dis, c(12, 36), rho = 1),
  kmsurv_bmt_group = cif_case(kbmt$t2, kb_status, kbmt$group, c(365, 1095)),
  kmsurv_bmt_group_strata_z3 = cif_case(kbmt$t2, kb_status, kbmt$group, c(365),
                                        strata = kbmt$z3),
  kmsurv_bmt_fab = cif_case(kbmt$t2, kb_status, kbmt$z8, c(365, 1095), rho = 0.5)
)
write_json(cif, "ref_cif.json")

# ---------------------------------------------------------------- Table 1 tests
# seed 002 Table 1 (rows = categories, columns = 60–70 (n=20), >70 (n=9))
tab <- function(...) matrix(c(...), nrow = 2, byrow = TRUE)
seed <- list(
  patient_sex = tab(9, 2, 11, 7),
  donor_sex = tab(11, 4, 9, 5),
  relation = tab(5, 0, 15, 9),
  hla = tab(14, 8, 6, 1),
  courses = tab(18, 2, 2, 7),
  donor_patient_sex = matrix(c(3, 5, 4, 0, 8, 2, 5, 2), ncol = 2, byrow = TRUE)
)
fisher <- lapply(seed, function(m) list(table = arr(as.vector(t(m))), nrow = nrow(m),
                                        p = fisher.test(m)$p.value))
more <- list(
  r3c3 = matrix(c(3, 1, 4, 2, 5, 0, 1, 2, 6), 3, byrow = TRUE),
  r2c5 = matrix(c(2, 0, 3, 4, 1, 1, 5, 0, 2, 3), 2, byrow = TRUE),
  r4c2 = matrix(c(7, 1, 2, 6, 3, 3, 0, 4), 4, byrow = TRUE)
)
for (nm in names(more)) {
  m <- more[[nm]]
  fisher[[nm]] <- list(table = arr(as.vector(t(m))), nrow = nrow(m), p = fisher.test(m)$p.value)
}
chisq <- lapply(list(
  lung_sex_ecog = table(lung$sex, lung$ph.ecog),
  veteran_trt_celltype = table(veteran$trt, veteran$celltype),
  veteran_trt_prior = table(veteran$trt, veteran$prior)
), function(m) {
  ct <- suppressWarnings(chisq.test(m))
  list(table = arr(as.vector(t(m))), nrow = nrow(m), statistic = unname(ct$statistic),
       df = unname(ct$parameter), p = ct$p.value)
})
cont <- function(x, g) {
  ok <- !is.na(x) & !is.na(g); x <- x[ok]; g <- g[ok]
  lv <- sort(unique(g))
  res <- list(kruskal = kruskal.test(x, factor(g))$p.value,
              anova = summary(aov(x ~ factor(g)))[[1]][["Pr(>F)"]][1])
  if (length(lv) == 2) {
    a <- x[g == lv[1]]; b <- x[g == lv[2]]
    res$welch <- t.test(a, b)$p.value
    res$wilcox <- suppressWarnings(wilcox.test(a, b)$p.value)
    res$shapiro <- arr(c(shapiro.test(a)$p.value, shapiro.test(b)$p.value))
  }
  res
}
tests <- list(
  meta = meta, fisher = fisher, chisq = chisq,
  lung_age_by_sex = cont(lung$age, lung$sex),
  lung_wtloss_by_sex = cont(lung$wt.loss, lung$sex),
  lung_age_by_ecog = cont(lung$age, lung$ph.ecog),
  veteran_karno_by_trt = cont(veteran$karno, veteran$trt),
  scrucca_ftime_by_dis = cont(scr$ftime, scr$dis),
  binom = lapply(list(cr = c(25, 29), early_death = c(4, 29), none = c(0, 12), all = c(7, 7)),
                 function(kn) { ci <- binom.test(kn[1], kn[2])$conf.int
                                list(k = kn[1], n = kn[2], lower = ci[1], upper = ci[2]) }),
  small_exact = local({
    a <- c(1.2, 3.4, 2.2, 5.1, 0.7); b <- c(4.4, 6.1, 3.9, 7.2, 5.5, 8.0)
    list(a = arr(a), b = arr(b), wilcox = wilcox.test(a, b)$p.value, welch = t.test(a, b)$p.value)
  })
)
write_json(tests, "ref_table1_tests.json")
