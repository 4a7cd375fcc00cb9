# Reference values for the analyst API of mst.stats (issue 12): factor level order, Cox
# concordance / AIC / baseline hazard / residuals / prediction / cox.zph(terms = TRUE),
# Nelson-Aalen, restricted mean survival time, Kaplan-Meier with left truncation, pairwise
# and trend log-rank tests. Reads the committed CSV files under tests/reference/data/regression/.
# Usage: Rscript tests/reference/make_reference_analyst.R [OUTDIR]   (default tests/reference)
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
suppressPackageStartupMessages(library(survival))

rd <- function(f) read.csv(file.path(datadir, f), stringsAsFactors = FALSE)
ctrl <- coxph.control(eps = 1e-10, iter.max = 100)
out <- list(meta = list(R = R.version.string, survival = as.character(packageVersion("survival")),
                        collate = Sys.getlocale("LC_COLLATE")))

# factor() level order of text labels (R's sort() in the session's collation)
labels <- c("Low", "Mid", "high", "<=20", "20-50", ">50", "X-linked", "autosomal", "b", "B",
            "a", "A", "_x", "10", "9", "a b", "a_b", "a-b", "a.b", "ab", "aB", "Ab", "AB",
            "ab1", "x1", "X0", "MST", "chemo", "Chemo", "cote", "coté", "côte", "Côte",
            "CR1", "CR2", "cr", "PR", "no response", "(none)", "n/a text", "#1", "+1", "-1")
out$factor_order <- list(labels = labels, sorted = sort(labels),
                         levels_low_mid_high = levels(factor(c("Low", "Mid", "high"))))

lung <- rd("lung.csv")
lung <- lung[complete.cases(lung[, c("time", "status", "age", "sex", "ph.ecog")]), ]
lung$sex_f <- ifelse(lung$sex == 1, "Male", "female")
newx <- rbind(c(60, 1, 0), c(70, 2, 2))
cox_block <- function(ties) {
  f <- coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lung, ties = ties, control = ctrl)
  bh <- basehaz(f, centered = TRUE)
  sf <- survfit(f)
  ev <- sf$n.event > 0
  nd <- data.frame(age = newx[, 1], sex = newx[, 2], ph.ecog = newx[, 3])
  ps <- survfit(f, newdata = nd)
  times <- c(100, 200, 365, 500)
  z <- cox.zph(f, transform = "km")
  list(ties = ties, coef = unname(coef(f)), aic = AIC(f),
       zph_y = unname(z$y), zph_time = unname(z$time),
       concordance = unname(concordance(f)$concordance),
       basehaz_time = sf$time[ev], basehaz_cumhaz = sf$cumhaz[ev],
       martingale = unname(residuals(f, type = "martingale")),
       deviance = unname(residuals(f, type = "deviance")),
       score = unname(residuals(f, type = "score")),
       dfbeta = unname(residuals(f, type = "dfbeta")),
       schoenfeld = unname(residuals(f, type = "schoenfeld")),
       schoenfeld_time = as.numeric(rownames(residuals(f, type = "schoenfeld"))),
       lp = unname(predict(f, type = "lp")), risk = unname(predict(f, type = "risk")),
       newx = newx, pred_times = times,
       pred_surv = unname(summary(ps, times = times)$surv),
       pred_median = unname(quantile(ps, 0.5)$quantile))
}
lung$w <- 0.5 + (seq_len(nrow(lung)) %% 4) / 2
for (ties in c("efron", "breslow")) {
  f <- coxph(Surv(time, status) ~ age + sex + ph.ecog, data = lung, ties = ties,
             weights = w, control = ctrl)
  out[[paste0("cox_weighted_", ties)]] <- list(coef = unname(coef(f)),
    naive_se = unname(sqrt(diag(if (is.null(f$naive.var)) f$var else f$naive.var))),
    robust_default = !is.null(f$naive.var),
    loglik = unname(f$loglik), score = unname(f$score))
}
out$cox_lung_efron <- cox_block("efron")
out$cox_lung_breslow <- cox_block("breslow")

vet <- rd("veteran.csv")
f <- coxph(Surv(time, status) ~ trt + factor(celltype) + karno, data = vet, control = ctrl)
z <- cox.zph(f, transform = "km")  # terms = TRUE is R's default
out$zph_terms <- list(terms = rownames(z$table), chisq = unname(z$table[, "chisq"]),
                      df = unname(z$table[, "df"]), p = unname(z$table[, "p"]))
lung$grp <- lung$sex_f
f <- coxph(Surv(time, status) ~ age + grp, data = lung, control = ctrl)
out$cox_text_factor <- list(coef = unname(coef(f)), names = names(coef(f)))

# Nelson-Aalen and KM extras (one group and by sex)
km <- survfit(Surv(time, status) ~ 1, data = lung)
out$nelson_aalen <- list(time = km$time, cumhaz = km$cumhaz, std_chaz = km$std.chaz)
rm <- function(fit, tau) {
  tb <- summary(fit, rmean = tau)$table
  if (is.null(dim(tb))) tb <- t(as.matrix(tb))
  list(tau = tau, rmean = unname(tb[, "rmean"]), se = unname(tb[, "se(rmean)"]))
}
out$rmean_all <- rm(km, 365)
out$rmean_sex <- rm(survfit(Surv(time, status) ~ sex, data = lung), 500)
lung$entry <- floor(lung$time * 0.25)
kt <- survfit(Surv(entry, time, status) ~ 1, data = lung)
out$km_entry <- list(time = kt$time, surv = kt$surv, n_risk = kt$n.risk, std_err = kt$std.err)

# pairwise and trend log-rank across ECOG 0/1/2
l3 <- lung[lung$ph.ecog <= 2, ]
pw <- list()
for (pair in list(c(0, 1), c(0, 2), c(1, 2))) {
  s <- survdiff(Surv(time, status) ~ ph.ecog, data = l3[l3$ph.ecog %in% pair, ])
  pw[[length(pw) + 1]] <- list(a = pair[1], b = pair[2], chisq = s$chisq,
                               p = pchisq(s$chisq, 1, lower.tail = FALSE))
}
out$pairwise <- pw
s <- survdiff(Surv(time, status) ~ ph.ecog, data = l3)
sc <- c(0, 1, 2)
u <- sum(sc * (s$obs - s$exp)); v <- drop(t(sc) %*% s$var %*% sc)
out$trend <- list(scores = sc, chisq = u^2 / v, p = pchisq(u^2 / v, 1, lower.tail = FALSE))

write_json(out, "ref_analyst.json", writer = to_json)
